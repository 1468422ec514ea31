#include "tensor/parallel.h"

#include <sched.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "tensor/error.h"

namespace mt {
namespace {

#if defined(__SSE__)
constexpr unsigned kFlushBits = 0x8040;  // MXCSR flush-to-zero (bit 15) and denormals-are-zero (bit 6)
unsigned float_mode() { return _mm_getcsr() & kFlushBits; }
void set_float_mode(unsigned mode) {
  if (float_mode() != mode) _mm_setcsr((_mm_getcsr() & ~kFlushBits) | mode);
}
inline void cpu_relax() { _mm_pause(); }
#else
unsigned float_mode() { return 0; }
void set_float_mode(unsigned) {}
inline void cpu_relax() {}
#endif

// How long a thread busy-waits before it sleeps: a worker for the next parallel_for, the calling thread for
// the workers still running. A training step starts a parallel_for every few microseconds, and waking a
// sleeping thread costs tens of them; beyond this a spinning thread takes a core from whoever else needs it.
constexpr auto kSpin = std::chrono::microseconds(50);

// Spins until pred() or kSpin has passed; returns pred().
template <class Pred>
bool spin_until(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (pred()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() > deadline) return pred();
  }
}

int default_threads() {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && n >= 1) return static_cast<int>(std::min<long>(n, 1024));
  }
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof cpus, &cpus) == 0) return std::max(1, CPU_COUNT(&cpus));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

thread_local int this_thread_index = 0;
thread_local bool this_thread_in_region = false;

// Runs job(context, t) as thread t of a region, restoring the thread's region state afterwards.
void run_as(int t, void (*job)(void*, int), void* context) {
  struct Region {
    explicit Region(int t) { this_thread_index = t, this_thread_in_region = true; }
    ~Region() { this_thread_index = 0, this_thread_in_region = false; }
  } region(t);
  job(context, t);
}

// The process's worker threads. `state_` counts regions: odd while one is open, even when it is closed, so
// each value names one region and its phase. A worker that sees an open value counts itself in `active_` and
// then checks that `state_` still has that value before it touches the job. The caller closes the region once
// its own share of the job has returned (every chunk is claimed by then) and waits until `active_` is zero.
// Both sides use sequentially consistent operations, so either the caller sees the worker counted or the
// worker sees the region closed: a late worker never touches a finished job, nor the next one's half-written
// description.
class Pool {
 public:
  static Pool& instance() {
    static Pool pool;
    return pool;
  }

  int threads() const { return threads_.load(std::memory_order_relaxed); }

  void set_threads(int threads) {
    const std::lock_guard<std::mutex> lock(region_);
    stop_workers();
    threads_.store(threads, std::memory_order_relaxed);
  }

  void run(void (*job)(void*, int), void* context) {
    std::unique_lock<std::mutex> lock(region_, std::try_to_lock);
    if (!lock.owns_lock()) return run_as(0, job, context);  // another thread's region holds the workers
    start_workers();
    job_ = job, context_ = context, float_mode_ = float_mode();
    const uint32_t open = state_.load() + 1;
    state_.store(open);
    state_.notify_all();
    run_guarded(0);
    state_.store(open + 1);
    if (!spin_until([&] { return active_.load() == 0; }))
      for (int a = active_.load(); a != 0; a = active_.load()) active_.wait(a);
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

  ~Pool() {
    const std::lock_guard<std::mutex> lock(region_);
    stop_workers();
  }

 private:
  Pool() : threads_(default_threads()) {}

  // An exception thrown by a chunk on any thread reaches the caller of the region, after every thread is done.
  void run_guarded(int t) {
    try {
      run_as(t, job_, context_);
    } catch (...) {
      const std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }

  void start_workers() {
    const int wanted = threads() - 1;
    if (static_cast<int>(workers_.size()) == wanted) return;
    stop_workers();
    stopping_.store(false);
    // A worker waits for a change from the state now, not from the state when the thread first runs: by then
    // a region, or the stop, may have been published already.
    const uint32_t seen = state_.load();
    for (int t = 1; t <= wanted; ++t) workers_.emplace_back([this, t, seen] { work(t, seen); });
  }

  void stop_workers() {
    if (workers_.empty()) return;
    stopping_.store(true);
    state_.fetch_add(2);  // closed still, but changed: wakes the workers
    state_.notify_all();
    for (std::thread& w : workers_) w.join();
    workers_.clear();
  }

  void work(int t, uint32_t seen) {
    for (;;) {
      if (!spin_until([&] { return state_.load() != seen; }))
        while (state_.load() == seen) state_.wait(seen);
      seen = state_.load();
      if (stopping_.load()) return;
      if (seen % 2 == 0) continue;  // the region closed before this worker saw it
      active_.fetch_add(1);
      if (state_.load() == seen) {
        set_float_mode(float_mode_);
        run_guarded(t);
      }
      if (active_.fetch_sub(1) == 1) active_.notify_all();
    }
  }

  // Laid out by who touches what, a cache line each: moving a line between the cores of the development VM
  // takes about 250 ns, and a region used to move three (the mutex shared a line with the job that workers
  // read, and with threads_, which every kernel reads).
  alignas(64) std::mutex region_;  // held by the thread whose region the workers serve, and while they are replaced
  std::vector<std::thread> workers_;
  std::mutex error_mutex_;
  std::exception_ptr error_;
  std::atomic<bool> stopping_{false};
  alignas(64) std::atomic<int> threads_;  // read by every kernel, written only by set_threads
  // The region a worker reads once it sees state_ change, on state_'s line so that one transfer brings all
  // of it. Every operation on state_ and active_ is sequentially consistent (the default).
  alignas(64) std::atomic<uint32_t> state_{0};  // regions published and closed, see above
  void (*job_)(void*, int) = nullptr;
  void* context_ = nullptr;
  unsigned float_mode_ = 0;
  alignas(64) std::atomic<int> active_{0};  // workers inside the current region
};

}  // namespace

namespace detail {
void run_parallel(void (*job)(void*, int), void* context) { Pool::instance().run(job, context); }
}  // namespace detail

void set_num_threads(int threads) {
  if (threads < 1) throw Error("set_num_threads: need at least 1 thread, got " + std::to_string(threads));
  if (in_parallel_region()) throw Error("set_num_threads: called from inside a parallel_for");
  Pool::instance().set_threads(threads);
}

int num_threads() { return Pool::instance().threads(); }

int thread_index() { return this_thread_index; }

bool in_parallel_region() { return this_thread_in_region; }

bool set_flush_denormal(bool on) {
#if defined(__SSE__)
  set_float_mode(on ? kFlushBits : 0);
  return true;
#else
  return !on;
#endif
}

}  // namespace mt
