// GEMM at the layer shapes of the reference MLP 784-256-128-64-32-10 (batch 32, and inference on the 10k
// test images), with the operands laid out exactly as nn::Linear hands them to matmul: weight W [out, in]
// row-major, input x [batch, in], upstream gradient g [batch, out].
//   fwd: y  = x W^T  A = x (row-major), B = W^T (transposed view)
//   dW:  dW = g^T x  A = g^T (transposed view), B = x (row-major)
//   dx:  dx = g W    A = g (row-major), B = W (row-major)
// Each shape runs through our GEMM ("mt") and, when OpenBLAS is installed, through cblas_sgemm with the same
// transposes ("openblas"), so rows pair up. Run it (see bench/run_gemm.sh):
//   OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 build/bench/bench_gemm --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/peak.h"
#include "bench/report.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"

#if defined(MT_HAVE_OPENBLAS)
#include <cblas.h>
#endif

namespace {

enum class Layout { Forward, WeightGrad, InputGrad };

struct Shape {
  const char* name;
  Layout layout;
  int64_t m, n, k;
};

const Shape kShapes[] = {
    {"fwd", Layout::Forward, 32, 256, 784},     {"fwd", Layout::Forward, 32, 128, 256},
    {"fwd", Layout::Forward, 32, 64, 128},      {"fwd", Layout::Forward, 32, 32, 64},
    {"fwd", Layout::Forward, 32, 10, 32},       {"dW", Layout::WeightGrad, 256, 784, 32},
    {"dW", Layout::WeightGrad, 128, 256, 32},   {"dW", Layout::WeightGrad, 64, 128, 32},
    {"dW", Layout::WeightGrad, 32, 64, 32},     {"dW", Layout::WeightGrad, 10, 32, 32},
    {"dx", Layout::InputGrad, 32, 256, 128},    {"dx", Layout::InputGrad, 32, 128, 64},
    {"dx", Layout::InputGrad, 32, 64, 32},      {"dx", Layout::InputGrad, 32, 32, 10},
    {"infer", Layout::Forward, 10000, 256, 784}, {"infer", Layout::Forward, 10000, 128, 256},
    {"infer", Layout::Forward, 10000, 64, 128},  {"infer", Layout::Forward, 10000, 32, 64},
    {"infer", Layout::Forward, 10000, 10, 32},
};

std::vector<float> random_floats(int64_t count, uint64_t seed) {
  std::vector<float> v(static_cast<size_t>(count));
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (float& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = static_cast<float>(static_cast<int64_t>(s >> 40) - (int64_t{1} << 23)) / float(1 << 23);
  }
  return v;
}

// The operands of one shape, stored as nn::Linear stores them. `a` and `b` are the buffers behind A and B.
struct Operands {
  std::vector<float> a, b, c;
  mt::detail::MatrixRef<float> ra, rb;
#if defined(MT_HAVE_OPENBLAS)
  CBLAS_TRANSPOSE ta, tb;
  int lda, ldb;
#endif
};

Operands make_operands(const Shape& s) {
  Operands o;
  o.a = random_floats(s.m * s.k, 1);
  o.b = random_floats(s.k * s.n, 2);
  o.c.assign(static_cast<size_t>(s.m * s.n), 0.0f);
  switch (s.layout) {
    case Layout::Forward:  // A = x [m, k] row-major; B = W^T with W [n, k] row-major
      o.ra = {o.a.data(), s.k, 1};
      o.rb = {o.b.data(), 1, s.k};
#if defined(MT_HAVE_OPENBLAS)
      o.ta = CblasNoTrans, o.tb = CblasTrans, o.lda = int(s.k), o.ldb = int(s.k);
#endif
      break;
    case Layout::WeightGrad:  // A = g^T with g [k, m] row-major; B = x [k, n] row-major
      o.ra = {o.a.data(), 1, s.m};
      o.rb = {o.b.data(), s.n, 1};
#if defined(MT_HAVE_OPENBLAS)
      o.ta = CblasTrans, o.tb = CblasNoTrans, o.lda = int(s.m), o.ldb = int(s.n);
#endif
      break;
    case Layout::InputGrad:  // A = g [m, k] row-major; B = W [k, n] row-major
      o.ra = {o.a.data(), s.k, 1};
      o.rb = {o.b.data(), s.n, 1};
#if defined(MT_HAVE_OPENBLAS)
      o.ta = CblasNoTrans, o.tb = CblasNoTrans, o.lda = int(s.k), o.ldb = int(s.n);
#endif
      break;
  }
  return o;
}

double flops(const Shape& s) { return 2.0 * double(s.m * s.n * s.k); }

void bench_mt(benchmark::State& state, Shape s) {
  Operands o = make_operands(s);
  for (auto _ : state) {
    mt::detail::gemm<float>(s.m, s.n, s.k, o.ra, o.rb, o.c.data(), s.n, false);
    benchmark::DoNotOptimize(o.c.data());
    benchmark::ClobberMemory();
  }
  mt::bench::set_flop_counters(state, flops(s));
}

#if defined(MT_HAVE_OPENBLAS)
void bench_openblas(benchmark::State& state, Shape s) {
  Operands o = make_operands(s);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, o.ta, o.tb, int(s.m), int(s.n), int(s.k), 1.0f, o.a.data(), o.lda, o.b.data(), o.ldb,
                0.0f, o.c.data(), int(s.n));
    benchmark::DoNotOptimize(o.c.data());
    benchmark::ClobberMemory();
  }
  mt::bench::set_flop_counters(state, flops(s), openblas_get_num_threads());
}
#endif

// Float64 on one mid shape, to keep an eye on the double path.
void bench_mt_double(benchmark::State& state) {
  const int64_t m = 32, n = 256, k = 784;
  std::vector<double> a(m * k, 0.5), b(k * n, 0.25), c(m * n);
  for (auto _ : state) {
    mt::detail::gemm<double>(m, n, k, {a.data(), k, 1}, {b.data(), 1, k}, c.data(), n, false);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  mt::bench::set_flop_counters(state, 2.0 * double(m * n * k), 0, true);
}

int register_all() {
  for (const Shape& s : kShapes) {
    const std::string name = std::string(s.name) + "/" + std::to_string(s.m) + "x" + std::to_string(s.n) + "x" +
                             std::to_string(s.k);
    mt::bench::clock_for_threads(benchmark::RegisterBenchmark((name + "/mt").c_str(), bench_mt, s), mt::num_threads());
#if defined(MT_HAVE_OPENBLAS)
    mt::bench::clock_for_threads(benchmark::RegisterBenchmark((name + "/openblas").c_str(), bench_openblas, s),
                                 openblas_get_num_threads());
#endif
  }
  mt::bench::clock_for_threads(benchmark::RegisterBenchmark("fwd_f64/32x256x784/mt", bench_mt_double), mt::num_threads());
  return 0;
}

const int registered = register_all();

}  // namespace

int main(int argc, char** argv) {
  return mt::bench::run_benchmarks(argc, argv, [] {
#if defined(MT_HAVE_OPENBLAS)
    benchmark::AddCustomContext("openblas", std::string(openblas_get_config()) + ", core " + openblas_get_corename() +
                                                ", threads " + std::to_string(openblas_get_num_threads()));
#endif
  });
}
