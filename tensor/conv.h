#pragma once
// Kernels over images [N, C, H, W] (PyTorch's NCHW layout): convolution and pooling, each with the kernels of
// its gradient. Plain functions on tensors, no autograd (autograd/conv.h builds the differentiable ops on
// them). Each output element is computed by one thread in a fixed order, so results are bit-identical for
// every thread count. Inputs may have any strides; outputs are contiguous.
#include <array>
#include <cstdint>

#include "tensor/tensor.h"

namespace mt {

// Sizes are {height, width}.
struct Conv2dOptions {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};   // zeros on each side
  std::array<int64_t, 2> dilation{1, 1};  // spacing between kernel taps
  int64_t groups = 1;                     // C and O split into `groups` independent convolutions
};

// The output size along one dim: (in + 2 padding - dilation (kernel - 1) - 1) / stride + 1, as PyTorch.
int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation);

// y[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] x[n, g C/G + c, i s - p + u d, j s - p + v d]
// for x [N, C, H, W], w [O, C/G, kh, kw], b [O] or undefined; g = o / (O/G), x zero outside its bounds.
// Each image is unfolded (im2col) into a per-thread buffer and multiplied by w on the packed GEMM.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& options);
// dx = the transposed convolution of g [N, O, OH, OW] with w: the gradient of conv2d by its input. With stride
// 1, at least 8 channels a group and padding within d (k - 1), computed as the convolution of g with w flipped
// (see conv.cpp).
Tensor conv2d_backward_input(const Tensor& g, const Tensor& weight, const Shape& input_shape,
                             const Conv2dOptions& options);
// dw[o, c, u, v] = sum_{n, i, j} g[n, o, i, j] x[n, g C/G + c, i s - p + u d, j s - p + v d]. Summed over fixed
// blocks of images, then over the blocks in order: the blocks depend on N alone, never on the threads.
Tensor conv2d_backward_weight(const Tensor& g, const Tensor& x, const Shape& weight_shape,
                              const Conv2dOptions& options);
// db[c] = sum_{n, i, j} g[n, c, i, j]: the bias gradient, for any x [N, C, ...].
Tensor channel_sum(const Tensor& g);

struct Pool2dOptions {
  std::array<int64_t, 2> kernel{2, 2};
  std::array<int64_t, 2> stride{0, 0};  // 0: the kernel size, as PyTorch's default
  std::array<int64_t, 2> padding{0, 0};  // at most half the kernel, as PyTorch
  bool count_include_pad = true;         // avg_pool2d: padding zeros count in the divisor (PyTorch's default)
};

// y[n, c, i, j] = max over the window at (i s - p, j s - p) of x, the padding never chosen. A NaN in the
// window gives NaN.
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options);
// dx: each g goes to the first maximum of its window in row-major order (to its first NaN, if any); windows
// that overlap add up. Recomputes the maxima from x instead of keeping indices.
Tensor max_pool2d_backward(const Tensor& g, const Tensor& x, const Pool2dOptions& options);
// y = the mean of the window: sum / (kh kw), or / (the window's elements inside x) without count_include_pad.
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options);
Tensor avg_pool2d_backward(const Tensor& g, const Shape& input_shape, const Pool2dOptions& options);
// y [N, C, OH, OW]: output (i, j) averages rows [floor(i H / OH), ceil((i + 1) H / OH)) and the same for
// columns, as PyTorch; {1, 1} is the global average pool.
Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> output_size);
Tensor adaptive_avg_pool2d_backward(const Tensor& g, const Shape& input_shape);

}  // namespace mt
