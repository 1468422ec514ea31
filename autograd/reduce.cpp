// Reductions: the forward on tensors, then record() with the backward.
#include "autograd/reduce.h"

#include <algorithm>
#include <array>
#include <vector>

namespace mt {
namespace {

// x's shape with the reduced dims (all of them when `dims` is empty) kept as size 1: the shape from which the
// gradient of a sum or mean is broadcast back over x.
Shape kept_shape(const Var& x, std::span<const int> dims, const char* op) {
  Shape shape = x.shape();
  if (dims.empty()) std::fill(shape.begin(), shape.end(), 1);
  for (int d : dims) shape[normalize_dim(d, x.dim(), op)] = 1;
  return shape;
}

}  // namespace

Var sum(const Var& x, std::span<const int> dims, bool keepdim) {
  // The gradient of a sum is g copied to every summed element: reshape g to keepdim form and broadcast.
  return record("sum", sum(x.value(), dims, keepdim), {x},
                [xs = x.shape(), ks = kept_shape(x, dims, "sum")](const Tensor& g) {
                  return Grads{g.reshape(ks).expand(xs)};
                });
}

Var mean(const Var& x, std::span<const int> dims, bool keepdim) {
  const Shape ks = kept_shape(x, dims, "mean");
  const double count = static_cast<double>(x.numel()) / static_cast<double>(std::max<int64_t>(ks.numel(), 1));
  return record("mean", mean(x.value(), dims, keepdim), {x}, [xs = x.shape(), ks, count](const Tensor& g) {
    return Grads{(g / count).reshape(ks).expand(xs)};
  });
}

Var max(const Var& x, int dim, bool keepdim) {
  const int d = normalize_dim(dim, x.dim(), "max");
  return record("max", max(x.value(), d, keepdim), {x}, [xv = x.value(), d](const Tensor& g) {
    // g goes to the first maximum of each reduced row and zeros elsewhere. The rows are laid out with `d`
    // moved last and the other dims kept in order: the order in which argmax lists its rows.
    const int n = xv.dim();
    std::array<int, Shape::kMaxDims> order{}, inverse{};
    for (int i = 0, k = 0; i < n; ++i)
      if (i != d) order[k++] = i;
    order[n - 1] = d;
    for (int i = 0; i < n; ++i) inverse[order[i]] = i;
    const std::vector<int64_t> where = argmax(xv, d);
    const Tensor rows = Tensor::zeros(xv.permute(std::span<const int>(order.data(), n)).shape(), xv.dtype());
    const Tensor gc = g.contiguous();
    const int64_t cols = xv.size(d);
    dispatch_dtype(xv.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* out = rows.data<T>();
      const T* gv = gc.data<T>();
      for (size_t r = 0; r < where.size(); ++r) out[static_cast<int64_t>(r) * cols + where[r]] = gv[r];
    });
    return Grads{rows.permute(std::span<const int>(inverse.data(), n))};
  });
}

}  // namespace mt
