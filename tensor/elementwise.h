#pragma once
// Elementwise kernels (elementwise.cpp). Binary ops broadcast like NumPy and need both operands of the same
// dtype. Each declaration carries its formula; "x" is the input, "g" an upstream gradient.
#include <string>

#include "tensor/strided.h"
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
inline Tensor operator+(double s, const Tensor& x) { return add(x, s); }
inline Tensor operator-(double s, const Tensor& x) { return add(neg(x), s); }
inline Tensor operator/(double s, const Tensor& x) { return mul(reciprocal(x), s); }

// Writing an elementwise kernel, built in or a user's (README.md, "Adding an op"): elementwise(name, x, op) is
// y[i] = op(x[i]) for x of any layout; elementwise(name, a, b, op) is op(a[i], b[i]) and elementwise(name, a, b,
// c, op) op(a[i], b[i], c[i]), the operands broadcast like NumPy and of one dtype. op is called with float or
// double values, as the tensors are, so it is written once as a generic lambda:
//   Tensor y = elementwise("cube", x, [](auto v) { return v * v * v; });
// The result is a new contiguous tensor; `name` is the op that errors name (an undefined operand, dtypes that
// differ, shapes that do not broadcast). The loops run in parallel over rows, so op must not keep state.
namespace detail {
inline void check_elementwise_operand(const Tensor& t, const char* op) {
  if (!t.defined()) throw Error(std::string(op) + ": an operand is undefined");
}

}  // namespace detail

template <class Op>
Tensor elementwise(const char* name, const Tensor& a, const Tensor& b, Op op) {
  detail::check_elementwise_operand(a, name);
  detail::check_elementwise_operand(b, name);
  if (a.dtype() != b.dtype())
    throw Error(std::string(name) + ": dtypes differ: " + a.str() + " and " + b.str());
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(shape, a.dtype());
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.mutable_data<T>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    detail::for_each_row<3>(
        shape, {out.strides(), detail::broadcast_strides(a, shape, name), detail::broadcast_strides(b, shape, name)},
        [&](std::array<int64_t, 3> off, int64_t n, std::array<int64_t, 3> inc) {
          T* y = o + off[0];
          const T* x0 = pa + off[1];
          const T* x1 = pb + off[2];
          // The output is contiguous, so its inner stride is 1; specialise the common operand layouts.
          if (inc[1] == 1 && inc[2] == 1) {
            for (int64_t i = 0; i < n; ++i) y[i] = op(x0[i], x1[i]);
          } else if (inc[1] == 1 && inc[2] == 0) {
            const T v = *x1;
            for (int64_t i = 0; i < n; ++i) y[i] = op(x0[i], v);
          } else {
            for (int64_t i = 0; i < n; ++i) y[i] = op(x0[i * inc[1]], x1[i * inc[2]]);
          }
        });
  });
  return out;
}

template <class Op>
Tensor elementwise(const char* name, const Tensor& x, Op op) {
  detail::check_elementwise_operand(x, name);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.mutable_data<T>();
    const T* px = x.data<T>();
    detail::for_each_row<2>(x.shape(), {out.strides(), x.strides()},
                            [&](std::array<int64_t, 2> off, int64_t n, std::array<int64_t, 2> inc) {
                              T* y = o + off[0];
                              const T* v = px + off[1];
                              if (inc[1] == 1) {
                                for (int64_t i = 0; i < n; ++i) y[i] = op(v[i]);
                              } else {
                                for (int64_t i = 0; i < n; ++i) y[i] = op(v[i * inc[1]]);
                              }
                            });
  });
  return out;
}

template <class Op>
Tensor elementwise(const char* name, const Tensor& a, const Tensor& b, const Tensor& c, Op op) {
  detail::check_elementwise_operand(a, name);
  detail::check_elementwise_operand(b, name);
  detail::check_elementwise_operand(c, name);
  if (a.dtype() != b.dtype() || a.dtype() != c.dtype())
    throw Error(std::string(name) + ": dtypes differ: " + a.str() + ", " + b.str() + " and " + c.str());
  const Shape shape = broadcast_shapes(broadcast_shapes(a.shape(), b.shape(), name), c.shape(), name);
  Tensor out = Tensor::empty(shape, a.dtype());
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.mutable_data<T>();
    const T *pa = a.data<T>(), *pb = b.data<T>(), *pc = c.data<T>();
    detail::for_each_row<4>(shape,
                            {out.strides(), detail::broadcast_strides(a, shape, name),
                             detail::broadcast_strides(b, shape, name), detail::broadcast_strides(c, shape, name)},
                            [&](std::array<int64_t, 4> off, int64_t n, std::array<int64_t, 4> inc) {
                              T* y = o + off[0];
                              const T *x0 = pa + off[1], *x1 = pb + off[2], *x2 = pc + off[3];
                              if (inc[1] == 1 && inc[2] == 1 && inc[3] == 1) {
                                for (int64_t i = 0; i < n; ++i) y[i] = op(x0[i], x1[i], x2[i]);
                              } else {
                                for (int64_t i = 0; i < n; ++i) y[i] = op(x0[i * inc[1]], x1[i * inc[2]], x2[i * inc[3]]);
                              }
                            });
  });
  return out;
}


}  // namespace mt
