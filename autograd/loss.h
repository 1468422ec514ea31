#pragma once
// The softmax family and losses. Forward and backward side by side in loss.cpp; the kernels (stable, with the
// row maximum subtracted first) are in tensor/softmax.cpp.
#include <cstdint>
#include <span>
#include <string_view>

#include "autograd/var.h"

namespace mt {

Var softmax(const Var& x, int dim);      // e^x / sum e^x
Var log_softmax(const Var& x, int dim);  // x - log sum e^x
// -mean_i log_softmax(logits)[i, labels[i]] for logits [N, C], fused and stable.
Var cross_entropy(const Var& logits, std::span<const int64_t> labels);

inline constexpr std::string_view kLossOps[] = {"softmax", "log_softmax", "cross_entropy"};

}  // namespace mt
