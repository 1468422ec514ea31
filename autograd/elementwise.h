#pragma once
// Elementwise ops: binary (broadcasting like NumPy; the gradient of a broadcast operand is summed back to its
// shape), with a scalar, unary, and activations. Forward and backward side by side in elementwise.cpp; the
// kernels are in tensor/elementwise.cpp.
#include <optional>
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
Var abs(const Var& x);                // |x|; gradient sign(x), 0 at 0
Var log1p(const Var& x);              // ln(1 + x)
Var expm1(const Var& x);              // e^x - 1
Var sin(const Var& x);                // sin x
Var cos(const Var& x);                // cos x
Var square(const Var& x);             // x^2
Var rsqrt(const Var& x);              // 1 / x^(1/2)
Var reciprocal(const Var& x);         // 1 / x
// min(max(x, min), max), either bound optional; the gradient flows where min <= x <= max.
Var clamp(const Var& x, std::optional<double> min, std::optional<double> max);
Var maximum(const Var& a, const Var& b);  // max(a, b), broadcasting; a tie gives each half the gradient
Var minimum(const Var& a, const Var& b);  // min(a, b), likewise

// Activations, with PyTorch's defaults.
enum class GeluApproximation { None, Tanh };
Var leaky_relu(const Var& x, double negative_slope = 0.01);  // x > 0 ? x : negative_slope x
Var elu(const Var& x, double alpha = 1.0);                   // x > 0 ? x : alpha (e^x - 1)
// x Phi(x) = x (1 + erf(x / sqrt 2)) / 2; Tanh: x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) / 2
Var gelu(const Var& x, GeluApproximation approximate = GeluApproximation::None);
Var silu(const Var& x);                                      // x sigmoid(x)
// ln(1 + e^(beta x)) / beta, and x itself where beta x > threshold (where the two agree to float precision)
Var softplus(const Var& x, double beta = 1.0, double threshold = 20.0);

inline constexpr std::string_view kElementwiseOps[] = {
    "add", "sub", "mul", "div", "add_scalar", "mul_scalar", "neg", "exp", "log", "sqrt", "pow", "relu",
    "sigmoid", "tanh", "abs", "log1p", "expm1", "sin", "cos", "square", "rsqrt", "reciprocal", "clamp",
    "maximum", "minimum", "leaky_relu", "elu", "gelu", "silu", "softplus"};

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
inline Var operator+(double s, const Var& x) { return add(x, s); }
inline Var operator-(double s, const Var& x) { return add(neg(x), s); }
inline Var operator/(double s, const Var& x) { return mul(reciprocal(x), s); }
// A Tensor operand is a constant: no gradient flows to it.
inline Var operator+(const Var& a, const Tensor& b) { return add(a, Var(b)); }
inline Var operator-(const Var& a, const Tensor& b) { return sub(a, Var(b)); }
inline Var operator*(const Var& a, const Tensor& b) { return mul(a, Var(b)); }
inline Var operator/(const Var& a, const Tensor& b) { return div(a, Var(b)); }
inline Var operator+(const Tensor& a, const Var& b) { return add(Var(a), b); }
inline Var operator-(const Tensor& a, const Var& b) { return sub(Var(a), b); }
inline Var operator*(const Tensor& a, const Var& b) { return mul(Var(a), b); }
inline Var operator/(const Tensor& a, const Var& b) { return div(Var(a), b); }

}  // namespace mt
