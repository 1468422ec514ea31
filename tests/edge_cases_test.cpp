// Ops at the edges, where a wrong answer would come without an error: empty inputs, NaN, extreme logits.
// Expected values are PyTorch 1.13's.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autograd/autograd.h"

namespace mt {
namespace {

// Regression: batches == 0 was taken for "no batch dim", giving a [3, 5] result read out of bounds.
TEST(EdgeCases, MatmulOfAnEmptyBatchIsAnEmptyBatch) {
  const Var a(Tensor::zeros({0, 3, 4}, DType::Float64), true), b(Tensor::ones({4, 5}, DType::Float64), true);
  const Var y = matmul(a, b);
  EXPECT_EQ(y.shape(), Shape({0, 3, 5}));
  sum(y).backward();
  EXPECT_EQ(a.grad().shape(), Shape({0, 3, 4}));
  EXPECT_EQ(b.grad().to_vector(), std::vector<double>(20, 0.0));
  EXPECT_EQ(matmul(Tensor::ones({4, 5}), Tensor::ones({0, 5, 2})).shape(), Shape({0, 4, 2}));
}

// Regression: relu(NaN) was 0, and max/argmax skipped a NaN that was not first in its row.
TEST(EdgeCases, NaNPropagatesThroughReluAndMax) {
  const Tensor x = Tensor::from_vector(std::vector<double>{1, NAN, 3, NAN, 2, NAN}, {2, 3});
  const std::vector<double> r = relu(Tensor::from_vector(std::vector<double>{NAN, -1, 2}, {3})).to_vector();
  EXPECT_TRUE(std::isnan(r[0]));
  EXPECT_EQ(r[1], 0);
  EXPECT_EQ(r[2], 2);
  for (double m : max(x, 1).to_vector()) EXPECT_TRUE(std::isnan(m));
  EXPECT_EQ(argmax(x, 1), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(argmax(Tensor::from_vector(std::vector<double>{1, 5, 5, 2}, {4}), 0), (std::vector<int64_t>{1}));
  const Var v(x, true);
  sum(max(v, 1)).backward();
  EXPECT_EQ(v.grad().to_vector(), (std::vector<double>{0, 1, 0, 1, 0, 0})) << "the gradient goes to the NaN";
}

// Regression: p x^(p-1) at p = 0, x = 0 is 0 * inf = NaN.
TEST(EdgeCases, PowZeroHasAZeroGradient) {
  const Var x(Tensor::from_vector(std::vector<double>{0, 2}, {2}), true);
  sum(pow(x, 0)).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{0, 0}));
}

// Regression: max + log_sum - x[label] lost the loss's digits next to logits of 1e4 (0.4378255).
TEST(EdgeCases, Float32CrossEntropyKeepsItsDigitsAtLargeLogits) {
  const Tensor logits = Tensor::from_vector(std::vector<float>{1e4f, -1e4f, 0, 1e4f, 9999, -1e4f, -1e4f, -9998, 0}, {3, 3});
  const std::vector<int64_t> labels{0, 1, 2};
  EXPECT_NEAR(cross_entropy(logits, labels).item(), 0.4377538859844208, 1e-7);
  EXPECT_NEAR(cross_entropy(Var(logits), labels).item(), 0.4377538859844208, 1e-7);
}

// Regression: these threw where PyTorch returns values.
TEST(EdgeCases, EmptyAnd0DInputsGivePyTorchsValues) {
  const int rows[] = {0}, cols[] = {1};
  for (double m : mean(Tensor::zeros({0, 3}), rows).to_vector()) EXPECT_TRUE(std::isnan(m));
  EXPECT_TRUE(std::isnan(mean(Tensor::zeros({0, 3})).item()));
  EXPECT_EQ(mean(Tensor::zeros({0, 3}), cols).shape(), Shape({0}));
  const Var empty(Tensor::zeros({0, 3}, DType::Float64), true);
  const Var m = mean(empty, rows);
  EXPECT_EQ(m.shape(), Shape({3}));
  m.backward(Tensor::ones({3}, DType::Float64));
  EXPECT_EQ(empty.grad().shape(), Shape({0, 3}));

  const Var logits(Tensor::zeros({0, 3}, DType::Float64), true);
  const Var loss = cross_entropy(logits, std::vector<int64_t>{});
  EXPECT_TRUE(std::isnan(loss.item()));
  loss.backward();
  EXPECT_EQ(logits.grad().shape(), Shape({0, 3}));

  const Var s(Tensor::scalar(2, DType::Float64), true);
  const Var p = softmax(s, 0), lp = log_softmax(s, -1);
  EXPECT_EQ(p.shape(), Shape({}));
  EXPECT_EQ(p.item(), 1);
  EXPECT_EQ(lp.item(), 0);
  (p + lp).backward();
  EXPECT_EQ(s.grad().item(), 0);
  EXPECT_THROW(softmax(s, 1), Error);
}

}  // namespace
}  // namespace mt
