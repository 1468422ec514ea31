// Elementwise kernels: every one is a strided loop (detail::for_each_row) around a scalar formula.
#include <cmath>
#include <string>

#include "tensor/elementwise.h"
#include "tensor/strided.h"

namespace mt {
namespace {

void check_operand(const Tensor& t, const char* op) {
  if (!t.defined()) throw Error(std::string(op) + ": an operand is undefined");
}

template <class Op>
Tensor binary(const char* name, const Tensor& a, const Tensor& b, Op op) {
  check_operand(a, name);
  check_operand(b, name);
  if (a.dtype() != b.dtype())
    throw Error(std::string(name) + ": dtypes differ: " + a.str() + " and " + b.str());
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(shape, a.dtype());
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
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
Tensor unary(const char* name, const Tensor& x, Op op) {
  check_operand(x, name);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
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

template <class T>
T stable_sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary("add", a, b, [](auto x, auto y) { return x + y; }); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary("sub", a, b, [](auto x, auto y) { return x - y; }); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary("mul", a, b, [](auto x, auto y) { return x * y; }); }
Tensor div(const Tensor& a, const Tensor& b) { return binary("div", a, b, [](auto x, auto y) { return x / y; }); }

template <class Cmp>
static Tensor compare(const char* name, const Tensor& a, const Tensor& b, Cmp cmp) {
  return binary(name, a, b, [cmp](auto x, auto y) { return cmp(x, y) ? decltype(x)(1) : decltype(x)(0); });
}

Tensor eq(const Tensor& a, const Tensor& b) { return compare("eq", a, b, [](auto x, auto y) { return x == y; }); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare("lt", a, b, [](auto x, auto y) { return x < y; }); }
Tensor le(const Tensor& a, const Tensor& b) { return compare("le", a, b, [](auto x, auto y) { return x <= y; }); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare("gt", a, b, [](auto x, auto y) { return x > y; }); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare("ge", a, b, [](auto x, auto y) { return x >= y; }); }

Tensor add(const Tensor& x, double s) {
  return unary("add", x, [s](auto v) { return v + static_cast<decltype(v)>(s); });
}
Tensor mul(const Tensor& x, double s) {
  return unary("mul", x, [s](auto v) { return v * static_cast<decltype(v)>(s); });
}
Tensor pow(const Tensor& x, double p) {
  if (p == 2) return unary("pow", x, [](auto v) { return v * v; });
  return unary("pow", x, [p](auto v) { return std::pow(v, static_cast<decltype(v)>(p)); });
}

Tensor neg(const Tensor& x) { return unary("neg", x, [](auto v) { return -v; }); }
Tensor exp(const Tensor& x) { return unary("exp", x, [](auto v) { return std::exp(v); }); }
Tensor log(const Tensor& x) { return unary("log", x, [](auto v) { return std::log(v); }); }
Tensor sqrt(const Tensor& x) { return unary("sqrt", x, [](auto v) { return std::sqrt(v); }); }
Tensor relu(const Tensor& x) { return unary("relu", x, [](auto v) { return v > 0 ? v : decltype(v)(0); }); }
Tensor sigmoid(const Tensor& x) { return unary("sigmoid", x, [](auto v) { return stable_sigmoid(v); }); }
Tensor tanh(const Tensor& x) { return unary("tanh", x, [](auto v) { return std::tanh(v); }); }

Tensor relu_backward(const Tensor& g, const Tensor& x) {
  return binary("relu_backward", g, x, [](auto gv, auto xv) { return xv > 0 ? gv : decltype(gv)(0); });
}
Tensor sigmoid_backward(const Tensor& g, const Tensor& y) {
  return binary("sigmoid_backward", g, y, [](auto gv, auto yv) { return gv * yv * (1 - yv); });
}
Tensor tanh_backward(const Tensor& g, const Tensor& y) {
  return binary("tanh_backward", g, y, [](auto gv, auto yv) { return gv * (1 - yv * yv); });
}

}  // namespace mt
