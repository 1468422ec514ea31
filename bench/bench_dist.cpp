// Data-parallel costs under MPI: the gradient all-reduce (dist::GradientReducer, deterministic, against
// MPI_Allreduce's MPI_SUM) at the reference MLP's 1 MB of gradients and at 100 MB, and the reference model's
// training step with 32 images per rank. An MPI program rather than a Google Benchmark one: every rank has to
// run each repetition together.
//   mpirun -np 2 build/bench/bench_dist [repetitions]      (and -np 1: the step with no communication)
// Times are medians over the repetitions of the slowest rank's time; bus bandwidth is 2 (N - 1) / N x bytes /
// time, what each rank sends and receives in a bandwidth-optimal all-reduce (NCCL's convention).
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "dist/dist.h"
#include "nn/nn.h"
#include "optim/optim.h"
#include "tensor/parallel.h"
#include "tensor/random.h"

namespace {

// Median over repetitions of the slowest rank's seconds for fn().
template <class Fn>
double median_seconds(int repetitions, Fn&& fn) {
  std::vector<double> times;
  for (int r = 0; r < repetitions; ++r) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double start = MPI_Wtime();
    fn();
    double seconds = MPI_Wtime() - start;
    MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    times.push_back(seconds);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void print(const char* what, double seconds, double bytes) {
  if (mt::dist::rank() != 0) return;
  const double n = mt::dist::world_size();
  if (bytes > 0)
    std::printf("%-62s %10.1f us  %6.2f GB/s bus\n", what, seconds * 1e6, 2 * (n - 1) / n * bytes / seconds * 1e-9);
  else
    std::printf("%-62s %10.1f us\n", what, seconds * 1e6);
}

void all_reduce(int64_t floats, int repetitions, const char* label) {
  const double bytes = static_cast<double>(floats) * sizeof(float);
  mt::Var parameter(mt::Tensor::zeros({floats}), true);
  const mt::Tensor grad = mt::Tensor::ones({floats});
  mt::dist::GradientReducer reducer({parameter});
  const double ours = median_seconds(repetitions, [&] {
    parameter.set_grad(grad);  // a fresh gradient, as backward() leaves it
    reducer.reduce();
  });
  std::vector<float> buffer(static_cast<size_t>(floats), 1.0f);
  const double mpi = median_seconds(repetitions, [&] {
    MPI_Allreduce(MPI_IN_PLACE, buffer.data(), static_cast<int>(floats), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  });
  print((std::string(label) + ", GradientReducer (rank order)").c_str(), ours, bytes);
  print((std::string(label) + ", MPI_Allreduce (MPI_SUM)").c_str(), mpi, bytes);
}

void training_step(int repetitions) {
  mt::Generator gen(0);
  auto model = std::make_shared<mt::nn::Sequential>();
  int64_t in = 784;
  for (int64_t width : {256, 128, 64, 32}) {
    model->add(std::make_shared<mt::nn::Linear>(in, width, gen)).add(std::make_shared<mt::nn::ReLU>());
    in = width;
  }
  model->add(std::make_shared<mt::nn::Linear>(in, 10, gen));
  mt::dist::broadcast(*model);
  mt::dist::GradientReducer reducer(model->parameters());
  mt::optim::Adam adam(model->parameters(), {.lr = 1e-3});
  const mt::Tensor images = mt::Tensor::uniform({32, 784}, 0, 1, gen);
  std::vector<int64_t> labels(32);
  for (int64_t& y : labels) y = static_cast<int64_t>(gen.below(10));
  auto step = [&](bool reduce) {
    adam.zero_grad();
    mt::nn::cross_entropy((*model)(mt::Var(images)), labels).backward();
    if (reduce) reducer.reduce();
    adam.step();
  };
  for (int i = 0; i < 20; ++i) step(true);
  const double with = median_seconds(repetitions, [&] { step(true); });
  const double without = median_seconds(repetitions, [&] { step(false); });
  const int n = mt::dist::world_size();
  const std::string global = " (global batch " + std::to_string(32 * n) + ")";
  print(("training step, 32 images a rank" + global).c_str(), with, 0);
  print("  the same step without the all-reduce", without, 0);
}

}  // namespace

int main(int argc, char** argv) {
  mt::dist::Environment mpi(argc, argv);
  int running = 0;
  MPI_Initialized(&running);
  if (!running) {
    std::fprintf(stderr, "bench_dist: start it with mpirun (mpirun -np 1 for one process)\n");
    return 1;
  }
  const int repetitions = argc > 1 ? std::max(1, std::atoi(argv[1])) : 50;
  mt::set_flush_denormal(true);
  if (mt::dist::rank() == 0)
    std::printf("bench_dist: %d ranks, %d threads per rank, %d repetitions\n", mt::dist::world_size(),
                mt::num_threads(), repetitions);
  all_reduce(244522, repetitions * 4, "1 MB (the reference MLP's 244522 gradients)");
  all_reduce(25 << 20, std::max(3, repetitions / 10), "100 MB");
  training_step(repetitions * 10);
  return 0;
}
