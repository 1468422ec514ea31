// Convolution and pooling: the forward on tensors, then record() with the backward.
#include "autograd/conv.h"

namespace mt {
namespace {

// dx = the transposed convolution of g (only when x wants it), dw = g correlated with x, db = g's channel sums.
Grads conv2d_backward(const Tensor& g, const Tensor& x, const Tensor& w, const Conv2dOptions& options, bool need_dx,
                      bool need_dw, bool has_bias) {
  Grads grads{need_dx ? conv2d_backward_input(g, w, x.shape(), options) : Tensor(),
              need_dw ? conv2d_backward_weight(g, x, w.shape(), options) : Tensor()};
  if (has_bias) grads.push_back(channel_sum(g));
  return grads;
}

}  // namespace

Var conv2d(const Var& x, const Var& weight, const Var& bias, const Conv2dOptions& options) {
  return record("conv2d", conv2d(x.value(), weight.value(), bias.value(), options), {x, weight, bias},
                [xv = x.value(), wv = weight.value(), options, need_dx = x.requires_grad(),
                 need_dw = weight.requires_grad()](const Tensor& g) {
                  return conv2d_backward(g, xv, wv, options, need_dx, need_dw, true);
                });
}

Var conv2d(const Var& x, const Var& weight, const Conv2dOptions& options) {
  return record("conv2d", conv2d(x.value(), weight.value(), Tensor(), options), {x, weight},
                [xv = x.value(), wv = weight.value(), options, need_dx = x.requires_grad(),
                 need_dw = weight.requires_grad()](const Tensor& g) {
                  return conv2d_backward(g, xv, wv, options, need_dx, need_dw, false);
                });
}

Var max_pool2d(const Var& x, const Pool2dOptions& options) {
  return record("max_pool2d", max_pool2d(x.value(), options), {x}, [xv = x.value(), options](const Tensor& g) {
    return Grads{max_pool2d_backward(g, xv, options)};
  });
}

Var avg_pool2d(const Var& x, const Pool2dOptions& options) {
  return record("avg_pool2d", avg_pool2d(x.value(), options), {x}, [xs = x.shape(), options](const Tensor& g) {
    return Grads{avg_pool2d_backward(g, xs, options)};
  });
}

Var adaptive_avg_pool2d(const Var& x, std::array<int64_t, 2> output_size) {
  return record("adaptive_avg_pool2d", adaptive_avg_pool2d(x.value(), output_size), {x},
                [xs = x.shape()](const Tensor& g) { return Grads{adaptive_avg_pool2d_backward(g, xs)}; });
}

}  // namespace mt
