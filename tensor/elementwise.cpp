// Elementwise kernels: every one is elementwise() (tensor/elementwise.h), a strided loop around a scalar formula.
#include <cmath>
#include <string>

#include "tensor/elementwise.h"

namespace mt {
namespace {

template <class T>
T stable_sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

constexpr double kSqrt1_2 = 0.70710678118654752440;      // 1 / sqrt 2
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1 / sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluCubic = 0.044715;

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return elementwise("add", a, b, [](auto x, auto y) { return x + y; }); }
Tensor sub(const Tensor& a, const Tensor& b) { return elementwise("sub", a, b, [](auto x, auto y) { return x - y; }); }
Tensor mul(const Tensor& a, const Tensor& b) { return elementwise("mul", a, b, [](auto x, auto y) { return x * y; }); }
Tensor div(const Tensor& a, const Tensor& b) { return elementwise("div", a, b, [](auto x, auto y) { return x / y; }); }

template <class Cmp>
static Tensor compare(const char* name, const Tensor& a, const Tensor& b, Cmp cmp) {
  return elementwise(name, a, b, [cmp](auto x, auto y) { return cmp(x, y) ? decltype(x)(1) : decltype(x)(0); });
}

Tensor eq(const Tensor& a, const Tensor& b) { return compare("eq", a, b, [](auto x, auto y) { return x == y; }); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare("lt", a, b, [](auto x, auto y) { return x < y; }); }
Tensor le(const Tensor& a, const Tensor& b) { return compare("le", a, b, [](auto x, auto y) { return x <= y; }); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare("gt", a, b, [](auto x, auto y) { return x > y; }); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare("ge", a, b, [](auto x, auto y) { return x >= y; }); }

Tensor add(const Tensor& x, double s) {
  return elementwise("add", x, [s](auto v) { return v + static_cast<decltype(v)>(s); });
}
Tensor mul(const Tensor& x, double s) {
  return elementwise("mul", x, [s](auto v) { return v * static_cast<decltype(v)>(s); });
}
Tensor pow(const Tensor& x, double p) {
  if (p == 2) return elementwise("pow", x, [](auto v) { return v * v; });
  return elementwise("pow", x, [p](auto v) { return std::pow(v, static_cast<decltype(v)>(p)); });
}

Tensor neg(const Tensor& x) { return elementwise("neg", x, [](auto v) { return -v; }); }
Tensor exp(const Tensor& x) { return elementwise("exp", x, [](auto v) { return std::exp(v); }); }
Tensor log(const Tensor& x) { return elementwise("log", x, [](auto v) { return std::log(v); }); }
Tensor sqrt(const Tensor& x) { return elementwise("sqrt", x, [](auto v) { return std::sqrt(v); }); }
Tensor relu(const Tensor& x) { return elementwise("relu", x, [](auto v) { return v > 0 || v != v ? v : decltype(v)(0); }); }
Tensor sigmoid(const Tensor& x) { return elementwise("sigmoid", x, [](auto v) { return stable_sigmoid(v); }); }
Tensor tanh(const Tensor& x) { return elementwise("tanh", x, [](auto v) { return std::tanh(v); }); }

Tensor abs(const Tensor& x) { return elementwise("abs", x, [](auto v) { return std::abs(v); }); }
Tensor sign(const Tensor& x) {
  return elementwise("sign", x, [](auto v) { return v > 0 ? decltype(v)(1) : v < 0 ? decltype(v)(-1) : v; });
}
Tensor log1p(const Tensor& x) { return elementwise("log1p", x, [](auto v) { return std::log1p(v); }); }
Tensor expm1(const Tensor& x) { return elementwise("expm1", x, [](auto v) { return std::expm1(v); }); }
Tensor sin(const Tensor& x) { return elementwise("sin", x, [](auto v) { return std::sin(v); }); }
Tensor cos(const Tensor& x) { return elementwise("cos", x, [](auto v) { return std::cos(v); }); }
Tensor square(const Tensor& x) { return elementwise("square", x, [](auto v) { return v * v; }); }
Tensor rsqrt(const Tensor& x) { return elementwise("rsqrt", x, [](auto v) { return decltype(v)(1) / std::sqrt(v); }); }
Tensor reciprocal(const Tensor& x) { return elementwise("reciprocal", x, [](auto v) { return decltype(v)(1) / v; }); }

Tensor clamp(const Tensor& x, double lo, double hi) {
  return elementwise("clamp", x, [lo, hi](auto v) {
    using T = decltype(v);
    return v < static_cast<T>(lo) ? static_cast<T>(lo) : v > static_cast<T>(hi) ? static_cast<T>(hi) : v;
  });
}
Tensor maximum(const Tensor& a, const Tensor& b) {
  return elementwise("maximum", a, b, [](auto x, auto y) { return x > y || x != x ? x : y; });
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return elementwise("minimum", a, b, [](auto x, auto y) { return x < y || x != x ? x : y; });
}

Tensor leaky_relu(const Tensor& x, double slope) {
  return elementwise("leaky_relu", x, [slope](auto v) { return v > 0 ? v : v * static_cast<decltype(v)>(slope); });
}
Tensor elu(const Tensor& x, double alpha) {
  return elementwise("elu", x, [alpha](auto v) { return v > 0 ? v : static_cast<decltype(v)>(alpha) * std::expm1(v); });
}
Tensor gelu(const Tensor& x, bool tanh_approximation) {
  if (tanh_approximation)
    return elementwise("gelu", x, [](auto v) {
      using T = decltype(v);
      return T(0.5) * v * (T(1) + std::tanh(T(kSqrt2OverPi) * (v + T(kGeluCubic) * v * v * v)));
    });
  return elementwise("gelu", x, [](auto v) {
    using T = decltype(v);
    return T(0.5) * v * (T(1) + std::erf(v * T(kSqrt1_2)));
  });
}
Tensor silu(const Tensor& x) { return elementwise("silu", x, [](auto v) { return v * stable_sigmoid(v); }); }
Tensor softplus(const Tensor& x, double beta, double threshold) {
  return elementwise("softplus", x, [beta, threshold](auto v) {
    using T = decltype(v);
    const T bx = v * static_cast<T>(beta);
    return bx > static_cast<T>(threshold) ? v : std::log1p(std::exp(bx)) / static_cast<T>(beta);
  });
}

Tensor clamp_backward(const Tensor& g, const Tensor& x, double lo, double hi) {
  return elementwise("clamp_backward", g, x, [lo, hi](auto gv, auto xv) {
    using T = decltype(gv);
    return xv >= static_cast<T>(lo) && xv <= static_cast<T>(hi) ? gv : T(0);
  });
}
Tensor leaky_relu_backward(const Tensor& g, const Tensor& x, double slope) {
  return elementwise("leaky_relu_backward", g, x,
                [slope](auto gv, auto xv) { return xv > 0 ? gv : gv * static_cast<decltype(gv)>(slope); });
}
Tensor elu_backward(const Tensor& g, const Tensor& x, double alpha) {
  return elementwise("elu_backward", g, x, [alpha](auto gv, auto xv) {
    return xv > 0 ? gv : gv * static_cast<decltype(gv)>(alpha) * std::exp(xv);
  });
}
Tensor gelu_backward(const Tensor& g, const Tensor& x, bool tanh_approximation) {
  if (tanh_approximation)
    return elementwise("gelu_backward", g, x, [](auto gv, auto xv) {
      using T = decltype(gv);
      const T x2 = xv * xv, t = std::tanh(T(kSqrt2OverPi) * (xv + T(kGeluCubic) * x2 * xv));
      return gv * (T(0.5) * (T(1) + t) + T(0.5) * xv * (T(1) - t * t) * T(kSqrt2OverPi) * (T(1) + T(3 * kGeluCubic) * x2));
    });
  return elementwise("gelu_backward", g, x, [](auto gv, auto xv) {
    using T = decltype(gv);
    return gv * (T(0.5) * (T(1) + std::erf(xv * T(kSqrt1_2))) + xv * T(kInvSqrt2Pi) * std::exp(T(-0.5) * xv * xv));
  });
}
Tensor silu_backward(const Tensor& g, const Tensor& x) {
  return elementwise("silu_backward", g, x, [](auto gv, auto xv) {
    const auto s = stable_sigmoid(xv);
    return gv * s * (1 + xv * (1 - s));
  });
}
Tensor softplus_backward(const Tensor& g, const Tensor& x, double beta, double threshold) {
  return elementwise("softplus_backward", g, x, [beta, threshold](auto gv, auto xv) {
    using T = decltype(gv);
    const T bx = xv * static_cast<T>(beta);
    return bx > static_cast<T>(threshold) ? gv : gv * stable_sigmoid(bx);
  });
}
Tensor extremum_backward(const Tensor& g, const Tensor& a, const Tensor& b, bool maximum) {
  return elementwise("extremum_backward", g, a, b, [maximum](auto gv, auto av, auto bv) {
    using T = decltype(gv);
    if (av == bv) return gv * T(0.5);
    return (maximum ? av > bv : av < bv) || av != av ? gv : T(0);
  });
}

Tensor relu_backward(const Tensor& g, const Tensor& x) {
  return elementwise("relu_backward", g, x, [](auto gv, auto xv) { return xv > 0 ? gv : decltype(gv)(0); });
}
Tensor sigmoid_backward(const Tensor& g, const Tensor& y) {
  return elementwise("sigmoid_backward", g, y, [](auto gv, auto yv) { return gv * yv * (1 - yv); });
}
Tensor tanh_backward(const Tensor& g, const Tensor& y) {
  return elementwise("tanh_backward", g, y, [](auto gv, auto yv) { return gv * (1 - yv * yv); });
}

}  // namespace mt
