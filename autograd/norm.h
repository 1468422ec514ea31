#pragma once
// Normalisation: batch norm and layer norm. Forward and backward side by side in norm.cpp; the kernels are in
// tensor/norm.h.
#include <string_view>

#include "autograd/var.h"

namespace mt {

// y = (x - mean) / sqrt(var + eps) * weight + bias per channel (dim 1) of x [N, C, ...], as
// torch.nn.functional.batch_norm. In training, mean and var are the batch's (var biased), and the running
// statistics, when defined, become (1 - momentum) running + momentum batch (var unbiased); in eval the running
// statistics are used, and must be defined. They are plain tensors, updated in place, never differentiated.
Var batch_norm(const Var& x, const Var& weight, const Var& bias, const Tensor& running_mean,
               const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
Var batch_norm(const Var& x, const Tensor& running_mean, const Tensor& running_var, bool training,
               double momentum = 0.1, double eps = 1e-5);  // without weight and bias

// y = (x - mean) / sqrt(var + eps) * weight + bias over the trailing dims of x, which must be normalized_shape
// (mean and biased var of each such slice, in one pass), as torch.nn.functional.layer_norm. weight and bias are
// shaped normalized_shape; the second form has neither.
Var layer_norm(const Var& x, const Shape& normalized_shape, const Var& weight, const Var& bias, double eps = 1e-5);
Var layer_norm(const Var& x, const Shape& normalized_shape, double eps = 1e-5);

inline constexpr std::string_view kNormOps[] = {"batch_norm", "layer_norm"};

}  // namespace mt
