// Matrix products: the forward on tensors, then record() with the backward.
#include "autograd/linalg.h"

#include "tensor/parallel.h"

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

// dx and dW are independent products of the same size (N x out x in multiply-adds each). Below this many per
// thread each runs whole on one thread, side by side, instead of each split across all: at batch 32 such a
// split costs a fork and join and gained only 1.0-1.3x on 2 threads (bench_gemm). Every result is the same
// whichever thread computes it.
constexpr int64_t kProductsAsTasks = int64_t{1} << 21;

// The gradients of y = x W^T + b: dx = g W (only when x wants it), dW = g^T x, db = the column sums of g; as
// tasks, the one that finishes first takes db.
Grads linear_backward(const Tensor& g, const Tensor& x, const Tensor& w, bool need_dx, bool has_bias) {
  const int rows[] = {0};
  Grads grads(has_bias ? 3 : 2);
  const auto compute = [&](int64_t which) {
    if (which == 0) grads[0] = need_dx ? matmul(g, w) : Tensor();
    if (which == 1) grads[1] = matmul(g.t(), x);
    if (which == 2) grads[2] = sum(g, rows);
  };
  const int64_t product = g.size(0) * w.size(0) * w.size(1);
  if (need_dx && product < kProductsAsTasks * num_threads())
    parallel_tasks(std::ssize(grads), 2 * product, compute);
  else
    for (int64_t which = 0; which < std::ssize(grads); ++which) compute(which);
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
