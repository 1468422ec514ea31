// The reference model's training step, a full epoch and test-set inference, on synthetic data of MNIST's
// shapes (timing does not depend on the pixel values), and the data loader's part of an epoch.
// Run: build/bench/bench_train --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "bench/report.h"
#include "datasets/datasets.h"
#include "nn/nn.h"
#include "optim/optim.h"
#include "tensor/parallel.h"
#include "tensor/random.h"

namespace {

constexpr int64_t kPixels = 784, kClasses = 10, kBatch = 32;
constexpr int64_t kTrainImages = 54000, kTestImages = 10000;
// Multiply-adds per image: forward through 784-256-128-64-32-10.
constexpr double kForwardFlops = 2.0 * (784 * 256 + 256 * 128 + 128 * 64 + 64 * 32 + 32 * 10);
// Training: forward, the weight gradients of all layers and the input gradients of layers 2-5.
constexpr double kTrainFlops = kForwardFlops + 2.0 * (784 * 256 + 256 * 128 + 128 * 64 + 64 * 32 + 32 * 10) +
                               2.0 * (256 * 128 + 128 * 64 + 64 * 32 + 32 * 10);

struct Setup {
  std::shared_ptr<mt::nn::Sequential> model = std::make_shared<mt::nn::Sequential>();
  std::unique_ptr<mt::optim::Adam> optimizer;
  std::vector<mt::Tensor> batches;
  std::vector<std::vector<int64_t>> labels;

  explicit Setup(int64_t batch_count, int64_t batch = kBatch) {
    mt::set_flush_denormal(true);
    mt::Generator gen(0);
    int64_t in = kPixels;
    for (int64_t width : {256, 128, 64, 32}) {
      model->add(std::make_shared<mt::nn::Linear>(in, width, gen)).add(std::make_shared<mt::nn::ReLU>());
      in = width;
    }
    model->add(std::make_shared<mt::nn::Linear>(in, kClasses, gen));
    optimizer = std::make_unique<mt::optim::Adam>(model->parameters(), mt::optim::AdamOptions{.lr = 1e-3});
    for (int64_t b = 0; b < batch_count; ++b) {
      batches.push_back(mt::Tensor::uniform({batch, kPixels}, 0, 1, gen));
      std::vector<int64_t> y(static_cast<size_t>(batch));
      for (int64_t& v : y) v = static_cast<int64_t>(gen.below(kClasses));
      labels.push_back(std::move(y));
    }
  }

  void step(size_t b) {
    const mt::Var loss = mt::nn::cross_entropy((*model)(mt::Var(batches[b])), labels[b]);
    optimizer->zero_grad();
    loss.backward();
    optimizer->step();
  }
};

// One step at the batch size given as the argument: the reference 32, and 128, where two threads have four
// times the work per fork to share.
void BM_TrainStep(benchmark::State& state) {
  const int64_t batch = state.range(0);
  Setup s(16, batch);
  size_t b = 0;
  for (auto _ : state) s.step(b++ % s.batches.size());
  mt::bench::set_flop_counters(state, kTrainFlops * static_cast<double>(batch));
}
BENCHMARK(BM_TrainStep)->Arg(kBatch)->Arg(128)->Unit(benchmark::kMicrosecond)->Apply(mt::bench::use_library_clock);

// The optimizer's part of a step: Adam over the model's 244522 parameters, gradients from one backward.
void BM_AdamStep(benchmark::State& state) {
  Setup s(1);
  s.step(0);
  for (auto _ : state) s.optimizer->step();
}
BENCHMARK(BM_AdamStep)->Unit(benchmark::kMicrosecond)->Apply(mt::bench::use_library_clock);

// One epoch of the app's workload: 54000 images in batches of 32 (the batches cycle through 64 prepared ones).
void BM_TrainEpoch(benchmark::State& state) {
  Setup s(64);
  const int64_t steps = (kTrainImages + kBatch - 1) / kBatch;
  for (auto _ : state)
    for (int64_t i = 0; i < steps; ++i) s.step(static_cast<size_t>(i) % s.batches.size());
  mt::bench::set_flop_counters(state, kTrainFlops * kTrainImages);
}
BENCHMARK(BM_TrainEpoch)->Unit(benchmark::kMillisecond)->Apply(mt::bench::use_library_clock)->Iterations(3);

void BM_InferenceTestSet(benchmark::State& state) {
  Setup s(0);
  mt::Generator gen(1);
  const mt::Tensor images = mt::Tensor::uniform({kTestImages, kPixels}, 0, 1, gen);
  for (auto _ : state) {
    mt::NoGradGuard no_grad;
    for (int64_t start = 0; start < kTestImages; start += 1000)
      benchmark::DoNotOptimize((*s.model)(mt::Var(images.narrow(0, start, 1000))).value().data<float>());
  }
  mt::bench::set_flop_counters(state, kForwardFlops * kTestImages);
}
BENCHMARK(BM_InferenceTestSet)->Unit(benchmark::kMillisecond)->Apply(mt::bench::use_library_clock);

// The loader's part of an epoch: 1688 shuffled batches of 32 from 54000 images (42 MB, beyond the caches),
// as the app normalises them, without the model.
void BM_LoaderEpoch(benchmark::State& state) {
  mt::Generator gen(2);
  std::vector<uint8_t> images(static_cast<size_t>(kTrainImages * kPixels)), labels(kTrainImages);
  for (uint8_t& p : images) p = static_cast<uint8_t>(gen.below(256));
  for (uint8_t& l : labels) l = static_cast<uint8_t>(gen.below(kClasses));
  const mt::datasets::ImageDataset dataset("synthetic", std::move(images), std::move(labels), 28, 28,
                                          {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
  mt::datasets::DataLoader loader(dataset, {.batch_size = kBatch, .mean = 0.2860f, .std = 0.3530f});
  mt::datasets::Batch batch;
  int64_t epoch = 0;
  for (auto _ : state) {
    loader.set_epoch(epoch++);
    for (int64_t b = 0; b < loader.num_batches(); ++b) {
      loader.batch(b, batch);
      benchmark::DoNotOptimize(batch.images.data<float>());
    }
  }
}
BENCHMARK(BM_LoaderEpoch)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) { return mt::bench::run_benchmarks(argc, argv); }
