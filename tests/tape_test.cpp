// The tape's guarantees that keep a gradient from being silently wrong: a released graph is not walked
// again, every leaf owns its gradient, an in-place edit of what a backward reads raises, and hooks see and
// may replace the gradients of a pass.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/autograd.h"

namespace mt {
namespace {

Tensor values(std::vector<double> v) { return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// Regression: the released tanh record looked like a leaf, so l2's gradient stopped there and x.grad stayed 2 (1 - tanh^2).
TEST(Tape, SecondBackwardThroughAReleasedRecordNamesTheOp) {
  const Var x(values({0.5}), true);
  const Var h = tanh(x);
  const Var l1 = sum(h * 2.0), l2 = sum(h * 7.0);
  l1.backward();
  const std::string message = error_of([&] { l2.backward(); });
  EXPECT_NE(message.find("'tanh'"), std::string::npos) << message;
  EXPECT_NE(message.find("second time"), std::string::npos) << message;
  EXPECT_NE(message.find("retain_graph"), std::string::npos) << message;
  const double dtanh = 1 - std::tanh(0.5) * std::tanh(0.5);
  EXPECT_DOUBLE_EQ(x.grad().item(), 2 * dtanh) << "the failed backward added nothing";
}

TEST(Tape, RetainGraphKeepsTheRecordsForAnotherBackward) {
  const Var x(values({0.5}), true);
  const Var h = tanh(x);
  const Var l1 = sum(h * 2.0), l2 = sum(h * 7.0);
  l1.backward({.retain_graph = true});
  l2.backward();
  const double dtanh = 1 - std::tanh(0.5) * std::tanh(0.5);
  EXPECT_DOUBLE_EQ(x.grad().item(), 9 * dtanh);
  const Var y = sum(exp(x));
  y.backward(Tensor::ones({}, DType::Float64), {.retain_graph = true});
  y.backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), 9 * dtanh + 2 * std::exp(0.5));
  EXPECT_NE(error_of([&] { y.backward(); }).find("'sum'"), std::string::npos);
}

// Regression: add's backward handed one g to both inputs, and a and b kept it as their grad().
TEST(Tape, EveryLeafOwnsItsGradient) {
  const Var a(values({1, 2}), true), b(values({3, 4}), true), w(values({5, 6}), true);
  sum((a + b) * w).backward();
  EXPECT_FALSE(a.grad().shares_storage_with(b.grad()));
  a.grad().fill_(0);
  EXPECT_EQ(b.grad().to_vector(), (std::vector<double>{5, 6}));

  const Var x(values({1, 2}), true), y(values({3, 4}), true);
  const Tensor g = values({7, 8});
  (x + y).backward(g);
  EXPECT_FALSE(x.grad().shares_storage_with(g));
  EXPECT_FALSE(y.grad().shares_storage_with(g));
  x.grad().fill_(0);
  EXPECT_EQ(g.to_vector(), (std::vector<double>{7, 8}));
  EXPECT_EQ(y.grad().to_vector(), (std::vector<double>{7, 8}));

  const Var leaf(values({1, 2}), true);
  leaf.backward(g);
  EXPECT_FALSE(leaf.grad().shares_storage_with(g)) << "a leaf as the root";
}

// Regression: y = x * x; x.fill_(10); y.backward() gave 20 where the forward's x gives 4.
TEST(Tape, AnInPlaceEditBetweenForwardAndBackwardRaisesNamingTheOp) {
  const Var x(values({2}), true);
  const Var y = sum(x * x);
  x.value().fill_(10);
  const std::string message = error_of([&] { y.backward(); });
  EXPECT_NE(message.find("backward of 'mul'"), std::string::npos) << message;
  EXPECT_NE(message.find("modified in place"), std::string::npos) << message;
  EXPECT_FALSE(x.grad().defined());

  const Var t = tanh(x);
  t.value().mutable_data<double>()[0] = 0;
  EXPECT_NE(error_of([&] { sum(t).backward(); }).find("'tanh': its result"), std::string::npos);

  // Reading is not writing: the values, to_vector() and data() leave the version as it was.
  const Var e = sum(exp(x));
  const uint64_t version = x.value().version();
  EXPECT_EQ(x.value().data<double>()[0], 10);
  EXPECT_EQ(x.value().to_vector(), std::vector<double>{10});
  EXPECT_EQ(x.value().version(), version);
  e.backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), std::exp(10.0));
}

TEST(Tape, HooksSeeThePassGradientAndMayReplaceIt) {
  const Var x(values({1, 2}), true);
  std::vector<std::vector<double>> seen;
  x.register_hook([&](const Tensor& g) {
    seen.push_back(g.to_vector());
    return Tensor();
  });
  const Var h = x * 3.0;
  h.register_hook([](const Tensor& g) { return g * 10.0; });
  sum(h + x).backward();
  ASSERT_EQ(seen.size(), 1u) << "a leaf's hook runs once a pass, on the sum of its paths";
  EXPECT_EQ(seen[0], (std::vector<double>{31, 31}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{31, 31}));
  x.register_hook([](const Tensor& g) { return g * 0.0; });
  sum(x).backward();
  EXPECT_EQ(seen.back(), (std::vector<double>{1, 1}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{31, 31}));
  EXPECT_THROW(Var(values({1})).register_hook([](const Tensor& g) { return g; }), Error);
  x.register_hook([](const Tensor&) { return Tensor::ones({3}, DType::Float64); });
  EXPECT_NE(error_of([&] { sum(x).backward(); }).find("register_hook"), std::string::npos);
}

}  // namespace
}  // namespace mt
