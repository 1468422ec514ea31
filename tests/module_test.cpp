// Modules list each parameter and buffer once however often it is registered, and hold parameters by handle.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "nn/nn.h"
#include "optim/optim.h"

namespace mt::nn {
namespace {

std::vector<std::string> names(const std::vector<std::pair<std::string, Var>>& named) {
  std::vector<std::string> out;
  for (const auto& entry : named) out.push_back(entry.first);
  return out;
}

// Regression: `add(l).add(l)` listed l's weight and bias twice, so SGD moved them twice a step.
TEST(Module, ASharedLayerIsListedAndUpdatedOnce) {
  Generator gen(1);
  auto layer = std::make_shared<Linear>(2, 2, gen, true, DType::Float64);
  auto twice = std::make_shared<Sequential>();
  twice->add(layer).add(layer);
  EXPECT_EQ(names(twice->named_parameters()), (std::vector<std::string>{"0.weight", "0.bias"}));
  EXPECT_EQ(twice->parameter_count(), 6);
  EXPECT_EQ(names(twice->state_dict()), (std::vector<std::string>{"0.weight", "0.bias"}));

  const Tensor before = layer->bias().value().clone(), w = layer->weight().value().clone();
  optim::SGD sgd(twice->parameters(), {.lr = 0.5});
  sum((*twice)(Var(Tensor::zeros({1, 2}, DType::Float64)))).backward();
  sgd.step();
  // y = W (W 0 + b) + b: dy/db = W^T 1 + 1, one step of size 0.5 on it.
  for (int64_t j = 0; j < 2; ++j)
    EXPECT_DOUBLE_EQ(layer->bias().value().at({j}), before.at({j}) - 0.5 * (1 + w.at({0, j}) + w.at({1, j})));
}

TEST(Module, ASharedBatchNormsBuffersAreInTheStateDictOnce) {
  auto norm = std::make_shared<BatchNorm1d>(2);
  Sequential model{norm, norm};
  EXPECT_EQ(names(model.state_dict()),
            (std::vector<std::string>{"0.weight", "0.bias", "0.running_mean", "0.running_var"}));
  EXPECT_EQ(model.named_buffers().size(), 2u);
}

// Parameters kept in a std::vector<Var>, each registered right after its push_back (a ParameterList):
// registration by address left dangling pointers when the vector grew (heap-use-after-free under ASan).
class Polynomial : public Module {
 public:
  explicit Polynomial(int degree) {
    for (int k = 0; k <= degree; ++k) {
      coefficients_.push_back(Var(Tensor::full({1}, k + 1, DType::Float64), true));
      register_parameter(std::string("c").append(std::to_string(k)), coefficients_.back());
    }
  }
  Var forward(const Var& x) override {
    Var y = coefficients_[0] * 1.0, power = x;
    for (size_t k = 1; k < coefficients_.size(); ++k, power = power * x) y = y + coefficients_[k] * power;
    return y;
  }
  std::string describe() const override { return "Polynomial"; }
  const std::vector<Var>& coefficients() const { return coefficients_; }

 private:
  std::vector<Var> coefficients_;
};

TEST(Module, ParametersKeptInAVectorAreRegisteredSafely) {
  Polynomial p(4);
  const std::vector<Var> params = p.parameters();
  ASSERT_EQ(params.size(), 5u);
  for (size_t k = 0; k < params.size(); ++k) {
    EXPECT_TRUE(params[k].is_same(p.coefficients()[k]));
    EXPECT_EQ(params[k].value().item(), static_cast<double>(k + 1));
  }
  p(Var(Tensor::full({1}, 2, DType::Float64))).backward();
  for (size_t k = 0; k < params.size(); ++k) EXPECT_EQ(params[k].grad().item(), std::pow(2.0, k));
}

TEST(Module, ToKeepsEveryHandleOnTheSameParameter) {
  Generator gen(2);
  Linear layer(3, 2, gen);
  const Var weight = layer.weight();
  layer.to(DType::Float64);
  EXPECT_EQ(weight.dtype(), DType::Float64);
  EXPECT_TRUE(layer.parameters()[0].is_same(weight));
  EXPECT_THROW(sum(weight * 2.0).set_data(Tensor::ones({1})), Error) << "set_data on a non-leaf";
}

TEST(Optim, AdamTakesDefaultOptions) {
  const Var p(Tensor::full({1}, 1, DType::Float64), true);
  optim::Adam adam({p});
  sum(p * p).backward();
  adam.step();
  EXPECT_NEAR(p.value().item(), 1 - 1e-3, 1e-10) << "Adam's first step is lr sign(g)";
}

// PyTorch's error too: the step writes the weight that mul's backward reads.
TEST(Optim, AStepBetweenAForwardAndItsBackwardIsCaught) {
  const Var w(Tensor::full({2}, 1, DType::Float64), true), x(Tensor::full({2}, 3, DType::Float64));
  const Var loss = sum(w * x);
  loss.backward({.retain_graph = true});
  optim::SGD sgd({w}, {.lr = 0.1});
  sgd.step();
  EXPECT_THROW(loss.backward(), Error);
}

// Dropout's mask stream is listed by named_generators(), and its saved state continues the stream: what a
// training checkpoint relies on to resume with the masks an uninterrupted run would draw.
TEST(Module, DropoutGeneratorIsListedAndItsStateContinuesTheStream) {
  Generator gen(0);
  Sequential model{std::make_shared<Linear>(4, 4, gen), std::make_shared<Dropout>(0.5, 7)};
  const auto generators = model.named_generators();
  ASSERT_EQ(generators.size(), 1u);
  EXPECT_EQ(generators[0].first, "1.generator");
  const Var x(Tensor::ones({8, 4}));
  (void)model(x);
  const Generator::State saved = generators[0].second->state();
  const std::vector<double> next = model(x).value().to_vector();
  (void)model(x);
  generators[0].second->set_state(saved);
  EXPECT_EQ(model(x).value().to_vector(), next);
  Generator::State zero{};
  EXPECT_THROW(generators[0].second->set_state(zero), Error);
}

}  // namespace
}  // namespace mt::nn
