#pragma once
// Internal: sums over every dim but the channel dim 1 of contiguous [N, C, S] data, shared by the bias gradient
// of conv2d and by batch norm.
#include <cstdint>
#include <utility>

namespace mt::detail {

// sum over n < N, s < S of term(i) with i = (n C + c) S + s, on the calling thread, in double. Element s of a
// row goes to accumulator lane s % kLanes and the lanes are added in order at the end, so the loop vectorises
// and the result depends on the data alone.
template <class Term>
double channel_fold(int64_t n_count, int64_t channels, int64_t spatial, int64_t c, Term term) {
  constexpr int64_t kLanes = 8;
  double lanes[kLanes] = {};
  for (int64_t n = 0; n < n_count; ++n) {
    const int64_t base = (n * channels + c) * spatial;
    int64_t s = 0;
    for (; s + kLanes <= spatial; s += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) lanes[l] += static_cast<double>(term(base + s + l));
    for (; s < spatial; ++s) lanes[s % kLanes] += static_cast<double>(term(base + s));
  }
  double total = 0;
  for (double v : lanes) total += v;
  return total;
}

// The same for two terms in one pass over the data: {sum term_a(i), sum term_b(i)}.
template <class TermA, class TermB>
std::pair<double, double> channel_fold2(int64_t n_count, int64_t channels, int64_t spatial, int64_t c, TermA term_a,
                                        TermB term_b) {
  constexpr int64_t kLanes = 8;
  double a[kLanes] = {}, b[kLanes] = {};
  for (int64_t n = 0; n < n_count; ++n) {
    const int64_t base = (n * channels + c) * spatial;
    int64_t s = 0;
    for (; s + kLanes <= spatial; s += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) {
        a[l] += static_cast<double>(term_a(base + s + l));
        b[l] += static_cast<double>(term_b(base + s + l));
      }
    for (; s < spatial; ++s) {
      a[s % kLanes] += static_cast<double>(term_a(base + s));
      b[s % kLanes] += static_cast<double>(term_b(base + s));
    }
  }
  std::pair<double, double> total{0, 0};
  for (int64_t l = 0; l < kLanes; ++l) total.first += a[l], total.second += b[l];
  return total;
}

}  // namespace mt::detail
