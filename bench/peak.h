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
// chains: the best of a few short runs, so that a moment when another process held a core does not count.
double fma_gflops(Width width, int threads);

// The peak that figures are stated against: fma_gflops(widest_width(), threads), measured once per thread
// count per process (about 0.1 s), the first time it is asked for.
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
