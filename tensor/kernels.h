#pragma once
// The math on tensors: plain functions, no gradients (autograd/ builds on these).
// Binary elementwise ops broadcast like NumPy and need both operands of the same dtype.
// Each declaration carries its formula; "x" is the input, "g" an upstream gradient.
#include <cstdint>
#include <span>
#include <vector>

#include "tensor/parallel.h"
#include "tensor/tensor.h"

namespace mt {

// Elementwise, binary (broadcasting).
Tensor add(const Tensor& a, const Tensor& b);  // a + b
Tensor sub(const Tensor& a, const Tensor& b);  // a - b
Tensor mul(const Tensor& a, const Tensor& b);  // a * b
Tensor div(const Tensor& a, const Tensor& b);  // a / b
Tensor eq(const Tensor& a, const Tensor& b);   // a == b ? 1 : 0
Tensor lt(const Tensor& a, const Tensor& b);   // a <  b ? 1 : 0
Tensor le(const Tensor& a, const Tensor& b);   // a <= b ? 1 : 0
Tensor gt(const Tensor& a, const Tensor& b);   // a >  b ? 1 : 0
Tensor ge(const Tensor& a, const Tensor& b);   // a >= b ? 1 : 0

// Elementwise, with a scalar.
Tensor add(const Tensor& x, double s);  // x + s
Tensor mul(const Tensor& x, double s);  // x * s
Tensor pow(const Tensor& x, double p);  // x ^ p

// Elementwise, unary.
Tensor neg(const Tensor& x);      // -x
Tensor exp(const Tensor& x);      // e^x
Tensor log(const Tensor& x);      // ln x
Tensor sqrt(const Tensor& x);     // x^(1/2)
Tensor relu(const Tensor& x);     // max(x, 0)
Tensor sigmoid(const Tensor& x);  // 1 / (1 + e^-x), computed without overflow
Tensor tanh(const Tensor& x);     // tanh x

// Gradients of the elementwise ops that are cheaper fused than composed.
Tensor relu_backward(const Tensor& g, const Tensor& x);     // g * (x > 0)
Tensor sigmoid_backward(const Tensor& g, const Tensor& y);  // g * y * (1 - y), y = sigmoid(x)
Tensor tanh_backward(const Tensor& g, const Tensor& y);     // g * (1 - y^2), y = tanh(x)

// Reductions over `dims` (all dims when empty); keepdim leaves them as size 1.
Tensor sum(const Tensor& x, std::span<const int> dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, std::span<const int> dims = {}, bool keepdim = false);
Tensor max(const Tensor& x, int dim, bool keepdim = false);
std::vector<int64_t> argmax(const Tensor& x, int dim);  // indices in row-major order of the other dims
void argmax(const Tensor& x, int dim, std::vector<int64_t>& indices);  // the same, reusing indices' memory
// Sums x over the dims along which `shape` was broadcast to x's shape: the gradient of broadcasting.
Tensor sum_to(const Tensor& x, const Shape& shape);

// Matrix products. 2-D: [M, K] x [K, N] -> [M, N]. Batched: [B, M, K] x [B, K, N] -> [B, M, N], and a 2-D
// operand is shared by every batch. Any strides (transposed views are read without copying).
Tensor matmul(const Tensor& a, const Tensor& b);
// y = x W^T + b for x [N, in], W [out, in] (PyTorch's layout), b [out] or undefined: one GEMM whose output
// starts as the bias rows, reading W^T in place.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

// Softmax family along `dim`, stable for large inputs (the row maximum is subtracted first).
Tensor softmax(const Tensor& x, int dim);      // y = e^x / sum e^x
Tensor log_softmax(const Tensor& x, int dim);  // y = x - log sum e^x
Tensor softmax_backward(const Tensor& g, const Tensor& y, int dim);      // y * (g - sum(g * y))
Tensor log_softmax_backward(const Tensor& g, const Tensor& y, int dim);  // g - e^y * sum(g)

// Softmax cross-entropy of logits [N, C] against integer labels in [0, C), averaged over the batch:
// loss = -mean_i log_softmax(logits)[i, labels[i]]. Returns a scalar tensor.
Tensor cross_entropy(const Tensor& logits, std::span<const int64_t> labels);
// Its gradient with respect to the logits: g * (softmax(logits) - onehot(labels)) / N.
Tensor cross_entropy_backward(const Tensor& logits, std::span<const int64_t> labels, double g);

// Operators for readable formulas.
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& x, double s) { return add(x, s); }
inline Tensor operator-(const Tensor& x, double s) { return add(x, -s); }
inline Tensor operator*(const Tensor& x, double s) { return mul(x, s); }
inline Tensor operator/(const Tensor& x, double s) { return mul(x, 1.0 / s); }
inline Tensor operator*(double s, const Tensor& x) { return mul(x, s); }

}  // namespace mt
