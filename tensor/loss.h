#pragma once
// Loss kernels over class scores (loss.cpp): the negative log-likelihood with class weights and an ignored
// label. The elementwise losses are compositions of elementwise kernels (autograd/loss.cpp).
#include <cstdint>
#include <span>

#include "tensor/tensor.h"

namespace mt {

// Per-example terms of the weighted negative log-likelihood of log_probs [N, C] at labels [N]:
// l_i = -w[y_i] log_probs[i, y_i], 0 where y_i == ignore_index (weight: [C], or undefined for all ones).
// Returns l [N] and, in total_weight, sum of w[y_i] over the examples not ignored. A label outside [0, C)
// other than ignore_index is an error naming it.
Tensor nll_loss_terms(const Tensor& log_probs, std::span<const int64_t> labels, const Tensor& weight,
                      int64_t ignore_index, double& total_weight);
// d sum_i(g_i l_i) / d log_probs: -g_i w[y_i] at [i, y_i], 0 elsewhere; g is [N], or one value for all.
Tensor nll_loss_backward(const Tensor& g, const Shape& log_probs_shape, std::span<const int64_t> labels,
                         const Tensor& weight, int64_t ignore_index);

}  // namespace mt
