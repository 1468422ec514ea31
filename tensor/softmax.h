#pragma once
// The softmax family and the fused softmax cross-entropy (softmax.cpp), along `dim`, stable for large inputs
// (the row maximum is subtracted first).
#include <cstdint>
#include <span>

#include "tensor/tensor.h"

namespace mt {

Tensor softmax(const Tensor& x, int dim);      // y = e^x / sum e^x
Tensor log_softmax(const Tensor& x, int dim);  // y = x - log sum e^x
Tensor softmax_backward(const Tensor& g, const Tensor& y, int dim);      // y * (g - sum(g * y))
Tensor log_softmax_backward(const Tensor& g, const Tensor& y, int dim);  // g - e^y * sum(g)

// Softmax cross-entropy of logits [N, C] against integer labels in [0, C), averaged over the batch:
// loss = -mean_i log_softmax(logits)[i, labels[i]]. Returns a scalar tensor.
Tensor cross_entropy(const Tensor& logits, std::span<const int64_t> labels);
// Its gradient with respect to the logits: g * (softmax(logits) - onehot(labels)) / N.
Tensor cross_entropy_backward(const Tensor& logits, std::span<const int64_t> labels, double g);

}  // namespace mt
