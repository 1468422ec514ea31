#include "tensor/parallel.h"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "tensor/error.h"

namespace mt {
namespace {

#if defined(__SSE__)
constexpr unsigned kFlushBits = 0x8040;  // MXCSR flush-to-zero (bit 15) and denormals-are-zero (bit 6)

bool flushing() { return (_mm_getcsr() & kFlushBits) == kFlushBits; }

// The mode lives in each thread's MXCSR register, so it is set on every worker of the pool.
void apply_flush_mode(bool on) {
  auto apply = [on] { _mm_setcsr(on ? (_mm_getcsr() | kFlushBits) : (_mm_getcsr() & ~kFlushBits)); };
  apply();
#pragma omp parallel
  apply();
}
#endif

}  // namespace

void set_num_threads(int threads) {
  if (threads < 1) throw Error("set_num_threads: need at least 1 thread, got " + std::to_string(threads));
  omp_set_num_threads(threads);
#if defined(__SSE__)
  apply_flush_mode(flushing());
#endif
}

int num_threads() { return omp_get_max_threads(); }

bool set_flush_denormal(bool on) {
#if defined(__SSE__)
  apply_flush_mode(on);
  return true;
#else
  return !on;
#endif
}

}  // namespace mt
