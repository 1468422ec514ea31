#pragma once
// How kernels use the cores. Work is split into contiguous chunks that the threads claim one at a time; a
// kernel whose result could depend on that split (a reduction) must not use parallel_for across the reduced
// elements, so that results are bit-identical for every thread count and every assignment of chunks.
#include <omp.h>

#include <algorithm>
#include <atomic>
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

// Threads claim chunks instead of taking one fixed range each, so that a core that is slower or briefly busy
// (the second vCPU of the development VM often runs 30% behind) does less of the work instead of holding up
// the join. Up to kChunksPerThread chunks per thread: each claim moves the counter's cache line between cores
// (about 0.1 us), so finer chunks would balance better but cost more than they save; and no chunk smaller
// than kChunkWork operations.
constexpr int64_t kChunksPerThread = 4;
constexpr int64_t kChunkWork = kParallelWork / 4;

// Calls fn(begin, end) on disjoint ranges covering [0, n), in parallel when `work` (elementary operations
// over all of [0, n)) is worth it. A thread may get several ranges, in any order.
template <class Fn>
void parallel_for(int64_t n, int64_t work, Fn&& fn) {
  if (n <= 0) return;
  const int64_t threads = omp_get_max_threads();
  if (work < kParallelWork || n == 1 || threads == 1 || omp_in_parallel()) {
    fn(int64_t{0}, n);
    return;
  }
  const int64_t chunks = std::min(n, std::clamp(work / kChunkWork, threads, threads * kChunksPerThread));
  const int64_t grain = (n + chunks - 1) / chunks;
  std::atomic<int64_t> next{0};
#pragma omp parallel
  for (int64_t begin = next.fetch_add(grain, std::memory_order_relaxed); begin < n;
       begin = next.fetch_add(grain, std::memory_order_relaxed))
    fn(begin, std::min(begin + grain, n));
}

}  // namespace mt
