#pragma once
// Elementwise ops: binary (broadcasting like NumPy; the gradient of a broadcast operand is summed back to its
// shape), with a scalar, unary, and activations. Forward and backward side by side in elementwise.cpp; the
// kernels are in tensor/elementwise.cpp.
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

inline constexpr std::string_view kElementwiseOps[] = {
    "add", "sub", "mul", "div", "add_scalar", "mul_scalar", "neg", "exp", "log", "sqrt", "pow", "relu",
    "sigmoid", "tanh"};

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
