// The tape's behaviour, and a gradcheck of every op in kOps on ordinary, broadcast and non-contiguous inputs.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "autograd/autograd.h"
#include "tensor/random.h"

namespace mt {
namespace {

Tensor randn(const Shape& shape, uint64_t seed, double scale = 1) {
  Generator gen(seed);
  return Tensor::normal(shape, 0, scale, gen, DType::Float64);
}

// Values in [low, high): keeps log, sqrt and pow away from their singular points.
Tensor positive(const Shape& shape, uint64_t seed, double low = 0.5, double high = 2) {
  Generator gen(seed);
  return Tensor::uniform(shape, low, high, gen, DType::Float64);
}

// One gradcheck case: a function of the inputs, and the inputs.
struct Case {
  std::string what;
  GradcheckFn f;
  std::vector<Tensor> inputs;
};

using BinaryOp = Var (*)(const Var&, const Var&);

// Convolution, pooling and batch norm: contiguous, non-contiguous (transposed H and W) and batch-1 inputs.
void add_conv_cases(std::map<std::string, std::vector<Case>>& cases) {
  const Conv2dOptions strided{.stride = {2, 1}, .padding = {1, 2}, .dilation = {2, 1}, .groups = 2};
  auto conv = [](Conv2dOptions o) {
    return [o](const std::vector<Var>& v) { return conv2d(v[0], v[1], v[2], o); };
  };
  cases["conv2d"] = {
      {"3x3, padding 1", conv({.padding = {1, 1}}), {randn({2, 3, 5, 6}, 1), randn({4, 3, 3, 3}, 2), randn({4}, 3)}},
      {"stride, padding, dilation, groups", conv(strided), {randn({2, 4, 7, 5}, 4), randn({6, 2, 2, 3}, 5), randn({6}, 6)}},
      {"non-contiguous input and weight", conv({.stride = {2, 2}}),
       {randn({2, 2, 6, 7}, 7).transpose(2, 3), randn({3, 2, 3, 2}, 8).transpose(2, 3), randn({3}, 9)}},
      {"batch of 1, no bias", [](const std::vector<Var>& v) { return conv2d(v[0], v[1], Conv2dOptions{.padding = {1, 0}}); },
       {randn({1, 2, 4, 4}, 10), randn({3, 2, 3, 3}, 11)}},
      {"1x1", [](const std::vector<Var>& v) { return conv2d(v[0], v[1]); }, {randn({2, 3, 3, 4}, 12), randn({5, 3, 1, 1}, 13)}},
      // Stride 1 and 8 channels a group: the input gradient is the convolution of g with the flipped weight;
      // groups and dilation change which taps and channels it flips.
      {"stride 1, dilation, groups", conv({.padding = {2, 1}, .dilation = {2, 1}, .groups = 2}),
       {randn({2, 16, 5, 4}, 14), randn({4, 8, 3, 2}, 15), randn({4}, 16)}},
      // Padding beyond the kernel's reach (d (k - 1) < p) with 8 channels: the transposed form, as for strides
      // above 1.
      {"padding wider than the kernel", conv({.padding = {1, 2}}),
       {randn({2, 8, 4, 5}, 17), randn({3, 8, 1, 2}, 18), randn({3}, 19)}}};
  const Pool2dOptions padded{.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}};
  const Pool2dOptions exclude{.kernel = {3, 2}, .stride = {1, 2}, .padding = {1, 1}, .count_include_pad = false};
  auto pool = [](Var (*op)(const Var&, const Pool2dOptions&), Pool2dOptions o) {
    return [op, o](const std::vector<Var>& v) { return op(v[0], o); };
  };
  cases["max_pool2d"] = {{"2x2", pool(&max_pool2d, {}), {randn({2, 3, 6, 4}, 1)}},
                         {"3x3, stride 2, padding 1, non-contiguous", pool(&max_pool2d, padded), {randn({2, 2, 6, 7}, 2).transpose(2, 3)}},
                         {"batch of 1, overlapping windows", pool(&max_pool2d, {.kernel = {2, 2}, .stride = {1, 1}}), {randn({1, 2, 4, 5}, 3)}}};
  cases["avg_pool2d"] = {{"2x2", pool(&avg_pool2d, {}), {randn({2, 3, 6, 4}, 1)}},
                         {"padding in the count, non-contiguous", pool(&avg_pool2d, padded), {randn({2, 2, 6, 7}, 2).transpose(2, 3)}},
                         {"batch of 1, padding not counted", pool(&avg_pool2d, exclude), {randn({1, 2, 5, 5}, 3)}}};
  auto adaptive = [](std::array<int64_t, 2> size) {
    return [size](const std::vector<Var>& v) { return adaptive_avg_pool2d(v[0], size); };
  };
  cases["adaptive_avg_pool2d"] = {{"to 1x1", adaptive({1, 1}), {randn({2, 3, 4, 5}, 1)}},
                                  {"to 3x2, non-contiguous", adaptive({3, 2}), {randn({2, 2, 5, 7}, 2).transpose(2, 3)}},
                                  {"batch of 1, to 2x3", adaptive({2, 3}), {randn({1, 3, 5, 4}, 3)}}};
  const Tensor running_mean = randn({3}, 20), running_var = positive({3}, 21);
  auto norm = [running_mean, running_var](bool training) {
    return [=](const std::vector<Var>& v) {
      // Multiplied by the input, so that the output's sums over a channel (zero for the batch-normalised
      // values alone) do not hide a wrong gradient.
      return batch_norm(v[0], v[1], v[2], training ? Tensor() : running_mean, training ? Tensor() : running_var, training) * v[0];
    };
  };
  cases["batch_norm"] = {
      {"2-D images, training", norm(true), {randn({3, 3, 2, 4}, 1), randn({3}, 2), randn({3}, 3)}},
      {"2-D images, eval", norm(false), {randn({3, 3, 2, 4}, 4), randn({3}, 5), randn({3}, 6)}},
      {"non-contiguous, training", norm(true), {randn({2, 3, 4, 3}, 7).transpose(2, 3), randn({3}, 8), randn({3}, 9)}},
      {"batch of 1, training", norm(true), {randn({1, 3, 3, 3}, 10), randn({3}, 11), randn({3}, 12)}},
      {"[N, C], training", norm(true), {randn({5, 3}, 13), randn({3}, 14), randn({3}, 15)}},
      {"no weight or bias, training", [](const std::vector<Var>& v) { return batch_norm(v[0], Tensor(), Tensor(), true) * v[0]; },
       {randn({4, 3}, 16)}}};
}

// Values -2.05, -1.75, ... (step 0.3), at least 0.05 from every kink the cases below use (0, -0.5, 0.7).
Tensor grid(const Shape& shape, double start = -2.05) {
  return Tensor::arange(start, start + 0.3 * static_cast<double>(shape.numel()) - 0.01, 0.3, DType::Float64).reshape(shape);
}

// The everyday elementwise ops: plain and non-contiguous inputs; broadcast ones for the binary ops.
void add_everyday_elementwise_cases(std::map<std::string, std::vector<Case>>& cases) {
  auto unary = [](Var (*op)(const Var&)) { return [op](const std::vector<Var>& v) { return op(v[0]); }; };
  auto smooth = [&](const char* name, Var (*op)(const Var&), double scale = 1) {
    cases[name] = {{"plain", unary(op), {randn({3, 4}, 1, scale)}}, {"transposed", unary(op), {randn({4, 3}, 2, scale).t()}}};
  };
  smooth("expm1", &expm1);
  smooth("sin", &sin, 2);
  smooth("cos", &cos, 2);
  smooth("square", &square);
  smooth("silu", &silu, 2);
  cases["log1p"] = {{"plain", unary(&log1p), {positive({3, 4}, 1, -0.5, 2)}}, {"transposed", unary(&log1p), {positive({4, 3}, 2).t()}}};
  cases["rsqrt"] = {{"plain", unary(&rsqrt), {positive({3, 4}, 1, 0.2, 3)}}, {"sliced", unary(&rsqrt), {positive({4, 6}, 2).narrow(1, 2, 3)}}};
  cases["reciprocal"] = {{"plain", unary(&reciprocal), {positive({3, 4}, 1)}},
                         {"negative, transposed", unary(&reciprocal), {(positive({4, 3}, 2) * -1.0).t()}}};
  cases["abs"] = {{"plain", unary(&abs), {grid({3, 4})}}, {"transposed", unary(&abs), {grid({4, 3}).t()}}};
  cases["clamp"] = {{"both bounds", [](const std::vector<Var>& v) { return clamp(v[0], -0.5, 0.7); }, {grid({3, 5})}},
                    {"min only, transposed", [](const std::vector<Var>& v) { return clamp(v[0], -0.5, std::nullopt); },
                     {grid({5, 3}).t()}},
                    {"max only, sliced", [](const std::vector<Var>& v) { return clamp(v[0], std::nullopt, 0.7); },
                     {grid({4, 5}).narrow(1, 1, 3)}}};
  auto pair = [](Var (*op)(const Var&, const Var&)) { return [op](const std::vector<Var>& v) { return op(v[0], v[1]); }; };
  const std::pair<const char*, BinaryOp> extrema[] = {{"maximum", &maximum}, {"minimum", &minimum}};
  for (auto [name, op] : extrema)
    cases[name] = {{"same shape", pair(op), {randn({3, 4}, 1), randn({3, 4}, 2)}},
                   {"broadcast row and column", pair(op), {randn({3, 1}, 3), randn({4}, 4)}},
                   {"transposed and sliced", pair(op), {randn({4, 3}, 5).t(), randn({3, 6}, 6).narrow(1, 1, 4)}}};
  cases["leaky_relu"] = {{"slope 0.2", [](const std::vector<Var>& v) { return leaky_relu(v[0], 0.2); }, {grid({3, 4})}},
                         {"default, transposed", [](const std::vector<Var>& v) { return leaky_relu(v[0]); }, {grid({4, 3}).t()}}};
  cases["elu"] = {{"alpha 0.7", [](const std::vector<Var>& v) { return elu(v[0], 0.7); }, {grid({3, 4})}},
                  {"default, transposed", [](const std::vector<Var>& v) { return elu(v[0]); }, {grid({4, 3}).t()}}};
  cases["gelu"] = {{"erf", [](const std::vector<Var>& v) { return gelu(v[0]); }, {randn({3, 4}, 1, 2)}},
                   {"tanh, transposed", [](const std::vector<Var>& v) { return gelu(v[0], GeluApproximation::Tanh); },
                    {randn({4, 3}, 2, 2).t()}}};
  cases["softplus"] = {{"default", [](const std::vector<Var>& v) { return softplus(v[0]); }, {randn({3, 4}, 1, 3)}},
                       {"beta 2, threshold 3, transposed", [](const std::vector<Var>& v) { return softplus(v[0], 2, 3); },
                        {grid({4, 3}, -2.03).t()}}};
}

// Losses: plain, broadcast target and non-contiguous inputs; every reduction; weights and ignored labels.
void add_loss_cases(std::map<std::string, std::vector<Case>>& cases) {
  using V = const std::vector<Var>&;
  static const std::vector<int64_t> labels = {2, 0, 3, 3, 1}, ignored = {2, -100, 3, 0, 1};
  const Tensor weight = positive({4}, 30);
  for (auto [name, op] : {std::pair{"mse_loss", &mse_loss}, std::pair{"l1_loss", &l1_loss}}) {
    cases[name] = {{"mean", [op](V v) { return op(v[0], v[1], Reduction::Mean); }, {randn({3, 4}, 1), randn({3, 4}, 2)}},
                   {"sum, broadcast target", [op](V v) { return op(v[0], v[1], Reduction::Sum); },
                    {randn({3, 4}, 3), randn({4}, 4)}},
                   {"none, transposed", [op](V v) { return op(v[0], v[1], Reduction::None); },
                    {randn({4, 3}, 5).t(), randn({3, 4}, 6)}}};
  }
  cases["smooth_l1_loss"] = {
      {"beta 1, mean", [](V v) { return smooth_l1_loss(v[0], v[1]); }, {randn({3, 4}, 1, 2), randn({3, 4}, 2)}},
      {"beta 0.3, sum, broadcast", [](V v) { return smooth_l1_loss(v[0], v[1], Reduction::Sum, 0.3); },
       {randn({3, 4}, 3), randn({3, 1}, 4)}},
      {"none, transposed", [](V v) { return smooth_l1_loss(v[0], v[1], Reduction::None, 0.5); },
       {randn({4, 3}, 5).t(), randn({3, 4}, 6)}}};
  const Tensor pos_weight = positive({4}, 31);
  cases["binary_cross_entropy_with_logits"] = {
      {"mean", [](V v) { return binary_cross_entropy_with_logits(v[0], sigmoid(v[1])); },
       {randn({3, 4}, 1, 3), randn({3, 4}, 2)}},
      {"weights, sum, broadcast target",
       [weight, pos_weight](V v) {
         return binary_cross_entropy_with_logits(v[0], sigmoid(v[1]),
                                                 {.reduction = Reduction::Sum, .weight = weight, .pos_weight = pos_weight});
       },
       {randn({3, 4}, 3, 3), randn({4}, 4)}},
      {"none, transposed", [](V v) { return binary_cross_entropy_with_logits(v[0], sigmoid(v[1]), {.reduction = Reduction::None}); },
       {randn({4, 3}, 5).t(), randn({3, 4}, 6)}}};
  cases["nll_loss"] = {
      {"mean", [](V v) { return nll_loss(v[0], labels); }, {randn({5, 4}, 1)}},
      {"weights, ignored, mean, transposed", [weight](V v) { return nll_loss(v[0], ignored, {.weight = weight}); },
       {randn({4, 5}, 2).t()}},
      {"sum", [](V v) { return nll_loss(v[0], ignored, {.reduction = Reduction::Sum}); }, {randn({5, 4}, 3)}},
      {"none, weights", [weight](V v) { return nll_loss(v[0], ignored, {.weight = weight, .reduction = Reduction::None}); },
       {randn({5, 4}, 4)}}};
  auto& ce = cases["cross_entropy"];
  ce.push_back({"weights, ignored", [weight](V v) { return cross_entropy(v[0], ignored, {.weight = weight}); },
                {randn({5, 4}, 3, 2)}});
  ce.push_back({"label smoothing, weights, ignored, transposed",
                [weight](V v) { return cross_entropy(v[0], ignored, {.weight = weight, .label_smoothing = 0.2}); },
                {randn({4, 5}, 4, 2).t()}});
  ce.push_back({"label smoothing, none",
                [](V v) { return cross_entropy(v[0], labels, {.reduction = Reduction::None, .label_smoothing = 0.1}); },
                {randn({5, 4}, 5, 2)}});
}

// The added shape ops: plain and non-contiguous inputs, negative dims and indices.
void add_everyday_shape_cases(std::map<std::string, std::vector<Case>>& cases) {
  using V = const std::vector<Var>&;
  cases["select"] = {{"last column", [](V v) { return select(v[0], 1, -1); }, {randn({3, 4}, 1)}},
                     {"middle of 3-D, transposed", [](V v) { return select(v[0], 1, 2); }, {randn({4, 3, 2}, 2).transpose(0, 2)}}};
  cases["slice"] = {{"negative, step 2", [](V v) { return slice(v[0], 0, -4, -1, 2); }, {randn({5, 4}, 1)}},
                    {"clamped, transposed", [](V v) { return slice(v[0], 1, -10, 3); }, {randn({5, 4}, 2).t()}}};
  cases["unsqueeze"] = {{"last", [](V v) { return unsqueeze(v[0], -1) * unsqueeze(v[0], 1); }, {randn({3, 4}, 1)}},
                        {"transposed", [](V v) { return unsqueeze(v[0], 1); }, {randn({4, 3}, 2).t()}}};
  cases["squeeze"] = {{"all", [](V v) { return squeeze(v[0]); }, {randn({3, 1, 4, 1}, 1)}},
                      {"one dim, transposed", [](V v) { return squeeze(v[0], 0); }, {randn({4, 1}, 2).t()}}};
  cases["expand"] = {{"new and size-1 dims", [](V v) { return expand(v[0], {2, 3, 4}); }, {randn({3, 1}, 1)}},
                     {"keep with -1, transposed", [](V v) { return expand(v[0], {-1, 3, 2}) * 1.5; },
                      {randn({1, 4}, 2).t().unsqueeze(1)}}};
  cases["cat"] = {{"dim 0", [](V v) { return cat(v, 0); }, {randn({2, 3}, 1), randn({4, 3}, 2)}},
                  {"last dim, transposed and sliced", [](V v) { return cat(v, -1); },
                   {randn({2, 3}, 3).t(), randn({3, 4}, 4).narrow(1, 1, 2), randn({3, 1}, 5)}}};
  cases["stack"] = {{"dim 1", [](V v) { return stack(v, 1); }, {randn({3, 4}, 1), randn({3, 4}, 2), randn({3, 4}, 3)}},
                    {"last dim, transposed", [](V v) { return stack(v, -1); }, {randn({4, 3}, 4).t(), randn({3, 4}, 5)}}};
}

// The added reductions: dim lists, keepdim, corrections, ties and non-contiguous inputs.
void add_reduction_cases(std::map<std::string, std::vector<Case>>& cases) {
  using V = const std::vector<Var>&;
  static const int d0[] = {0}, d1[] = {-1}, d02[] = {0, 2};
  cases["var"] = {{"all, unbiased", [](V v) { return var(v[0]); }, {randn({3, 4}, 1)}},
                  {"dims 0 and 2, biased, keepdim", [](V v) { return var(v[0], d02, false, true); }, {randn({2, 3, 4}, 2)}},
                  {"last dim, correction 2, transposed", [](V v) { return var(v[0], d1, Correction{2}); },
                   {randn({5, 3}, 3).t()}}};
  cases["std"] = {{"dim 0, unbiased", [](V v) { return std(v[0], d0); }, {randn({4, 3}, 1)}},
                  {"dims 0 and 2, biased, keepdim, sliced", [](V v) { return std(v[0], d02, false, true); },
                   {randn({2, 3, 6}, 2).narrow(2, 1, 4)}}};
  cases["logsumexp"] = {{"last dim", [](V v) { return logsumexp(v[0], d1); }, {randn({3, 5}, 1, 3)}},
                        {"large, dims 0 and 2, keepdim", [](V v) { return logsumexp(v[0], d02, true); },
                         {randn({2, 3, 4}, 2) * 20.0 + 700.0}},
                        {"all, transposed", [](V v) { return logsumexp(v[0], {}); }, {randn({4, 3}, 3).t()}}};
  cases["min"] = {{"last dim", [](V v) { return min(v[0], -1); }, {randn({3, 5}, 1)}},
                  {"dim 0 keepdim, transposed", [](V v) { return min(v[0], 0, true); }, {randn({5, 3}, 2).t()}},
                  {"3-D, middle dim", [](V v) { return min(v[0], 1); }, {randn({2, 3, 4}, 3)}}};
  cases["topk"] = {{"3 largest of rows", [](V v) { return topk(v[0], 3).values; }, {randn({3, 5}, 1)}},
                   {"2 smallest along dim 0, transposed", [](V v) { return topk(v[0], 2, 0, false).values; },
                    {randn({3, 5}, 2).t()}},
                   {"middle dim of 3-D, unsorted", [](V v) { return topk(v[0], 2, 1, true, false).values; },
                    {randn({2, 4, 3}, 3)}}};
}

// Layer norm: one and two normalised dims, with and without weight and bias, non-contiguous inputs, a large
// offset (where a naive one-pass variance would cancel).
void add_layer_norm_cases(std::map<std::string, std::vector<Case>>& cases) {
  using V = const std::vector<Var>&;
  cases["layer_norm"] = {
      {"last dim, affine", [](V v) { return layer_norm(v[0], {5}, v[1], v[2]); }, {randn({3, 5}, 1), randn({5}, 2), randn({5}, 3)}},
      {"last two dims, transposed, eps 1e-3", [](V v) { return layer_norm(v[0], {3, 4}, v[1], v[2], 1e-3); },
       {randn({4, 3, 2}, 4).transpose(0, 2), randn({3, 4}, 5), randn({3, 4}, 6)}},
      {"no affine, sliced, large offset", [](V v) { return layer_norm(v[0], {4}); },
       {(randn({2, 3, 6}, 7) + 1000.0).narrow(2, 1, 4)}},
      {"one row of a 3-D input", [](V v) { return layer_norm(v[0], {2, 3, 4}, v[1], v[2]) * v[0]; },
       {randn({2, 3, 4}, 8), randn({2, 3, 4}, 9), randn({2, 3, 4}, 10)}}};
}

// Indexing: repeated indices (their gradients add up), broadcast masks and operands, non-contiguous inputs.
void add_indexing_cases(std::map<std::string, std::vector<Case>>& cases) {
  using V = const std::vector<Var>&;
  const Tensor mask_row = Tensor::from_vector(std::vector<double>{1, 0, 0, 1}, {4});
  const Tensor mask_column = Tensor::from_vector(std::vector<double>{0, 1, 0}, {3, 1});
  const Tensor cond = Tensor::from_vector(std::vector<double>{1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1}, {3, 4});
  cases["index_select"] = {
      {"rows, repeated", [](V v) { return index_select(v[0], 0, {2, 0, 2}); }, {randn({4, 3}, 1)}},
      {"last dim, transposed", [](V v) { return index_select(v[0], -1, {1, 4, 1, 0}); }, {randn({5, 3}, 2).t()}},
      {"middle of 3-D", [](V v) { return index_select(v[0], 1, {2}); }, {randn({2, 3, 4}, 3)}}};
  cases["gather"] = {
      {"dim 1, repeated", [](V v) { return gather(v[0], 1, Indices({3, 3, 0, 1, 2, 0}, {3, 2})); }, {randn({3, 4}, 1)}},
      {"dim 0, smaller index, transposed", [](V v) { return gather(v[0], 0, Indices({4, 0, 1, 1, 3, 4}, {2, 3})); },
       {randn({4, 5}, 2).t()}}};
  cases["scatter_add"] = {
      {"dim 1, repeated, larger src",
       [](V v) { return scatter_add(v[0], 1, Indices({3, 3, 0, 1, 2, 0}, {3, 2}), v[1]); },
       {randn({3, 4}, 1), randn({3, 3}, 2)}},
      {"dim 0, transposed", [](V v) { return scatter_add(v[0], 0, Indices({2, 0, 2, 1}, {1, 4}), v[1]); },
       {randn({4, 3}, 3).t(), randn({4, 2}, 4).t()}}};
  cases["masked_fill"] = {
      {"row mask", [mask_row](V v) { return masked_fill(v[0], mask_row, -1.5); }, {randn({3, 4}, 1)}},
      {"column mask, transposed", [mask_column](V v) { return masked_fill(v[0], mask_column, 2); }, {randn({4, 3}, 2).t()}},
      {"input broadcast to the mask", [cond](V v) { return masked_fill(v[0], cond, 0); }, {randn({4}, 3)}}};
  cases["where"] = {
      {"same shape", [cond](V v) { return where(cond, v[0], v[1]); }, {randn({3, 4}, 1), randn({3, 4}, 2)}},
      {"broadcast condition and operands", [mask_column](V v) { return where(mask_column, v[0], v[1]); },
       {randn({4}, 3), randn({3, 4}, 4)}},
      {"transposed, scalar operand", [cond](V v) { return where(cond, v[0], v[1]); },
       {randn({4, 3}, 5).t(), randn({}, 6)}}};
  cases["embedding"] = {
      {"repeated ids", [](V v) { return embedding(Indices({4, 1, 4, 0, 2, 4}, {2, 3}), v[0]); }, {randn({5, 3}, 1)}},
      // padding_idx is tested against PyTorch: its row deliberately gets no gradient, which finite differences see.
      {"transposed", [](V v) { return embedding({3, 1, 0, 1}, v[0]); }, {randn({3, 4}, 2).t()}}};
}

std::map<std::string, std::vector<Case>> gradcheck_cases() {
  const int d0[] = {0}, d1[] = {1}, d02[] = {0, 2}, perm[] = {2, 0, 1};
  const std::vector<int64_t> labels = {2, 0, 3, 3, 1};
  auto binary = [](Var (*op)(const Var&, const Var&)) {
    return [op](const std::vector<Var>& v) { return op(v[0], v[1]); };
  };
  auto unary = [](Var (*op)(const Var&)) { return [op](const std::vector<Var>& v) { return op(v[0]); }; };
  std::map<std::string, std::vector<Case>> cases;
  const std::pair<const char*, BinaryOp> broadcasting_ops[] = {{"add", &add}, {"sub", &sub}, {"mul", &mul}};
  for (auto [name, f] : broadcasting_ops) {
    cases[name] = {{"same shape", binary(f), {randn({3, 4}, 1), randn({3, 4}, 2)}},
                   {"broadcast row and column", binary(f), {randn({3, 1}, 3), randn({4}, 4)}},
                   {"transposed and sliced", binary(f), {randn({4, 3}, 5).t(), randn({3, 6}, 6).narrow(1, 1, 4)}}};
  }
  cases["div"] = {{"same shape", binary(&div), {randn({3, 4}, 1), positive({3, 4}, 2)}},
                  {"broadcast", binary(&div), {randn({2, 3, 4}, 3), positive({3, 1}, 4)}},
                  {"transposed", binary(&div), {randn({4, 3}, 5).t(), positive({4, 3}, 6).t()}}};
  cases["add_scalar"] = {{"transposed", [](const std::vector<Var>& v) { return v[0] + 2.5; }, {randn({4, 3}, 1).t()}}};
  cases["mul_scalar"] = {{"plain", [](const std::vector<Var>& v) { return -3.0 * v[0]; }, {randn({2, 3}, 1)}}};
  cases["neg"] = {{"sliced", unary(&neg), {randn({5, 3}, 1).narrow(0, 1, 3)}}};
  cases["exp"] = {{"plain", unary(&exp), {randn({3, 4}, 1)}}, {"transposed", unary(&exp), {randn({4, 3}, 2).t()}}};
  cases["log"] = {{"near small positives", unary(&log), {positive({3, 4}, 1, 0.01, 0.1)}},
                  {"transposed", unary(&log), {positive({4, 3}, 2).t()}}};
  cases["sqrt"] = {{"plain", unary(&sqrt), {positive({3, 4}, 1, 0.05, 3)}},
                   {"sliced", unary(&sqrt), {positive({4, 6}, 2).narrow(1, 2, 3)}}};
  cases["pow"] = {{"cube", [](const std::vector<Var>& v) { return pow(v[0], 3); }, {randn({3, 4}, 1)}},
                  {"fractional, transposed", [](const std::vector<Var>& v) { return pow(v[0], -1.5); },
                   {positive({4, 3}, 2).t()}}};
  // relu's kink at 0 has no derivative: keep inputs at least 0.1 away from it.
  Tensor away_from_zero = randn({4, 5}, 1);
  away_from_zero = away_from_zero + sigmoid(away_from_zero * 1e6) * 0.2 - 0.1;
  cases["relu"] = {{"plain", unary(&relu), {away_from_zero}}, {"transposed", unary(&relu), {away_from_zero.t()}}};
  cases["sigmoid"] = {{"plain", unary(&sigmoid), {randn({3, 4}, 1, 3)}},
                      {"transposed", unary(&sigmoid), {randn({4, 3}, 2).t()}}};
  cases["tanh"] = {{"plain", unary(&tanh), {randn({3, 4}, 1, 2)}}, {"sliced", unary(&tanh), {randn({6, 3}, 2).narrow(0, 2, 3)}}};
  cases["matmul"] = {{"2-D", binary(&matmul), {randn({3, 5}, 1), randn({5, 4}, 2)}},
                     {"transposed operands", binary(&matmul), {randn({5, 3}, 3).t(), randn({4, 5}, 4).t()}},
                     {"batched", binary(&matmul), {randn({2, 3, 5}, 5), randn({2, 5, 4}, 6)}},
                     {"batched with shared matrix", binary(&matmul), {randn({2, 3, 5}, 7), randn({5, 4}, 8)}}};
  cases["linear"] = {
      {"with bias", [](const std::vector<Var>& v) { return linear(v[0], v[1], v[2]); },
       {randn({4, 5}, 1), randn({3, 5}, 2), randn({3}, 3)}},
      {"without bias, transposed input and weight", [](const std::vector<Var>& v) { return linear(v[0], v[1]); },
       {randn({5, 4}, 4).t(), randn({5, 3}, 5).t()}}};
  cases["sum"] = {{"all", [](const std::vector<Var>& v) { return sum(v[0]); }, {randn({3, 4}, 1)}},
                  {"dims 0 and 2 keepdim",
                   [d02](const std::vector<Var>& v) { return sum(v[0], d02, true); }, {randn({2, 3, 4}, 2)}},
                  {"transposed, dim 1", [d1](const std::vector<Var>& v) { return sum(v[0], d1); }, {randn({4, 3}, 3).t()}}};
  cases["mean"] = {{"dim 0", [d0](const std::vector<Var>& v) { return mean(v[0], d0); }, {randn({3, 4}, 1)}},
                   {"all, sliced", [](const std::vector<Var>& v) { return mean(v[0]); }, {randn({3, 6}, 2).narrow(1, 1, 4)}}};
  cases["max"] = {{"last dim", [](const std::vector<Var>& v) { return max(v[0], -1); }, {randn({3, 5}, 1)}},
                  {"dim 0 keepdim, transposed", [](const std::vector<Var>& v) { return max(v[0], 0, true); },
                   {randn({5, 3}, 2).t()}},
                  {"3-D, middle dim", [](const std::vector<Var>& v) { return max(v[0], 1); }, {randn({2, 3, 4}, 3)}},
                  {"3-D, dim 0", [](const std::vector<Var>& v) { return max(v[0], 0); }, {randn({2, 3, 4}, 4)}}};
  cases["reshape"] = {{"transposed input", [](const std::vector<Var>& v) { return reshape(v[0], {2, -1}); },
                       {randn({4, 3}, 1).t()}}};
  cases["transpose"] = {{"3-D", [](const std::vector<Var>& v) { return transpose(v[0], 0, 2) * transpose(v[0], 0, 2); },
                         {randn({2, 3, 4}, 1)}}};
  cases["permute"] = {{"3-D", [perm](const std::vector<Var>& v) { return permute(v[0], perm); }, {randn({2, 3, 4}, 1)}}};
  cases["narrow"] = {{"middle columns", [](const std::vector<Var>& v) { return narrow(v[0], 1, 1, 2); }, {randn({3, 4}, 1)}}};
  cases["softmax"] = {{"rows", [](const std::vector<Var>& v) { return softmax(v[0], 1); }, {randn({3, 5}, 1)}},
                      {"large logits, dim 0", [](const std::vector<Var>& v) { return softmax(v[0], 0); },
                       {randn({4, 3}, 2) + 1000.0}},
                      {"3-D, middle dim", [](const std::vector<Var>& v) { return softmax(v[0], 1) * v[0]; },
                       {randn({2, 3, 4}, 3)}}};
  cases["log_softmax"] = {{"rows", [](const std::vector<Var>& v) { return log_softmax(v[0], -1); }, {randn({3, 5}, 1)}},
                          {"large logits, transposed", [](const std::vector<Var>& v) { return log_softmax(v[0], 1); },
                           {(randn({5, 3}, 2) * 30.0 + 500.0).t()}},
                          {"3-D, dim 0", [](const std::vector<Var>& v) { return log_softmax(v[0], 0) * v[0]; },
                           {randn({3, 2, 4}, 3)}}};
  cases["cross_entropy"] = {
      {"batch of 5", [labels](const std::vector<Var>& v) { return cross_entropy(v[0], labels); }, {randn({5, 4}, 1, 3)}},
      {"large logits, transposed", [labels](const std::vector<Var>& v) { return cross_entropy(v[0], labels); },
       {(randn({4, 5}, 2) * 50.0 + 800.0).t()}}};
  add_conv_cases(cases);
  add_everyday_elementwise_cases(cases);
  add_loss_cases(cases);
  add_everyday_shape_cases(cases);
  add_indexing_cases(cases);
  add_reduction_cases(cases);
  add_layer_norm_cases(cases);
  return cases;
}

TEST(Gradcheck, EveryOpInTheOpListPasses) {
  const auto cases = gradcheck_cases();
  for (std::string_view op : kOps) {
    const auto it = cases.find(std::string(op));
    ASSERT_NE(it, cases.end()) << "op '" << op << "' is in kOps but has no gradcheck case";
    for (const Case& c : it->second) {
      const GradcheckResult result = gradcheck(c.f, c.inputs);
      EXPECT_TRUE(result.ok) << op << " (" << c.what << "): " << result.message;
    }
  }
  EXPECT_EQ(cases.size(), std::size(kOps)) << "a gradcheck case names an op missing from kOps";
}

TEST(Gradcheck, ReportsTheOpInputAndWorstElementOfAWrongGradient) {
  // x^2 with a backward that forgets the factor 2.
  auto wrong_square = [](const std::vector<Var>& v) {
    return record("wrong_square", v[0].value() * v[0].value(), {v[0]},
                  [x = v[0].value()](const Tensor& g) { return Grads{g * x}; });
  };
  const GradcheckResult result = gradcheck(wrong_square, {Tensor::from_vector(std::vector<double>{1, -3}, {2})});
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.message.find("op 'wrong_square': input 0 float64[2] element [1]"), std::string::npos)
      << result.message;
  EXPECT_THROW(gradcheck(wrong_square, {Tensor::zeros({2})}), Error) << "float32 inputs are refused";
}

TEST(Linear, SkipsTheInputGradientWhenTheInputNeedsNone) {
  const Var x(randn({4, 5}, 1)), w(randn({3, 5}, 2), true), b(randn({3}, 3), true);
  sum(linear(x, w, b)).backward();
  EXPECT_FALSE(x.grad().defined());
  EXPECT_EQ(w.grad().shape(), Shape({3, 5}));
  EXPECT_TRUE(w.grad().is_contiguous());
  EXPECT_EQ(b.grad().to_vector(), (std::vector<double>{4, 4, 4}));
  EXPECT_THROW(linear(x, Var(randn({3, 4}, 4))), Error);
}

TEST(Tape, AccumulatesAcrossBackwardCallsUntilZeroGrad) {
  const Var x(Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}), true);
  sum(x * x).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2, 4, 6}));
  sum(x * 3.0).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{5, 7, 9}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Tape, SetGradReplacesTheGradientAndBackwardAccumulatesOntoIt) {
  const Var x(Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}), true);
  x.set_grad(Tensor::from_vector(std::vector<double>{10, 20, 30}, {3}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{10, 20, 30}));
  sum(x * x).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{12, 24, 36}));
  EXPECT_THROW(x.set_grad(Tensor::zeros({2}, DType::Float64)), Error);
  EXPECT_THROW(x.set_grad(Tensor::zeros({3}, DType::Float32)), Error);
  x.set_grad(Tensor());
  EXPECT_FALSE(x.grad().defined());
}

TEST(Tape, SharedSubexpressionsReceiveEveryPath) {
  const Var x(Tensor::scalar(3, DType::Float64), true);
  const Var y = x * x;          // 9
  const Var z = y * y + y * x;  // x^4 + x^3: dz/dx = 4x^3 + 3x^2 = 135
  z.backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), 135);
}

TEST(Tape, NoGradRecordsNothingAndDetachCuts) {
  const Var x(Tensor::ones({2}, DType::Float64), true);
  {
    NoGradGuard no_grad;
    const Var y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE(y.is_leaf());
  }
  EXPECT_TRUE(grad_enabled());
  const Var d = (x * 2.0).detach();
  EXPECT_FALSE(d.requires_grad());
  const Var w(Tensor::ones({2}, DType::Float64), true);
  sum(d * w).backward();
  EXPECT_EQ(w.grad().to_vector(), (std::vector<double>{2, 2}));
  EXPECT_FALSE(x.grad().defined());
}

TEST(Tape, ReleasedAfterBackward) {
  const Var x(Tensor::ones({2}, DType::Float64), true);
  const Var y = sum(exp(x));
  EXPECT_EQ(std::string(y.op()), "sum");
  y.backward();
  try {
    y.backward();
    FAIL() << "a second backward through a released graph did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("second time"), std::string::npos) << e.what();
  }
}

TEST(Tape, ClearErrors) {
  const Var x(Tensor::ones({2, 3}), true);
  EXPECT_THROW((x * 2.0).backward(), Error) << "non-scalar result without a gradient";
  EXPECT_THROW(Var(Tensor::ones({2})).backward(), Error) << "result that does not require grad";
  EXPECT_THROW((x * 2.0).backward(Tensor::ones({3, 2})), Error) << "gradient of the wrong shape";
  auto bad_shape = record("bad_shape", x.value() * 2.0, {x}, [](const Tensor&) {
    return Grads{Tensor::ones({3})};
  });
  try {
    sum(bad_shape).backward();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("backward of 'bad_shape'"), std::string::npos) << e.what();
  }
}

TEST(Tape, LongChainsDoNotOverflowTheStack) {
  const Var x(Tensor::scalar(1, DType::Float64), true);
  Var y = x;
  for (int i = 0; i < 100000; ++i) y = y + 1.0;
  y.backward();
  EXPECT_EQ(x.grad().item(), 1);
  Var unused = x;
  for (int i = 0; i < 100000; ++i) unused = unused * 1.0;
  unused = Var();  // destroying an unreleased chain must not recurse 100000 deep either
}

}  // namespace
}  // namespace mt
