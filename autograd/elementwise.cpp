// Elementwise ops: the forward on tensors, then record() with the backward that maps the gradient g of the
// result to the gradients of the inputs.
#include "autograd/elementwise.h"

#include <cmath>
#include <string>

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
    // x^0 is constant: its gradient is 0 everywhere, where p x^(p-1) would give 0 * inf = NaN at x = 0.
    if (p == 0) return Grads{Tensor::zeros(xv.shape(), xv.dtype())};
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

Var abs(const Var& x) {
  return record("abs", abs(x.value()), {x}, [xv = x.value()](const Tensor& g) { return Grads{g * sign(xv)}; });
}

Var log1p(const Var& x) {
  return record("log1p", log1p(x.value()), {x}, [xv = x.value()](const Tensor& g) { return Grads{g / (xv + 1.0)}; });
}

Var expm1(const Var& x) {
  Tensor y = expm1(x.value());
  return record("expm1", y, {x}, [y](const Tensor& g) { return Grads{g * (y + 1.0)}; });
}

Var sin(const Var& x) {
  return record("sin", sin(x.value()), {x}, [xv = x.value()](const Tensor& g) { return Grads{g * cos(xv)}; });
}

Var cos(const Var& x) {
  return record("cos", cos(x.value()), {x}, [xv = x.value()](const Tensor& g) { return Grads{-(g * sin(xv))}; });
}

Var square(const Var& x) {
  return record("square", square(x.value()), {x}, [xv = x.value()](const Tensor& g) { return Grads{g * xv * 2.0}; });
}

Var rsqrt(const Var& x) {
  Tensor y = rsqrt(x.value());
  return record("rsqrt", y, {x}, [y](const Tensor& g) { return Grads{g * y * y * y * -0.5}; });
}

Var reciprocal(const Var& x) {
  Tensor y = reciprocal(x.value());
  return record("reciprocal", y, {x}, [y](const Tensor& g) { return Grads{-(g * y * y)}; });
}

Var clamp(const Var& x, std::optional<double> min, std::optional<double> max) {
  const double lo = min.value_or(-INFINITY), hi = max.value_or(INFINITY);
  return record("clamp", clamp(x.value(), lo, hi), {x}, [xv = x.value(), lo, hi](const Tensor& g) {
    return Grads{clamp_backward(g, xv, lo, hi)};
  });
}

Var maximum(const Var& a, const Var& b) {
  return record("maximum", maximum(a.value(), b.value()), {a, b}, [av = a.value(), bv = b.value()](const Tensor& g) {
    return Grads{sum_to(extremum_backward(g, av, bv, true), av.shape()),
                 sum_to(extremum_backward(g, bv, av, true), bv.shape())};
  });
}

Var minimum(const Var& a, const Var& b) {
  return record("minimum", minimum(a.value(), b.value()), {a, b}, [av = a.value(), bv = b.value()](const Tensor& g) {
    return Grads{sum_to(extremum_backward(g, av, bv, false), av.shape()),
                 sum_to(extremum_backward(g, bv, av, false), bv.shape())};
  });
}

Var leaky_relu(const Var& x, double negative_slope) {
  return record("leaky_relu", leaky_relu(x.value(), negative_slope), {x},
                [xv = x.value(), negative_slope](const Tensor& g) {
                  return Grads{leaky_relu_backward(g, xv, negative_slope)};
                });
}

Var elu(const Var& x, double alpha) {
  return record("elu", elu(x.value(), alpha), {x},
                [xv = x.value(), alpha](const Tensor& g) { return Grads{elu_backward(g, xv, alpha)}; });
}

Var gelu(const Var& x, GeluApproximation approximate) {
  const bool tanh_form = approximate == GeluApproximation::Tanh;
  return record("gelu", gelu(x.value(), tanh_form), {x},
                [xv = x.value(), tanh_form](const Tensor& g) { return Grads{gelu_backward(g, xv, tanh_form)}; });
}

Var silu(const Var& x) {
  return record("silu", silu(x.value()), {x}, [xv = x.value()](const Tensor& g) { return Grads{silu_backward(g, xv)}; });
}

Var softplus(const Var& x, double beta, double threshold) {
  if (!(beta != 0)) throw Error("softplus: beta must be non-zero, got " + std::to_string(beta));
  return record("softplus", softplus(x.value(), beta, threshold), {x}, [xv = x.value(), beta, threshold](const Tensor& g) {
    return Grads{softplus_backward(g, xv, beta, threshold)};
  });
}

}  // namespace mt
