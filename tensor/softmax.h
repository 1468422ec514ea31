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
// loss = -mean_i log_softmax(logits)[i, labels[i]]. Returns a scalar tensor. With `row_stats`, also stores
// there each row's max m and log sum e^(x - m) ([N, 2], the logits' dtype) for cross_entropy_backward.
Tensor cross_entropy(const Tensor& logits, std::span<const int64_t> labels, Tensor* row_stats = nullptr);
// Its gradient with respect to the logits: g * (softmax(logits) - onehot(labels)) / N; from the forward's
// row_stats when given (the same bits), else computing them again.
Tensor cross_entropy_backward(const Tensor& logits, std::span<const int64_t> labels, double g,
                              const Tensor& row_stats = Tensor());

}  // namespace mt
