#pragma once
// Layers for images [N, C, H, W]: convolution, pooling, and Flatten, which turns their output into the
// [N, features] rows that Linear takes.
#include <array>
#include <cstdint>
#include <string>

#include "autograd/conv.h"
#include "nn/module.h"
#include "tensor/random.h"

namespace mt::nn {

// y = conv2d(x, W, b) with W [out, in/groups, kh, kw], b [out], as torch.nn.Conv2d. Initialised like PyTorch's
// default: W and then b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in/groups kh kw, drawn from `gen`.
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel_size, Generator& gen,
         const Conv2dOptions& options = {}, bool bias = true, DType dtype = DType::Float32);
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Generator& gen,
         const Conv2dOptions& options = {}, bool bias = true, DType dtype = DType::Float32)
      : Conv2d(in_channels, out_channels, {kernel_size, kernel_size}, gen, options, bias, dtype) {}

  Var forward(const Var& x) override;
  std::string describe() const override;

  const Var& weight() const { return weight_; }
  const Var& bias() const { return bias_; }  // undefined without bias
  const Conv2dOptions& options() const { return options_; }

 private:
  Conv2dOptions options_;
  Var weight_, bias_;
};

// Window maximum, as torch.nn.MaxPool2d (stride defaults to the kernel).
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const Pool2dOptions& options) : options_(options) {}
  explicit MaxPool2d(int64_t kernel) : MaxPool2d(Pool2dOptions{.kernel = {kernel, kernel}}) {}
  Var forward(const Var& x) override { return max_pool2d(x, options_); }
  std::string describe() const override;

 private:
  Pool2dOptions options_;
};

// Window mean, as torch.nn.AvgPool2d (padding counted in the divisor unless count_include_pad is false).
class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const Pool2dOptions& options) : options_(options) {}
  explicit AvgPool2d(int64_t kernel) : AvgPool2d(Pool2dOptions{.kernel = {kernel, kernel}}) {}
  Var forward(const Var& x) override { return avg_pool2d(x, options_); }
  std::string describe() const override;

 private:
  Pool2dOptions options_;
};

// [N, d1, d2, ...] -> [N, d1 d2 ...], as torch.nn.Flatten(); a view when x is contiguous.
class Flatten : public Module {
 public:
  Var forward(const Var& x) override;
  std::string describe() const override { return "Flatten()"; }
};

}  // namespace mt::nn
