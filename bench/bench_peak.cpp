// The machine's float32 FMA peak, zmm and ymm, on one core and on every core at once (see bench/peak.h):
// the denominator of every "% of peak" figure. Run: build/bench/bench_peak --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <omp.h>

#include <string>

#include "bench/peak.h"

namespace {

void BM_Peak(benchmark::State& state, mt::bench::Width width, int threads) {
  if (!mt::bench::cpu_supports(width)) {
    state.SkipWithError("this CPU lacks the instruction set");
    return;
  }
  mt::bench::PeakRuns runs;
  for (auto _ : state) runs = mt::bench::fma_runs(width, threads);
  state.counters["GFLOP/s"] = runs.best;
  state.counters["per core"] = runs.best / threads;
  state.counters["median run"] = runs.median;
}

int register_all() {
  const int cores = omp_get_num_procs();
  for (mt::bench::Width width : {mt::bench::Width::Zmm, mt::bench::Width::Ymm})
    for (int threads : {1, cores}) {
      const std::string name = std::string("Peak/") + mt::bench::width_name(width) + "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), BM_Peak, width, threads)->Iterations(3)->Unit(benchmark::kMillisecond);
      if (cores == 1) break;
    }
  return 0;
}

const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
