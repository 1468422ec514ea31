#include "nn/clip_grad.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "tensor/error.h"

namespace mt::nn {
namespace {

// The gradient of parameters[k], or nullptr when it has none.
const Tensor* grad_of(std::span<const Var> parameters, size_t k, const char* op) {
  const Tensor& g = parameters[k].grad();
  if (!g.defined()) return nullptr;
  if (!g.is_contiguous())
    throw Error(std::string(op) + ": the gradient of parameter " + std::to_string(k) + " " + g.str() +
                " is not contiguous");
  return &g;
}

// max that keeps a NaN from either side, as torch.max does.
double nan_max(double a, double b) { return b > a || std::isnan(b) ? b : a; }

// Calls f(gradient) for each defined gradient, once per distinct memory: two leaves can hold the same tensor
// (a backward may hand one gradient to several inputs), and scaling it twice would be wrong. Ranges that
// overlap without being the same would be scaled twice in part; no backward makes them, so they are an error.
// Pairwise, not sorted: nothing is allocated, and models have tens of parameter tensors.
template <class F>
void for_each_distinct_grad(std::span<const Var> parameters, const char* op, F f) {
  for (size_t k = 0; k < parameters.size(); ++k) {
    const Tensor* grad = grad_of(parameters, k, op);
    if (!grad) continue;
    const Tensor& g = *grad;
    bool seen = false;
    for (size_t j = 0; j < k && !seen; ++j) {
      const Tensor& h = parameters[j].grad();
      if (!h.defined() || !h.shares_storage_with(g)) continue;
      const int64_t g_end = g.offset() + g.numel(), h_end = h.offset() + h.numel();
      if (g.offset() == h.offset() && g_end == h_end) {
        seen = true;
      } else if (g.offset() < h_end && h.offset() < g_end) {
        throw Error(std::string(op) + ": the gradients of parameters " + std::to_string(j) + " and " +
                    std::to_string(k) + " overlap in memory without being the same");
      }
    }
    if (!seen) f(g);
  }
}

// sum |x|^p (or max |x| for p = inf) in double, in a fixed order: eight interleaved partial sums, which the
// compiler can keep in one vector register, added together at the end.
template <class T>
double norm_part(const T* x, int64_t n, double p) {
  std::array<double, 8> acc{};
  int64_t i = 0;
  if (std::isinf(p)) {
    for (; i + 8 <= n; i += 8)
      for (int l = 0; l < 8; ++l) acc[l] = nan_max(acc[l], std::abs(static_cast<double>(x[i + l])));
    for (; i < n; ++i) acc[0] = nan_max(acc[0], std::abs(static_cast<double>(x[i])));
    double m = 0;
    for (double a : acc) m = nan_max(m, a);
    return m;
  }
  auto term = [p](double v) { return p == 2 ? v * v : p == 1 ? std::abs(v) : std::pow(std::abs(v), p); };
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += term(static_cast<double>(x[i + l]));
  for (; i < n; ++i) acc[0] += term(static_cast<double>(x[i]));
  double total = 0;
  for (double a : acc) total += a;
  return total;
}

}  // namespace

double clip_grad_norm_(std::span<const Var> parameters, double max_norm, double norm_type, bool error_if_nonfinite) {
  const char* op = "clip_grad_norm_";
  if (!(norm_type > 0))
    throw Error(std::string(op) + ": norm_type must be > 0 or kInfNorm, got " + std::to_string(norm_type));
  if (!(max_norm >= 0)) throw Error(std::string(op) + ": max_norm must be >= 0, got " + std::to_string(max_norm));
  const bool inf = std::isinf(norm_type);
  double sum = 0;  // every parameter's gradient counts, also one that is another's memory
  for (size_t k = 0; k < parameters.size(); ++k) {
    const Tensor* g = grad_of(parameters, k, op);
    if (!g) continue;
    const double part = dispatch_dtype(g->dtype(), [&](auto tag) {
      using T = decltype(tag);
      return norm_part(g->data<T>(), g->numel(), norm_type);
    });
    sum = inf ? nan_max(sum, part) : sum + part;
  }
  const double total = inf || norm_type == 1 ? sum : norm_type == 2 ? std::sqrt(sum) : std::pow(sum, 1 / norm_type);
  if (error_if_nonfinite && !std::isfinite(total))
    throw Error(std::string(op) + ": the total norm of the gradients is " + std::to_string(total) +
                "; pass error_if_nonfinite = false to clip anyway");
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1 || std::isnan(coef))
    for_each_distinct_grad(parameters, op, [&](const Tensor& g) {
      dispatch_dtype(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* x = g.mutable_data<T>();
        const T c = static_cast<T>(coef);
        for (int64_t i = 0, n = g.numel(); i < n; ++i) x[i] *= c;
      });
    });
  return total;
}

void clip_grad_value_(std::span<const Var> parameters, double clip_value) {
  const char* op = "clip_grad_value_";
  if (!(clip_value >= 0))
    throw Error(std::string(op) + ": clip_value must be >= 0, got " + std::to_string(clip_value));
  for_each_distinct_grad(parameters, op, [&](const Tensor& g) {
    dispatch_dtype(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* x = g.mutable_data<T>();
      const T hi = static_cast<T>(clip_value), lo = -hi;
      for (int64_t i = 0, n = g.numel(); i < n; ++i) x[i] = std::clamp(x[i], lo, hi);
    });
  });
}

}  // namespace mt::nn
