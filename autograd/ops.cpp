// Every differentiable op: the forward on tensors, then record() with the backward that maps the
// gradient g of the result to the gradients of the inputs.
#include "autograd/ops.h"

#include <algorithm>
#include <array>
#include <vector>

namespace mt {

Var add(const Var& a, const Var& b) {
  return record("add", add(a.value(), b.value()), {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g) {
    return Grads{sum_to(g, sa), sum_to(g, sb)};
  });
}

Var sub(const Var& a, const Var& b) {
  return record("sub", sub(a.value(), b.value()), {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g) {
    return Grads{sum_to(g, sa), sum_to(neg(g), sb)};
  });
}

Var mul(const Var& a, const Var& b) {
  return record("mul", mul(a.value(), b.value()), {a, b}, [av = a.value(), bv = b.value()](const Tensor& g) {
    return Grads{sum_to(g * bv, av.shape()), sum_to(g * av, bv.shape())};
  });
}

Var div(const Var& a, const Var& b) {
  return record("div", div(a.value(), b.value()), {a, b}, [av = a.value(), bv = b.value()](const Tensor& g) {
    const Tensor ga = g / bv;
    return Grads{sum_to(ga, av.shape()), sum_to(-(ga * av / bv), bv.shape())};
  });
}

Var add(const Var& x, double s) {
  return record("add_scalar", add(x.value(), s), {x}, [](const Tensor& g) { return Grads{g}; });
}

Var mul(const Var& x, double s) {
  return record("mul_scalar", mul(x.value(), s), {x}, [s](const Tensor& g) { return Grads{g * s}; });
}

Var neg(const Var& x) {
  return record("neg", neg(x.value()), {x}, [](const Tensor& g) { return Grads{-g}; });
}

Var exp(const Var& x) {
  Tensor y = exp(x.value());
  return record("exp", y, {x}, [y](const Tensor& g) { return Grads{g * y}; });
}

Var log(const Var& x) {
  return record("log", log(x.value()), {x}, [xv = x.value()](const Tensor& g) { return Grads{g / xv}; });
}

Var sqrt(const Var& x) {
  Tensor y = sqrt(x.value());
  return record("sqrt", y, {x}, [y](const Tensor& g) { return Grads{g / y * 0.5}; });
}

Var pow(const Var& x, double p) {
  return record("pow", pow(x.value(), p), {x}, [xv = x.value(), p](const Tensor& g) {
    return Grads{g * pow(xv, p - 1) * p};
  });
}

Var relu(const Var& x) {
  return record("relu", relu(x.value()), {x}, [xv = x.value()](const Tensor& g) {
    return Grads{relu_backward(g, xv)};
  });
}

Var sigmoid(const Var& x) {
  Tensor y = sigmoid(x.value());
  return record("sigmoid", y, {x}, [y](const Tensor& g) { return Grads{sigmoid_backward(g, y)}; });
}

Var tanh(const Var& x) {
  Tensor y = tanh(x.value());
  return record("tanh", y, {x}, [y](const Tensor& g) { return Grads{tanh_backward(g, y)}; });
}

Var matmul(const Var& a, const Var& b) {
  return record("matmul", matmul(a.value(), b.value()), {a, b}, [av = a.value(), bv = b.value()](const Tensor& g) {
    // dA = g B^T and dB = A^T g, per batch; an operand shared by every batch sums its batch gradients.
    const Tensor ga = matmul(g, bv.transpose(-1, -2));
    const Tensor gb = matmul(av.transpose(-1, -2), g);
    return Grads{sum_to(ga, av.shape()), sum_to(gb, bv.shape())};
  });
}

namespace {

// The gradients of y = x W^T + b: dx = g W (only when x wants it), dW = g^T x, db = the column sums of g.
Grads linear_backward(const Tensor& g, const Tensor& x, const Tensor& w, bool need_dx, bool has_bias) {
  const int rows[] = {0};
  Grads grads{need_dx ? matmul(g, w) : Tensor(), matmul(g.t(), x)};
  if (has_bias) grads.push_back(sum(g, rows));
  return grads;
}

}  // namespace

Var linear(const Var& x, const Var& weight, const Var& bias) {
  return record("linear", linear(x.value(), weight.value(), bias.value()), {x, weight, bias},
                [xv = x.value(), wv = weight.value(), need_dx = x.requires_grad()](const Tensor& g) {
                  return linear_backward(g, xv, wv, need_dx, true);
                });
}

Var linear(const Var& x, const Var& weight) {
  return record("linear", linear(x.value(), weight.value(), Tensor()), {x, weight},
                [xv = x.value(), wv = weight.value(), need_dx = x.requires_grad()](const Tensor& g) {
                  return linear_backward(g, xv, wv, need_dx, false);
                });
}

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

Var reshape(const Var& x, const Shape& shape) {
  return record("reshape", x.value().reshape(shape), {x},
                [xs = x.shape()](const Tensor& g) { return Grads{g.reshape(xs)}; });
}

Var transpose(const Var& x, int dim0, int dim1) {
  return record("transpose", x.value().transpose(dim0, dim1), {x},
                [dim0, dim1](const Tensor& g) { return Grads{g.transpose(dim0, dim1)}; });
}

Var permute(const Var& x, std::span<const int> dims) {
  Tensor y = x.value().permute(dims);  // checks `dims` before they index `inverse`
  std::array<int, Shape::kMaxDims> inverse{};
  for (size_t i = 0; i < dims.size(); ++i) inverse[normalize_dim(dims[i], x.dim(), "permute")] = static_cast<int>(i);
  return record("permute", y, {x}, [inverse, n = dims.size()](const Tensor& g) {
    return Grads{g.permute(std::span<const int>(inverse.data(), n))};
  });
}

Var narrow(const Var& x, int dim, int64_t start, int64_t length) {
  return record("narrow", x.value().narrow(dim, start, length), {x},
                [xv = x.value(), dim, start, length](const Tensor& g) {
                  Tensor grad = Tensor::zeros(xv.shape(), xv.dtype());
                  grad.narrow(dim, start, length).copy_(g);
                  return Grads{grad};
                });
}

Var softmax(const Var& x, int dim) {
  Tensor y = softmax(x.value(), dim);
  return record("softmax", y, {x}, [y, dim](const Tensor& g) { return Grads{softmax_backward(g, y, dim)}; });
}

Var log_softmax(const Var& x, int dim) {
  Tensor y = log_softmax(x.value(), dim);
  return record("log_softmax", y, {x},
                [y, dim](const Tensor& g) { return Grads{log_softmax_backward(g, y, dim)}; });
}

Var cross_entropy(const Var& logits, std::span<const int64_t> labels) {
  return record("cross_entropy", cross_entropy(logits.value(), labels), {logits},
                [xv = logits.value(), kept = PoolVector<int64_t>(labels.begin(), labels.end())](const Tensor& g) {
                  return Grads{cross_entropy_backward(xv, kept, g.item())};
                });
}

}  // namespace mt
