// Elementwise ops: the forward on tensors, then record() with the backward that maps the gradient g of the
// result to the gradients of the inputs.
#include "autograd/elementwise.h"

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

}  // namespace mt
