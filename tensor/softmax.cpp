// Softmax, log-softmax and the fused softmax cross-entropy. The row kernels work on the last dim of a
// contiguous tensor; another dim is moved there first.
#include <cmath>
#include <string>

#include "tensor/elementwise.h"
#include "tensor/reduce.h"
#include "tensor/softmax.h"
#include "tensor/strided.h"

namespace mt {
namespace {

// Applies row_fn(in_row, out_row, length) to every row along `dim`.
template <class RowFn>
Tensor along_rows(const char* op, const Tensor& x, int dim, RowFn row_fn) {
  if (!x.defined()) throw Error(std::string(op) + ": the tensor is undefined");
  // A 0-D tensor is one row of one element along dim 0 or -1, as PyTorch takes it.
  if (x.dim() == 0) return along_rows(op, x.reshape({1}), normalize_dim(dim, 1, op), row_fn).reshape({});
  const int d = normalize_dim(dim, x.dim(), op);
  const bool last = d == x.dim() - 1;
  const Tensor in = (last ? x : x.transpose(d, -1)).contiguous();
  Tensor out = Tensor::empty(in.shape(), in.dtype());
  const int64_t cols = in.dim() == 0 ? 1 : in.shape().back();
  const int64_t rows = cols == 0 ? 0 : in.numel() / cols;
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = in.data<T>();
    T* dst = out.mutable_data<T>();
    parallel_for(rows, rows * cols * 8, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) row_fn(src + r * cols, dst + r * cols, cols);
    });
  });
  return last ? out : out.transpose(d, -1).contiguous();
}

// max and log(sum(exp(x - max))) of one row: log_softmax(x) = x - max - log_sum.
template <class T>
void row_max_and_log_sum(const T* x, int64_t n, T& max, T& log_sum) {
  max = x[0];
  for (int64_t j = 1; j < n; ++j) max = std::max(max, x[j]);
  double total = 0;
  for (int64_t j = 0; j < n; ++j) total += std::exp(static_cast<double>(x[j] - max));
  log_sum = static_cast<T>(std::log(total));
}

void check_logits(const char* op, const Tensor& logits, std::span<const int64_t> labels) {
  if (!logits.defined() || logits.dim() != 2)
    throw Error(std::string(op) + ": expects logits of shape [N, C], got " +
                (logits.defined() ? logits.str() : std::string("an undefined tensor")));
  if (static_cast<int64_t>(labels.size()) != logits.size(0))
    throw Error(std::string(op) + ": " + std::to_string(labels.size()) + " labels for logits " + logits.shape().str());
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || labels[i] >= logits.size(1))
      throw Error(std::string(op) + ": label " + std::to_string(labels[i]) + " at position " + std::to_string(i) +
                  " is outside [0, " + std::to_string(logits.size(1)) + ")");
}

}  // namespace

Tensor softmax(const Tensor& x, int dim) {
  return along_rows("softmax", x, dim, [](const auto* in, auto* out, int64_t n) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(in)>>;
    T max, log_sum;
    row_max_and_log_sum(in, n, max, log_sum);
    for (int64_t j = 0; j < n; ++j) out[j] = std::exp(in[j] - max - log_sum);
  });
}

Tensor log_softmax(const Tensor& x, int dim) {
  return along_rows("log_softmax", x, dim, [](const auto* in, auto* out, int64_t n) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(in)>>;
    T max, log_sum;
    row_max_and_log_sum(in, n, max, log_sum);
    for (int64_t j = 0; j < n; ++j) out[j] = in[j] - max - log_sum;
  });
}

Tensor softmax_backward(const Tensor& g, const Tensor& y, int dim) {
  if (y.dim() == 0) return softmax_backward(g.reshape({1}), y.reshape({1}), normalize_dim(dim, 1, "softmax_backward")).reshape({});
  const int d[] = {dim};
  return y * (g - sum(g * y, d, true));
}

Tensor log_softmax_backward(const Tensor& g, const Tensor& y, int dim) {
  if (y.dim() == 0)
    return log_softmax_backward(g.reshape({1}), y.reshape({1}), normalize_dim(dim, 1, "log_softmax_backward")).reshape({});
  const int d[] = {dim};
  return g - exp(y) * sum(g, d, true);
}

Tensor cross_entropy(const Tensor& logits, std::span<const int64_t> labels, Tensor* row_stats) {
  check_logits("cross_entropy", logits, labels);
  const Tensor x = logits.contiguous();
  const int64_t n = x.size(0), c = x.size(1);
  if (row_stats) *row_stats = Tensor::empty({n, 2}, x.dtype());
  return dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = x.data<T>();
    T* stats = row_stats ? row_stats->mutable_data<T>() : nullptr;
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      T max, log_sum;
      row_max_and_log_sum(p + i * c, c, max, log_sum);
      if (stats) stats[2 * i] = max, stats[2 * i + 1] = log_sum;
      // -log_softmax at the label, subtracting the nearly equal max first: max + log_sum - x rounds away
      // the digits of a loss that is small next to logits of 1e4.
      total -= static_cast<double>((p[i * c + labels[i]] - max) - log_sum);
    }
    return Tensor::scalar(total / static_cast<double>(n), x.dtype());  // NaN for no rows, as PyTorch's mean
  });
}

// The forward's row statistics save the backward a second pass of double-precision exponentials and
// logarithms, about two fifths of the loss's cost: perf record of a 1-thread batch-32 step put the loss at 1.8%
// with the second pass and 1.05% without (about 3.5 us, all of it on the calling thread).
Tensor cross_entropy_backward(const Tensor& logits, std::span<const int64_t> labels, double g,
                              const Tensor& row_stats) {
  check_logits("cross_entropy_backward", logits, labels);
  const Tensor x = logits.contiguous();
  const int64_t n = x.size(0), c = x.size(1);
  if (row_stats.defined() && (row_stats.shape() != Shape{n, 2} || row_stats.dtype() != x.dtype()))
    throw Error("cross_entropy_backward: row statistics " + row_stats.str() + " for logits " + x.str() +
                " (expected [" + std::to_string(n) + ", 2] of the logits' dtype)");
  const Tensor stats = row_stats.defined() ? row_stats.contiguous() : Tensor();
  Tensor grad = Tensor::empty(x.shape(), x.dtype());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = x.data<T>();
    const T* saved = stats.defined() ? stats.data<T>() : nullptr;
    T* out = grad.mutable_data<T>();
    const T scale = static_cast<T>(g / static_cast<double>(n));
    for (int64_t i = 0; i < n; ++i) {
      T max, log_sum;
      if (saved)
        max = saved[2 * i], log_sum = saved[2 * i + 1];
      else
        row_max_and_log_sum(p + i * c, c, max, log_sum);
      for (int64_t j = 0; j < c; ++j) out[i * c + j] = scale * std::exp(p[i * c + j] - max - log_sum);
      out[i * c + labels[i]] -= scale;
    }
  });
  return grad;
}

}  // namespace mt
