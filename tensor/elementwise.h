#pragma once
// Elementwise kernels (elementwise.cpp). Binary ops broadcast like NumPy and need both operands of the same
// dtype. Each declaration carries its formula; "x" is the input, "g" an upstream gradient.
#include "tensor/tensor.h"

namespace mt {

// Binary (broadcasting).
Tensor add(const Tensor& a, const Tensor& b);  // a + b
Tensor sub(const Tensor& a, const Tensor& b);  // a - b
Tensor mul(const Tensor& a, const Tensor& b);  // a * b
Tensor div(const Tensor& a, const Tensor& b);  // a / b
Tensor eq(const Tensor& a, const Tensor& b);   // a == b ? 1 : 0
Tensor lt(const Tensor& a, const Tensor& b);   // a <  b ? 1 : 0
Tensor le(const Tensor& a, const Tensor& b);   // a <= b ? 1 : 0
Tensor gt(const Tensor& a, const Tensor& b);   // a >  b ? 1 : 0
Tensor ge(const Tensor& a, const Tensor& b);   // a >= b ? 1 : 0

// With a scalar.
Tensor add(const Tensor& x, double s);  // x + s
Tensor mul(const Tensor& x, double s);  // x * s
Tensor pow(const Tensor& x, double p);  // x ^ p

// Unary.
Tensor neg(const Tensor& x);      // -x
Tensor exp(const Tensor& x);      // e^x
Tensor log(const Tensor& x);      // ln x
Tensor sqrt(const Tensor& x);     // x^(1/2)
Tensor relu(const Tensor& x);     // max(x, 0)
Tensor sigmoid(const Tensor& x);  // 1 / (1 + e^-x), computed without overflow
Tensor tanh(const Tensor& x);     // tanh x

// Gradients that are cheaper fused than composed.
Tensor relu_backward(const Tensor& g, const Tensor& x);     // g * (x > 0)
Tensor sigmoid_backward(const Tensor& g, const Tensor& y);  // g * y * (1 - y), y = sigmoid(x)
Tensor tanh_backward(const Tensor& g, const Tensor& y);     // g * (1 - y^2), y = tanh(x)

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
