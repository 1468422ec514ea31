#include "nn/conv.h"

#include <cmath>

#include "autograd/shape.h"
#include "nn/init.h"

namespace mt::nn {
namespace {

std::string pair_str(std::array<int64_t, 2> v) {
  std::string s = "(";  // built with += because GCC 12 warns falsely (-Wrestrict) on "(" + string
  s += std::to_string(v[0]);
  s += ", ";
  s += std::to_string(v[1]);
  return s + ")";
}

std::string pool_describe(const char* name, const Pool2dOptions& o, bool average) {
  std::string s = std::string(name) + "(kernel_size=" + pair_str(o.kernel) + ", stride=" +
                  pair_str({o.stride[0] ? o.stride[0] : o.kernel[0], o.stride[1] ? o.stride[1] : o.kernel[1]}) +
                  ", padding=" + pair_str(o.padding);
  if (average) s += std::string(", count_include_pad=") + (o.count_include_pad ? "true" : "false");
  return s + ")";
}

}  // namespace

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel_size, Generator& gen,
               const Conv2dOptions& options, bool bias, DType dtype)
    : options_(options) {
  const int64_t groups = options.groups;
  if (in_channels <= 0 || out_channels <= 0 || kernel_size[0] <= 0 || kernel_size[1] <= 0 || groups <= 0 ||
      in_channels % groups != 0 || out_channels % groups != 0)
    throw Error("Conv2d: in_channels=" + std::to_string(in_channels) + ", out_channels=" + std::to_string(out_channels) +
                ", kernel_size=" + pair_str(kernel_size) + ", groups=" + std::to_string(groups) +
                ": sizes must be positive and both channel counts divisible by groups");
  // PyTorch's reset_parameters(): all of W, then all of b.
  Tensor w = Tensor::empty({out_channels, in_channels / groups, kernel_size[0], kernel_size[1]}, dtype);
  init::kaiming_uniform_(w, gen, std::sqrt(5.0));
  weight_ = Var(w, true);
  register_parameter("weight", weight_);
  if (bias) {
    const double bound = 1 / std::sqrt(static_cast<double>(init::fans(w.shape()).in));
    bias_ = Var(Tensor::uniform({out_channels}, -bound, bound, gen, dtype), true);
    register_parameter("bias", bias_);
  }
}

Var Conv2d::forward(const Var& x) {
  return bias_.defined() ? conv2d(x, weight_, bias_, options_) : conv2d(x, weight_, options_);
}

std::string Conv2d::describe() const {
  const Shape& w = weight_.shape();
  return "Conv2d(" + std::to_string(w[1] * options_.groups) + ", " + std::to_string(w[0]) + ", kernel_size=" +
         pair_str({w[2], w[3]}) + ", stride=" + pair_str(options_.stride) + ", padding=" + pair_str(options_.padding) +
         ", dilation=" + pair_str(options_.dilation) + ", groups=" + std::to_string(options_.groups) +
         ", bias=" + (bias_.defined() ? "true" : "false") + ")";
}

std::string MaxPool2d::describe() const { return pool_describe("MaxPool2d", options_, false); }
std::string AvgPool2d::describe() const { return pool_describe("AvgPool2d", options_, true); }

Var Flatten::forward(const Var& x) {
  if (x.dim() < 1) throw Error("Flatten: expected an input with a batch dim, got a scalar");
  return reshape(x, {x.size(0), -1});
}

}  // namespace mt::nn
