#pragma once
// Batch-norm kernels over x [N, C, ...] (channel dim 1: [N, C] for BatchNorm1d, [N, C, H, W] for BatchNorm2d)
// and layer-norm kernels over x's trailing dims, plain functions on tensors (autograd/norm.h builds the
// differentiable ops on them). Statistics of a channel or row are summed by one thread in a fixed order, in
// double, so results do not depend on the thread count.
#include "tensor/tensor.h"

namespace mt {

// mean[c] and the biased variance var[c] = mean((x - mean[c])^2) over every dim but 1 (two passes, for
// accuracy). Both [C], of x's dtype.
struct ChannelMoments {
  Tensor mean, var;
};
ChannelMoments channel_moments(const Tensor& x);

// y = (x - mean[c]) invstd[c] weight[c] + bias[c]; weight and bias may be undefined (1 and 0).
Tensor batch_norm(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight,
                  const Tensor& bias);

// Gradients of batch_norm with xhat = (x - mean) invstd, M = N H W: dweight = sum g xhat, dbias = sum g, and
//   with batch statistics (training): dx = weight invstd (g - sum(g) / M - xhat sum(g xhat) / M);
//   with fixed statistics (eval):     dx = weight invstd g.
// dx is left undefined unless need_input.
struct BatchNormGrads {
  Tensor input, weight, bias;
};
BatchNormGrads batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                                   const Tensor& weight, bool batch_statistics, bool need_input);

// Layer norm over the trailing dims of x whose sizes multiply to `features` (PyTorch's normalized_shape): x is
// read as [R, features], each row normalised by its own mean and biased variance, found in one pass (Welford's,
// in double): y = (x - mean[r]) rstd[r] weight + bias, rstd = 1 / sqrt(var + eps). weight and bias hold `features`
// values each, or are undefined (1 and 0). mean and rstd ([R]) are kept for the backward.
struct LayerNormResult {
  Tensor output, mean, rstd;
};
LayerNormResult layer_norm(const Tensor& x, int64_t features, const Tensor& weight, const Tensor& bias, double eps);

// Gradients of layer_norm with xhat = (x - mean) rstd and dxhat = g weight, per row of D = features:
//   dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), dweight = sum over rows of g xhat, dbias = sum of g.
// dweight and dbias are left undefined without a weight, and are shaped like it.
struct LayerNormGrads {
  Tensor input, weight, bias;
};
LayerNormGrads layer_norm_backward(const Tensor& g, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                                   const Tensor& weight);

}  // namespace mt
