#pragma once
// The machine's limit that every benchmark figure is set against: float32 multiply-add throughput, measured
// by independent FMA chains (no loads, no dependencies between chains), so that a GEMM, step or epoch figure
// can be stated as a percentage of what the cores it ran on can do at all, on whatever x86-64 it ran.
#include <string>

namespace mt::bench {

enum class Width { Ymm, Zmm };  // 256-bit (AVX2 + FMA) or 512-bit (AVX-512F) vectors

const char* width_name(Width width);
bool cpu_supports(Width width);  // what this CPU runs, whatever the build targets
Width widest_width();            // Zmm where the CPU has AVX-512F, else Ymm

// FMA throughput in GFLOP/s (2 flops per lane) on `threads` OpenMP threads running at once, each its own
// chains, over 64 short runs: the best run (a moment when no other process held a core) and the median one
// (how noisy the machine was). A run counts its threads' work over the span from the first one's start to the
// last one's end, so threads that did not really run at once are not counted as if they had.
struct PeakRuns {
  double best = 0, median = 0;
};
PeakRuns fma_runs(Width width, int threads);
double fma_gflops(Width width, int threads);  // fma_runs(...).best

// The peak that figures are stated against: fma_gflops(widest_width(), threads), measured once per thread
// count per process (about 0.1 s), the first time it is asked for; for several threads measured again (up to
// 5 times in all) while it stays below 80% of that many single cores.
double peak_gflops(int threads);

// "peak: 1 thread 172.3 GFLOP/s (zmm FMA), 2 threads 340.1": for a benchmark program's context line.
std::string describe_peak(int threads);

// Which clock a benchmark's rates use. On one thread, the process's CPU time: it leaves out the time other
// processes held the core (the development VM is shared by several builds at once), and so does the peak,
// which is a best of several runs. On more threads, wall time, since CPU time adds up every thread's.
template <class Benchmark>
Benchmark* clock_for_threads(Benchmark* benchmark, int threads) {
  return threads > 1 ? benchmark->UseRealTime() : benchmark;
}

}  // namespace mt::bench
