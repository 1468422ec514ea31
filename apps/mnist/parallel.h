#pragma once
// Data-parallel training for the app: under `mpirun -np N` (when built with dist/) every rank trains on its
// share of each global batch of N x --batch-size images and the ranks average their gradients; without MPI,
// or started without mpirun, one process, for which everything here does nothing.
#include <memory>
#include <span>
#include <vector>

#include "autograd/var.h"
#include "nn/module.h"

namespace mnist_app {

// The MPI environment for the life of main().
class Ranks {
 public:
  Ranks(int& argc, char**& argv);
  ~Ranks();
  Ranks(const Ranks&) = delete;
  Ranks& operator=(const Ranks&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

int rank();
int rank_count();
// After this rank printed why it fails: ends every rank with `exit_code` (they may be waiting for this one);
// returns `exit_code` when it is the only rank.
int fail_all(int exit_code);
void broadcast(const mt::nn::Module& model);  // rank 0's weights on every rank
void sum(std::span<double> values);           // over ranks, the same bits on every rank

// Averages the gradients of `parameters` over the ranks after backward(), with the step's loss (the global
// batch's mean loss) and a stop flag (set when any rank was interrupted), in the same messages.
class StepAverager {
 public:
  explicit StepAverager(std::vector<mt::Var> parameters);
  ~StepAverager();
  void average(double& loss, bool& stop);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mnist_app
