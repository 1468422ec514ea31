// Batch norm and layer norm: the forward on tensors, then record() with the backward.
#include "autograd/norm.h"

#include <string>

namespace mt {
namespace {

struct Normalisation {
  Tensor mean, invstd;
};

// The statistics to normalise with, and in training the running statistics' update.
Normalisation statistics(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, bool training,
                         double momentum, double eps) {
  if (training) {
    const int64_t count = x.dim() >= 2 && x.size(1) > 0 ? x.numel() / x.size(1) : 0;
    if (count < 2)
      throw Error("batch_norm: input " + x.shape().str() + " has " + std::to_string(count) +
                  " value(s) per channel; training needs more than one");
    const ChannelMoments m = channel_moments(x);
    if (running_mean.defined() != running_var.defined())
      throw Error("batch_norm: give both running statistics or neither");
    if (running_mean.defined()) {
      const double unbiased = static_cast<double>(count) / static_cast<double>(count - 1);
      running_mean.copy_(running_mean * (1 - momentum) + m.mean * momentum);
      running_var.copy_(running_var * (1 - momentum) + m.var * (momentum * unbiased));
    }
    return {m.mean, pow(m.var + eps, -0.5)};
  }
  if (!running_mean.defined() || !running_var.defined())
    throw Error("batch_norm: eval mode needs the running mean and variance");
  return {running_mean, pow(running_var + eps, -0.5)};
}

}  // namespace

Var batch_norm(const Var& x, const Var& weight, const Var& bias, const Tensor& running_mean,
               const Tensor& running_var, bool training, double momentum, double eps) {
  const Normalisation n = statistics(x.value(), running_mean, running_var, training, momentum, eps);
  return record("batch_norm", batch_norm(x.value(), n.mean, n.invstd, weight.value(), bias.value()), {x, weight, bias},
                [xv = x.value(), wv = weight.value(), n, training, need_dx = x.requires_grad()](const Tensor& g) {
                  BatchNormGrads grads = batch_norm_backward(g, xv, n.mean, n.invstd, wv, training, need_dx);
                  return Grads{grads.input, grads.weight, grads.bias};
                });
}

Var batch_norm(const Var& x, const Tensor& running_mean, const Tensor& running_var, bool training, double momentum,
               double eps) {
  const Normalisation n = statistics(x.value(), running_mean, running_var, training, momentum, eps);
  return record("batch_norm", batch_norm(x.value(), n.mean, n.invstd, Tensor(), Tensor()), {x},
                [xv = x.value(), n, training](const Tensor& g) {
                  return Grads{batch_norm_backward(g, xv, n.mean, n.invstd, Tensor(), training, true).input};
                });
}

namespace {

// The number of features normalized_shape holds, once x is known to end in it and weight / bias match it.
int64_t layer_norm_features(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias) {
  const int lead = x.dim() - normalized_shape.size();
  bool ok = lead >= 0 && normalized_shape.size() > 0;
  for (int d = 0; ok && d < normalized_shape.size(); ++d) ok = x.size(lead + d) == normalized_shape[d];
  if (!ok) throw Error("layer_norm: input " + x.shape().str() + " does not end in normalized_shape " + normalized_shape.str());
  for (const Tensor* t : {&weight, &bias})
    if (t->defined() && t->shape() != normalized_shape)
      throw Error("layer_norm: weight or bias " + t->shape().str() + " is not normalized_shape " + normalized_shape.str());
  return normalized_shape.numel();
}

}  // namespace

Var layer_norm(const Var& x, const Shape& normalized_shape, const Var& weight, const Var& bias, double eps) {
  const int64_t features = layer_norm_features(x.value(), normalized_shape, weight.value(), bias.value());
  LayerNormResult r = layer_norm(x.value(), features, weight.value(), bias.value(), eps);
  return record("layer_norm", r.output, {x, weight, bias},
                [xv = x.value(), wv = weight.value(), mean = r.mean, rstd = r.rstd](const Tensor& g) {
                  LayerNormGrads grads = layer_norm_backward(g, xv, mean, rstd, wv);
                  return Grads{grads.input, grads.weight, grads.bias};
                });
}

Var layer_norm(const Var& x, const Shape& normalized_shape, double eps) {
  const int64_t features = layer_norm_features(x.value(), normalized_shape, Tensor(), Tensor());
  LayerNormResult r = layer_norm(x.value(), features, Tensor(), Tensor(), eps);
  return record("layer_norm", r.output, {x}, [xv = x.value(), mean = r.mean, rstd = r.rstd](const Tensor& g) {
    return Grads{layer_norm_backward(g, xv, mean, rstd, Tensor()).input};
  });
}

}  // namespace mt
