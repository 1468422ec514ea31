// Indexing kernels. Selections walk x as [outer, dim, inner] blocks; gather and scatter walk the index's
// elements in row-major order. Scatters run on one thread in index order, so sums at repeated indices are
// always added in the same order.
#include "tensor/indexing.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "tensor/elementwise.h"
#include "tensor/strided.h"

namespace mt {
namespace {

void check_defined(const Tensor& t, const char* op) {
  if (!t.defined()) throw Error(std::string(op) + ": a tensor is undefined");
}

int64_t checked_index(int64_t i, int64_t size, int dim, const char* op) {
  if (i < 0 || i >= size)
    throw Error(std::string(op) + ": index " + std::to_string(i) + " is out of range for dim " + std::to_string(dim) +
                " of size " + std::to_string(size));
  return i;
}

// x contiguous, seen as [outer, size(dim), inner].
struct Blocks {
  int64_t outer = 1, inner = 1;
};
Blocks blocks(const Shape& shape, int dim) {
  Blocks b;
  for (int d = 0; d < dim; ++d) b.outer *= shape[d];
  for (int d = dim + 1; d < shape.size(); ++d) b.inner *= shape[d];
  return b;
}

// Calls body(offset into a, offset into b, i) for every element of `shape` in row-major order, i the element's
// position along `dim`, with a's and b's strides except along dim (where the caller adds its own).
template <class Body>
void walk_except(const Shape& shape, int dim, const Shape& a_strides, const Shape& b_strides, Body&& body) {
  if (shape.numel() == 0) return;
  Shape index = shape;
  for (int64_t& i : index) i = 0;
  int64_t a = 0, b = 0;
  for (int64_t n = 0, total = shape.numel(); n < total; ++n) {
    body(a, b, index[dim]);
    for (int d = shape.size() - 1; d >= 0; --d) {
      const int64_t sa = d == dim ? 0 : a_strides[d], sb = d == dim ? 0 : b_strides[d];
      if (++index[d] < shape[d]) {
        a += sa;
        b += sb;
        break;
      }
      a -= sa * (shape[d] - 1);
      b -= sb * (shape[d] - 1);
      index[d] = 0;
    }
  }
}

// An index tensor for gather / scatter_add of x along dim: x's number of dims, no size above x's but along dim
// (nor above src's, when given).
void check_index_shape(const char* op, const Tensor& x, int dim, const Indices& index, const Tensor* src) {
  bool ok = index.dim() == x.dim() && (!src || src->dim() == x.dim());
  for (int d = 0; ok && d < x.dim(); ++d)
    ok = (d == dim || index.size(d) <= x.size(d)) && (!src || index.size(d) <= src->size(d));
  if (!ok)
    throw Error(std::string(op) + ": index " + index.shape.str() + " does not fit " + x.str() +
                (src ? " and src " + src->str() : "") + " along dim " + std::to_string(dim));
}

}  // namespace

Indices::Indices(const std::vector<int64_t>& list) : Indices(list, Shape{static_cast<int64_t>(list.size())}) {}

Indices::Indices(const std::vector<int64_t>& list, const Shape& sizes)
    : Indices(adopt(PoolVector<int64_t>(list.begin(), list.end()), sizes)) {}

Indices Indices::adopt(PoolVector<int64_t> values, const Shape& sizes) {
  if (static_cast<int64_t>(values.size()) != sizes.numel())
    throw Error("Indices: " + std::to_string(values.size()) + " values for shape " + sizes.str());
  Indices indices;
  indices.shape = sizes;
  indices.values = std::move(values);
  return indices;
}

Indices Indices::from_tensor(const Tensor& t, const char* op) {
  check_defined(t, op);
  PoolVector<int64_t> v(static_cast<size_t>(t.numel()));
  const Tensor c = t.contiguous();
  dispatch_dtype(c.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = c.data<T>();
    for (size_t i = 0; i < v.size(); ++i) {
      const double value = x[i];
      if (value != std::floor(value) || std::abs(value) > 9007199254740992.0)
        throw Error(std::string(op) + ": index " + std::to_string(value) + " of " + t.str() + " is not a whole number");
      v[i] = static_cast<int64_t>(value);
    }
  });
  return adopt(std::move(v), t.shape());
}

Tensor index_select(const Tensor& x, int dim, std::span<const int64_t> index) {
  check_defined(x, "index_select");
  const int d = normalize_dim(dim, x.dim(), "index_select");
  const Tensor xc = x.contiguous();
  Shape shape = x.shape();
  shape[d] = static_cast<int64_t>(index.size());
  Tensor out = Tensor::empty(shape, x.dtype());
  const Blocks b = blocks(shape, d);
  const int64_t n = x.size(d), m = shape[d];
  for (int64_t i : index) checked_index(i, n, d, "index_select");
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = xc.data<T>();
    T* dst = out.mutable_data<T>();
    for (int64_t o = 0; o < b.outer; ++o)
      for (int64_t i = 0; i < m; ++i)
        std::copy_n(src + (o * n + index[i]) * b.inner, b.inner, dst + (o * m + i) * b.inner);
  });
  return out;
}

Tensor index_add(const Tensor& x, int dim, std::span<const int64_t> index, const Tensor& source) {
  check_defined(x, "index_add");
  check_defined(source, "index_add");
  const int d = normalize_dim(dim, x.dim(), "index_add");
  Shape expected = x.shape();
  expected[d] = static_cast<int64_t>(index.size());
  if (source.shape() != expected || source.dtype() != x.dtype())
    throw Error("index_add: source " + source.str() + " does not fit " + x.str() + " with " +
                std::to_string(index.size()) + " indices along dim " + std::to_string(d));
  const int64_t n = x.size(d), m = expected[d];
  for (int64_t i : index) checked_index(i, n, d, "index_add");
  Tensor out = x.clone();
  const Tensor sc = source.contiguous();
  const Blocks b = blocks(expected, d);
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = sc.data<T>();
    T* dst = out.mutable_data<T>();
    for (int64_t o = 0; o < b.outer; ++o)
      for (int64_t i = 0; i < m; ++i) {
        const T* from = src + (o * m + i) * b.inner;
        T* to = dst + (o * n + index[i]) * b.inner;
        for (int64_t k = 0; k < b.inner; ++k) to[k] += from[k];
      }
  });
  return out;
}

Tensor gather(const Tensor& x, int dim, const Indices& index) {
  check_defined(x, "gather");
  const int d = normalize_dim(dim, x.dim(), "gather");
  check_index_shape("gather", x, d, index, nullptr);
  Tensor out = Tensor::empty(index.shape, x.dtype());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = x.data<T>();
    T* dst = out.mutable_data<T>();
    int64_t n = 0;
    walk_except(index.shape, d, x.strides(), x.strides(), [&](int64_t offset, int64_t, int64_t) {
      const int64_t i = checked_index(index.values[static_cast<size_t>(n)], x.size(d), d, "gather");
      dst[n++] = src[offset + i * x.strides()[d]];
    });
  });
  return out;
}

Tensor scatter_add(const Tensor& x, int dim, const Indices& index, const Tensor& src) {
  check_defined(x, "scatter_add");
  check_defined(src, "scatter_add");
  const int d = normalize_dim(dim, x.dim(), "scatter_add");
  check_index_shape("scatter_add", x, d, index, &src);
  if (src.dtype() != x.dtype()) throw Error("scatter_add: dtypes differ: " + x.str() + " and src " + src.str());
  for (int64_t i : index.values) checked_index(i, x.size(d), d, "scatter_add");
  Tensor out = x.clone();
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* from = src.data<T>();
    T* to = out.mutable_data<T>();
    int64_t n = 0;
    walk_except(index.shape, d, out.strides(), src.strides(), [&](int64_t o, int64_t s, int64_t j) {
      to[o + index.values[static_cast<size_t>(n++)] * out.strides()[d]] += from[s + j * src.strides()[d]];
    });
  });
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_defined(cond, "where");
  check_defined(a, "where");
  check_defined(b, "where");
  if (a.dtype() != b.dtype()) throw Error("where: dtypes differ: " + a.str() + " and " + b.str());
  return elementwise("where", cond.to(a.dtype()), a, b, [](auto c, auto x, auto y) { return c != 0 ? x : y; });
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  check_defined(x, "masked_fill");
  return where(mask, Tensor::scalar(value, x.dtype()), x);
}

}  // namespace mt
