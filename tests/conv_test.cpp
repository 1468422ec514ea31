// Convolution, pooling and batch-norm kernels against PyTorch (numbers from tests/reference/conv_reference.py,
// inputs rebuilt here from the same formulas), plus what PyTorch cannot check for us: NaN and tie rules,
// strided inputs, the in-place 1x1 path, float32 against float64, and the same bits at 1, 2 and 3 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "tensor/conv.h"
#include "tensor/kernels.h"
#include "tensor/norm.h"
#include "tensor/parallel.h"
#include "tensor/random.h"
#include "tests/error_message.h"

namespace mt {
namespace {

#include "reference/conv_reference.inc"

Tensor filled(const Shape& shape, const std::function<double(int64_t)>& f) {
  std::vector<double> v(static_cast<size_t>(shape.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = f(static_cast<int64_t>(i));
  return Tensor::from_vector(v, shape);
}
Tensor input(const Shape& s) { return filled(s, [](int64_t i) { return std::sin(0.37 * i + 0.1); }); }
Tensor weight(const Shape& s) { return filled(s, [](int64_t i) { return 0.5 * std::cos(0.23 * i + 0.4); }); }
Tensor bias(int64_t n) { return filled({n}, [](int64_t i) { return 0.1 * i - 0.2; }); }
Tensor upstream(const Shape& s) { return filled(s, [](int64_t i) { return std::sin(0.11 * i + 0.3); }); }

void expect_values(const Tensor& t, std::span<const double> expected, double tol = 1e-12) {
  const std::vector<double> got = t.to_vector();
  ASSERT_EQ(got.size(), expected.size()) << t.str();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], tol) << "element " << i << " of " << t.str();
}

void expect_bits(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.shape(), b.shape());
  ASSERT_EQ(a.dtype(), b.dtype());
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  EXPECT_EQ(std::memcmp(ca.data<float>(), cb.data<float>(), sizeof(float) * static_cast<size_t>(a.numel())), 0);
}

TEST(Conv2d, MatchesPyTorchWithStrideTwoPaddingOneDilationTwoGroupsTwo) {
  const Tensor x = input({2, 4, 7, 6}), w = weight({6, 2, 3, 3}), b = bias(6);
  const Conv2dOptions opt{.stride = {2, 2}, .padding = {1, 1}, .dilation = {2, 2}, .groups = 2};
  const Tensor y = conv2d(x, w, b, opt);
  EXPECT_EQ(y.shape(), Shape({2, 6, 3, 2}));
  expect_values(y, kConvGroupedY);
  const Tensor g = upstream(y.shape());
  expect_values(conv2d_backward_input(g, w, x.shape(), opt), kConvGroupedDx);
  expect_values(conv2d_backward_weight(g, x, w.shape(), opt), kConvGroupedDw);
  expect_values(channel_sum(g), kConvGroupedDb);
}

TEST(Conv2d, MatchesPyTorchWithRectangularKernelStrideAndPadding) {
  const Tensor x = input({1, 3, 5, 8}), w = weight({4, 3, 2, 3}), b = bias(4);
  const Conv2dOptions opt{.stride = {1, 2}, .padding = {2, 0}};
  const Tensor y = conv2d(x, w, b, opt);
  EXPECT_EQ(y.shape(), Shape({1, 4, 8, 3}));
  expect_values(y, kConvRectY);
  const Tensor g = upstream(y.shape());
  expect_values(conv2d_backward_input(g, w, x.shape(), opt), kConvRectDx);
  expect_values(conv2d_backward_weight(g, x, w.shape(), opt), kConvRectDw);
  expect_values(channel_sum(g), kConvRectDb);
}

// Reference for any configuration: the definition, summed directly.
Tensor naive_conv2d(const Tensor& x, const Tensor& w, const Conv2dOptions& o) {
  const int64_t n = x.size(0), h = x.size(2), wd = x.size(3);
  const int64_t oc = w.size(0), cg = w.size(1), kh = w.size(2), kw = w.size(3), og = oc / o.groups;
  const int64_t oh = conv_output_size(h, kh, o.stride[0], o.padding[0], o.dilation[0]);
  const int64_t ow = conv_output_size(wd, kw, o.stride[1], o.padding[1], o.dilation[1]);
  std::vector<double> y(static_cast<size_t>(n * oc * oh * ow));
  size_t k = 0;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t q = 0; q < oc; ++q)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j, ++k)
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t u = 0; u < kh; ++u)
              for (int64_t v = 0; v < kw; ++v) {
                const int64_t r = i * o.stride[0] - o.padding[0] + u * o.dilation[0];
                const int64_t s = j * o.stride[1] - o.padding[1] + v * o.dilation[1];
                if (r < 0 || r >= h || s < 0 || s >= wd) continue;
                y[k] += w.at({q, ci, u, v}) * x.at({b, (q / og) * cg + ci, r, s});
              }
  return Tensor::from_vector(y, {n, oc, oh, ow});
}

TEST(Conv2d, OneByOneKernelReadsTheInputInPlaceAndStridedInputsAreRead) {
  Generator gen(3);
  // A permuted (non-contiguous) input and weight, a 1x1 kernel (no unfolding), groups 3.
  const Tensor x = Tensor::normal({2, 5, 4, 6}, 0, 1, gen, DType::Float64).permute({0, 3, 2, 1});  // [2, 6, 4, 5]
  const Tensor w = Tensor::normal({1, 1, 2, 9}, 0, 1, gen, DType::Float64).permute({3, 2, 0, 1});  // [9, 2, 1, 1]
  const Conv2dOptions opt{.groups = 3};
  ASSERT_FALSE(x.is_contiguous());
  const Tensor y = conv2d(x, w, Tensor(), opt);
  expect_values(y, naive_conv2d(x, w, opt).to_vector());
  // The gradients are the adjoints: <g, conv(x)> = <dx, x> = <dw, w> for a bias-free convolution.
  const Tensor g = Tensor::normal(y.shape(), 0, 1, gen, DType::Float64);
  const double inner = sum(g * y).item();
  EXPECT_NEAR(sum(conv2d_backward_input(g, w, x.shape(), opt) * x).item(), inner, 1e-10);
  EXPECT_NEAR(sum(conv2d_backward_weight(g, x, w.shape(), opt) * w).item(), inner, 1e-10);
}

TEST(Conv2d, GradientsAreAdjointsForManyConfigurations) {
  Generator gen(4);
  struct Case {
    Shape x, w;
    Conv2dOptions opt;
  };
  const Case cases[] = {
      {{3, 2, 9, 8}, {4, 2, 3, 3}, {}},
      {{1, 4, 6, 7}, {4, 1, 3, 2}, {.stride = {2, 3}, .padding = {1, 1}, .groups = 4}},
      {{2, 3, 10, 5}, {2, 3, 1, 3}, {.padding = {0, 2}, .dilation = {1, 2}}},
      {{40, 1, 6, 6}, {3, 1, 5, 5}, {.padding = {2, 2}}},  // more images than one weight-gradient block
      // Stride 1 with outputs as wide as the input, unfolded by whole shifted planes: dilated, and with kernel
      // columns that lie wholly in the padding and fewer output rows than input rows.
      {{1, 3, 6, 7}, {2, 3, 3, 3}, {.padding = {2, 2}, .dilation = {2, 2}}},
      {{2, 2, 4, 1}, {3, 2, 2, 5}, {.padding = {0, 2}}},
      // Stride 1 and 8 channels a group: the input gradient as a convolution of g, with groups and dilation;
      // then padding beyond the kernel's reach, which takes the transposed form.
      {{2, 16, 7, 6}, {4, 8, 3, 2}, {.padding = {2, 1}, .dilation = {2, 1}, .groups = 2}},
      {{2, 8, 4, 5}, {3, 8, 1, 2}, {.padding = {1, 2}}},
  };
  for (const Case& c : cases) {
    const Tensor x = Tensor::normal(c.x, 0, 1, gen, DType::Float64), w = Tensor::normal(c.w, 0, 1, gen, DType::Float64);
    const Tensor y = conv2d(x, w, Tensor(), c.opt);
    expect_values(y, naive_conv2d(x, w, c.opt).to_vector(), 1e-10);
    const Tensor g = Tensor::normal(y.shape(), 0, 1, gen, DType::Float64);
    const double inner = sum(g * y).item();
    EXPECT_NEAR(sum(conv2d_backward_input(g, w, x.shape(), c.opt) * x).item(), inner, 1e-9) << x.str();
    EXPECT_NEAR(sum(conv2d_backward_weight(g, x, w.shape(), c.opt) * w).item(), inner, 1e-9) << x.str();
  }
}

TEST(Conv2d, Float32AgreesWithFloat64) {
  Generator gen(5);
  const Tensor x = Tensor::normal({4, 8, 12, 12}, 0, 1, gen, DType::Float64);
  const Tensor w = Tensor::normal({16, 8, 3, 3}, 0, 0.2, gen, DType::Float64), b = Tensor::normal({16}, 0, 1, gen, DType::Float64);
  const Conv2dOptions opt{.padding = {1, 1}};
  const Tensor y64 = conv2d(x, w, b, opt), y32 = conv2d(x.to(DType::Float32), w.to(DType::Float32), b.to(DType::Float32), opt);
  expect_values(y32, y64.to_vector(), 1e-4);
  const Tensor g = Tensor::normal(y64.shape(), 0, 1, gen, DType::Float64), g32 = g.to(DType::Float32);
  expect_values(conv2d_backward_input(g32, w.to(DType::Float32), x.shape(), opt),
                conv2d_backward_input(g, w, x.shape(), opt).to_vector(), 1e-4);
  expect_values(conv2d_backward_weight(g32, x.to(DType::Float32), w.shape(), opt),
                conv2d_backward_weight(g, x, w.shape(), opt).to_vector(), 1e-3);
}

TEST(Conv2d, SameBitsAtOneTwoAndThreeThreads) {
  Generator gen(6);
  const Tensor x = Tensor::normal({32, 16, 14, 14}, 0, 1, gen), w = Tensor::normal({32, 16, 3, 3}, 0, 0.1, gen);
  const Tensor b = Tensor::normal({32}, 0, 1, gen), g = Tensor::normal({32, 32, 14, 14}, 0, 1, gen);
  const Conv2dOptions opt{.padding = {1, 1}};
  const int saved = num_threads();
  set_num_threads(1);
  const Tensor y = conv2d(x, w, b, opt), dx = conv2d_backward_input(g, w, x.shape(), opt);
  const Tensor dw = conv2d_backward_weight(g, x, w.shape(), opt), db = channel_sum(g);
  for (int threads : {2, 3}) {
    set_num_threads(threads);
    expect_bits(conv2d(x, w, b, opt), y);
    expect_bits(conv2d_backward_input(g, w, x.shape(), opt), dx);
    expect_bits(conv2d_backward_weight(g, x, w.shape(), opt), dw);
    expect_bits(channel_sum(g), db);
  }
  set_num_threads(saved);
}

TEST(Conv2d, ErrorsNameTheOpAndShapes) {
  const Tensor x = Tensor::zeros({2, 4, 5, 5}), w = Tensor::zeros({6, 2, 3, 3});
  EXPECT_EQ(test::error_message([&] { conv2d(x, w, Tensor(), {}); }),
            "conv2d: input [2, 4, 5, 5], weight [6, 2, 3, 3]: the weight's dim 1 must be C/groups = 4");
  EXPECT_EQ(test::error_message([&] { conv2d(x, w, Tensor(), {.groups = 3}); }),
            "conv2d: input [2, 4, 5, 5], weight [6, 2, 3, 3]: groups = 3 must divide both channel counts");
  EXPECT_NE(test::error_message([&] { conv2d(x, Tensor::zeros({6, 4, 7, 7}), Tensor(), {}); }).find("does not fit"), std::string::npos);
  EXPECT_NE(test::error_message([&] { conv2d(x.flatten(), w, Tensor(), {}); }).find("expected input [N, C, H, W]"), std::string::npos);
  EXPECT_NE(test::error_message([&] { conv2d(x, w, Tensor::zeros({5}), {.groups = 2}); }).find("bias"), std::string::npos);
  EXPECT_NE(test::error_message([&] { conv2d(x, w, Tensor(), {.stride = {0, 1}, .groups = 2}); }).find("stride"), std::string::npos);
  EXPECT_NE(test::error_message([&] { conv2d(x, w.to(DType::Float64), Tensor(), {.groups = 2}); }).find("dtypes differ"), std::string::npos);
  EXPECT_NE(test::error_message([&] { conv2d_backward_input(Tensor::zeros({2, 6, 4, 4}), w, x.shape(), {.groups = 2}); })
                .find("does not match the output [2, 6, 3, 3]"), std::string::npos);
  EXPECT_NE(test::error_message([&] { max_pool2d(x, {.kernel = {2, 2}, .padding = {2, 2}}); }).find("at most half"), std::string::npos);
}

TEST(Pool2d, MaxMatchesPyTorchWithPadding) {
  const Tensor x = input({2, 3, 7, 6});
  const Pool2dOptions opt{.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}};
  const Tensor y = max_pool2d(x, opt);
  EXPECT_EQ(y.shape(), Shape({2, 3, 4, 3}));
  expect_values(y, kMaxPoolY);
  expect_values(max_pool2d_backward(upstream(y.shape()), x, opt), kMaxPoolDx);
}

TEST(Pool2d, MaxGivesTheGradientToTheFirstMaximumAndPropagatesNaN) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // One 2x4 plane, two 2x2 windows: the first has a tie (3 at positions 1 and 4), the second a NaN after its max.
  const Tensor x = Tensor::from_vector(std::vector<double>{1, 3, 9, 2, 3, 0, nan, 5}, {1, 1, 2, 4});
  const Tensor y = max_pool2d(x, {});
  EXPECT_EQ(y.at({0, 0, 0, 0}), 3);
  EXPECT_TRUE(std::isnan(y.at({0, 0, 0, 1})));
  const Tensor dx = max_pool2d_backward(Tensor::from_vector(std::vector<double>{10, 20}, {1, 1, 1, 2}), x, {});
  expect_values(dx, std::vector<double>{0, 10, 0, 0, 0, 0, 20, 0});
  // Stride 1: windows overlap, and an element that is the maximum of two windows gets both gradients.
  const Tensor z = Tensor::from_vector(std::vector<double>{0, 7, 1}, {1, 1, 1, 3});
  const Pool2dOptions overlap{.kernel = {1, 2}, .stride = {1, 1}};
  expect_values(max_pool2d(z, overlap), std::vector<double>{7, 7});
  expect_values(max_pool2d_backward(Tensor::from_vector(std::vector<double>{1, 2}, {1, 1, 1, 2}), z, overlap),
                std::vector<double>{0, 3, 0});
}

// The plain 2x2 kernel runs in vectorised blocks of 8 or 4 outputs, the last block overlapping the one before,
// and writes the whole gradient instead of adding into zeros: every output width from 1 to 21, from even and odd
// inputs (an odd width leaves a column out, as an odd height leaves a row), against the rule written out here,
// with ties and NaNs.
TEST(Pool2d, PlainTwoByTwoGivesFirstMaximaAtEveryWidth) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType dtype : {DType::Float32, DType::Float64})
    for (int64_t w = 2; w <= 43; ++w) {
      const int64_t h = 3 + w % 2, oh = h / 2, ow = w / 2;
      // Values 0..2 give many ties; every 7th element is NaN.
      const Tensor x = filled({2, 1, h, w}, [&](int64_t i) { return i % 7 == 3 ? nan : static_cast<double>((i * 5) % 3); }).to(dtype);
      const Tensor g = filled({2, 1, oh, ow}, [](int64_t i) { return 1.0 + static_cast<double>(i); }).to(dtype);
      const std::vector<double> xv = x.to_vector(), y = max_pool2d(x, {}).to_vector();
      const std::vector<double> dx = max_pool2d_backward(g, x, {}).to_vector();
      std::vector<double> expected_dx(xv.size(), 0.0);
      for (int64_t p = 0; p < 2; ++p)
        for (int64_t i = 0; i < oh; ++i)
          for (int64_t j = 0; j < ow; ++j) {
            int64_t best = (p * h + 2 * i) * w + 2 * j;
            for (int64_t at : {best + 1, best + w, best + w + 1})
              if (!std::isnan(xv[best]) && (std::isnan(xv[at]) || xv[at] > xv[best])) best = at;
            const double value = y[(p * oh + i) * ow + j];
            if (std::isnan(xv[best])) EXPECT_TRUE(std::isnan(value)) << "w " << w;
            else EXPECT_EQ(value, xv[best]) << "w " << w << " output " << i << ", " << j;
            expected_dx[best] = g.to_vector()[(p * oh + i) * ow + j];
          }
      EXPECT_EQ(dx, expected_dx) << "w " << w << " " << dtype_name(dtype);
    }
}

TEST(Pool2d, AverageMatchesPyTorchWithAndWithoutPaddingInTheCount) {
  for (bool include : {true, false}) {
    const Tensor x = input({2, 3, 7, 6});
    const Pool2dOptions opt{.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .count_include_pad = include};
    const Tensor y = avg_pool2d(x, opt);
    expect_values(y, include ? std::span<const double>(kAvgPoolIncludeY) : std::span<const double>(kAvgPoolExcludeY));
    expect_values(avg_pool2d_backward(upstream(y.shape()), x.shape(), opt),
                  include ? std::span<const double>(kAvgPoolIncludeDx) : std::span<const double>(kAvgPoolExcludeDx));
  }
}

TEST(Pool2d, AdaptiveAverageMatchesPyTorchAndOneByOneIsTheMean) {
  const Tensor x = input({2, 3, 7, 6});
  const Tensor y = adaptive_avg_pool2d(x, {3, 4});
  expect_values(y, kAdaptivePoolY);
  expect_values(adaptive_avg_pool2d_backward(upstream(y.shape()), x.shape()), kAdaptivePoolDx);
  const int dims[] = {2, 3};
  expect_values(adaptive_avg_pool2d(x, {1, 1}), mean(x, dims, true).to_vector());
}

struct BatchNormReference {
  std::span<const double> y, running_mean, running_var, dx, dw, db;
};

// Batch norm as nn::BatchNorm does it with these kernels: statistics, running-statistics update, forward.
void check_batch_norm(const Shape& shape, bool training, const BatchNormReference& ref) {
  const double momentum = 0.1, eps = 1e-5;
  const Tensor x = input(shape), w = weight({3}), b = bias(3);
  const Tensor running_mean = filled({3}, [](int64_t i) { return 0.2 * i - 0.1; });
  const Tensor running_var = filled({3}, [](int64_t i) { return 0.5 + 0.3 * i; });
  Tensor mu = running_mean, var = running_var;
  if (training) {
    const ChannelMoments m = channel_moments(x);
    mu = m.mean, var = m.var;
    const double count = static_cast<double>(x.numel() / 3);
    expect_values(running_mean * (1 - momentum) + mu * momentum, ref.running_mean);
    expect_values(running_var * (1 - momentum) + var * (momentum * count / (count - 1)), ref.running_var);
  }
  const Tensor invstd = pow(var + eps, -0.5);
  const Tensor y = batch_norm(x, mu, invstd, w, b);
  expect_values(y, ref.y);
  const BatchNormGrads grads = batch_norm_backward(upstream(shape), x, mu, invstd, w, training, true);
  expect_values(grads.input, ref.dx, 1e-11);
  expect_values(grads.weight, ref.dw, 1e-11);
  expect_values(grads.bias, ref.db, 1e-11);
}

TEST(BatchNorm, MatchesPyTorchInTrainingAndEvalMode) {
  check_batch_norm({4, 3, 5, 5}, true,
                   {kBatchNorm2dTrainY, kBatchNorm2dTrainRunningMean, kBatchNorm2dTrainRunningVar, kBatchNorm2dTrainDx,
                    kBatchNorm2dTrainDw, kBatchNorm2dTrainDb});
  check_batch_norm({4, 3, 5, 5}, false,
                   {kBatchNorm2dEvalY, {}, {}, kBatchNorm2dEvalDx, kBatchNorm2dEvalDw, kBatchNorm2dEvalDb});
  check_batch_norm({6, 3}, true,
                   {kBatchNorm1dTrainY, kBatchNorm1dTrainRunningMean, kBatchNorm1dTrainRunningVar, kBatchNorm1dTrainDx,
                    kBatchNorm1dTrainDw, kBatchNorm1dTrainDb});
  check_batch_norm({6, 3}, false,
                   {kBatchNorm1dEvalY, {}, {}, kBatchNorm1dEvalDx, kBatchNorm1dEvalDw, kBatchNorm1dEvalDb});
}

TEST(BatchNorm, StatisticsAreAccurateForLargeOffsetsAndTheSameAtAnyThreadCount) {
  Generator gen(7);
  // float32 values around 1000 with unit spread: a one-pass E[x^2] - E[x]^2 in float would lose the variance.
  const Tensor x = Tensor::normal({32, 8, 14, 14}, 1000, 1, gen);
  const ChannelMoments m = channel_moments(x);
  const ChannelMoments m64 = channel_moments(x.to(DType::Float64));
  expect_values(m.var, m64.var.to_vector(), 1e-4);
  expect_values(m.mean, m64.mean.to_vector(), 1e-4);
  const int saved = num_threads();
  const Tensor g = Tensor::normal(x.shape(), 0, 1, gen), invstd = pow(m.var + 1e-5, -0.5);
  set_num_threads(1);
  const BatchNormGrads one = batch_norm_backward(g, x, m.mean, invstd, Tensor(), true, true);
  set_num_threads(2);
  const BatchNormGrads two = batch_norm_backward(g, x, m.mean, invstd, Tensor(), true, true);
  expect_bits(one.input, two.input);
  expect_bits(one.weight, two.weight);
  expect_bits(channel_moments(x).var, m.var);
  set_num_threads(saved);
  // Without weight and bias the output is standardised: mean 0, variance 1 per channel.
  const ChannelMoments out = channel_moments(batch_norm(x.to(DType::Float64), m64.mean, pow(m64.var, -0.5), Tensor(), Tensor()));
  expect_values(out.mean, std::vector<double>(8, 0.0), 1e-9);
  expect_values(out.var, std::vector<double>(8, 1.0), 1e-9);
}

}  // namespace
}  // namespace mt
