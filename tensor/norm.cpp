// Batch norm: per-channel statistics by one thread per channel (detail::channel_fold), then elementwise passes
// split by rows of [N C, S]. Layer norm: one thread per row of [R, features], statistics and output together.
#include "tensor/norm.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tensor/channels.h"
#include "tensor/parallel.h"

namespace mt {
namespace {

// x as [N, C, S], contiguous.
struct ChannelLayout {
  Tensor data;
  int64_t n, c, s;
};

ChannelLayout channel_layout(const Tensor& x, const char* op) {
  if (!x.defined() || x.dim() < 2)
    throw Error(std::string(op) + ": expected an input [N, C, ...], got " +
                (x.defined() ? x.shape().str() : std::string("an undefined tensor")));
  const int64_t n = x.size(0), c = x.size(1);
  return {x.contiguous(), n, c, n * c != 0 ? x.numel() / (n * c) : 0};
}

// Checks that t is undefined (when optional) or a [C] vector of x's dtype.
void check_channel_vector(const char* op, const char* name, const Tensor& t, const Tensor& x, bool optional) {
  if (!t.defined() && optional) return;
  if (!t.defined() || t.dim() != 1 || t.size(0) != x.size(1) || t.dtype() != x.dtype())
    throw Error(std::string(op) + ": " + name + " " + (t.defined() ? t.str() : std::string("undefined")) +
                " must be a " + dtype_name(x.dtype()) + " vector of the " + std::to_string(x.size(1)) +
                " channels of input " + x.shape().str());
}

Tensor contiguous_if_defined(const Tensor& t) { return t.defined() ? t.contiguous() : t; }

template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

}  // namespace

ChannelMoments channel_moments(const Tensor& x) {
  const ChannelLayout l = channel_layout(x, "channel_moments");
  ChannelMoments m{Tensor::empty({l.c}, x.dtype()), Tensor::empty({l.c}, x.dtype())};
  if (l.n * l.s == 0) throw Error("channel_moments: input " + x.shape().str() + " has no elements per channel");
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = l.data.data<T>();
    T* mean = m.mean.mutable_data<T>();
    T* var = m.var.mutable_data<T>();
    const double count = static_cast<double>(l.n * l.s);
    parallel_for(l.c, 2 * x.numel(), [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        const double mu = detail::channel_fold(l.n, l.c, l.s, c, [&](int64_t i) { return src[i]; }) / count;
        const double ss = detail::channel_fold(l.n, l.c, l.s, c, [&](int64_t i) {
          const double d = static_cast<double>(src[i]) - mu;
          return d * d;
        });
        mean[c] = static_cast<T>(mu);
        var[c] = static_cast<T>(ss / count);
      }
    });
  });
  return m;
}

Tensor batch_norm(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight,
                  const Tensor& bias) {
  const ChannelLayout l = channel_layout(x, "batch_norm");
  check_channel_vector("batch_norm", "mean", mean, x, false);
  check_channel_vector("batch_norm", "invstd", invstd, x, false);
  check_channel_vector("batch_norm", "weight", weight, x, true);
  check_channel_vector("batch_norm", "bias", bias, x, true);
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  const Tensor vectors[] = {mean.contiguous(), invstd.contiguous(), contiguous_if_defined(weight),
                            contiguous_if_defined(bias)};
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = l.data.data<T>();
    const T *mu = vectors[0].data<T>(), *is = vectors[1].data<T>();
    const T *w = data_or_null<T>(vectors[2]), *b = data_or_null<T>(vectors[3]);
    T* dst = y.mutable_data<T>();
    parallel_for(l.n * l.c, x.numel(), [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t c = row % l.c;
        const T scale = w ? is[c] * w[c] : is[c], shift = b ? b[c] : T(0), m = mu[c];
        const T* in = src + row * l.s;
        T* out = dst + row * l.s;
        for (int64_t s = 0; s < l.s; ++s) out[s] = (in[s] - m) * scale + shift;
      }
    });
  });
  return y;
}

BatchNormGrads batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                                   const Tensor& weight, bool batch_statistics, bool need_input) {
  const ChannelLayout l = channel_layout(x, "batch_norm_backward");
  if (!g.defined() || g.shape() != x.shape() || g.dtype() != x.dtype())
    throw Error("batch_norm_backward: gradient " + (g.defined() ? g.str() : std::string("undefined")) +
                " does not match input " + x.str());
  check_channel_vector("batch_norm_backward", "mean", mean, x, false);
  check_channel_vector("batch_norm_backward", "invstd", invstd, x, false);
  check_channel_vector("batch_norm_backward", "weight", weight, x, true);
  const Tensor gc = g.contiguous();
  const Tensor vectors[] = {mean.contiguous(), invstd.contiguous(), contiguous_if_defined(weight)};
  BatchNormGrads grads{need_input ? Tensor::empty(x.shape(), x.dtype()) : Tensor(), Tensor::empty({l.c}, x.dtype()),
                       Tensor::empty({l.c}, x.dtype())};
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T *src = l.data.data<T>(), *grad = gc.data<T>();
    const T *mu = vectors[0].data<T>(), *is = vectors[1].data<T>(), *w = data_or_null<T>(vectors[2]);
    T *dweight = grads.weight.mutable_data<T>(), *dbias = grads.bias.mutable_data<T>();
    parallel_for(l.c, 2 * x.numel(), [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        const T m = mu[c];
        const auto [sum_g, sum_gx] = detail::channel_fold2(
            l.n, l.c, l.s, c, [&](int64_t i) { return grad[i]; }, [&](int64_t i) { return grad[i] * (src[i] - m); });
        dbias[c] = static_cast<T>(sum_g);
        dweight[c] = static_cast<T>(sum_gx * is[c]);
      }
    });
    if (!need_input) return;
    const T* sum_g = dbias;
    const T* sum_gx = dweight;  // sum g xhat
    T* dx = grads.input.mutable_data<T>();
    const T count = static_cast<T>(l.n * l.s);
    parallel_for(l.n * l.c, x.numel(), [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t c = row % l.c;
        const T scale = w ? is[c] * w[c] : is[c], m = mu[c];
        const T* gin = grad + row * l.s;
        T* out = dx + row * l.s;
        if (!batch_statistics) {
          for (int64_t s = 0; s < l.s; ++s) out[s] = gin[s] * scale;
          continue;
        }
        const T* in = src + row * l.s;
        const T mean_g = sum_g[c] / count, k = is[c] * sum_gx[c] / count;
        for (int64_t s = 0; s < l.s; ++s) out[s] = (gin[s] - mean_g - (in[s] - m) * k) * scale;
      }
    });
  });
  return grads;
}

namespace {

// x as [rows, features], contiguous, with weight and bias (when defined) of `features` values of x's dtype.
int64_t layer_norm_rows(const char* op, const Tensor& x, int64_t features, const Tensor& weight, const Tensor& bias) {
  if (!x.defined()) throw Error(std::string(op) + ": the input is undefined");
  if (features <= 0 || x.numel() % features != 0)
    throw Error(std::string(op) + ": input " + x.str() + " does not end in " + std::to_string(features) + " features");
  for (const Tensor* t : {&weight, &bias})
    if (t->defined() && (t->numel() != features || t->dtype() != x.dtype()))
      throw Error(std::string(op) + ": weight or bias " + t->str() + " must hold the " + std::to_string(features) +
                  " " + dtype_name(x.dtype()) + " features of input " + x.str());
  return x.numel() / features;
}

}  // namespace

LayerNormResult layer_norm(const Tensor& x, int64_t features, const Tensor& weight, const Tensor& bias, double eps) {
  const int64_t rows = layer_norm_rows("layer_norm", x, features, weight, bias);
  const Tensor xc = x.contiguous(), wc = contiguous_if_defined(weight), bc = contiguous_if_defined(bias);
  LayerNormResult r{Tensor::empty(x.shape(), x.dtype()), Tensor::empty({rows}, x.dtype()),
                    Tensor::empty({rows}, x.dtype())};
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T *src = xc.data<T>(), *w = data_or_null<T>(wc), *b = data_or_null<T>(bc);
    T *dst = r.output.mutable_data<T>(), *mean = r.mean.mutable_data<T>(), *rstd = r.rstd.mutable_data<T>();
    parallel_for(rows, 2 * x.numel(), [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const T* in = src + row * features;
        double mu = 0, m2 = 0;  // Welford: accurate in one pass even for a large mean
        for (int64_t j = 0; j < features; ++j) {
          const double d = in[j] - mu;
          mu += d / static_cast<double>(j + 1);
          m2 += d * (in[j] - mu);
        }
        const double is = 1 / std::sqrt(m2 / static_cast<double>(features) + eps);
        mean[row] = static_cast<T>(mu);
        rstd[row] = static_cast<T>(is);
        T* out = dst + row * features;
        for (int64_t j = 0; j < features; ++j) {
          const T xhat = static_cast<T>((in[j] - mu) * is);
          out[j] = w ? xhat * w[j] + (b ? b[j] : T(0)) : xhat + (b ? b[j] : T(0));
        }
      }
    });
  });
  return r;
}

LayerNormGrads layer_norm_backward(const Tensor& g, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                                   const Tensor& weight) {
  const int64_t features = weight.defined() ? weight.numel() : x.numel() / std::max<int64_t>(mean.numel(), 1);
  const int64_t rows = layer_norm_rows("layer_norm_backward", x, features, weight, Tensor());
  if (!g.defined() || g.shape() != x.shape() || g.dtype() != x.dtype())
    throw Error("layer_norm_backward: gradient " + (g.defined() ? g.str() : std::string("undefined")) +
                " does not match input " + x.str());
  const Tensor xc = x.contiguous(), gc = g.contiguous(), wc = contiguous_if_defined(weight);
  LayerNormGrads grads{Tensor::empty(x.shape(), x.dtype()), Tensor(), Tensor()};
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T *src = xc.data<T>(), *grad = gc.data<T>(), *w = data_or_null<T>(wc);
    const T *mu = mean.data<T>(), *is = rstd.data<T>();
    T* dx = grads.input.mutable_data<T>();
    parallel_for(rows, 3 * x.numel(), [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const T *in = src + row * features, *gin = grad + row * features;
        double sum_dxhat = 0, sum_dxhat_xhat = 0;
        for (int64_t j = 0; j < features; ++j) {
          const double dxhat = w ? gin[j] * w[j] : gin[j];
          sum_dxhat += dxhat;
          sum_dxhat_xhat += dxhat * (in[j] - mu[row]) * is[row];
        }
        const double mean_dxhat = sum_dxhat / static_cast<double>(features);
        const double mean_dxhat_xhat = sum_dxhat_xhat / static_cast<double>(features);
        T* out = dx + row * features;
        for (int64_t j = 0; j < features; ++j) {
          const double xhat = (in[j] - mu[row]) * is[row];
          const double dxhat = w ? gin[j] * w[j] : gin[j];
          out[j] = static_cast<T>(is[row] * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat));
        }
      }
    });
    if (!w) return;
    // Summed over rows in row order, in double: the same bits at any thread count.
    std::vector<double> dweight(static_cast<size_t>(features)), dbias(static_cast<size_t>(features));
    for (int64_t row = 0; row < rows; ++row) {
      const T *in = src + row * features, *gin = grad + row * features;
      for (int64_t j = 0; j < features; ++j) {
        dweight[static_cast<size_t>(j)] += gin[j] * ((in[j] - mu[row]) * is[row]);
        dbias[static_cast<size_t>(j)] += gin[j];
      }
    }
    grads.weight = Tensor::empty(weight.shape(), x.dtype());
    grads.bias = Tensor::empty(weight.shape(), x.dtype());
    std::copy(dweight.begin(), dweight.end(), grads.weight.mutable_data<T>());
    std::copy(dbias.begin(), dbias.end(), grads.bias.mutable_data<T>());
  });
  return grads;
}

}  // namespace mt
