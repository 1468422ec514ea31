// The GEMM kernel behind matmul, against a naive double-precision loop: sizes on both sides of every block
// edge (micro-tile rows and columns, vector width, K block, A and B blocks), operands read in place as
// row-major, transposed or generally strided matrices, C with a row stride wider than N, accumulate, float32
// and float64, and bit-identical results on 1, 2 and 3 threads.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "tensor/gemm.h"
#include "tensor/parallel.h"

namespace mt::detail {
namespace {

enum class Layout { RowMajor, Transposed, Strided };
const char* name(Layout l) { return l == Layout::RowMajor ? "row-major" : l == Layout::Transposed ? "transposed" : "strided"; }

// A rows x cols matrix stored as `layout` asks (Strided: every other element of a transposed buffer, so
// neither stride is 1), filled with reproducible values in [-1, 1).
template <class T>
struct Operand {
  std::vector<T> storage;
  MatrixRef<T> ref;
  int64_t rows, cols;

  Operand(int64_t r, int64_t c, Layout layout, uint64_t seed) : rows(r), cols(c) {
    const int64_t spread = layout == Layout::Strided ? 2 : 1;
    storage.resize(static_cast<size_t>(r * c * spread + 1));
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 7;
    for (T& x : storage) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      x = static_cast<T>(static_cast<double>(s >> 11) / double(uint64_t{1} << 52) - 1.0);
    }
    if (layout == Layout::RowMajor) ref = {storage.data(), c, 1};
    if (layout == Layout::Transposed) ref = {storage.data(), 1, r};
    if (layout == Layout::Strided) ref = {storage.data(), 2, 2 * r};
  }
  double at(int64_t i, int64_t j) const { return double(ref.data[i * ref.row_stride + j * ref.col_stride]); }
};

template <class T>
void check(int64_t m, int64_t n, int64_t k, Layout la, Layout lb, bool accumulate) {
  const Operand<T> a(m, k, la, 1 + m + 3 * k), b(k, n, lb, 2 + n + 5 * k);
  const int64_t ldc = n + 3;  // the 3 padding columns must stay untouched
  std::vector<T> c(static_cast<size_t>(m * ldc));
  for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<T>(0.25 * double(i % 7) - 0.5);
  const std::vector<T> before = c;
  gemm<T>(m, n, k, a.ref, b.ref, c.data(), ldc, accumulate);
  const double tol = (sizeof(T) == 4 ? 2e-6 : 1e-14) * double(k + 1);
  int failures = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      double expected = double(before[i * ldc + j]);
      if (j < n) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p) s += a.at(i, p) * b.at(p, j);
        expected = accumulate ? expected + s : s;
      }
      const double got = double(c[i * ldc + j]);
      if (std::abs(got - expected) > tol && ++failures <= 3)
        ADD_FAILURE() << (sizeof(T) == 4 ? "float" : "double") << " " << m << "x" << n << "x" << k << " A "
                      << name(la) << " B " << name(lb) << (accumulate ? " accumulate" : "") << ": C(" << i << ", "
                      << j << ") = " << got << ", expected " << expected;
    }
}

const Layout kLayouts[] = {Layout::RowMajor, Layout::Transposed, Layout::Strided};

TEST(Gemm, SizesAroundEveryBlockEdgeAllLayouts) {
  // Rows around MR = 8 (6 on the portable path); columns around the vector widths 4/8/16 and NR = 16/32;
  // depths around the K blocks (at most KC = 512 deep, split evenly).
  const std::array<int64_t, 3> shapes[] = {
      {1, 1, 1},    {1, 17, 3},   {5, 10, 32},  {7, 15, 31},   {8, 16, 64},   {9, 17, 255},  {12, 31, 256},
      {13, 32, 257}, {17, 33, 20}, {24, 48, 9},  {25, 63, 513}, {32, 64, 128}, {33, 65, 100}, {6, 7, 8},
      {9, 20, 511}, {10, 33, 512}, {11, 17, 1025}, {3, 40, 784}};
  for (const auto& [m, n, k] : shapes)
    for (Layout la : kLayouts)
      for (Layout lb : kLayouts) {
        check<float>(m, n, k, la, lb, false);
        check<double>(m, n, k, la, lb, false);
      }
}

TEST(Gemm, Accumulate) {
  for (Layout la : kLayouts)
    for (Layout lb : kLayouts) {
      check<float>(19, 37, 300, la, lb, true);
      check<double>(10, 9, 17, la, lb, true);
    }
}

TEST(Gemm, LargeBlocksAndTheLayerShapes) {
  // Past the A block (MC = 256 rows) and the packed-B block (NC = 1024 columns), and the MLP's own shapes.
  check<float>(300, 40, 20, Layout::RowMajor, Layout::Transposed, false);
  check<float>(3, 2100, 5, Layout::Transposed, Layout::Transposed, false);
  check<float>(3, 2100, 5, Layout::RowMajor, Layout::RowMajor, true);
  check<float>(32, 256, 784, Layout::RowMajor, Layout::Transposed, false);  // forward, y = x W^T
  check<float>(256, 784, 32, Layout::Transposed, Layout::RowMajor, false);  // weight gradient, g^T x
  check<float>(32, 256, 128, Layout::RowMajor, Layout::RowMajor, false);    // input gradient, g W
  check<double>(32, 10, 32, Layout::RowMajor, Layout::Transposed, false);
  // At most one panel of rows against a transposed B, in parallel: C^T = B^T A^T by chunks of B^T's rows, a
  // ragged last strip, several K blocks, accumulating.
  check<float>(20, 301, 1100, Layout::RowMajor, Layout::Transposed, true);
  check<float>(20, 301, 1100, Layout::Strided, Layout::Transposed, false);
  // 4 rows are at most one panel on every path (NR is 8 floats or 4 doubles on the narrowest).
  check<float>(4, 301, 450, Layout::RowMajor, Layout::Transposed, false);
  check<double>(4, 301, 450, Layout::RowMajor, Layout::Transposed, true);
}

TEST(Gemm, EmptyDepthZeroesOrKeepsC) {
  std::vector<float> c = {1, 2, 3, 4};
  const MatrixRef<float> none{nullptr, 0, 1};
  gemm<float>(2, 2, 0, none, none, c.data(), 2, true);
  EXPECT_EQ(c, (std::vector<float>{1, 2, 3, 4}));
  gemm<float>(2, 2, 0, none, none, c.data(), 2, false);
  EXPECT_EQ(c, (std::vector<float>{0, 0, 0, 0}));
}

TEST(Gemm, CalledFromSeveralThreadsAtOnce) {
  // Each of 4 threads of the caller's makes a product big enough to go parallel on its own, at the same time,
  // while the library is set to 2 threads: one at a time gets the pool, the others run alone, each in its own
  // packing memory.
  const int saved = num_threads();
  set_num_threads(2);
  std::atomic<int> failures{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      // The forward shape, y = x W^T: W^T is packed, into a slot of the workspace.
      const Operand<float> a(32, 784, Layout::RowMajor, 5), b(784, 256, Layout::Transposed, 6);
      for (int round = 0; round < 10; ++round) {
        std::vector<float> c(32 * 256);
        gemm<float>(32, 256, 784, a.ref, b.ref, c.data(), 256, false);
        for (int64_t i = 0; i < 32; i += 5)
          for (int64_t j = 0; j < 256; j += 37) {
            double s = 0;
            for (int64_t p = 0; p < 784; ++p) s += a.at(i, p) * b.at(p, j);
            failures += std::abs(c[i * 256 + j] - s) > 1e-3;
          }
      }
    });
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(failures, 0);
  set_num_threads(saved);
}

template <class T>
std::vector<T> run(int threads, int64_t m, int64_t n, int64_t k, Layout la, Layout lb, bool accumulate) {
  set_num_threads(threads);
  const Operand<T> a(m, k, la, 3), b(k, n, lb, 4);
  std::vector<T> c(static_cast<size_t>(m * n), T(0.5));
  gemm<T>(m, n, k, a.ref, b.ref, c.data(), n, accumulate);
  return c;
}

TEST(Gemm, BitIdenticalOnAnyThreadCount) {
  const int saved = num_threads();
  // Past kGemmParallelWork (512K multiply-adds) so they run in parallel: split by columns (wide C, or a
  // packed B larger than A: 136x300x200), by rows (narrow C), as C^T (one panel of rows against a transposed
  // B: 32x256x784, 20x301x1100, 4x301x450), with ragged edges, the reference model's layer shapes among them;
  // 3 threads on 2 cores cut other chunks and claim them in another order.
  const std::array<int64_t, 3> shapes[] = {{32, 256, 784}, {256, 784, 32}, {32, 128, 256}, {128, 256, 32},
                                           {32, 256, 128}, {33, 257, 300}, {136, 300, 200}, {1000, 20, 200},
                                           {301, 33, 257}, {10000, 10, 32}, {20, 301, 1100},
                                           {4, 301, 450}};
  for (const auto& [m, n, k] : shapes)
    for (Layout la : kLayouts)
      for (Layout lb : kLayouts) {
        const bool acc = (m + n) % 2 == 1;
        const std::vector<float> one = run<float>(1, m, n, k, la, lb, acc);
        for (int threads : {2, 3})
          EXPECT_EQ(one, run<float>(threads, m, n, k, la, lb, acc))
              << m << "x" << n << "x" << k << " A " << name(la) << " B " << name(lb) << ", " << threads << " threads";
      }
  EXPECT_EQ(run<double>(1, 33, 257, 300, Layout::RowMajor, Layout::Transposed, false),
            run<double>(2, 33, 257, 300, Layout::RowMajor, Layout::Transposed, false));
  EXPECT_EQ(run<double>(1, 4, 301, 450, Layout::RowMajor, Layout::Transposed, true),
            run<double>(3, 4, 301, 450, Layout::RowMajor, Layout::Transposed, true));
  set_num_threads(saved);
}

}  // namespace
}  // namespace mt::detail
