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
Tensor abs(const Tensor& x);      // |x|
Tensor sign(const Tensor& x);     // -1, 0 or 1 (NaN stays NaN)
Tensor log1p(const Tensor& x);    // ln(1 + x), exact for small x
Tensor expm1(const Tensor& x);    // e^x - 1, exact for small x
Tensor sin(const Tensor& x);      // sin x
Tensor cos(const Tensor& x);      // cos x
Tensor square(const Tensor& x);   // x^2
Tensor rsqrt(const Tensor& x);    // 1 / x^(1/2)
Tensor reciprocal(const Tensor& x);  // 1 / x
Tensor clamp(const Tensor& x, double lo, double hi);  // min(max(x, lo), hi); NaN stays NaN; -inf / inf: no bound
Tensor maximum(const Tensor& a, const Tensor& b);     // max(a, b), broadcasting; NaN wins
Tensor minimum(const Tensor& a, const Tensor& b);     // min(a, b), broadcasting; NaN wins

// Activations with a parameter (PyTorch's defaults in autograd/elementwise.h).
Tensor leaky_relu(const Tensor& x, double slope);               // x > 0 ? x : slope x
Tensor elu(const Tensor& x, double alpha);                      // x > 0 ? x : alpha (e^x - 1)
Tensor gelu(const Tensor& x, bool tanh_approximation);          // x Phi(x) = x (1 + erf(x / sqrt 2)) / 2, or
                                                                // x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2
Tensor silu(const Tensor& x);                                   // x sigmoid(x)
Tensor softplus(const Tensor& x, double beta, double threshold);  // ln(1 + e^(beta x)) / beta; x where beta x > threshold

// Gradients that are cheaper fused than composed.
Tensor relu_backward(const Tensor& g, const Tensor& x);     // g * (x > 0)
Tensor sigmoid_backward(const Tensor& g, const Tensor& y);  // g * y * (1 - y), y = sigmoid(x)
Tensor tanh_backward(const Tensor& g, const Tensor& y);     // g * (1 - y^2), y = tanh(x)
Tensor clamp_backward(const Tensor& g, const Tensor& x, double lo, double hi);  // g * (lo <= x <= hi)
Tensor leaky_relu_backward(const Tensor& g, const Tensor& x, double slope);      // g * (x > 0 ? 1 : slope)
Tensor elu_backward(const Tensor& g, const Tensor& x, double alpha);             // g * (x > 0 ? 1 : alpha e^x)
Tensor gelu_backward(const Tensor& g, const Tensor& x, bool tanh_approximation); // g * d gelu / dx
Tensor silu_backward(const Tensor& g, const Tensor& x);    // g * s (1 + x (1 - s)), s = sigmoid(x)
Tensor softplus_backward(const Tensor& g, const Tensor& x, double beta, double threshold);  // g * sigmoid(beta x)
// The share of g that reaches a of max(a, b) (or min, `maximum` false): all where a wins, half at a tie
// (PyTorch's rule), none where b wins; with a and b swapped, b's share. Broadcast to g's shape.
Tensor extremum_backward(const Tensor& g, const Tensor& a, const Tensor& b, bool maximum);

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
