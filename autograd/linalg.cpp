// Matrix products: the forward on tensors, then record() with the backward.
#include "autograd/linalg.h"

namespace mt {

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

}  // namespace mt
