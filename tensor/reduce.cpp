// Reductions. Each output element is reduced by one thread, walking its inputs in a fixed order, so the
// result does not depend on the number of threads.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <limits>
#include <string>

#include "tensor/elementwise.h"
#include "tensor/reduce.h"
#include "tensor/strided.h"

namespace mt {
namespace {

// x seen as a matrix: one row per output element (the kept dims), one column per reduced element.
struct ReductionRows {
  Tensor source;  // x, or a contiguous copy of it when its dims cannot be merged into two
  int64_t rows, cols, row_stride, col_stride;
  Shape out_shape;
};

// Merges dims [from, to) of a layout into one (size, stride), if they are laid out evenly.
bool merge_dims(const Shape& shape, const Shape& strides, int from, int to, int64_t& size, int64_t& stride) {
  size = 1;
  stride = 1;
  bool have_inner = false;
  for (int d = to - 1; d >= from; --d) {
    if (shape[d] == 1) continue;
    if (!have_inner) {
      stride = strides[d];
      have_inner = true;
    } else if (strides[d] != stride * size) {
      return false;
    }
    size *= shape[d];
  }
  return true;
}

ReductionRows reduction_rows(const Tensor& x, std::span<const int> dims, bool keepdim, const char* op) {
  if (!x.defined()) throw Error(std::string(op) + ": the tensor is undefined");
  bool reduced[Shape::kMaxDims] = {};
  for (int d : dims) reduced[normalize_dim(d, x.dim(), op)] = true;
  if (dims.empty()) std::fill(reduced, reduced + x.dim(), true);

  int order[Shape::kMaxDims];
  int kept = 0, n = 0;
  Shape out_shape;
  for (int d = 0; d < x.dim(); ++d) {
    if (!reduced[d]) order[n++] = d, ++kept;
    if (!reduced[d]) out_shape.push_back(x.shape()[d]);
    else if (keepdim) out_shape.push_back(1);
  }
  for (int d = 0; d < x.dim(); ++d)
    if (reduced[d]) order[n++] = d;

  ReductionRows r{x.permute(std::span<const int>(order, n)), 0, 0, 0, 0, out_shape};
  if (!merge_dims(r.source.shape(), r.source.strides(), 0, kept, r.rows, r.row_stride) ||
      !merge_dims(r.source.shape(), r.source.strides(), kept, n, r.cols, r.col_stride)) {
    r.source = r.source.contiguous();
    merge_dims(r.source.shape(), r.source.strides(), 0, kept, r.rows, r.row_stride);
    merge_dims(r.source.shape(), r.source.strides(), kept, n, r.cols, r.col_stride);
  }
  return r;
}

// out[row] = finish(fold over the row's elements), each row on one thread.
template <class Fold>
Tensor reduce(const ReductionRows& r, Fold fold) {
  Tensor out = Tensor::empty(r.out_shape, r.source.dtype());
  dispatch_dtype(r.source.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = r.source.template data<T>();
    T* dst = out.mutable_data<T>();
    parallel_for(r.rows, r.rows * r.cols, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) dst[i] = fold(src + i * r.row_stride, r.cols, r.col_stride);
    });
  });
  return out;
}

}  // namespace

// Sums of kColumnBlock adjacent outputs at once when the outputs are adjacent in memory (summing over the rows
// of a matrix, as for a bias gradient): each step then loads kColumnBlock contiguous elements, which vectorises,
// where one output at a time would stride through memory. Every output still adds its elements in the same
// order, so the result is the same as the plain fold's.
constexpr int64_t kColumnBlock = 32;

template <class T>
void sum_adjacent_outputs(const T* src, int64_t outputs, int64_t count, int64_t stride, T* dst) {
  double acc[kColumnBlock] = {};
  for (int64_t j = 0; j < count; ++j) {
    const T* p = src + j * stride;
    for (int64_t b = 0; b < outputs; ++b) acc[b] += p[b];
  }
  for (int64_t b = 0; b < outputs; ++b) dst[b] = static_cast<T>(acc[b]);
}

Tensor sum(const Tensor& x, std::span<const int> dims, bool keepdim) {
  const ReductionRows r = reduction_rows(x, dims, keepdim, "sum");
  if (r.row_stride != 1 || r.rows == 1)
    return reduce(r, [](const auto* p, int64_t n, int64_t stride) {
      using T = std::remove_cv_t<std::remove_pointer_t<decltype(p)>>;
      double acc = 0;  // float32 sums accumulate in double: batch gradients add up thousands of terms
      for (int64_t j = 0; j < n; ++j) acc += p[j * stride];
      return static_cast<T>(acc);
    });
  Tensor out = Tensor::empty(r.out_shape, x.dtype());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = r.source.template data<T>();
    T* dst = out.mutable_data<T>();
    const int64_t blocks = (r.rows + kColumnBlock - 1) / kColumnBlock;
    parallel_for(blocks, r.rows * r.cols, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin * kColumnBlock; i < std::min(end * kColumnBlock, r.rows); i += kColumnBlock)
        sum_adjacent_outputs(src + i, std::min(kColumnBlock, r.rows - i), r.cols, r.col_stride, dst + i);
    });
  });
  return out;
}

Tensor mean(const Tensor& x, std::span<const int> dims, bool keepdim) {
  const Tensor total = sum(x, dims, keepdim);
  if (total.numel() == 0) return total;
  // Averaging no elements gives NaN (0 / 0), as in PyTorch.
  const int64_t count = x.numel() / total.numel();
  return mul(total, count == 0 ? std::numeric_limits<double>::quiet_NaN() : 1.0 / static_cast<double>(count));
}

Tensor max(const Tensor& x, int dim, bool keepdim) {
  const int d[] = {dim};
  if (x.defined() && x.dim() > 0 && x.size(dim) == 0) throw Error("max: dim " + std::to_string(dim) + " of " + x.str() + " is empty");
  return reduce(reduction_rows(x, d, keepdim, "max"), [](const auto* p, int64_t n, int64_t stride) {
    auto best = p[0];
    for (int64_t j = 1; j < n; ++j) {
      const auto v = p[j * stride];
      if (v > best || v != v) best = v;  // a NaN wins and stays: a diverging value must not hide
    }
    return best;
  });
}

std::vector<int64_t> argmax(const Tensor& x, int dim) {
  std::vector<int64_t> indices;
  argmax(x, dim, indices);
  return indices;
}

void argmax(const Tensor& x, int dim, std::vector<int64_t>& indices) {
  const int d[] = {dim};
  if (x.defined() && x.dim() > 0 && x.size(dim) == 0) throw Error("argmax: dim " + std::to_string(dim) + " of " + x.str() + " is empty");
  const ReductionRows r = reduction_rows(x, d, false, "argmax");
  indices.resize(static_cast<size_t>(r.rows));
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = r.source.template data<T>();
    for (int64_t i = 0; i < r.rows; ++i) {
      const T* p = src + i * r.row_stride;
      int64_t best = 0;  // the first of equal maxima, or the first NaN, as NumPy and PyTorch pick
      for (int64_t j = 1; j < r.cols; ++j) {
        const T v = p[j * r.col_stride], b = p[best * r.col_stride];
        if (v > b || (v != v && b == b)) best = j;
      }
      indices[i] = best;
    }
  });
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  if (broadcast_shapes(shape, x.shape(), "sum_to") != x.shape())
    throw Error("sum_to: " + shape.str() + " does not broadcast to " + x.shape().str());
  const int lead = x.dim() - shape.size();
  int dims[Shape::kMaxDims];
  int n = 0;
  for (int d = 0; d < x.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && x.shape()[d] != 1)) dims[n++] = d;
  if (n == 0) return x.reshape(shape);
  return sum(x, std::span<const int>(dims, n), true).reshape(shape);
}

// The row's mean in double, then the sum of squared deviations: two passes, for accuracy.
Tensor var(const Tensor& x, std::span<const int> dims, double correction, bool keepdim) {
  const ReductionRows r = reduction_rows(x, dims, keepdim, "var");
  const double divisor = std::max(0.0, static_cast<double>(r.cols) - correction);
  return reduce(r, [divisor](const auto* p, int64_t n, int64_t stride) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(p)>>;
    double total = 0;
    for (int64_t j = 0; j < n; ++j) total += p[j * stride];
    const double m = total / static_cast<double>(n);
    double squares = 0;
    for (int64_t j = 0; j < n; ++j) squares += (p[j * stride] - m) * (p[j * stride] - m);
    return static_cast<T>(squares / divisor);
  });
}

Tensor std(const Tensor& x, std::span<const int> dims, double correction, bool keepdim) {
  return sqrt(var(x, dims, correction, keepdim));
}

Tensor logsumexp(const Tensor& x, std::span<const int> dims, bool keepdim) {
  return reduce(reduction_rows(x, dims, keepdim, "logsumexp"), [](const auto* p, int64_t n, int64_t stride) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(p)>>;
    double m = -INFINITY;
    for (int64_t j = 0; j < n; ++j)
      if (!(p[j * stride] <= m)) m = p[j * stride];  // NaN sticks
    if (std::isinf(m)) m = 0;
    double total = 0;
    for (int64_t j = 0; j < n; ++j) total += std::exp(p[j * stride] - m);
    return static_cast<T>(std::log(total) + m);
  });
}

Tensor min(const Tensor& x, int dim, bool keepdim) {
  const int d[] = {dim};
  if (x.defined() && x.dim() > 0 && x.size(dim) == 0) throw Error("min: dim " + std::to_string(dim) + " of " + x.str() + " is empty");
  return reduce(reduction_rows(x, d, keepdim, "min"), [](const auto* p, int64_t n, int64_t stride) {
    auto best = p[0];
    for (int64_t j = 1; j < n && !std::isnan(best); ++j)
      if (!(p[j * stride] >= best)) best = p[j * stride];  // a NaN is not >= anything, and stays
    return best;
  });
}

std::vector<int64_t> argmin(const Tensor& x, int dim) {
  const int d[] = {dim};
  if (x.defined() && x.dim() > 0 && x.size(dim) == 0) throw Error("argmin: dim " + std::to_string(dim) + " of " + x.str() + " is empty");
  const ReductionRows r = reduction_rows(x, d, false, "argmin");
  std::vector<int64_t> indices(static_cast<size_t>(r.rows));
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = r.source.template data<T>();
    for (int64_t i = 0; i < r.rows; ++i) {
      const T* p = src + i * r.row_stride;
      int64_t best = 0;
      for (int64_t j = 1; j < r.cols && !std::isnan(p[best * r.col_stride]); ++j)
        if (!(p[j * r.col_stride] >= p[best * r.col_stride])) best = j;
      indices[i] = best;
    }
  });
  return indices;
}

ValuesIndices<Tensor> topk(const Tensor& x, int64_t k, int dim, bool largest, bool sorted) {
  const int d = normalize_dim(dim, std::max(x.dim(), 1), "topk");
  const int64_t size = x.dim() == 0 ? 1 : x.size(d);
  if (k < 0 || k > size)
    throw Error("topk: k " + std::to_string(k) + " is out of range for dim " + std::to_string(d) + " of " + x.str());
  const int dims[] = {d};
  const Tensor xs = x.dim() == 0 ? x.reshape({1}) : x;
  const ReductionRows r = reduction_rows(xs, dims, false, "topk");
  Shape shape = xs.shape();
  shape[d] = k;
  int64_t inner = 1;
  for (int i = d + 1; i < shape.size(); ++i) inner *= shape[i];
  ValuesIndices<Tensor> out{Tensor::empty(shape, x.dtype()), Indices::adopt(PoolVector<int64_t>(static_cast<size_t>(shape.numel())), shape)};
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = r.source.template data<T>();
    T* values = out.values.mutable_data<T>();
    std::vector<int64_t> order(static_cast<size_t>(r.cols));
    for (int64_t row = 0; row < r.rows; ++row) {
      const T* p = src + row * r.row_stride;
      // NaN ranks above every number; ties keep their index order.
      auto before = [&](int64_t a, int64_t b) {
        const T va = p[a * r.col_stride], vb = p[b * r.col_stride];
        if (std::isnan(va) || std::isnan(vb)) return std::isnan(largest ? va : vb) && !std::isnan(largest ? vb : va);
        return largest ? va > vb : va < vb;
      };
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), before);
      if (!sorted) std::sort(order.begin(), order.begin() + k);
      const int64_t outer = row / inner, in = row % inner;
      for (int64_t j = 0; j < k; ++j) {
        const int64_t at = (outer * k + j) * inner + in;
        values[at] = p[order[j] * r.col_stride];
        out.indices.values[static_cast<size_t>(at)] = order[j];
      }
    }
  });
  if (x.dim() == 0) return {out.values.reshape({}), Indices::adopt(std::move(out.indices.values), Shape{})};
  return out;
}

}  // namespace mt
