// dist: run by ctest under `mpirun -np 2` and `-np 3` (any N >= 2 works). Every case makes the same
// collective calls on every rank, and checks with EXPECT so that no rank leaves a case early and leaves the
// others waiting.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <type_traits>
#include <vector>

#include "datasets/datasets.h"
#include "dist/dist.h"
#include "nn/nn.h"
#include "optim/optim.h"

namespace mt {
namespace {

constexpr int64_t kInputs = 12, kClasses = 5;

std::shared_ptr<nn::Sequential> mlp(uint64_t seed, int64_t hidden = 16) {
  Generator gen(seed);
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(kInputs, hidden, gen), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(hidden, kClasses, gen)});
}

uint64_t bytes_hash(const Tensor& t, uint64_t hash = 0xcbf29ce484222325ULL) {
  const auto* p = reinterpret_cast<const unsigned char*>(t.contiguous().data<float>());
  for (size_t i = 0; i < static_cast<size_t>(t.numel()) * sizeof(float); ++i) hash = (hash ^ p[i]) * 0x100000001b3ULL;
  return hash;
}

uint64_t weights_hash(const nn::Module& model) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const Var& p : model.parameters()) hash = bytes_hash(p.value(), hash);
  return hash;
}

uint64_t grads_hash(const nn::Module& model) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const Var& p : model.parameters()) hash = bytes_hash(p.grad(), hash);
  return hash;
}

// True when every rank passed the same value.
bool same_on_every_rank(uint64_t value) {
  const std::vector<uint64_t> all = dist::all_gather(value);
  return std::all_of(all.begin(), all.end(), [&](uint64_t v) { return v == all[0]; });
}

TEST(Dist, RanksAreNumberedAndGatherInRankOrder) {
  const std::vector<uint64_t> all = dist::all_gather(100 + static_cast<uint64_t>(dist::rank()));
  ASSERT_EQ(all.size(), static_cast<size_t>(dist::world_size()));
  for (size_t r = 0; r < all.size(); ++r) EXPECT_EQ(all[r], 100 + r);

  std::vector<double> values = {1.0 * dist::rank(), 0.5, -2.0};
  dist::all_reduce_sum(values);
  const double n = dist::world_size();
  EXPECT_EQ(values, (std::vector<double>{n * (n - 1) / 2, 0.5 * n, -2.0 * n}));
}

TEST(Dist, BroadcastGivesEveryRankTheRootsWeights) {
  auto model = mlp(7 + static_cast<uint64_t>(dist::rank()));  // a different initialisation on every rank
  EXPECT_FALSE(same_on_every_rank(weights_hash(*model)));
  dist::broadcast(*model);
  auto reference = mlp(7);
  const auto got = model->parameters(), want = reference->parameters();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].value().to_vector(), want[i].value().to_vector()) << i;
  EXPECT_TRUE(same_on_every_rank(weights_hash(*model)));

  // Buffers too: batch norm's running statistics, made different on every rank by one training forward.
  nn::BatchNorm1d norm(3);
  norm(Var(Tensor::full({2, 3}, dist::rank()) + Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, {2, 3})));
  const Tensor running_mean = norm.named_buffers()[0].second;
  EXPECT_FALSE(same_on_every_rank(bytes_hash(running_mean)));
  dist::broadcast(norm);
  EXPECT_TRUE(same_on_every_rank(bytes_hash(running_mean)));
  EXPECT_FLOAT_EQ(static_cast<float>(running_mean.at({0})), 0.1f * 1.5f) << "rank 0's";

  const Tensor t = Tensor::full({3, 2}, dist::rank(), DType::Float64);
  dist::broadcast(t, 1);
  EXPECT_EQ(t.to_vector(), std::vector<double>(6, 1.0));
  EXPECT_THROW(dist::broadcast(t, dist::world_size()), dist::Error);
  EXPECT_THROW(dist::broadcast(t.transpose(0, 1)), dist::Error);
}

TEST(Dist, AllReducedGradientIsTheSingleProcessGradientOfTheGlobalBatch) {
  const int64_t ranks = dist::world_size(), per_rank = 6, global = ranks * per_rank;
  Generator gen(3);
  const Tensor x = Tensor::normal({global, kInputs}, 0, 1, gen);
  std::vector<int64_t> labels(static_cast<size_t>(global));
  for (int64_t i = 0; i < global; ++i) labels[static_cast<size_t>(i)] = (i * 7 + 3) % kClasses;

  // One process, the whole global batch.
  auto single = mlp(1);
  nn::cross_entropy((*single)(Var(x)), labels).backward();

  // Every rank its rows of it, then the all-reduce.
  auto model = mlp(1);
  dist::broadcast(*model);
  dist::GradientReducer reducer(model->parameters());
  const int64_t first = dist::rank() * per_rank;
  const std::vector<int64_t> mine(labels.begin() + first, labels.begin() + first + per_rank);
  nn::cross_entropy((*model)(Var(x.narrow(0, first, per_rank))), mine).backward();
  const std::vector<double> local = model->parameters()[0].grad().to_vector();
  reducer.reduce();

  const auto params = model->parameters(), expected = single->parameters();
  double worst = 0, local_error = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const std::vector<double> g = params[i].grad().to_vector(), want = expected[i].grad().to_vector();
    for (size_t j = 0; j < g.size(); ++j) worst = std::max(worst, std::abs(g[j] - want[j]) / (1e-3 + std::abs(want[j])));
    if (i == 0)
      for (size_t j = 0; j < g.size(); ++j) local_error = std::max(local_error, std::abs(local[j] - want[j]));
  }
  EXPECT_LT(worst, 1e-5) << "relative difference from the single-process gradient";
  EXPECT_GT(local_error, 1e-3) << "a rank's own gradient is not already the global one";
  EXPECT_TRUE(same_on_every_rank(grads_hash(*model))) << "the same bits on every rank";
}

TEST(Dist, TheAverageIsAddedInRankOrderInFloat64WhateverTheBuckets) {
  const int ranks = dist::world_size(), me = dist::rank();
  // Rank 1 adds a large value that rank 2 takes away again, so where the small value of rank 0 is added
  // decides the result, and float32 accumulation would lose it altogether (from 3 ranks on).
  auto value = [](int r, int64_t i) {
    const float big = 3e10f * static_cast<float>(1 + i % 7);
    return r == 0 ? 1e-3f * static_cast<float>(1 + i % 11) : r == 1 ? big : r == 2 ? -big : 0.5f * static_cast<float>(r);
  };
  const Shape shapes[] = {{5, 7}, {33}, {2, 3, 4}, {1}};
  for (const int64_t bucket_bytes : {int64_t{4}, int64_t{100}, int64_t{25} << 20}) {
    std::vector<Var> params;
    for (const Shape& s : shapes) params.emplace_back(Tensor::zeros(s), true);
    dist::GradientReducer reducer(params, {.bucket_bytes = bucket_bytes, .extra_values = 2});
    const int64_t buckets = bucket_bytes == 4 ? 5 : bucket_bytes == 100 ? 4 : 1;
    EXPECT_EQ(reducer.bucket_count(), buckets) << "buckets of " << bucket_bytes << " bytes";
    EXPECT_EQ(reducer.numel(), 35 + 33 + 24 + 1);
    for (size_t k = 0; k < params.size(); ++k) {
      std::vector<float> g(static_cast<size_t>(params[k].numel()));
      for (size_t i = 0; i < g.size(); ++i) g[i] = value(me, static_cast<int64_t>(100 * k + i));
      params[k].set_grad(Tensor::from_vector(g, params[k].shape()));
    }
    std::vector<float> extra = {static_cast<float>(me), 2.0f};
    reducer.reduce(extra);
    int64_t wrong = 0;
    for (size_t k = 0; k < params.size(); ++k) {
      const std::vector<double> got = params[k].grad().to_vector();
      for (size_t i = 0; i < got.size(); ++i) {
        double sum = 0;
        for (int r = 0; r < ranks; ++r) sum += value(r, static_cast<int64_t>(100 * k + i));
        wrong += static_cast<float>(got[i]) != static_cast<float>(sum / ranks);
      }
    }
    EXPECT_EQ(wrong, 0) << "elements that are not the float64 rank-order average, buckets of " << bucket_bytes << " bytes";
    EXPECT_EQ(extra, (std::vector<float>{static_cast<float>(ranks - 1) / 2, 2.0f}));
  }
}

TEST(Dist, AParameterWithoutAGradientOnSomeRanksAveragesTheirZeros) {
  const Var used_by_rank_0(Tensor::zeros({4}), true), unused(Tensor::zeros({3}), true);
  dist::GradientReducer reducer({used_by_rank_0, unused});
  if (dist::rank() == 0) used_by_rank_0.set_grad(Tensor::full({4}, 6.0));
  reducer.reduce();
  ASSERT_TRUE(used_by_rank_0.grad().defined());
  EXPECT_EQ(used_by_rank_0.grad().to_vector(), std::vector<double>(4, 6.0 / dist::world_size()));
  EXPECT_FALSE(unused.grad().defined()) << "no rank had a gradient: none is made";
}

TEST(Dist, MismatchedModelsAndBadParametersAreRejectedOnEveryRank) {
  auto model = mlp(1, dist::rank() == 1 ? 17 : 16);
  EXPECT_THROW(dist::broadcast(*model), dist::Error);
  EXPECT_THROW(dist::GradientReducer{model->parameters()}, dist::Error);
  EXPECT_THROW(dist::GradientReducer({Var(Tensor::zeros({2}, DType::Float64), true)}), dist::Error);
  EXPECT_THROW(dist::GradientReducer({Var(Tensor::zeros({2}), false)}), dist::Error);
  dist::GradientReducer reducer({Var(Tensor::zeros({2}), true)}, {.extra_values = 1});
  EXPECT_THROW(reducer.reduce(), dist::Error);
  static_assert(std::is_base_of_v<mt::Error, dist::Error>);
}

// 60 one-row "images" of 12 pixels in 5 classes, the class visible in the pixels.
datasets::ImageDataset toy_dataset() {
  std::vector<uint8_t> pixels, labels;
  Generator gen(5);
  for (int i = 0; i < 60; ++i) {
    const int label = i % kClasses;
    labels.push_back(static_cast<uint8_t>(label));
    for (int p = 0; p < kInputs; ++p)
      pixels.push_back(static_cast<uint8_t>((p % kClasses == label ? 150 : 0) + gen.below(100)));
  }
  return {"toy", pixels, labels, 1, kInputs, {"a", "b", "c", "d", "e"}};
}

// A few epochs of Adam on each rank's share; returns the weights' hash.
uint64_t train(int threads) {
  set_num_threads(threads);
  auto model = mlp(dist::rank() == 0 ? 11 : 99);  // only rank 0's initialisation may count
  dist::broadcast(*model);
  dist::GradientReducer reducer(model->parameters(), {.bucket_bytes = 512});
  optim::Adam adam(model->parameters(), {.lr = 1e-2});
  datasets::DataLoader loader(toy_dataset(), {.batch_size = 4, .seed = 2, .num_replicas = dist::world_size(),
                                              .rank = dist::rank()});
  for (int epoch = 0; epoch < 3; ++epoch) {
    loader.set_epoch(epoch);
    for (const datasets::Batch& batch : loader) {
      adam.zero_grad();
      nn::cross_entropy((*model)(Var(batch.images)), batch.labels).backward();
      reducer.reduce();
      adam.step();
    }
  }
  return weights_hash(*model);
}

TEST(Dist, WeightsAreBitIdenticalOnEveryRankAndInEveryRun) {
  const uint64_t first = train(1);
  EXPECT_TRUE(same_on_every_rank(first)) << "a checksum of the weights gathered from every rank";
  // Rerun, with a different thread count on each rank.
  EXPECT_EQ(train(1 + dist::rank() % 2), first);
  auto untrained = mlp(11);
  EXPECT_NE(weights_hash(*untrained), first);
  set_num_threads(1);
}

}  // namespace
}  // namespace mt

// MPI for the whole run; only rank 0 prints gtest's progress, every rank its failures.
int main(int argc, char** argv) {
  mt::dist::Environment mpi(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  if (mt::dist::world_size() < 2) {
    std::fprintf(stderr, "dist_test: run it under mpirun -np 2 or more (ctest does)\n");
    return 1;
  }
  if (mt::dist::rank() != 0) {
    testing::TestEventListeners& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    struct FailurePrinter : testing::EmptyTestEventListener {
      void OnTestPartResult(const testing::TestPartResult& result) override {
        if (result.failed())
          std::fprintf(stderr, "rank %d: %s:%d: %s\n", mt::dist::rank(), result.file_name() ? result.file_name() : "?",
                       result.line_number(), result.message());
      }
    };
    listeners.Append(new FailurePrinter);
  }
  return RUN_ALL_TESTS();
}
