#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "dist/collectives.h"
#include "dist/dist.h"

namespace mt::dist {
namespace {

// The process's place in the MPI job. Process-wide like MPI's own state, which it mirrors: set once by
// init(), read by every collective.
struct State {
  bool initialized = false;
  bool finalized = false;
  bool owns_mpi = false;  // init() started MPI and so finalize() ends it
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0;
  int size = 1;
};
State state;

bool started_by_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(name)) return true;
  return false;
}

bool mpi_running() {
  int running = 0, done = 0;
  MPI_Initialized(&running);
  MPI_Finalized(&done);
  return running && !done;
}

const State& initialized_state(const char* op) {
  if (!state.initialized)
    throw Error(std::string("dist::") + op + ": dist is not initialised; call dist::init() or make a dist::Environment first");
  if (state.finalized) throw Error(std::string("dist::") + op + ": dist was finalised");
  return state;
}

}  // namespace

namespace detail {

MPI_Comm communicator() { return initialized_state("communicator").comm; }

void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char reason[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, reason, &length);
  throw Error(std::string(call) + " failed on rank " + std::to_string(state.rank) + ": " + std::string(reason, length));
}

}  // namespace detail

void init(int* argc, char*** argv) {
  if (state.initialized) throw Error("dist::init: already initialised");
  if (mpi_running()) {
    // The application started MPI itself: use it, and leave ending it to the application.
  } else if (started_by_launcher()) {
    int provided = 0;
    // Only the calling thread talks to MPI; OpenMP's threads only compute.
    detail::check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    state.owns_mpi = true;
  } else {
    state.initialized = true;
    return;
  }
  detail::check(MPI_Comm_dup(MPI_COMM_WORLD, &state.comm), "MPI_Comm_dup");
  // Failures come back as codes, which check() turns into exceptions with MPI's reason.
  detail::check(MPI_Comm_set_errhandler(state.comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  detail::check(MPI_Comm_rank(state.comm, &state.rank), "MPI_Comm_rank");
  detail::check(MPI_Comm_size(state.comm, &state.size), "MPI_Comm_size");
  state.initialized = true;
}

void finalize() {
  initialized_state("finalize");
  state.finalized = true;
  if (state.comm != MPI_COMM_NULL) MPI_Comm_free(&state.comm);
  if (state.owns_mpi) detail::check(MPI_Finalize(), "MPI_Finalize");
}

bool initialized() { return state.initialized && !state.finalized; }

int rank() { return initialized_state("rank").rank; }
int world_size() { return initialized_state("world_size").size; }

void abort(int exit_code) {
  std::fflush(stdout);
  std::fflush(stderr);
  if (mpi_running()) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::exit(exit_code);
}

Environment::Environment(int* argc, char*** argv) : uncaught_at_start_(std::uncaught_exceptions()) { init(argc, argv); }

Environment::~Environment() {
  if (std::uncaught_exceptions() > uncaught_at_start_ && state.size > 1) {
    std::fprintf(stderr, "dist: rank %d is leaving its dist::Environment by an exception; ending every rank\n",
                 state.rank);
    abort(1);
  }
  try {
    finalize();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dist: %s\n", e.what());
  }
}

}  // namespace mt::dist
