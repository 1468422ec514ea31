// Convolutions on the packed GEMM: each conv layer of `mnist --model cnn` forward and backward at batch 32,
// and the cnn's whole training step, on synthetic images (timing does not depend on the pixel values).
// Run: build/bench/bench_conv --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "apps/mnist/models.h"
#include "bench/report.h"
#include "optim/optim.h"
#include "tensor/conv.h"
#include "tensor/parallel.h"
#include "tensor/random.h"

namespace {

constexpr int64_t kBatch = 32;

// The cnn's four convolutions: {in channels, out channels, side}, 3x3 kernels with padding 1.
struct Layer {
  int64_t in, out, side;
  double flops() const { return 2.0 * kBatch * out * in * 9 * side * side; }
};
constexpr Layer kLayers[] = {{1, 32, 28}, {32, 32, 28}, {32, 64, 14}, {64, 64, 14}};

// state.range(0): the layer; range(1): 0 forward, 1 input gradient, 2 weight gradient.
void BM_Conv(benchmark::State& state) {
  const Layer l = kLayers[state.range(0)];
  mt::Generator gen(0);
  const mt::Tensor x = mt::Tensor::normal({kBatch, l.in, l.side, l.side}, 0, 1, gen);
  const mt::Tensor w = mt::Tensor::normal({l.out, l.in, 3, 3}, 0, 0.1, gen);
  const mt::Tensor g = mt::Tensor::normal({kBatch, l.out, l.side, l.side}, 0, 1, gen);
  const mt::Conv2dOptions same{.padding = {1, 1}};
  for (auto _ : state) {
    mt::Tensor r = state.range(1) == 0   ? mt::conv2d(x, w, mt::Tensor(), same)
                   : state.range(1) == 1 ? mt::conv2d_backward_input(g, w, x.shape(), same)
                                         : mt::conv2d_backward_weight(g, x, w.shape(), same);
    benchmark::DoNotOptimize(r.data<float>());
  }
  mt::bench::set_flop_counters(state, l.flops());
}
BENCHMARK(BM_Conv)->ArgsProduct({{0, 1, 2, 3}, {0, 1, 2}})->ArgNames({"layer", "pass"})->Unit(benchmark::kMicrosecond)->Apply(mt::bench::use_library_clock);

// The cnn's first max-pool, [32, 32, 28, 28] by 2x2 windows; range(0): 0 forward, 1 backward. Counted in
// bytes moved, it is memory bound.
void BM_MaxPool(benchmark::State& state) {
  mt::Generator gen(0);
  const mt::Tensor x = mt::Tensor::normal({kBatch, 32, 28, 28}, 0, 1, gen);
  const mt::Tensor g = mt::Tensor::normal({kBatch, 32, 14, 14}, 0, 1, gen);
  const mt::Pool2dOptions plain{.kernel = {2, 2}};
  for (auto _ : state) {
    mt::Tensor r = state.range(0) == 0 ? mt::max_pool2d(x, plain) : mt::max_pool2d_backward(g, x, plain);
    benchmark::DoNotOptimize(r.data<float>());
  }
  const double bytes = 4.0 * static_cast<double>(state.range(0) == 0 ? x.numel() + g.numel() : 2 * x.numel() + g.numel());
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MaxPool)->Arg(0)->Arg(1)->ArgName("pass")->Unit(benchmark::kMicrosecond)->Apply(mt::bench::use_library_clock);

// One Adam step of the cnn on a batch of 32: forward, backward (no input gradient for the images), update.
void BM_CnnTrainStep(benchmark::State& state) {
  mt::set_flush_denormal(true);
  mt::Generator gen(0);
  auto model = mnist_app::make_cnn(gen, 0);
  mt::optim::Adam opt(model->parameters(), {.lr = 1e-3});
  std::vector<mt::Tensor> batches;
  std::vector<std::vector<int64_t>> labels;
  for (int b = 0; b < 8; ++b) {
    batches.push_back(mt::Tensor::normal({kBatch, 1, 28, 28}, 0, 1, gen));
    labels.emplace_back(kBatch);
    for (int64_t& y : labels.back()) y = static_cast<int64_t>(gen.below(10));
  }
  size_t b = 0;
  for (auto _ : state) {
    const size_t i = b++ % batches.size();
    const mt::Var loss = mt::nn::cross_entropy((*model)(mt::Var(batches[i])), labels[i]);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  // Convolutions: forward, weight gradients, and the input gradients of all but the first; fc layers likewise.
  const double fc = 2.0 * kBatch * (3136 * 256 + 256 * 10);
  double flops = 3 * fc - kLayers[0].flops();
  for (const Layer& l : kLayers) flops += 3 * l.flops();
  mt::bench::set_flop_counters(state, flops);
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(kBatch * state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CnnTrainStep)->Unit(benchmark::kMillisecond)->Apply(mt::bench::use_library_clock);

}  // namespace

int main(int argc, char** argv) { return mt::bench::run_benchmarks(argc, argv); }
