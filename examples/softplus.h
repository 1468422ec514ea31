#pragma once
// A new differentiable op written from outside the library, only through its public API: the forward
// is computed with tensor kernels, and record() keeps the backward beside it. tests/example_op_test.cpp
// gradchecks it.
#include <vector>

#include "autograd/autograd.h"

namespace example {

// softplus(x) = log(1 + e^x), computed as max(x, 0) + log(1 + e^-|x|) so large |x| cannot overflow.
// d softplus / dx = sigmoid(x).
inline mt::Var softplus(const mt::Var& x) {
  const mt::Tensor& v = x.value();
  const mt::Tensor abs = mt::relu(v) + mt::relu(-v);
  const mt::Tensor y = mt::relu(v) + mt::log(mt::exp(-abs) + 1.0);
  return mt::record("softplus", y, {x}, [v](const mt::Tensor& g) { return mt::Grads{g * mt::sigmoid(v)}; });
}

}  // namespace example
