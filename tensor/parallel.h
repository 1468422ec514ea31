#pragma once
// How kernels use the cores. Work is split into contiguous chunks that the threads claim one at a time; a
// kernel whose result could depend on that split (a reduction) must not use parallel_for across the reduced
// elements, so that results are bit-identical for every thread count and every assignment of chunks.
#include <algorithm>
#include <atomic>
#include <cstdint>

namespace mt {

// The threads of every later kernel, at least 1; by default $OMP_NUM_THREADS, else the CPUs this process may
// run on. Not from inside a parallel_for.
void set_num_threads(int threads);
int num_threads();

// The calling thread's index in the parallel_for it is running a chunk of, in [0, num_threads()): 0 for the
// thread that called parallel_for, 1 and up for the pool's workers; 0 outside any.
int thread_index();
// Whether the calling thread is running a chunk of a parallel_for. A parallel_for inside one runs serially.
bool in_parallel_region();

// Flushes denormal floats (magnitudes below about 1e-38 in float32) to zero on this thread, like
// torch.set_flush_denormal; the workers of its parallel_for calls take the mode of the calling thread. On x86
// an operation on a denormal costs about a hundred cycles, and training produces them steadily (Adam's
// moments of a dead unit decay geometrically towards zero). Returns false where the CPU offers no such mode.
bool set_flush_denormal(bool on);

// Below this many elementary operations a parallel region costs more than it saves (measured with
// bench/bench_gemm and bench_train on the 2-core EPYC VM: a fork and join costs about 2-4 us there).
constexpr int64_t kParallelWork = 1 << 15;

// Threads claim chunks instead of taking one fixed range each, so that a core that is slower or briefly busy
// (the second vCPU of the development VM often runs 20-30% behind) does less of the work instead of holding
// up the join. Up to kChunksPerThread chunks per thread, and none smaller than kChunkWork operations: a claim
// costs about as much as a few hundred operations.
constexpr int64_t kChunksPerThread = 8;
constexpr int64_t kChunkWork = kParallelWork / 4;

namespace detail {

// The chunks [0, count) of one parallel_for. Thread t first takes, in order, the chunks that a static split
// would give it (its share): while the cores keep pace, each works on the same data as in the last call
// (the same weights, gradients and optimizer moments every training step), still in its caches, and claims
// through a counter no other core touches. Then it takes what is left of the other shares.
class Chunks {
 public:
  Chunks(int64_t count, int threads) : shares_(std::min(threads, kMaxShares)) {
    for (int s = 0; s < shares_; ++s) {
      share_[s].next.store(count * s / shares_, std::memory_order_relaxed);
      share_[s].end = count * (s + 1) / shares_;
    }
  }

  // The next chunk for thread t, or -1 when none is left.
  int64_t claim(int t) {
    for (int i = 0; i < shares_; ++i) {
      Share& s = share_[(t + i) % shares_];
      if (s.next.load(std::memory_order_relaxed) >= s.end) continue;  // no write to an exhausted share
      const int64_t c = s.next.fetch_add(1, std::memory_order_relaxed);
      if (c < s.end) return c;
    }
    return -1;
  }

 private:
  static constexpr int kMaxShares = 16;  // beyond that, threads share shares
  struct alignas(64) Share {            // a cache line each, so owners do not contend
    std::atomic<int64_t> next;
    int64_t end;
  };
  int shares_;
  Share share_[kMaxShares];
};

// Runs job(context, t) on the calling thread (t = 0) and on each worker of the pool (t = 1, 2, ...) that is
// ready before the calling thread's own job(context, 0) has returned, and returns when every one of them has.
// A job shares its work through a Chunks queue, so a worker that was not running at the time (descheduled by
// a busy machine) finds nothing left and is not waited for. Called by several threads at once, all but one
// run their job alone.
void run_parallel(void (*job)(void* context, int thread), void* context);

// Calls fn(begin, end) on the ranges [c * grain, (c + 1) * grain) of [0, n), one chunk c at a time, on every
// thread of a region; a thread that gets a chunk calls prepare() before its first.
template <class Prepare, class Fn>
void run_chunks(int threads, int64_t n, int64_t grain, Prepare& prepare, Fn& fn) {
  struct Job {
    Chunks queue;
    int64_t grain, n;
    Prepare& prepare;
    Fn& fn;
  } job{Chunks((n + grain - 1) / grain, threads), grain, n, prepare, fn};
  run_parallel(
      [](void* context, int t) {
        Job& j = *static_cast<Job*>(context);
        int64_t c = j.queue.claim(t);
        if (c < 0) return;
        j.prepare();
        for (; c >= 0; c = j.queue.claim(t)) j.fn(c * j.grain, std::min((c + 1) * j.grain, j.n));
      },
      &job);
}

inline bool runs_serially(int64_t n, int64_t work) {
  return in_parallel_region() || work < kParallelWork || n == 1 || num_threads() == 1;
}

}  // namespace detail

// Calls fn(begin, end) on disjoint ranges covering [0, n), in parallel when `work` (elementary operations
// over all of [0, n)) is worth it. A thread may get several ranges, in any order. Each thread that gets one
// first calls prepare(): set-up that its ranges share, such as its own copy of an operand.
template <class Prepare, class Fn>
void parallel_for(int64_t n, int64_t work, Prepare&& prepare, Fn&& fn) {
  if (n <= 0) return;
  if (detail::runs_serially(n, work)) {
    prepare();
    fn(int64_t{0}, n);
    return;
  }
  const int threads = num_threads();
  const int64_t chunks = std::min(n, std::clamp<int64_t>(work / kChunkWork, threads, threads * kChunksPerThread));
  detail::run_chunks(threads, n, (n + chunks - 1) / chunks, prepare, fn);
}

template <class Fn>
void parallel_for(int64_t n, int64_t work, Fn&& fn) {
  parallel_for(n, work, [] {}, fn);
}

// Calls task(0), ..., task(count - 1), independent pieces of work, each on one thread, in parallel when
// `work` (elementary operations over all of them) is worth it; kernels inside a task run on its thread alone.
// Tasks are shared like parallel_for's chunks: thread t starts with the tasks from t * count / threads on,
// then takes what the others left, so list the largest first and in an order that pairs them evenly.
template <class Task>
void parallel_tasks(int64_t count, int64_t work, Task&& task) {
  auto range = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) task(i);
  };
  if (count <= 0) return;
  if (detail::runs_serially(count, work)) return range(int64_t{0}, count);
  auto nothing = [] {};
  detail::run_chunks(num_threads(), count, 1, nothing, range);
}

}  // namespace mt
