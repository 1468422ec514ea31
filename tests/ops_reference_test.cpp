// Ops against PyTorch: forward values and input gradients in float64, from tests/reference/ops_reference.py
// (inputs and upstream weights built here from the script's formulas). Every case in the reference file must
// have its call here, and every call its reference.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "tests/error_message.h"

namespace mt {
namespace {

struct Reference {
  std::string name;
  std::vector<Shape> shapes;
  double scale, offset;
  Shape out_shape;
  std::vector<double> out;
  std::vector<std::vector<double>> grads;
};

const std::vector<Reference> kReferences = {
#include "reference/ops_reference.inc"
};

Tensor make_input(const Shape& shape, int k, double scale, double offset) {
  std::vector<double> v(static_cast<size_t>(shape.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = scale * std::sin(0.37 * static_cast<double>(i) + 1.1 * k + 0.2) + offset;
  return Tensor::from_vector(v, shape);
}

using Fn = std::function<Var(const std::vector<Var>&)>;

Fn unary(Var (*op)(const Var&)) {
  return [op](const std::vector<Var>& v) { return op(v[0]); };
}

const std::vector<int64_t> kLabels = {2, 0, 3, 3, 1}, kLabelsIgnored = {2, 0, -100, 3, 1};
const Tensor kClassWeight = Tensor::from_vector(std::vector<double>{0.5, 2.0, 1.0, 1.5}, {4});
const Tensor kPosWeight = Tensor::from_vector(std::vector<double>{1.0, 3.0, 0.5, 2.0}, {4});
const Indices kGatherIndex({3, 3, 0, 1, 2, 0}, {3, 2});
const Indices kTokens({4, 1, 4, 0, 2, 4}, {2, 3});
const Tensor kMaskRow = Tensor::from_vector(std::vector<double>{1, 0, 0, 1}, {4});
const Tensor kZeroRow = Tensor::from_vector(std::vector<double>{1, 0, 1}, {3, 1});
const Tensor kCond = Tensor::from_vector(std::vector<double>{1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1}, {3, 4});

std::map<std::string, Fn> calls() {
  using V = const std::vector<Var>&;
  static const int d0[] = {0}, d1[] = {1}, last[] = {-1}, d02[] = {0, 2};
  auto nll = [](const std::vector<int64_t>& labels, NLLLossOptions o) {
    return [&labels, o](V v) { return nll_loss(log_softmax(v[0], 1), labels, o); };
  };
  auto ce = [](const std::vector<int64_t>& labels, CrossEntropyOptions o) {
    return [&labels, o](V v) { return cross_entropy(v[0], labels, o); };
  };
  auto rejoin = [](const std::vector<Var>& parts, int dim) {
    std::vector<Var> scaled;
    for (size_t k = 0; k < parts.size(); ++k) scaled.push_back(parts[k] * static_cast<double>(k + 1));
    return cat(scaled, dim);
  };
  return {
      {"select", [](V v) { return select(v[0], 1, -1) * 2.0 + slice(select(v[0], 0, 1), 0, 1); }},
      {"slice", [](V v) { return slice(v[0], 0, -4, -1, 2); }},
      {"slice_columns", [](V v) { return slice(v[0], 1, 1) * slice(v[0], 1, -10, 3); }},
      {"unsqueeze", [](V v) { return unsqueeze(v[0], -1) * unsqueeze(v[0], 1); }},
      {"squeeze_all", [](V v) { return squeeze(v[0]); }},
      {"squeeze_dim", [](V v) { return squeeze(squeeze(v[0], 1), 0); }},
      {"expand", [](V v) { return expand(v[0], {2, 3, 4}); }},
      {"expand_keep", [](V v) { return expand(v[0], {-1, 4}); }},
      {"flatten", [](V v) { return flatten(v[0], 1) * 2.0 + reshape(flatten(v[0], 0, 1), {2, 12}); }},
      {"cat", [](V v) { return cat(std::vector<Var>{v[0], v[1] * 2.0}, 0); }},
      {"cat_last", [](V v) { return cat(std::vector<Var>{v[0], v[1] * 2.0, v[2] * 3.0}, -1); }},
      {"stack", [](V v) { return stack(std::vector<Var>{v[0], v[1] * 2.0, v[2] * 3.0}, 1); }},
      {"stack_last", [](V v) { return stack(std::vector<Var>{v[0], v[1] * 2.0}, -1); }},
      {"split", [rejoin](V v) { return rejoin(split(v[0], 2), 0); }},
      {"split_sizes", [rejoin](V v) { return rejoin(split(v[0], std::vector<int64_t>{1, 3}, 1), 1); }},
      {"chunk", [rejoin](V v) { return rejoin(chunk(v[0], 4, 0), 0); }},
      {"index_select", [](V v) { return index_select(v[0], 0, {2, 0, 2}); }},
      {"index_select_columns", [](V v) { return index_select(v[0], -1, {4, 1, 1, 0}); }},
      {"gather", [](V v) { return gather(v[0], 1, kGatherIndex); }},
      {"gather_dim0", [](V v) { return gather(v[0], 0, Indices({3, 0, 1, 1, 3, 0}, {2, 3})); }},
      {"scatter_add", [](V v) { return scatter_add(v[0], 1, kGatherIndex, v[1]); }},
      {"masked_fill", [](V v) { return masked_fill(v[0], kMaskRow, -1.5); }},
      {"masked_fill_broadcast", [](V v) { return masked_fill(v[0], kCond, 0.5); }},
      {"where", [](V v) { return where(kCond, v[0], v[1]); }},
      {"embedding", [](V v) { return embedding(kTokens, v[0]); }},
      {"embedding_padding", [](V v) { return embedding(kTokens, v[0], -1); }},
      {"var", [](V v) { return var(v[0]); }},
      {"var_dims_biased_keepdim", [](V v) { return var(v[0], d02, false, true); }},
      {"var_correction", [](V v) { return var(v[0], last, Correction{2}); }},
      {"std", [](V v) { return std(v[0], d0); }},
      {"std_biased_keepdim", [](V v) { return std(v[0], d02, false, true); }},
      {"std_constant_row", [](V v) { return std(v[0] * Var(kZeroRow), d1); }},
      {"logsumexp", [](V v) { return logsumexp(v[0], last); }},
      {"logsumexp_large_keepdim", [](V v) { return logsumexp(v[0], d02, true); }},
      {"min", [](V v) { return min(v[0], -1); }},
      {"min_keepdim", [](V v) { return min(v[0], 0, true); }},
      {"topk", [](V v) { return topk(v[0], 3).values; }},
      {"topk_smallest_dim0", [](V v) { return topk(v[0], 2, 0, false).values; }},
      {"layer_norm", [](V v) { return layer_norm(v[0], {5}, v[1], v[2]); }},
      {"layer_norm_2d_eps", [](V v) { return layer_norm(v[0], {3, 4}, v[1], v[2], 1e-3); }},
      {"layer_norm_no_affine_large", [](V v) { return layer_norm(v[0], {6}); }},
      {"mse_loss", [](V v) { return mse_loss(v[0], v[1]); }},
      {"mse_loss_sum", [](V v) { return mse_loss(v[0], v[1], Reduction::Sum); }},
      {"mse_loss_none_broadcast",
       [](V v) { return mse_loss(v[0], reshape(narrow(v[1], 0, 0, 1), {4}), Reduction::None); }},
      {"l1_loss", [](V v) { return l1_loss(v[0], v[1]); }},
      {"l1_loss_none", [](V v) { return l1_loss(v[0], v[1], Reduction::None); }},
      {"smooth_l1_loss", [](V v) { return smooth_l1_loss(v[0], v[1]); }},
      {"smooth_l1_loss_beta_sum", [](V v) { return smooth_l1_loss(v[0], v[1], Reduction::Sum, 0.5); }},
      {"smooth_l1_loss_beta0", [](V v) { return smooth_l1_loss(v[0], v[1], Reduction::Mean, 0.0); }},
      {"bce_with_logits", [](V v) { return binary_cross_entropy_with_logits(v[0], sigmoid(v[1])); }},
      {"bce_with_logits_weights_sum",
       [](V v) {
         return binary_cross_entropy_with_logits(
             v[0], sigmoid(v[1]), {.reduction = Reduction::Sum, .weight = kClassWeight, .pos_weight = kPosWeight});
       }},
      {"bce_with_logits_none",
       [](V v) {
         return binary_cross_entropy_with_logits(v[0], sigmoid(v[1]),
                                                 {.reduction = Reduction::None, .pos_weight = kPosWeight});
       }},
      {"nll_loss", nll(kLabels, {})},
      {"nll_loss_weight_ignore", nll(kLabelsIgnored, {.weight = kClassWeight})},
      {"nll_loss_sum", nll(kLabelsIgnored, {.reduction = Reduction::Sum})},
      {"nll_loss_none", nll(kLabelsIgnored, {.weight = kClassWeight, .reduction = Reduction::None})},
      {"cross_entropy", ce(kLabels, {})},
      {"cross_entropy_weight_ignore", ce(kLabelsIgnored, {.weight = kClassWeight})},
      {"cross_entropy_smoothing", ce(kLabels, {.label_smoothing = 0.1})},
      {"cross_entropy_smoothing_ignore", ce(kLabelsIgnored, {.label_smoothing = 0.2})},
      {"cross_entropy_smoothing_weight_ignore", ce(kLabelsIgnored, {.weight = kClassWeight, .label_smoothing = 0.2})},
      {"cross_entropy_smoothing_sum", ce(kLabelsIgnored, {.reduction = Reduction::Sum, .label_smoothing = 0.3})},
      {"cross_entropy_smoothing_weight_none",
       ce(kLabelsIgnored, {.weight = kClassWeight, .reduction = Reduction::None, .label_smoothing = 0.3})},
      {"abs", unary(&abs)},
      {"log1p", unary(&log1p)},
      {"expm1", unary(&expm1)},
      {"sin", unary(&sin)},
      {"cos", unary(&cos)},
      {"square", unary(&square)},
      {"rsqrt", unary(&rsqrt)},
      {"reciprocal", unary(&reciprocal)},
      {"clamp", [](const std::vector<Var>& v) { return clamp(v[0], -0.5, 0.7); }},
      {"clamp_min", [](const std::vector<Var>& v) { return clamp(v[0], -0.5, std::nullopt); }},
      {"clamp_max", [](const std::vector<Var>& v) { return clamp(v[0], std::nullopt, 0.7); }},
      {"maximum", [](const std::vector<Var>& v) { return maximum(v[0], v[1]); }},
      {"minimum", [](const std::vector<Var>& v) { return minimum(v[0], v[1]); }},
      {"leaky_relu", [](const std::vector<Var>& v) { return leaky_relu(v[0], 0.2); }},
      {"leaky_relu_default", [](const std::vector<Var>& v) { return leaky_relu(v[0]); }},
      {"elu", [](const std::vector<Var>& v) { return elu(v[0], 0.7); }},
      {"gelu", [](const std::vector<Var>& v) { return gelu(v[0]); }},
      {"gelu_tanh", [](const std::vector<Var>& v) { return gelu(v[0], GeluApproximation::Tanh); }},
      {"silu", unary(&silu)},
      {"softplus", [](const std::vector<Var>& v) { return softplus(v[0]); }},
      {"softplus_beta_threshold", [](const std::vector<Var>& v) { return softplus(v[0], 2.0, 3.0); }},
  };
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-12 * (1 + std::abs(want[i]))) << what << " element " << i;
}

TEST(OpsReference, ForwardAndGradientsMatchPyTorch) {
  const std::map<std::string, Fn> all = calls();
  EXPECT_EQ(all.size(), kReferences.size()) << "a call without a reference case, or a case without a call";
  for (const Reference& ref : kReferences) {
    const auto call = all.find(ref.name);
    ASSERT_NE(call, all.end()) << "no call for reference case " << ref.name;
    std::vector<Var> inputs;
    for (size_t k = 0; k < ref.shapes.size(); ++k)
      inputs.emplace_back(make_input(ref.shapes[k], static_cast<int>(k), ref.scale, ref.offset), true);
    const Var out = call->second(inputs);
    ASSERT_EQ(out.shape(), ref.out_shape) << ref.name;
    expect_close(out.value().to_vector(), ref.out, ref.name + " forward");
    std::vector<double> w(static_cast<size_t>(out.numel()));
    for (size_t i = 0; i < w.size(); ++i) w[i] = std::cos(0.29 * static_cast<double>(i) + 0.1);
    sum(out * Var(Tensor::from_vector(w, out.shape()))).backward();
    ASSERT_EQ(ref.grads.size(), inputs.size()) << ref.name;
    for (size_t k = 0; k < inputs.size(); ++k)
      expect_close(inputs[k].grad().to_vector(), ref.grads[k], ref.name + " gradient of input " + std::to_string(k));
  }
}

TEST(OpsReference, MaximumAndMinimumSplitATieAndPropagateNaN) {
  const Var a(Tensor::from_vector(std::vector<double>{1, 2, NAN, 5}, {4}), true);
  const Var b(Tensor::from_vector(std::vector<double>{1, 3, 0, 4}, {4}), true);
  const Var hi = maximum(a, b), lo = minimum(a, b);
  EXPECT_EQ(hi.value().at({1}), 3);
  EXPECT_TRUE(std::isnan(hi.value().at({2})) && std::isnan(lo.value().at({2})));
  sum(hi).backward();
  EXPECT_EQ(a.grad().to_vector(), (std::vector<double>{0.5, 0, 1, 1}));  // PyTorch's rule: half each at a tie
  EXPECT_EQ(b.grad().to_vector(), (std::vector<double>{0.5, 1, 0, 0}));
}

TEST(OpsReference, ClampKeepsNaNAndAbsHasNoGradientAtZero) {
  const Var x(Tensor::from_vector(std::vector<double>{NAN, -3, 0, 3}, {4}), true);
  const std::vector<double> y = clamp(x, -1.0, 1.0).value().to_vector();
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], -1);
  EXPECT_EQ(y[3], 1);
  sum(abs(x)).backward();
  EXPECT_EQ(x.grad().to_vector()[1], -1);
  EXPECT_EQ(x.grad().to_vector()[2], 0);
  EXPECT_THROW(softplus(x, 0.0), Error);
}

TEST(OpsReference, LossesRejectBadLabelsAndWeightsNamingTheOp) {
  const Var scores(make_input({3, 4}, 0, 1, 0), true);
  EXPECT_NE(test::error_message([&] { nll_loss(scores, std::vector<int64_t>{0, 4, 1}); }).find("nll_loss: label 4 of example 1"),
            std::string::npos);
  EXPECT_NE(test::error_message([&] { cross_entropy(scores, std::vector<int64_t>{0, 1}, {.weight = kClassWeight}); })
                .find("2 labels for [3, 4]"),
            std::string::npos);
  EXPECT_NE(test::error_message([&] { nll_loss(scores, std::vector<int64_t>{0, 1, 2}, {.weight = Tensor::ones({3}, DType::Float64)}); })
                .find("class weights"),
            std::string::npos);
  EXPECT_NE(test::error_message([&] { cross_entropy(scores, std::vector<int64_t>{0, 1, 2}, {.label_smoothing = 1.5}); })
                .find("label_smoothing"),
            std::string::npos);
  EXPECT_NE(test::error_message([&] { smooth_l1_loss(scores, scores, Reduction::Mean, -1); }).find("beta"), std::string::npos);
  // Every example ignored: the mean is 0 / 0, NaN, as in PyTorch.
  EXPECT_TRUE(std::isnan(nll_loss(scores, std::vector<int64_t>{-100, -100, -100}).item()));
}

TEST(OpsReference, IndexingRejectsIndicesOutOfRangeNamingTheOpTheIndexAndTheSize) {
  const Var x(make_input({3, 4}, 0, 1, 0), true);
  EXPECT_EQ(test::error_message([&] { index_select(x, 1, {0, 4}); }), "index_select: index 4 is out of range for dim 1 of size 4");
  EXPECT_EQ(test::error_message([&] { index_select(x, 0, {-1}); }), "index_select: index -1 is out of range for dim 0 of size 3");
  EXPECT_EQ(test::error_message([&] { gather(x, 0, Indices({0, 3}, {1, 2})); }), "gather: index 3 is out of range for dim 0 of size 3");
  EXPECT_EQ(test::error_message([&] { scatter_add(x, 1, Indices({7}, {1, 1}), x); }),
            "scatter_add: index 7 is out of range for dim 1 of size 4");
  EXPECT_EQ(test::error_message([&] { embedding({1, 3}, x); }), "embedding: index 3 is out of range for 3 embeddings");
  EXPECT_NE(test::error_message([&] { gather(x, 1, Indices({0, 1, 2, 3, 0, 1, 2, 3}, {4, 2})); }).find("gather: index [4, 2] does not fit"),
            std::string::npos);
  EXPECT_NE(test::error_message([&] { embedding({0}, x, 3); }).find("padding_idx 3"), std::string::npos);
  EXPECT_NE(test::error_message([&] { where(kCond, x, Var(make_input({2, 4}, 1, 1, 0))); }).find("where: shapes"), std::string::npos);
  EXPECT_NE(test::error_message([&] { Indices::from_tensor(Tensor::from_vector(std::vector<double>{1, 2.5}, {2}), "Embedding"); })
                .find("Embedding: index 2.5"),
            std::string::npos);
  // The gradients of repeated indices add up, on a single thread in index order.
  sum(index_select(x, 0, {1, 1, 1})).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{0, 0, 0, 0, 3, 3, 3, 3, 0, 0, 0, 0}));
}

// PyTorch 1.13's values for x = [[3, 1, 3, 2], [nan, 5, nan, 0], [2, 2, 1, 1]] (ties: see topk's header).
TEST(OpsReference, MinArgminAndTopkFollowPyTorchOnTiesAndNaN) {
  const Var x(Tensor::from_vector(std::vector<double>{3, 1, 3, 2, NAN, 5, NAN, 0, 2, 2, 1, 1}, {3, 4}), true);
  const std::vector<double> lo = min(x, 1).value().to_vector();
  EXPECT_EQ(lo[0], 1);
  EXPECT_TRUE(std::isnan(lo[1]));
  EXPECT_EQ(lo[2], 1);
  EXPECT_EQ(argmin(x, 1).to_vector(), (std::vector<int64_t>{1, 0, 2}));  // the first NaN, the first of equal minima
  EXPECT_EQ(argmin(x).to_vector(), (std::vector<int64_t>{4}));
  EXPECT_EQ(argmin(x).shape, Shape{});
  EXPECT_EQ(argmin(x, 0, true).shape, Shape({1, 4}));
  sum(min(x, 1)).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0}));

  const Var finite(Tensor::from_vector(std::vector<double>{3, 1, 3, 2, 4, 5, 6, 0, 2, 2, 1, 1}, {3, 4}));
  EXPECT_EQ(argmax(finite, 1).to_vector(), (std::vector<int64_t>{0, 2, 0}));
  EXPECT_EQ(argmax(finite, 0, true).to_vector(), (std::vector<int64_t>{1, 1, 1, 0}));
  EXPECT_EQ(argmax(finite).to_vector(), (std::vector<int64_t>{6}));

  auto [largest, at] = topk(x, 2);
  EXPECT_EQ(at.shape, Shape({3, 2}));
  EXPECT_EQ(at.to_vector(), (std::vector<int64_t>{0, 2, 0, 2, 0, 1}));  // NaN first; PyTorch gives ties as 1, 0
  const std::vector<double> top = largest.value().to_vector();
  EXPECT_EQ(top[0], 3);
  EXPECT_TRUE(std::isnan(top[2]) && std::isnan(top[3]));
  auto [smallest, at_smallest] = topk(x, 3, 1, false);
  EXPECT_EQ(at_smallest.to_vector(), (std::vector<int64_t>{1, 3, 0, 3, 1, 0, 2, 3, 0}));
  EXPECT_EQ(smallest.value().select(1, 2).to_vector()[0], 3);
  EXPECT_EQ(topk(x, 0).values.shape(), Shape({3, 0}));
  // Unsorted: the chosen elements in the order they stand in x (here also PyTorch's order).
  const Var row(Tensor::from_vector(std::vector<double>{1, 5, 3, 4}, {4}), true);
  auto [unsorted, at_unsorted] = topk(row, 2, 0, true, false);
  EXPECT_EQ(at_unsorted.to_vector(), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(unsorted.value().to_vector(), (std::vector<double>{5, 4}));
  sum(unsorted * Var(Tensor::from_vector(std::vector<double>{10, 20}, {2}))).backward();
  EXPECT_EQ(row.grad().to_vector(), (std::vector<double>{0, 10, 0, 20}));
  EXPECT_THROW(topk(x, 5), Error);

  // logsumexp: inf stays inf, all -inf gives -inf, NaN propagates, inf beside -inf is inf.
  const Tensor edge = Tensor::from_vector(std::vector<double>{INFINITY, 1, -INFINITY, -INFINITY, NAN, 1, INFINITY, -INFINITY}, {4, 2});
  const int d1[] = {1};
  const std::vector<double> lse = logsumexp(Var(edge), d1).value().to_vector();
  EXPECT_EQ(lse[0], INFINITY);
  EXPECT_EQ(lse[1], -INFINITY);
  EXPECT_TRUE(std::isnan(lse[2]));
  EXPECT_EQ(lse[3], INFINITY);
  // var of one element with the unbiased correction divides 0 by 0, as PyTorch.
  EXPECT_TRUE(std::isnan(var(Var(Tensor::ones({1}, DType::Float64))).item()));
}

TEST(OpsReference, ShapeOpsRejectBadArgumentsNamingTheOpAndShapes) {
  const Var a(make_input({2, 3}, 0, 1, 0), true), b(make_input({2, 4}, 1, 1, 0), true);
  EXPECT_NE(test::error_message([&] { cat(std::vector<Var>{a, b}, 0); }).find("cat: tensor 1 float64[2, 4] does not fit"),
            std::string::npos);
  EXPECT_EQ(cat(std::vector<Var>{a, b}, 1).shape(), Shape({2, 7}));
  EXPECT_NE(test::error_message([&] { stack(std::vector<Var>{a, b}, 0); }).find("stack: tensor 1"), std::string::npos);
  EXPECT_NE(test::error_message([&] { cat(std::vector<Var>{}, 0); }).find("at least one"), std::string::npos);
  EXPECT_NE(test::error_message([&] { select(a, 1, 3); }).find("select: index 3"), std::string::npos);
  EXPECT_NE(test::error_message([&] { select(a, 1, -4); }).find("select: index -4"), std::string::npos);
  EXPECT_NE(test::error_message([&] { slice(a, 1, 0, 2, 0); }).find("step must be > 0"), std::string::npos);
  EXPECT_EQ(slice(a, 1, 5).shape(), Shape({2, 0}));  // an empty slice, as a[:, 5:] in Python
  EXPECT_NE(test::error_message([&] { split(a, std::vector<int64_t>{1, 1}, 1); }).find("adding up to 2"), std::string::npos);
  EXPECT_EQ(chunk(a, 2, 1).size(), 2u);  // sizes 2 and 1
  EXPECT_EQ(squeeze(a, 0).shape(), a.shape());  // not of size 1: unchanged, as in PyTorch
}

}  // namespace
}  // namespace mt
