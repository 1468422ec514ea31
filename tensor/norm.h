#pragma once
// Batch-norm kernels over x [N, C, ...] (channel dim 1: [N, C] for BatchNorm1d, [N, C, H, W] for BatchNorm2d),
// plain functions on tensors (autograd/norm.h builds the differentiable op on them). Statistics of a channel
// are summed by one thread in a fixed order, in double, so results do not depend on the thread count.
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

}  // namespace mt
