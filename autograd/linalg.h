#pragma once
// Matrix products. Forward and backward side by side in linalg.cpp; the kernels are in tensor/matmul.cpp and
// the GEMM in tensor/gemm.cpp.
#include <string_view>

#include "autograd/var.h"

namespace mt {

Var matmul(const Var& a, const Var& b);  // [M,K] x [K,N]; [B,M,K] x [B,K,N] (either may be 2-D)
// x W^T + b for x [N, in], W [out, in], b [out] (nn::Linear's layer). Fused: no copy of W^T or of its
// gradient, and no gradient for x unless x requires one (the input of a first layer does not).
Var linear(const Var& x, const Var& weight, const Var& bias);
Var linear(const Var& x, const Var& weight);  // x W^T, without bias

inline constexpr std::string_view kLinalgOps[] = {"matmul", "linear"};

}  // namespace mt
