// One rank fails while the others wait for it in a collective: `dist_rank_dies kill|throw|exit`. The job
// must end, with an error, instead of waiting for ever. Run by tests/dist_rank_dies_test.cmake under mpirun.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "dist/dist.h"

int main(int argc, char** argv) {
  const std::string how = argc > 1 ? argv[1] : "";
  try {
    mt::dist::Environment mpi(argc, argv);
    mt::Var weight(mt::Tensor::ones({1000}), true);
    mt::dist::GradientReducer reducer({weight});
    if (mt::dist::rank() == 1) {
      std::fprintf(stderr, "rank 1 fails (%s)\n", how.c_str());
      if (how == "kill") std::raise(SIGKILL);
      if (how == "throw") throw mt::Error("a bad file on rank 1");
      if (how == "exit") std::exit(4);
    }
    weight.set_grad(mt::Tensor::ones({1000}));
    reducer.reduce();  // rank 0 waits here for rank 1
    std::fprintf(stderr, "rank %d: the reduction returned\n", mt::dist::rank());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dist_rank_dies: caught %s\n", e.what());
    return 1;
  }
  return 0;
}
