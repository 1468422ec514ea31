// Tensor storage, views and kernels, checked against hand-computed values and NumPy/PyTorch numbers from
// tests/reference/tensor_reference.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <functional>
#include <utility>
#include <chrono>
#include <thread>
#include <vector>

#include "tensor/kernels.h"
#include "tensor/parallel.h"
#include "tensor/random.h"

namespace mt {
namespace {

Tensor matrix(std::vector<double> values, int64_t rows, int64_t cols) {
  return Tensor::from_vector(values, {rows, cols});
}

void expect_values(const Tensor& t, const std::vector<double>& expected, double tol = 1e-12) {
  const std::vector<double> got = t.to_vector();
  ASSERT_EQ(got.size(), expected.size()) << t.str();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], tol) << "element " << i << " of " << t.str();
}

TEST(Tensor, FactoriesFillShapeAndDtype) {
  const Tensor z = Tensor::zeros({2, 3});
  EXPECT_EQ(z.dtype(), DType::Float32);
  EXPECT_EQ(z.shape(), Shape({2, 3}));
  EXPECT_EQ(z.strides(), Shape({3, 1}));
  expect_values(z, {0, 0, 0, 0, 0, 0});
  expect_values(Tensor::full({2}, 2.5, DType::Float64), {2.5, 2.5});
  expect_values(Tensor::arange(1, 2, 0.25, DType::Float64), {1, 1.25, 1.5, 1.75});
  EXPECT_EQ(Tensor::scalar(3).dim(), 0);
  EXPECT_EQ(Tensor::scalar(3).item(), 3);
}

TEST(Tensor, StorageIsAlignedTo64Bytes) {
  for (int64_t n : {1, 3, 17, 1000}) {
    const Tensor t = Tensor::empty({n}, DType::Float64);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data<double>()) % 64, 0u);
  }
}

TEST(Tensor, ViewsShareStorage) {
  const Tensor a = matrix({0, 1, 2, 3, 4, 5}, 2, 3);
  const Tensor t = a.t();
  EXPECT_TRUE(t.shares_storage_with(a));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(t.at({2, 1}), 5);
  const Tensor row = a.narrow(0, 1, 1);
  row.fill_(9);
  expect_values(a, {0, 1, 2, 9, 9, 9});
  const Tensor r = a.reshape({3, -1});
  EXPECT_TRUE(r.shares_storage_with(a));
  EXPECT_EQ(r.shape(), Shape({3, 2}));
  const Tensor c = t.contiguous();
  EXPECT_FALSE(c.shares_storage_with(a));
  expect_values(c, {0, 9, 1, 9, 2, 9});
  expect_values(a.select(1, 2), {2, 9});
  EXPECT_EQ(a.unsqueeze(0).shape(), Shape({1, 2, 3}));
  expect_values(Tensor::arange(0, 3, 1, DType::Float64).expand({2, 3}), {0, 1, 2, 0, 1, 2});
}

TEST(Tensor, PermuteAndReshapeOfNonContiguousCopies) {
  const Tensor a = Tensor::arange(0, 24, 1, DType::Float64).reshape({2, 3, 4});
  const Tensor p = a.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), Shape({4, 2, 3}));
  EXPECT_EQ(p.at({3, 1, 2}), a.at({1, 2, 3}));
  const Tensor flat = p.reshape({-1});
  EXPECT_FALSE(flat.shares_storage_with(a));
  EXPECT_EQ(flat.at({5}), a.at({1, 2, 0}));
  EXPECT_THROW(p.view({24}), Error);
}

TEST(Tensor, ConvertsBetweenDtypes) {
  const Tensor d = Tensor::from_vector(std::vector<double>{1.5, -2.25}, {2});
  const Tensor f = d.to(DType::Float32);
  EXPECT_EQ(f.dtype(), DType::Float32);
  expect_values(f, {1.5, -2.25});
  EXPECT_THROW(f.data<double>(), Error);
}

TEST(Tensor, ErrorsNameTheOpAndShapes) {
  const Tensor a = Tensor::zeros({32, 784}), b = Tensor::zeros({100, 256});
  try {
    matmul(a, b);
    FAIL() << "matmul of mismatched shapes did not throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "matmul: [32, 784] x [100, 256]: inner sizes 784 and 100 differ");
  }
  try {
    add(Tensor::zeros({2, 3}), Tensor::zeros({4}));
    FAIL() << "add of shapes that do not broadcast did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("add: shapes [2, 3] and [4] do not broadcast"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Tensor::zeros({6}).reshape({4, -1}), Error);
  EXPECT_THROW(Tensor::zeros({2, 3}).transpose(0, 2), Error);
  EXPECT_THROW(Tensor::zeros({2, 3}).narrow(1, 2, 2), Error);
  EXPECT_THROW(add(Tensor::zeros({2}), Tensor::zeros({2}, DType::Float64)), Error);
}

TEST(Kernels, BroadcastingElementwise) {
  const Tensor a = matrix({1, 2, 3, 4, 5, 6}, 2, 3);
  const Tensor row = Tensor::from_vector(std::vector<double>{10, 20, 30}, {3});
  const Tensor col = Tensor::from_vector(std::vector<double>{1, -1}, {2, 1});
  expect_values(a + row, {11, 22, 33, 14, 25, 36});
  expect_values(a * col, {1, 2, 3, -4, -5, -6});
  expect_values(a - 1.0, {0, 1, 2, 3, 4, 5});
  expect_values(row / a, {10, 10, 10, 2.5, 4, 5});
  expect_values(a.t() * a.t(), {1, 16, 4, 25, 9, 36});
  expect_values(gt(a, Tensor::scalar(3, DType::Float64)), {0, 0, 0, 1, 1, 1});
  expect_values(eq(a, a), {1, 1, 1, 1, 1, 1});
}

TEST(Kernels, UnaryFunctions) {
  const Tensor x = Tensor::from_vector(std::vector<double>{-800, -1, 0, 2, 800}, {5});
  expect_values(relu(x), {0, 0, 0, 2, 800});
  expect_values(sigmoid(x), {0, 1 / (1 + std::exp(1.0)), 0.5, 1 / (1 + std::exp(-2.0)), 1}, 1e-15);
  expect_values(tanh(x), {-1, std::tanh(-1.0), 0, std::tanh(2.0), 1});
  const Tensor p = Tensor::from_vector(std::vector<double>{0.25, 4}, {2});
  expect_values(sqrt(p), {0.5, 2});
  expect_values(pow(p, 1.5), {0.125, 8});
  expect_values(log(exp(p)), {0.25, 4});
  expect_values(relu_backward(Tensor::ones({5}, DType::Float64), x), {0, 0, 0, 1, 1});
}

TEST(Kernels, ReductionsOverChosenDims) {
  const Tensor a = Tensor::arange(0, 24, 1, DType::Float64).reshape({2, 3, 4});
  const int d0[] = {0}, d1[] = {1}, d02[] = {0, 2};
  expect_values(sum(a), {276});
  expect_values(sum(a, d1), {12, 15, 18, 21, 48, 51, 54, 57});
  EXPECT_EQ(sum(a, d02, true).shape(), Shape({1, 3, 1}));
  expect_values(sum(a, d02, true), {60, 92, 124});
  expect_values(mean(a, d0), {6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17});
  expect_values(max(a, -1), {3, 7, 11, 15, 19, 23});
  expect_values(max(a.transpose(1, 2), 2), {8, 9, 10, 11, 20, 21, 22, 23});
  EXPECT_EQ(argmax(matrix({1, 5, 5, 7, 0, -1}, 2, 3), 1), (std::vector<int64_t>{1, 0}));
  expect_values(sum_to(Tensor::ones({2, 3, 4}, DType::Float64), {3, 1}), {8, 8, 8});
}

TEST(Kernels, ColumnSumsAddEachColumnInRowOrderInDouble) {
  Generator gen(5);
  const Tensor a = Tensor::normal({300, 70}, 0, 1, gen);  // 70 columns: two whole blocks of 32 and a part
  const int d0[] = {0}, d1[] = {1};
  for (const auto& [x, dim] : {std::pair{a, d0}, std::pair{a.t(), d1}}) {
    const Tensor sums = sum(x, std::span<const int>(dim, 1));
    ASSERT_EQ(sums.shape(), Shape({70}));
    const float* p = a.data<float>();
    for (int64_t j = 0; j < 70; ++j) {
      double expected = 0;
      for (int64_t i = 0; i < 300; ++i) expected += p[i * 70 + j];
      EXPECT_EQ(sums.data<float>()[j], static_cast<float>(expected)) << "column " << j;
    }
  }
}

TEST(Kernels, MatmulMatchesNumpy) {
  const Tensor a = Tensor::arange(0, 6, 1, DType::Float64).reshape({2, 3});
  const Tensor b = Tensor::arange(0, 12, 1, DType::Float64).reshape({3, 4}) / 4.0;
  expect_values(matmul(a, b), {5.0, 5.75, 6.5, 7.25, 14.0, 17.0, 20.0, 23.0});
  // (A B)^T = B^T A^T, with the transposes read in place.
  expect_values(matmul(b.t(), a.t()), {5.0, 14.0, 5.75, 17.0, 6.5, 20.0, 7.25, 23.0});
}

// A naive triple loop in double, to compare the blocked kernel against at awkward sizes.
Tensor naive_matmul(const Tensor& a, const Tensor& b) {
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  std::vector<double> out(m * n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += a.at({i, p}) * b.at({p, j});
      out[i * n + j] = s;
    }
  return Tensor::from_vector(out, {m, n});
}

TEST(Kernels, MatmulAtBlockEdgesAndWithTransposes) {
  Generator gen(7);
  for (auto [m, k, n] : {std::array<int64_t, 3>{1, 1, 1}, {7, 5, 3}, {33, 300, 65}, {130, 17, 40}, {9, 513, 200}}) {
    for (DType dtype : {DType::Float32, DType::Float64}) {
      const Tensor a = Tensor::normal({m, k}, 0, 1, gen, dtype);
      const Tensor bt = Tensor::normal({n, k}, 0, 1, gen, dtype);  // used as b = bt^T, a strided view
      const Tensor expected = naive_matmul(a, bt.t());
      const double tol = dtype == DType::Float32 ? 1e-4 * std::sqrt(double(k)) : 1e-11 * double(k);
      expect_values(matmul(a, bt.t()), expected.to_vector(), tol);
    }
  }
}

TEST(Kernels, LinearIsMatmulWithTransposedWeightPlusBias) {
  Generator gen(5);
  const Tensor x = Tensor::normal({7, 33}, 0, 1, gen, DType::Float64);
  const Tensor w = Tensor::normal({12, 33}, 0, 1, gen, DType::Float64);
  const Tensor b = Tensor::normal({12}, 0, 1, gen, DType::Float64);
  expect_values(linear(x, w, b), (matmul(x, w.t()) + b).to_vector(), 1e-12);
  expect_values(linear(x, w, Tensor()), matmul(x, w.t()).to_vector(), 1e-12);
  EXPECT_THROW(linear(x, w.t(), b), Error);
  EXPECT_THROW(linear(x, w, Tensor::zeros({11}, DType::Float64)), Error);
}

TEST(Kernels, BatchedMatmul) {
  Generator gen(3);
  const Tensor a = Tensor::normal({3, 4, 5}, 0, 1, gen, DType::Float64);
  const Tensor b = Tensor::normal({3, 5, 2}, 0, 1, gen, DType::Float64);
  const Tensor w = Tensor::normal({5, 2}, 0, 1, gen, DType::Float64);
  const Tensor c = matmul(a, b), cw = matmul(a, w);
  ASSERT_EQ(c.shape(), Shape({3, 4, 2}));
  for (int64_t i = 0; i < 3; ++i) {
    expect_values(c.select(0, i), naive_matmul(a.select(0, i), b.select(0, i)).to_vector(), 1e-12);
    expect_values(cw.select(0, i), naive_matmul(a.select(0, i), w).to_vector(), 1e-12);
  }
  EXPECT_THROW(matmul(a, Tensor::zeros({2, 5, 2}, DType::Float64)), Error);
}

TEST(Kernels, SoftmaxFamilyMatchesPytorchAndSurvivesLargeLogits) {
  const Tensor x = matrix({1, 2, 3, -1, 0.5, 1000}, 2, 3);
  expect_values(softmax(x, 1), {0.09003057317038045, 0.2447284710547976, 0.6652409557748218, 0, 0, 1}, 1e-15);
  expect_values(log_softmax(x, -1), {-2.4076059644443806, -1.4076059644443804, -0.4076059644443804, -1001.0, -999.5, 0},
                1e-12);
  expect_values(softmax(x.t(), 0).t(), softmax(x, 1).to_vector(), 1e-15);
  const std::vector<int64_t> labels = {2, 0};
  EXPECT_NEAR(cross_entropy(x, labels).item(), 500.7038029822222, 1e-10);
  const Tensor grad = cross_entropy_backward(x, labels, 1.0);
  expect_values(grad, {0.09003057317038045 / 2, 0.2447284710547976 / 2, (0.6652409557748218 - 1) / 2, -0.5, 0, 0.5},
                1e-15);
  const std::vector<int64_t> bad = {2, 3};
  EXPECT_THROW(cross_entropy(x, bad), Error);
}

TEST(Kernels, CrossEntropyBackwardFromTheForwardsRowStatisticsHasTheSameBits) {
  Generator gen(7);
  const Tensor logits = Tensor::uniform({32, 10}, -20, 20, gen);
  std::vector<int64_t> labels(32);
  for (int64_t& label : labels) label = static_cast<int64_t>(gen.below(10));
  Tensor stats;
  const Tensor loss = cross_entropy(logits, labels, &stats);
  EXPECT_EQ(loss.item(), cross_entropy(logits, labels).item());
  ASSERT_EQ(stats.shape(), (Shape{32, 2}));
  // Row 0's max and log-sum: log_softmax(x)[0, j] = x[0, j] - max - log_sum.
  const std::vector<double> row = logits.narrow(0, 0, 1).to_vector(), saved = stats.to_vector();
  EXPECT_EQ(saved[0], *std::max_element(row.begin(), row.end()));
  const double log_prob = log_softmax(logits, 1).narrow(0, 0, 1).to_vector()[0];
  EXPECT_NEAR(saved[1], row[0] - saved[0] - log_prob, 1e-5);
  EXPECT_EQ(cross_entropy_backward(logits, labels, 0.5, stats).to_vector(),
            cross_entropy_backward(logits, labels, 0.5).to_vector());
  EXPECT_THROW(cross_entropy_backward(logits, labels, 1, stats.narrow(0, 0, 31)), Error);
  EXPECT_THROW(cross_entropy_backward(logits, labels, 1, stats.to(DType::Float64)), Error);
}

TEST(Generator, SameSeedSameNumbersAndSaneMoments) {
  Generator a(42), b(42), c(43);
  EXPECT_EQ(a.next_u64(), b.next_u64());
  EXPECT_NE(a.next_u64(), c.next_u64());
  Generator gen(1);
  const Tensor n = Tensor::normal({100000}, 0, 1, gen, DType::Float64);
  const double m = mean(n).item();
  const double var = mean(pow(n - m, 2)).item();
  EXPECT_NEAR(m, 0, 0.01);
  EXPECT_NEAR(var, 1, 0.02);
  const Tensor u = Tensor::uniform({100000}, -2, 3, gen, DType::Float64);
  EXPECT_GE(-max(-u, 0).item(), -2);
  EXPECT_LT(max(u, 0).item(), 3);
  EXPECT_NEAR(mean(u).item(), 0.5, 0.02);
  std::vector<int64_t> order = {0, 1, 2, 3, 4, 5, 6, 7};
  Generator s1(5), s2(5);
  std::vector<int64_t> other = order;
  s1.shuffle(order);
  s2.shuffle(other);
  EXPECT_EQ(order, other);
  EXPECT_NE(order, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

// Every kernel on inputs big enough to run in parallel gives bit-identical results on 1 and 2 threads.
TEST(Threads, ResultsDoNotDependOnThreadCount) {
  Generator gen(11);
  const Tensor a = Tensor::normal({64, 700}, 0, 1, gen), b = Tensor::normal({700, 300}, 0, 1, gen);
  const Tensor c = Tensor::normal({64, 300}, 0, 1, gen);
  const int d0[] = {0}, d1[] = {1};
  const std::vector<int64_t> labels(64, 3);
  const std::vector<std::function<Tensor()>> kernels = {
      [&] { return matmul(a, b); },         [&] { return matmul(b.t(), a.t()); },
      [&] { return add(c, c.narrow(0, 0, 1)); }, [&] { return mul(c, c); },
      [&] { return exp(a); },               [&] { return sum(a, d0); },
      [&] { return sum(a, d1); },           [&] { return softmax(a, 1); },
      [&] { return log_softmax(a, 0); },    [&] { return a.t().contiguous(); },
      [&] { return cross_entropy_backward(c, labels, 1); }, [&] { return max(a, 0); },
  };
  const int saved = num_threads();
  for (size_t i = 0; i < kernels.size(); ++i) {
    set_num_threads(1);
    const std::vector<double> one = kernels[i]().to_vector();
    // 3 threads on 2 cores: other chunk boundaries, and chunks claimed in a different order.
    for (int threads : {2, 3}) {
      set_num_threads(threads);
      EXPECT_EQ(one, kernels[i]().to_vector()) << "kernel " << i << " on " << threads << " threads";
    }
  }
  set_num_threads(saved);
}

TEST(Threads, ParallelForCoversEveryIndexOnce) {
  const int saved = num_threads();
  for (int threads : {1, 2, 3})
    for (const auto& [n, work] : {std::pair<int64_t, int64_t>{1, 1 << 20}, {2, 1 << 20}, {7, kParallelWork},
                                  {100, kParallelWork - 1}, {1000, 1 << 20}, {1001, int64_t{1} << 40}}) {
      set_num_threads(threads);
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int> calls{0};
      parallel_for(n, work, [&](int64_t begin, int64_t end) {
        EXPECT_LT(begin, end);
        ++calls;
        for (int64_t i = begin; i < end; ++i) ++hits[static_cast<size_t>(i)];
      });
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[static_cast<size_t>(i)], 1) << "index " << i << " of " << n;
      // Chunks only where the work pays for them: small work is one call on the calling thread.
      if (work < kParallelWork || threads == 1) {
        EXPECT_EQ(calls, 1) << n;
      }
      EXPECT_LE(calls, std::max<int64_t>(1, threads * kChunksPerThread)) << n;
    }
  set_num_threads(saved);
}

// A contiguous tensor is one long row to the strided loop; it is cut into pieces so that the threads share it
// (until that cut, relu and its gradient on the cnn's activations ran on the calling thread alone). Each
// element is still computed exactly once, at every piece boundary and with broadcast or strided operands.
TEST(Threads, ElementwiseOpsShareOneLongRowAndComputeEveryElementOnce) {
  const int saved = num_threads();
  set_num_threads(2);
  const int64_t n = 3 * detail::kRowPiece + 5;
  const Tensor x = Tensor::arange(0, n, 1, DType::Float64);
  std::atomic<int> by_worker{0};
  for (int round = 0; round < 100 && by_worker == 0; ++round) {
    const Tensor y = elementwise("tag", x, [&](auto v) {
      if (thread_index() != 0) ++by_worker;
      return v + 1;
    });
    const std::vector<double> values = y.to_vector();
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(values[static_cast<size_t>(i)], i + 1) << "element " << i;
  }
  EXPECT_GT(by_worker, 0) << "the worker never took a piece of the row";
  // Two long rows of a strided operand, and a row broadcast along them.
  const Tensor wide = Tensor::arange(0, 2 * n, 1, DType::Float64).reshape({n, 2}).t();  // [2, n], strides (1, 2)
  const Tensor row = Tensor::arange(0, n, 1, DType::Float64).reshape({1, n});
  const std::vector<double> sum = add(wide, row).to_vector();
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(sum[static_cast<size_t>(r * n + i)], static_cast<double>(2 * i + r + i)) << r << ", " << i;
  set_num_threads(saved);
}

TEST(Threads, ChunksRunOnTheCallerAndTheWorkersWithTheirIndexAndNestedCallsRunSerially) {
  const int saved = num_threads();
  set_num_threads(3);
  EXPECT_FALSE(in_parallel_region());
  EXPECT_EQ(thread_index(), 0);
  std::vector<std::atomic<int>> by_thread(3);
  std::atomic<int> bad_index{0}, outside{0}, nested_calls{0};
  for (int round = 0; round < 200; ++round)
    parallel_for(64, int64_t{1} << 30, [&](int64_t, int64_t) {
      const int t = thread_index();
      if (t < 0 || t >= 3) ++bad_index;
      else ++by_thread[static_cast<size_t>(t)];
      if (!in_parallel_region()) ++outside;
      // A parallel_for inside a chunk is one call on this thread.
      parallel_for(8, int64_t{1} << 30, [&](int64_t b, int64_t e) {
        EXPECT_EQ(b, 0);
        EXPECT_EQ(e, 8);
        EXPECT_EQ(thread_index(), t);
        ++nested_calls;
      });
    });
  EXPECT_EQ(bad_index, 0);
  EXPECT_EQ(outside, 0);
  EXPECT_GT(by_thread[0], 0) << "the calling thread takes chunks too";
  EXPECT_EQ(by_thread[0] + by_thread[1] + by_thread[2], nested_calls);
  EXPECT_FALSE(in_parallel_region());
  set_num_threads(saved);
}

// Each thread that takes part calls prepare() once, on itself, before its first range; a thread that gets no
// range does not.
TEST(Threads, EachThreadPreparesOnceBeforeItsFirstRange) {
  const int saved = num_threads();
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (int round = 0; round < 100; ++round) {
      std::array<std::atomic<int>, 3> prepared{}, ranges{};
      std::atomic<int> unprepared{0};
      parallel_for(
          40, int64_t{1} << 30, [&] { ++prepared[static_cast<size_t>(thread_index())]; },
          [&](int64_t, int64_t) {
            const auto t = static_cast<size_t>(thread_index());
            unprepared += prepared[t] != 1;
            ++ranges[t];
          });
      EXPECT_EQ(unprepared, 0);
      for (size_t t = 0; t < 3; ++t) EXPECT_EQ(prepared[t], ranges[t] > 0 ? 1 : 0) << "thread " << t;
    }
    int calls = 0;  // below kParallelWork: prepare and one range, on the calling thread
    parallel_for(40, 10, [&] { ++calls; }, [&](int64_t b, int64_t e) { calls += (b == 0 && e == 40) ? 10 : 100; });
    EXPECT_EQ(calls, 11);
  }
  set_num_threads(saved);
}

// Every task runs exactly once, whole, on one thread; on 2 threads the worker takes some of them.
TEST(Threads, ParallelTasksRunsEachTaskOnceOnOneThread) {
  const int saved = num_threads();
  set_num_threads(2);
  std::atomic<int> by_worker{0};
  for (int round = 0; round < 200; ++round) {
    std::array<std::atomic<int>, 3> runs{};
    parallel_tasks(3, int64_t{1} << 30, [&](int64_t task) {
      const int t = thread_index();
      std::this_thread::sleep_for(std::chrono::microseconds(5));
      EXPECT_EQ(thread_index(), t);
      EXPECT_TRUE(in_parallel_region());
      by_worker += t == 1;
      ++runs[static_cast<size_t>(task)];
    });
    for (const auto& r : runs) EXPECT_EQ(r, 1);
  }
  EXPECT_GT(by_worker, 0);
  int order = 0;  // too little work: in order, on the calling thread
  parallel_tasks(3, 10, [&](int64_t task) { order = order * 10 + static_cast<int>(task) + 1; });
  EXPECT_EQ(order, 123);
  set_num_threads(saved);
}

TEST(Threads, AnExceptionInAnyChunkReachesTheCallerAfterEveryThreadIsDone) {
  const int saved = num_threads();
  set_num_threads(2);
  for (int round = 0; round < 50; ++round) {
    std::atomic<int> running{0}, after_return{0};
    std::atomic<bool> returned{false};
    try {
      parallel_for(16, int64_t{1} << 30, [&](int64_t begin, int64_t) {
        ++running;
        if (begin == 8 * (round % 2)) {  // on the caller's share or the worker's
          --running;
          throw Error("chunk " + std::to_string(begin) + " failed");
        }
        std::this_thread::sleep_for(std::chrono::microseconds(20));
        if (returned) ++after_return;
        --running;
      });
      ADD_FAILURE() << "no exception";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), "chunk " + std::to_string(8 * (round % 2)) + " failed");
    }
    returned = true;
    EXPECT_EQ(running, 0) << "a chunk was still running when parallel_for threw";
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    EXPECT_EQ(after_return, 0);
  }
  // The pool still works.
  std::atomic<int64_t> sum{0};
  parallel_for(1000, int64_t{1} << 30, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) sum += i;
  });
  EXPECT_EQ(sum, 999 * 1000 / 2);
  set_num_threads(saved);
}

#if defined(__SSE__)
TEST(Threads, WorkersFlushDenormalsWhenTheCallingThreadDoes) {
  const int saved = num_threads();
  set_num_threads(2);
  volatile float tiny = 1e-39f;  // a float32 denormal
  for (bool flush : {true, false}) {
    ASSERT_TRUE(set_flush_denormal(flush));
    std::vector<float> out(64, -1);
    parallel_for(64, int64_t{1} << 30, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) out[static_cast<size_t>(i)] = tiny * 1.0f;
    });
    for (float v : out) EXPECT_EQ(v, flush ? 0.0f : 1e-39f) << (flush ? "flushing" : "not flushing");
  }
  set_num_threads(saved);
}
#endif

TEST(Threads, SeveralCallingThreadsAtOnceEachGetEveryIndexOnce) {
  const int saved = num_threads();
  set_num_threads(2);
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int round = 0; round < 100; ++round) {
        std::vector<int> hits(500, 0);
        parallel_for(500, int64_t{1} << 30, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
        });
        for (int h : hits) failures += h != 1;
      }
    });
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(failures, 0);
  set_num_threads(saved);
}

}  // namespace
}  // namespace mt
