// The softmax family and losses: the forward on tensors, then record() with the backward.
#include "autograd/loss.h"

namespace mt {

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
