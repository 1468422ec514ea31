#pragma once
// A new differentiable op written from outside the library with mt::elementwise() (tensor/elementwise.h): the
// forward and the backward are each one scalar formula, for inputs of any layout and both dtypes, with no
// stride loop. tests/example_op_test.cpp gradchecks it and compares it with PyTorch's torch.nn.functional.mish.
#include <algorithm>
#include <cmath>

#include "autograd/autograd.h"

namespace example {

// mish(x) = x tanh(softplus(x)), softplus(x) = ln(1 + e^x) computed as max(x, 0) + ln(1 + e^-|x|).
// d mish / dx = tanh(sp) + x (1 - tanh(sp)^2) sigmoid(x).
inline mt::Var mish(const mt::Var& x) {
  auto softplus = [](auto v) { return std::max(v, decltype(v)(0)) + std::log1p(std::exp(-std::abs(v))); };
  const mt::Tensor y = mt::elementwise("mish", x.value(), [=](auto v) { return v * std::tanh(softplus(v)); });
  return mt::record("mish", y, {x}, [xv = x.value(), softplus](const mt::Tensor& g) {
    return mt::Grads{mt::elementwise("mish_backward", g, xv, [=](auto gv, auto v) {
      using T = decltype(v);
      const T t = std::tanh(softplus(v));
      return gv * (t + v * (T(1) - t * t) / (T(1) + std::exp(-v)));
    })};
  });
}

}  // namespace example
