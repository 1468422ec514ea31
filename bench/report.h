#pragma once
// What every benchmark program reports beside its times: GFLOP/s and the percentage of the machine's FMA
// peak (bench/peak.h) for each benchmark, and context lines naming the thread count, the peak and the kernel
// forms chosen for this CPU (the GEMM's broadcast, Adam's vector width).
#include <benchmark/benchmark.h>

#include <functional>

namespace mt::bench {

// Sets the "GFLOP/s" and "%peak" counters of a benchmark that does flops_per_iteration each iteration on
// `threads` threads (default: the library's). Float64 has half the lanes, so `double_precision` halves the peak.
void set_flop_counters(benchmark::State& state, double flops_per_iteration, int threads = 0,
                       bool double_precision = false);

// For ->Apply(): the clock for the library's thread count (clock_for_threads).
void use_library_clock(benchmark::internal::Benchmark* benchmark);

// A benchmark program's main: parses the flags, adds the context lines (threads, peak, kernel forms, then
// `context()`'s own), runs what the flags select. Returns main's exit code.
int run_benchmarks(int argc, char** argv, const std::function<void()>& context = {});

}  // namespace mt::bench
