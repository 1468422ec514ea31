#pragma once
// Convolution and pooling over images [N, C, H, W]. Forward and backward side by side in conv.cpp; the kernels
// (and the options' meaning) are in tensor/conv.h.
#include <array>
#include <cstdint>
#include <string_view>

#include "autograd/var.h"
#include "tensor/conv.h"

namespace mt {

// y = x * w + b for x [N, C, H, W], w [O, C/groups, kh, kw], b [O], as torch.nn.functional.conv2d.
// No gradient for x unless x requires one (the images of a first layer do not).
Var conv2d(const Var& x, const Var& weight, const Var& bias, const Conv2dOptions& options = {});
Var conv2d(const Var& x, const Var& weight, const Conv2dOptions& options = {});  // without bias
// Window maximum; the gradient goes to the first maximum of each window, NaN propagates.
Var max_pool2d(const Var& x, const Pool2dOptions& options = {});
Var avg_pool2d(const Var& x, const Pool2dOptions& options = {});  // window mean
// Mean over PyTorch's adaptive windows to [N, C, output_size]; {1, 1} is the global average pool.
Var adaptive_avg_pool2d(const Var& x, std::array<int64_t, 2> output_size = {1, 1});

inline constexpr std::string_view kConvOps[] = {"conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"};

}  // namespace mt
