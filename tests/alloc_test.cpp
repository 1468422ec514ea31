// Heap allocations of a training step, counted by replacing the global operator new of this test program:
// every C++ allocation of the library, the standard library's containers and std::shared_ptr included,
// passes through it. tensor/allocator.h routes the tensor cache's own misses through it too.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <new>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "apps/mnist/models.h"
#include "datasets/datasets.h"
#include "nn/nn.h"
#include "optim/optim.h"
#include "tensor/parallel.h"
#include "tensor/random.h"
#include "train/loop.h"

namespace {

std::atomic<int64_t> heap_allocations{0};

void* counted_allocation(std::size_t bytes, std::size_t alignment) {
  heap_allocations.fetch_add(1, std::memory_order_relaxed);
  if (bytes == 0) bytes = 1;
  void* p = alignment <= alignof(std::max_align_t) ? std::malloc(bytes)
                                                    : std::aligned_alloc(alignment, (bytes + alignment - 1) / alignment * alignment);
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(std::size_t bytes) { return counted_allocation(bytes, 0); }
void* operator new[](std::size_t bytes) { return counted_allocation(bytes, 0); }
void* operator new(std::size_t bytes, std::align_val_t a) { return counted_allocation(bytes, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t bytes, std::align_val_t a) { return counted_allocation(bytes, static_cast<std::size_t>(a)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace mt {
namespace {

// Heap allocations made while fn() runs.
template <class Fn>
int64_t allocations_during(Fn&& fn) {
  const int64_t before = heap_allocations.load();
  fn();
  return heap_allocations.load() - before;
}

// The reference model 784-256-128-64-32-10 with ReLU, as apps/mnist builds it.
std::shared_ptr<nn::Sequential> reference_model(Generator& gen) {
  auto model = std::make_shared<nn::Sequential>();
  int64_t in = 784;
  for (int64_t width : {256, 128, 64, 32}) {
    model->add(std::make_shared<nn::Linear>(in, width, gen)).add(std::make_shared<nn::ReLU>());
    in = width;
  }
  model->add(std::make_shared<nn::Linear>(in, 10, gen));
  return model;
}

struct Batches {
  std::vector<Tensor> images;
  std::vector<std::vector<int64_t>> labels;
};

Batches random_batches(int count, Generator& gen) {
  Batches b;
  for (int i = 0; i < count; ++i) {
    b.images.push_back(Tensor::uniform({32, 784}, -1, 1, gen));
    std::vector<int64_t> y(32);
    for (int64_t& v : y) v = static_cast<int64_t>(gen.below(10));
    b.labels.push_back(std::move(y));
  }
  return b;
}

// One step of the app's loop: forward, loss, backward, update, and the accuracy count.
void train_step(nn::Module& model, optim::Optimizer& optimizer, const Tensor& images, const std::vector<int64_t>& labels,
                std::vector<int64_t>& predicted, double& loss_sum) {
  const Var logits = model(Var(images));
  const Var loss = nn::cross_entropy(logits, labels);
  optimizer.zero_grad();
  loss.backward();
  optimizer.step();
  loss_sum += loss.item();
  argmax(logits.value(), 1, predicted);
}

// Steps enough for every thread to have run every kind of work at least once (per-thread scratch memory).
constexpr int kWarmUpSteps = 5;
constexpr int kCountedSteps = 50;

void expect_steady_state_allocates_nothing(optim::Optimizer& optimizer, nn::Module& model, const Batches& data) {
  std::vector<int64_t> predicted;
  double loss_sum = 0;
  const size_t n = data.images.size();
  for (int s = 0; s < kWarmUpSteps; ++s) train_step(model, optimizer, data.images[s % n], data.labels[s % n], predicted, loss_sum);
  const int64_t allocations = allocations_during([&] {
    for (int s = 0; s < kCountedSteps; ++s)
      train_step(model, optimizer, data.images[s % n], data.labels[s % n], predicted, loss_sum);
  });
  EXPECT_EQ(allocations, 0) << "heap allocations in " << kCountedSteps << " steady-state training steps";
  EXPECT_TRUE(std::isfinite(loss_sum));
  // The counter is live: the same step with a fresh model allocates (parameters, optimizer state, the cache).
  Generator gen(7);
  EXPECT_GT(allocations_during([&] { (void)reference_model(gen); }), 0);
}

// The cnn of `mnist --model cnn` (convolutions, batch norm with its running statistics, pooling, dropout),
// on image batches [32, 1, 28, 28], at 1, 2 and 3 threads.
TEST(Allocation, AdamTrainingStepOfTheCnnAllocatesNothing) {
  const int saved = num_threads();
  for (int threads : {1, 2, 3}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    set_num_threads(threads);
    Generator gen(0);
    auto model = mnist_app::make_cnn(gen, 0);
    optim::Adam adam(model->parameters(), {.lr = 1e-3});
    Batches images = random_batches(4, gen);
    for (Tensor& t : images.images) t = t.view({32, 1, 28, 28});
    expect_steady_state_allocates_nothing(adam, *model, images);
  }
  set_num_threads(saved);
}

// At 1, 2 and 3 threads: with more threads than the 2 cores of CI, some thread joins late and others take
// its chunks, so which thread packs what changes from step to step.
TEST(Allocation, AdamTrainingStepOfTheReferenceModelAllocatesNothing) {
  const int saved = num_threads();
  for (int threads : {1, 2, 3}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    set_num_threads(threads);
    Generator gen(0);
    auto model = reference_model(gen);
    optim::Adam adam(model->parameters(), {.lr = 1e-3});
    expect_steady_state_allocates_nothing(adam, *model, random_batches(4, gen));
  }
  set_num_threads(saved);
}

// train::fit's steps in the steady state, the batch's loading, the per-batch cosine schedule, the metrics and
// the step callback included, on the cnn (dropout, batch norm): counted between consecutive steps of an epoch.
TEST(Allocation, TrainingLoopStepsAllocateNothing) {
  const int saved = num_threads();
  for (int threads : {1, 2}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    set_num_threads(threads);
    Generator gen(0);
    auto model = mnist_app::make_cnn(gen, 0);
    constexpr int64_t kBatches = 12;
    std::vector<int64_t> labels(32 * kBatches);
    for (int64_t& y : labels) y = static_cast<int64_t>(gen.below(10));
    datasets::TensorDataLoader loader(datasets::TensorDataset({Tensor::uniform({32 * kBatches, 1, 28, 28}, -1, 1, gen)}, labels),
                                      {.batch_size = 32, .seed = 1});
    optim::Adam adam(model->parameters(), {.lr = 1e-3});
    optim::CosineAnnealingLR cosine(adam, {.T_max = kBatches});
    train::Batches batches(loader);
    std::vector<int64_t> allocations(kBatches + 1, -1);  // made before: the callback must not allocate
    int64_t last = 0;
    const train::History history =
        train::fit(*model, adam, batches, {.epochs = 1, .scheduler = &cosine, .on_step = [&](const train::StepInfo& s) {
                                             const int64_t now = heap_allocations.load();
                                             allocations[static_cast<size_t>(s.batch)] = now - last;
                                             last = now;
                                           }});
    ASSERT_EQ(history.step_losses.size(), static_cast<size_t>(kBatches));
    for (int64_t b = kWarmUpSteps + 1; b <= kBatches; ++b)
      EXPECT_EQ(allocations[static_cast<size_t>(b)], 0) << "heap allocations in step " << b;
    EXPECT_GT(allocations[1], 0) << "the counter is live: the first step allocates (optimizer state, the cache)";
  }
  set_num_threads(saved);
}

TEST(Allocation, SgdMomentumTrainingStepAllocatesNothing) {
  Generator gen(1);
  auto model = reference_model(gen);
  optim::SGD sgd(model->parameters(), {.lr = 0.01, .momentum = 0.9, .nesterov = true});
  expect_steady_state_allocates_nothing(sgd, *model, random_batches(4, gen));
}

// A model over token ids: nn::Embedding reads each batch's ids into Indices, and its backward closure keeps
// a copy of them; both live in the tensor cache, so this step allocates nothing either.
TEST(Allocation, EmbeddingTrainingStepAllocatesNothing) {
  Generator gen(2);
  auto model = std::make_shared<nn::Sequential>();
  model->add(std::make_shared<nn::Embedding>(50, 16, gen))
      .add(std::make_shared<nn::Flatten>())
      .add(std::make_shared<nn::Linear>(8 * 16, 10, gen));
  optim::Adam adam(model->parameters(), {.lr = 1e-3});
  Batches tokens = random_batches(4, gen);
  for (Tensor& t : tokens.images) {
    t = Tensor::empty({32, 8});
    for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data<float>()[i] = static_cast<float>(gen.below(50));
  }
  expect_steady_state_allocates_nothing(adam, *model, tokens);
}

TEST(Allocation, DataLoaderBatchesOfTheRealTestSplitAllocateNothing) {
  const std::filesystem::path dir = MT_MNIST_DIR;
  if (!std::filesystem::exists(dir / "t10k-images-idx3-ubyte.gz")) {
    if (std::getenv("MT_REQUIRE_DATA")) FAIL() << "missing " << dir / "t10k-images-idx3-ubyte.gz";
    GTEST_SKIP() << "no MNIST test split in " << dir;
  }
  datasets::DatasetOptions options;
  options.dir = dir;
  const datasets::ImageDataset test = datasets::MNIST(datasets::Split::Test, options);
  datasets::LoaderOptions loader_options;
  loader_options.batch_size = 32;
  loader_options.shuffle = true;
  datasets::DataLoader loader(test, loader_options);
  int64_t batches = 0, label_sum = 0;
  for (const datasets::Batch& batch : loader) label_sum += batch.labels[0];  // the first epoch fills the cache
  // A later epoch, its smaller last batch included; begin() makes the iterator's batch, once per epoch.
  loader.set_epoch(1);
  auto it = loader.begin();
  const int64_t allocations = allocations_during([&] {
    for (++it; it != loader.end(); ++it) {
      ++batches;
      for (int64_t label : it->labels) label_sum += label;
    }
  });
  EXPECT_EQ(allocations, 0);
  EXPECT_EQ(batches, loader.num_batches() - 1);
  EXPECT_NE(test.size() % 32, 0) << "the last batch should be a partial one";
  EXPECT_GT(label_sum, 0);
}

TEST(Allocation, CacheReusesFreedBlocksAndCountsOnlyItsMisses) {
  release_cached_memory();
  const int64_t misses = allocator_stats().heap_allocations;
  void* first = allocate(1000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % kAllocationAlignment, 0u);
  deallocate(first, 1000);
  EXPECT_EQ(allocator_stats().cached_bytes, 1024u);  // 1000 rounds up to the class of (768, 1024]
  void* again = allocate(1000);
  EXPECT_EQ(again, first);  // the same block, not a new one
  void* same_class = nullptr;
  deallocate(again, 1000);
  same_class = allocate(900);  // also in (768, 1024]
  EXPECT_EQ(same_class, first);
  void* other_class = allocate(1100);
  EXPECT_NE(other_class, first);
  deallocate(same_class, 900);
  deallocate(other_class, 1100);
  EXPECT_EQ(allocator_stats().heap_allocations - misses, 2);
  release_cached_memory();
  EXPECT_EQ(allocator_stats().cached_bytes, 0u);
}

TEST(Allocation, LargeBlocksAndOverflowGoBackToTheHeap) {
  release_cached_memory();
  void* large = allocate(kLargestCachedBlock + 1);
  deallocate(large, kLargestCachedBlock + 1);
  EXPECT_EQ(allocator_stats().cached_bytes, 0u);
  // More than kMaxCachedBytes freed at once: the cache keeps only up to its bound.
  std::vector<void*> blocks;
  for (std::size_t held = 0; held <= kMaxCachedBytes; held += kLargestCachedBlock)
    blocks.push_back(allocate(kLargestCachedBlock));
  for (void* b : blocks) deallocate(b, kLargestCachedBlock);
  EXPECT_LE(allocator_stats().cached_bytes, kMaxCachedBytes);
  EXPECT_GE(allocator_stats().cached_bytes, kMaxCachedBytes - kLargestCachedBlock);
  release_cached_memory();
}

TEST(Allocation, ZeroBytesGiveADistinctValidBlock) {
  void* a = allocate(0);
  void* b = allocate(0);
  EXPECT_NE(a, nullptr);
  EXPECT_NE(a, b);
  deallocate(a, 0);
  deallocate(b, 0);
  const Tensor empty = Tensor::empty({0, 3});
  EXPECT_EQ(empty.numel(), 0);
}

TEST(Allocation, CachedBlocksArePoisonedForAddressSanitizer) {
#if defined(__SANITIZE_ADDRESS__)
  char* block = static_cast<char*>(allocate(4096));
  block[100] = 1;
  deallocate(block, 4096);
  EXPECT_TRUE(__asan_address_is_poisoned(block + 100));  // a read here would be reported, as after free()
  char* again = static_cast<char*>(allocate(4096));
  EXPECT_FALSE(__asan_address_is_poisoned(again + 100));
  deallocate(again, 4096);
#else
  GTEST_SKIP() << "only an AddressSanitizer build poisons cached blocks";
#endif
}

}  // namespace
}  // namespace mt
