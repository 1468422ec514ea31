#pragma once
// How kernels use the cores. Work is split into one contiguous range per thread; a kernel whose result
// could depend on that split (a reduction) must not use parallel_for across the reduced elements, so that
// results are bit-identical for every thread count.
#include <omp.h>

#include <cstdint>

namespace mt {

void set_num_threads(int threads);  // for all later kernels; at least 1
int num_threads();

// Flushes denormal floats (magnitudes below about 1e-38 in float32) to zero on this thread and on every
// OpenMP worker, like torch.set_flush_denormal. On x86 an operation on a denormal costs about a hundred
// cycles, and training produces them steadily (Adam's moments of a dead unit decay geometrically towards
// zero). Returns false where the CPU offers no such mode. set_num_threads carries the mode to new workers.
bool set_flush_denormal(bool on);

// Below this many elementary operations a parallel region costs more than it saves (measured with
// bench/bench_kernels on a 2-core EPYC: the fork/join is about 1-2 us).
constexpr int64_t kParallelWork = 1 << 15;

// Calls fn(begin, end) on disjoint ranges covering [0, n), in parallel when `work` is worth it.
template <class Fn>
void parallel_for(int64_t n, int64_t work, Fn&& fn) {
  if (n <= 0) return;
  if (work < kParallelWork || n == 1 || omp_get_max_threads() == 1 || omp_in_parallel()) {
    fn(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads();
    const int64_t t = omp_get_thread_num();
    const int64_t begin = n * t / threads, end = n * (t + 1) / threads;
    if (begin < end) fn(begin, end);
  }
}

}  // namespace mt
