#pragma once
// The differentiable ops: each computes its result with tensor kernels and records its backward (ops.cpp,
// one function each, forward and backward side by side). Binary ops broadcast like NumPy; the gradient of
// a broadcast operand is summed back to its shape. kOps lists them all, and tests/autograd_test.cpp
// gradchecks each one listed there.
#include <cstdint>
#include <span>
#include <string_view>

#include "autograd/var.h"

namespace mt {

Var add(const Var& a, const Var& b);  // a + b
Var sub(const Var& a, const Var& b);  // a - b
Var mul(const Var& a, const Var& b);  // a * b
Var div(const Var& a, const Var& b);  // a / b
Var add(const Var& x, double s);      // x + s
Var mul(const Var& x, double s);      // x * s
Var neg(const Var& x);                // -x
Var exp(const Var& x);                // e^x
Var log(const Var& x);                // ln x
Var sqrt(const Var& x);               // x^(1/2)
Var pow(const Var& x, double p);      // x^p
Var relu(const Var& x);               // max(x, 0)
Var sigmoid(const Var& x);            // 1 / (1 + e^-x)
Var tanh(const Var& x);               // tanh x

Var matmul(const Var& a, const Var& b);  // [M,K] x [K,N]; [B,M,K] x [B,K,N] (either may be 2-D)
// x W^T + b for x [N, in], W [out, in], b [out] (nn::Linear's layer). Fused: no copy of W^T or of its
// gradient, and no gradient for x unless x requires one (the input of a first layer does not).
Var linear(const Var& x, const Var& weight, const Var& bias);
Var linear(const Var& x, const Var& weight);  // without bias

Var sum(const Var& x, std::span<const int> dims = {}, bool keepdim = false);   // all dims when empty
Var mean(const Var& x, std::span<const int> dims = {}, bool keepdim = false);  // all dims when empty
Var max(const Var& x, int dim, bool keepdim = false);  // the gradient goes to the first maximum

Var reshape(const Var& x, const Shape& shape);
Var transpose(const Var& x, int dim0, int dim1);
Var permute(const Var& x, std::span<const int> dims);
Var narrow(const Var& x, int dim, int64_t start, int64_t length);  // x[..., start:start+length, ...]

Var softmax(const Var& x, int dim);      // e^x / sum e^x
Var log_softmax(const Var& x, int dim);  // x - log sum e^x
// -mean_i log_softmax(logits)[i, labels[i]] for logits [N, C], fused and stable.
Var cross_entropy(const Var& logits, std::span<const int64_t> labels);

// The names of every op above, for tests that must cover them all.
inline constexpr std::string_view kOps[] = {
    "add",  "sub",     "mul",       "div",    "add_scalar", "mul_scalar", "neg",       "exp",
    "log",  "sqrt",    "pow",       "relu",   "sigmoid",    "tanh",       "matmul",    "linear",  "sum",
    "mean", "max",     "reshape",   "transpose", "permute", "narrow",     "softmax",   "log_softmax",
    "cross_entropy"};

inline Var operator+(const Var& a, const Var& b) { return add(a, b); }
inline Var operator-(const Var& a, const Var& b) { return sub(a, b); }
inline Var operator*(const Var& a, const Var& b) { return mul(a, b); }
inline Var operator/(const Var& a, const Var& b) { return div(a, b); }
inline Var operator-(const Var& x) { return neg(x); }
inline Var operator+(const Var& x, double s) { return add(x, s); }
inline Var operator-(const Var& x, double s) { return add(x, -s); }
inline Var operator*(const Var& x, double s) { return mul(x, s); }
inline Var operator*(double s, const Var& x) { return mul(x, s); }
inline Var operator/(const Var& x, double s) { return mul(x, 1.0 / s); }

}  // namespace mt
