#pragma once
// Matrix products (matmul.cpp, on the packed GEMM of gemm.cpp).
#include "tensor/tensor.h"

namespace mt {

// 2-D: [M, K] x [K, N] -> [M, N]. Batched: [B, M, K] x [B, K, N] -> [B, M, N], and a 2-D operand is shared by
// every batch. Any strides (transposed views are read without copying).
Tensor matmul(const Tensor& a, const Tensor& b);
// y = x W^T + b for x [N, in], W [out, in] (PyTorch's layout), b [out] or undefined: one GEMM whose output
// starts as the bias rows, reading W^T in place.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

}  // namespace mt
