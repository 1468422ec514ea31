#include "bench/peak.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <vector>

namespace mt::bench {
namespace {

// Independent accumulators per thread. An FMA has a latency of 4 cycles on Zen 4/5 and Sapphire Rapids and
// both issue two per cycle, so 8 chains fill the pipes; 12 leave slack and still fit 16 ymm registers with
// the two constants (the AVX2 register file).
constexpr int kChains = 12;
constexpr int64_t kIterations = 1 << 18;  // 12 x 2^18 FMAs: about 1.6 ms on one zmm core
// Runs per measurement: about 0.1 s in all, so that a quiet moment of a shared machine is among them.
constexpr int kRuns = 64;
using Clock = std::chrono::steady_clock;

// Each chain computes x = x * a + b, which converges to a fixed point instead of overflowing or going
// denormal. Each function is compiled for its instruction set whatever the build's flags, and called only
// where the CPU has it; the two differ only in vector type.
__attribute__((target("avx512f"))) float zmm_chains(int64_t iterations) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(1.0f + 0.01f * static_cast<float>(c));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  for (int64_t i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  float sum = 0;  // every chain feeds the result, so none is dropped
  for (int c = 0; c < kChains; ++c) sum += _mm512_cvtss_f32(acc[c]);
  return sum;
}

__attribute__((target("avx2,fma"))) float ymm_chains(int64_t iterations) {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(1.0f + 0.01f * static_cast<float>(c));
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
  for (int64_t i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  float sum = 0;
  for (int c = 0; c < kChains; ++c) sum += _mm256_cvtss_f32(acc[c]);
  return sum;
}

volatile float sink;  // keeps the chains' results alive

}  // namespace

const char* width_name(Width width) { return width == Width::Zmm ? "zmm" : "ymm"; }

bool cpu_supports(Width width) {
  __builtin_cpu_init();
  return width == Width::Zmm ? __builtin_cpu_supports("avx512f")
                             : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

Width widest_width() { return cpu_supports(Width::Zmm) ? Width::Zmm : Width::Ymm; }

PeakRuns fma_runs(Width width, int threads) {
  if (!cpu_supports(width)) return {};
  const double flops = 2.0 * (width == Width::Zmm ? 16 : 8) * kChains * double(kIterations) * threads;
  std::vector<double> rates;
  for (int run = 0; run < kRuns; ++run) {
    // Each thread notes when its own chains start and end; the run's rate is all threads' work over the span
    // from the first start to the last end. Threads that did not run at the same time (another process held
    // a core, or the VM's other vCPU was not scheduled) therefore count as the slower rate they really gave,
    // where the sum of per-thread rates would count them as if they had overlapped.
    std::vector<Clock::time_point> starts(threads), ends(threads);
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
#pragma omp barrier
      starts[t] = Clock::now();
      const float r = width == Width::Zmm ? zmm_chains(kIterations) : ymm_chains(kIterations);
      ends[t] = Clock::now();
      if (r == 0.5f) sink = r;
    }
    const auto span = *std::max_element(ends.begin(), ends.end()) - *std::min_element(starts.begin(), starts.end());
    rates.push_back(flops / std::chrono::duration<double>(span).count() * 1e-9);
  }
  std::sort(rates.begin(), rates.end());
  return {rates.back(), rates[rates.size() / 2]};
}

double fma_gflops(Width width, int threads) { return fma_runs(width, threads).best; }

double peak_gflops(int threads) {
  static std::map<int, double> measured;  // the benchmark programs are single-threaded between benchmarks
  auto it = measured.find(threads);
  if (it != measured.end()) return it->second;
  // On a shared VM another process can hold a core through all 64 runs, and the peak of T threads then comes
  // out as one core's: a GEMM on T threads was once stated at 170% of "peak". Several threads below
  // kPlausible of T cores are measured again, up to kAttempts times; where they still fall short (SMT siblings
  // share one core's FMA units) the best measurement stands.
  constexpr double kPlausible = 0.8;
  constexpr int kAttempts = 5;
  double best = fma_gflops(widest_width(), threads);
  if (threads > 1) {
    const double one = peak_gflops(1);
    for (int attempt = 1; attempt < kAttempts && best < kPlausible * threads * one; ++attempt)
      best = std::max(best, fma_gflops(widest_width(), threads));
  }
  return measured.emplace(threads, best).first->second;
}

std::string describe_peak(int threads) {
  char text[160];
  std::snprintf(text, sizeof text, "%.1f GFLOP/s on %d thread%s (%s FMA chains; 1 thread: %.1f)",
                peak_gflops(threads), threads, threads == 1 ? "" : "s", width_name(widest_width()), peak_gflops(1));
  return text;
}

}  // namespace mt::bench
