// Reductions: the forward on tensors, then record() with the backward.
#include "autograd/reduce.h"

#include <algorithm>
#include <array>
#include <string>
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

// The number of elements reduced into each output.
double reduced_count(const Var& x, const Shape& kept) {
  return static_cast<double>(x.numel()) / static_cast<double>(std::max<int64_t>(kept.numel(), 1));
}

// g for a reduction along dim with keepdim's shape, sent to the element of each row at `picked` (a position
// along dim): the gradient of min and topk.
Tensor scatter_to(const Tensor& xv, int dim, const Indices& picked, const Tensor& g) {
  return scatter_add(Tensor::zeros(xv.shape(), xv.dtype()), dim, picked, g.reshape(picked.shape));
}

// Positions along dim (row-major over the other dims, as argmax lists them) as Indices of keepdim's shape.
Indices along(std::vector<int64_t> positions, const Shape& x_shape, int dim) {
  Shape shape = x_shape;
  shape[dim] = 1;
  return Indices(std::move(positions), shape);
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
      T* out = rows.mutable_data<T>();
      const T* gv = gc.data<T>();
      for (size_t r = 0; r < where.size(); ++r) out[static_cast<int64_t>(r) * cols + where[r]] = gv[r];
    });
    return Grads{rows.permute(std::span<const int>(inverse.data(), n))};
  });
}

Var var(const Var& x, std::span<const int> dims, Correction correction, bool keepdim) {
  const Shape ks = kept_shape(x, dims, "var");
  const double divisor = std::max(0.0, reduced_count(x, ks) - correction.value);
  return record("var", var(x.value(), dims, correction.value, keepdim), {x},
                [xv = x.value(), dims_ = PoolVector<int>(dims.begin(), dims.end()), ks, divisor](const Tensor& g) {
                  const Tensor centred = xv - mean(xv, dims_, true);
                  return Grads{centred * g.reshape(ks) * (2 / divisor)};
                });
}

Var var(const Var& x, std::span<const int> dims, bool unbiased, bool keepdim) {
  return var(x, dims, Correction{unbiased ? 1.0 : 0.0}, keepdim);
}

Var std(const Var& x, std::span<const int> dims, Correction correction, bool keepdim) {
  const Shape ks = kept_shape(x, dims, "std");
  const double divisor = std::max(0.0, reduced_count(x, ks) - correction.value);
  const Tensor y = std(x.value(), dims, correction.value, keepdim);
  return record("std", y, {x}, [xv = x.value(), dims_ = PoolVector<int>(dims.begin(), dims.end()), ks, divisor,
                                y](const Tensor& g) {
    // d std = d var / (2 std), and 0 where std is 0 (PyTorch's choice, where the derivative does not exist).
    const Tensor zero = Tensor::scalar(0, y.dtype());
    const Tensor scale = where(eq(y, zero), zero, g / (y * divisor)).reshape(ks);
    return Grads{(xv - mean(xv, dims_, true)) * scale};
  });
}

Var std(const Var& x, std::span<const int> dims, bool unbiased, bool keepdim) {
  return std(x, dims, Correction{unbiased ? 1.0 : 0.0}, keepdim);
}

Var logsumexp(const Var& x, std::span<const int> dims, bool keepdim) {
  const Tensor y = logsumexp(x.value(), dims, keepdim);
  return record("logsumexp", y, {x}, [xv = x.value(), y, ks = kept_shape(x, dims, "logsumexp")](const Tensor& g) {
    return Grads{g.reshape(ks) * exp(xv - y.reshape(ks))};
  });
}

Var min(const Var& x, int dim, bool keepdim) {
  const int d = normalize_dim(dim, x.dim(), "min");
  return record("min", min(x.value(), d, keepdim), {x}, [xv = x.value(), d](const Tensor& g) {
    return Grads{scatter_to(xv, d, along(argmin(xv, d), xv.shape(), d), g)};
  });
}

namespace {

// argmax / argmin of a Var: along dim, or over every element flattened.
template <class Positions>
Indices positions(const Var& x, std::optional<int> dim, bool keepdim, const char* op, Positions find) {
  if (!dim) {
    if (x.numel() == 0) throw Error(std::string(op) + ": " + x.value().str() + " has no elements");
    Shape ones = x.shape();
    std::fill(ones.begin(), ones.end(), 1);
    return Indices(find(x.value().reshape({x.numel()}), 0), keepdim ? ones : Shape{});
  }
  if (x.dim() == 0) return Indices(find(x.value().reshape({1}), 0), Shape{});
  const int d = normalize_dim(*dim, x.dim(), op);
  Indices result = along(find(x.value(), d), x.shape(), d);
  if (!keepdim) result.shape.erase(d);
  return result;
}

}  // namespace

Indices argmax(const Var& x, std::optional<int> dim, bool keepdim) {
  return positions(x, dim, keepdim, "argmax", [](const Tensor& t, int d) { return argmax(t, d); });
}

Indices argmin(const Var& x, std::optional<int> dim, bool keepdim) {
  return positions(x, dim, keepdim, "argmin", [](const Tensor& t, int d) { return argmin(t, d); });
}

ValuesIndices<Var> topk(const Var& x, int64_t k, int dim, bool largest, bool sorted) {
  ValuesIndices<Tensor> top = topk(x.value(), k, dim, largest, sorted);
  const int d = x.dim() == 0 ? 0 : normalize_dim(dim, x.dim(), "topk");
  Var values = record("topk", top.values, {x}, [xv = x.value(), d, picked = top.indices](const Tensor& g) {
    if (xv.dim() == 0) return Grads{g};
    return Grads{scatter_to(xv, d, picked, g)};
  });
  return {values, std::move(top.indices)};
}

}  // namespace mt
