#pragma once
// dist: data-parallel training over MPI (built when CMake finds MPI, -DMT_MPI=AUTO|ON|OFF). Every rank holds
// the whole model, trains on its own share of each batch and averages the gradients with the others before the
// optimizer step, so all ranks take the same step, the one a single process would take on the global batch.
//
//   int main(int argc, char** argv) {
//     mt::dist::Environment mpi(argc, argv);          // rank 0 of 1 when not started by mpirun
//     auto model = make_model();
//     mt::dist::broadcast(*model);                    // rank 0's initial weights on every rank
//     mt::dist::GradientReducer reducer(model->parameters());
//     mt::datasets::DataLoader loader(train, {.batch_size = 32, .seed = 1,
//                                             .num_replicas = mt::dist::world_size(), .rank = mt::dist::rank()});
//     ... optimizer.zero_grad(); loss.backward(); reducer.reduce(); optimizer.step(); ...
//   }
//
// Determinism. The same seed and number of ranks give bit-identical weights on every rank and in every run.
// MPI_Allreduce does not promise that: MPI lets a reduction bracket its operands as its algorithm likes (which
// Open MPI picks by message size, rank count and placement), and float addition is not associative, so the bits
// may change with any of them; a user-defined non-commutative op fixes only the operands' order, not their
// bracketing, so it does not help either (beyond 2 ranks). Here MPI only moves bits and never adds:
//   1. MPI_Alltoall gives rank q the q-th of N equal chunks of every rank's buffer;
//   2. rank q adds each element's N values in rank order 0, 1, ..., N-1 in float64 and rounds
//      sum / N to float32 once;
//   3. MPI_Allgather copies each owner's reduced chunk, bit for bit, to every rank.
// Each element's result is therefore a fixed function of the N ranks' values, whichever rank owns its chunk and
// however the buffer is cut into buckets, and every rank receives the same bits. Rank 0's weights are broadcast
// (copied) at the start, every rank's gradient is a deterministic function of the weights and of its share of
// the data, which is a function of (seed, epoch, rank, N), and the optimizer is deterministic; by induction over
// the steps the weights are identical on all ranks and across reruns, whatever the thread count of each rank.
// It moves as many bytes per rank as a ring all-reduce, 2 (N - 1) / N of the buffer; bench/bench_dist measures
// it against MPI_Allreduce.
//
// Failures. Every MPI call is checked and a failure throws dist::Error. A rank that throws, or dies, while the
// others wait in a collective would leave them waiting: leaving an Environment by an exception calls MPI_Abort,
// which ends every rank, and an application that catches errors itself calls dist::abort() after printing.
#include <cstdint>
#include <span>
#include <vector>

#include "autograd/var.h"
#include "nn/module.h"
#include "tensor/error.h"

namespace mt::dist {

class Error : public mt::Error {
 public:
  using mt::Error::Error;
};

// Starts MPI when the process was started by an MPI launcher (mpirun, mpiexec, srun: it sets
// OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_RANK); otherwise the process is rank 0 of 1 and MPI is not started,
// so a single-process run pays nothing (MPI_Init alone would take about a second). argc and argv may be null.
void init(int* argc = nullptr, char*** argv = nullptr);
void finalize();  // every rank, at the end; then init() may not be called again
bool initialized();

int rank();        // this process's index, 0 .. world_size() - 1
int world_size();  // the number of processes
// Ends every rank with `exit_code` (MPI_Abort; std::exit when MPI is not running). For a failure on one rank,
// after printing its message: the others may be waiting for it in a collective.
[[noreturn]] void abort(int exit_code);

// init() on construction, finalize() on destruction; leaving the scope by an exception calls abort(1) instead.
class Environment {
 public:
  Environment() : Environment(nullptr, nullptr) {}
  Environment(int& argc, char**& argv) : Environment(&argc, &argv) {}
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

 private:
  Environment(int* argc, char*** argv);
  int uncaught_at_start_;
};

// Copies the root's elements into `tensor` on every rank, in place; it must be contiguous and have the same
// shape and dtype on every rank.
void broadcast(const Tensor& tensor, int root = 0);
// The root's parameters and buffers (state_dict()) into every rank's model, one message for all; the models
// must have the same names and shapes (checked). Buffers such as batch norm's running statistics are updated by
// each rank from its own share of the data: broadcast again to make them rank 0's everywhere, as PyTorch DDP's
// broadcast_buffers does before every forward.
void broadcast(const nn::Module& model, int root = 0);

std::vector<uint64_t> all_gather(uint64_t value);  // every rank's value, in rank order, on every rank
// values[i] = the sum over ranks of values[i], added in rank order in float64: the same bits on every rank.
void all_reduce_sum(std::span<double> values);
void barrier();

struct ReducerOptions {
  // Gradients are all-reduced in buckets of about this many bytes (a parameter is never split): fewer, larger
  // messages than one per parameter, as PyTorch DDP and Horovod fuse them, in a bounded scratch buffer.
  int64_t bucket_bytes = 25 << 20;
  // reduce() averages this many more float values of the caller's alongside the gradients, in the same
  // messages: the step's loss, a stop flag.
  int64_t extra_values = 0;
};

// Averages the gradients of `parameters` (float32, the same names and shapes on every rank) over all ranks.
// They are copied into one flat buffer, which is all-reduced bucket by bucket after backward(): the tape
// has no hook that tells when a parameter's gradient is complete, so the all-reduce does not overlap the
// backward pass. Memory: the flat buffer (a float per gradient element) and the scratch of one bucket.
class GradientReducer {
 public:
  explicit GradientReducer(std::vector<Var> parameters, ReducerOptions options = {});

  // After backward() on every rank: each parameter's grad() becomes the average of all ranks' gradients
  // (a rank without a gradient for a parameter contributes zeros; a parameter no rank has a gradient for keeps
  // none), a view into this reducer's buffer valid until the next reduce(). `extra` (options.extra_values
  // values) is averaged in place alongside. Every rank must call it, in the same order as other collectives.
  void reduce(std::span<float> extra = {});

  int64_t bucket_count() const { return static_cast<int64_t>(buckets_.size()); }
  int64_t numel() const { return numel_; }  // gradient elements reduced per step

 private:
  struct Bucket {
    int64_t start, length;  // in floats of the flat buffer; length is a multiple of the world size
  };
  std::vector<Var> parameters_;
  std::vector<int64_t> offsets_;   // each parameter's first element in the flat buffer
  std::vector<Tensor> views_;      // each parameter's gradient as a view of the flat buffer
  int64_t numel_ = 0;
  int64_t flags_at_ = 0;           // one float per parameter: how many ranks had a gradient for it
  int64_t extra_at_ = 0;
  int64_t extra_values_ = 0;
  Tensor flat_;
  std::vector<float> scratch_;     // one bucket of every rank's chunks
  std::vector<Bucket> buckets_;
};

}  // namespace mt::dist
