// nn's image layers and batch norm: Conv2d's initialisation and layout, pooling and Flatten, BatchNorm1d/2d
// in training and eval against PyTorch (tests/reference/conv_reference.py), running statistics as buffers
// (not parameters, untouched by optimizers, converted by to(), saved and loaded by checkpoints), and a CNN's
// checkpoint round trip.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <unistd.h>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "apps/mnist/models.h"
#include "nn/nn.h"
#include "optim/optim.h"
#include "tests/test_directory.h"

namespace mt {
namespace {

#include "reference/conv_reference.inc"

namespace fs = std::filesystem;

Tensor filled(const Shape& shape, const std::function<double(int64_t)>& f) {
  std::vector<double> v(static_cast<size_t>(shape.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = f(static_cast<int64_t>(i));
  return Tensor::from_vector(v, shape);
}

void expect_values(const Tensor& t, std::span<const double> expected, double tol = 1e-12) {
  const std::vector<double> got = t.to_vector();
  ASSERT_EQ(got.size(), expected.size()) << t.str();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], tol) << "element " << i << " of " << t.str();
}

std::vector<std::string> names(const std::vector<std::pair<std::string, Var>>& named) {
  std::vector<std::string> out;
  for (const auto& entry : named) out.push_back(entry.first);
  return out;
}

TEST(NnConv2d, InitialisesLikePyTorchAndNamesItsParameters) {
  Generator gen(1);
  nn::Conv2d conv(4, 6, {3, 2}, gen, {.padding = {1, 1}, .groups = 2});
  EXPECT_EQ(conv.weight().shape(), Shape({6, 2, 3, 2}));
  EXPECT_EQ(conv.bias().shape(), Shape({6}));
  const double bound = 1 / std::sqrt(2.0 * 3 * 2);  // fan_in = in/groups kh kw
  for (const Var& p : conv.parameters())
    for (double v : p.value().to_vector()) {
      EXPECT_LE(std::abs(v), bound);
    }
  EXPECT_EQ(names(conv.named_parameters()), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(conv.describe(),
            "Conv2d(4, 6, kernel_size=(3, 2), stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=2, bias=true)");
  // The same draws as Linear: the weights, then the bias, from the same generator.
  Generator a(7), b(7);
  nn::Conv2d c1(3, 5, 3, a);
  Tensor w = Tensor::empty({5, 3, 3, 3});
  nn::init::kaiming_uniform_(w, b, std::sqrt(5.0));
  EXPECT_EQ(c1.weight().value().to_vector(), w.to_vector());
  const Var y = c1.forward(Var(Tensor::zeros({2, 3, 8, 8})));
  EXPECT_EQ(y.shape(), Shape({2, 5, 6, 6}));
  EXPECT_THROW(nn::Conv2d(3, 4, 3, gen, {.groups = 2}), Error);
}

TEST(NnPooling, LayersShapesAndFlatten) {
  Generator gen(2);
  const Var x(Tensor::normal({2, 3, 8, 6}, 0, 1, gen));
  EXPECT_EQ(nn::MaxPool2d(2).forward(x).shape(), Shape({2, 3, 4, 3}));
  EXPECT_EQ(nn::AvgPool2d({.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}).forward(x).shape(), Shape({2, 3, 4, 3}));
  EXPECT_EQ(nn::MaxPool2d(2).describe(), "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))");
  const Var flat = nn::Flatten().forward(x);
  EXPECT_EQ(flat.shape(), Shape({2, 144}));
  EXPECT_TRUE(flat.value().shares_storage_with(x.value()));  // a view, no copy
}

Tensor bn_input(const Shape& s) { return filled(s, [](int64_t i) { return std::sin(0.37 * i + 0.1); }); }

// A float64 BatchNorm with the reference script's weight, bias and running statistics.
template <class Layer>
std::unique_ptr<Layer> reference_batch_norm() {
  auto bn = std::make_unique<Layer>(3, nn::BatchNormOptions{}, DType::Float64);
  bn->weight().value().copy_(filled({3}, [](int64_t i) { return 0.5 * std::cos(0.23 * i + 0.4); }));
  bn->bias().value().copy_(filled({3}, [](int64_t i) { return 0.1 * i - 0.2; }));
  bn->running_mean().copy_(filled({3}, [](int64_t i) { return 0.2 * i - 0.1; }));
  bn->running_var().copy_(filled({3}, [](int64_t i) { return 0.5 + 0.3 * i; }));
  return bn;
}

TEST(NnBatchNorm, TrainingAndEvalMatchPyTorch) {
  auto bn2 = reference_batch_norm<nn::BatchNorm2d>();
  const Var x2(bn_input({4, 3, 5, 5}), true);
  const Var y2 = bn2->forward(x2);
  expect_values(y2.value(), kBatchNorm2dTrainY);
  expect_values(bn2->running_mean(), kBatchNorm2dTrainRunningMean);
  expect_values(bn2->running_var(), kBatchNorm2dTrainRunningVar);

  auto eval2 = reference_batch_norm<nn::BatchNorm2d>();
  eval2->eval();
  const Var y2e = eval2->forward(x2);
  expect_values(y2e.value(), kBatchNorm2dEvalY);
  y2e.backward(filled(y2e.shape(), [](int64_t i) { return std::sin(0.11 * i + 0.3); }));
  expect_values(eval2->weight().grad(), kBatchNorm2dEvalDw, 1e-11);
  expect_values(x2.grad(), kBatchNorm2dEvalDx, 1e-11);
  // Eval reads the running statistics and leaves them alone.
  expect_values(eval2->running_mean(), std::vector<double>{-0.1, 0.1, 0.3});

  auto bn1 = reference_batch_norm<nn::BatchNorm1d>();
  const Var x1(bn_input({6, 3}), true);
  const Var y1 = bn1->forward(x1);
  expect_values(y1.value(), kBatchNorm1dTrainY);
  expect_values(bn1->running_var(), kBatchNorm1dTrainRunningVar);
  y1.backward(filled(y1.shape(), [](int64_t i) { return std::sin(0.11 * i + 0.3); }));
  expect_values(x1.grad(), kBatchNorm1dTrainDx, 1e-11);
  expect_values(bn1->bias().grad(), kBatchNorm1dTrainDb, 1e-11);
}

TEST(NnBatchNorm, RunningStatisticsAreBuffersNotParameters) {
  nn::BatchNorm2d bn(4);
  EXPECT_EQ(names(bn.named_parameters()), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(names(bn.state_dict()), (std::vector<std::string>{"weight", "bias", "running_mean", "running_var"}));
  ASSERT_EQ(bn.named_buffers().size(), 2u);
  EXPECT_EQ(bn.named_buffers()[0].first, "running_mean");
  EXPECT_FALSE(bn.state_dict()[2].second.requires_grad());
  EXPECT_EQ(bn.parameter_count(), 8);
  // An optimizer step changes the parameters only; the forward pass is what moves the running statistics.
  Generator gen(3);
  optim::Adam opt(bn.parameters(), {.lr = 0.1});
  const Var x(Tensor::normal({8, 4, 3, 3}, 2, 3, gen));
  sum(bn.forward(x) * bn.forward(x)).backward();
  const std::vector<double> mean_before = bn.running_mean().to_vector(), var_before = bn.running_var().to_vector();
  EXPECT_NE(mean_before, std::vector<double>(4, 0.0));
  opt.step();
  EXPECT_EQ(bn.running_mean().to_vector(), mean_before);
  EXPECT_EQ(bn.running_var().to_vector(), var_before);
  EXPECT_NE(bn.weight().value().to_vector(), std::vector<double>(4, 1.0));
  // to() converts buffers too.
  bn.to(DType::Float64);
  EXPECT_EQ(bn.running_mean().dtype(), DType::Float64);
  EXPECT_EQ(bn.running_mean().to_vector(), mean_before);
  // Without affine or running statistics there is nothing to hold; eval then uses the batch's statistics.
  nn::BatchNorm1d plain(4, {.affine = false, .track_running_stats = false});
  EXPECT_TRUE(plain.state_dict().empty());
  plain.eval();
  const Tensor z = plain.forward(Var(Tensor::normal({16, 4}, 5, 2, gen))).value();
  const int rows[] = {0};
  for (double m : mean(z, rows).to_vector()) EXPECT_NEAR(m, 0, 1e-5);
}

TEST(NnBatchNorm, RejectsWrongInputsWithTheirShapes) {
  nn::BatchNorm2d bn(3);
  try {
    bn.forward(Var(Tensor::zeros({2, 4, 5, 5})));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "BatchNorm2d(3): expected input [N, C, H, W] with C = 3, got [2, 4, 5, 5]");
  }
  EXPECT_THROW(nn::BatchNorm1d(3).forward(Var(Tensor::zeros({2, 3, 4, 4}))), Error);
  // One value per channel cannot be normalised in training (PyTorch refuses it too); eval can.
  nn::BatchNorm1d one(3);
  EXPECT_THROW(one.forward(Var(Tensor::zeros({1, 3}))), Error);
  one.eval();
  EXPECT_EQ(one.forward(Var(Tensor::zeros({1, 3}))).shape(), Shape({1, 3}));
}

std::shared_ptr<nn::Sequential> small_cnn(Generator& gen) {
  auto m = std::make_shared<nn::Sequential>();
  m->add(std::make_shared<nn::Conv2d>(1, 4, 3, gen, Conv2dOptions{.padding = {1, 1}}, false))
      .add(std::make_shared<nn::BatchNorm2d>(4))
      .add(std::make_shared<nn::ReLU>())
      .add(std::make_shared<nn::MaxPool2d>(2))
      .add(std::make_shared<nn::Flatten>())
      .add(std::make_shared<nn::Linear>(4 * 4 * 4, 8, gen))
      .add(std::make_shared<nn::BatchNorm1d>(8))
      .add(std::make_shared<nn::Linear>(8, 3, gen));
  return m;
}

TEST(NnCheckpoint, CnnRoundTripsWithItsRunningStatistics) {
  const test::TestDirectory dir;
  Generator gen(4), other(5);
  auto model = small_cnn(gen), fresh = small_cnn(other);
  optim::Adam opt(model->parameters(), {.lr = 0.01});
  const std::vector<int64_t> labels = {0, 1, 2, 1, 0, 2};
  for (int step = 0; step < 5; ++step) {
    const Var x(Tensor::normal({6, 1, 8, 8}, 0.5, 1, gen));
    opt.zero_grad();
    nn::cross_entropy(model->forward(x), labels).backward();
    opt.step();
  }
  EXPECT_EQ(names(model->state_dict()),
            (std::vector<std::string>{"0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var", "5.weight",
                                      "5.bias", "6.weight", "6.bias", "6.running_mean", "6.running_var", "7.weight",
                                      "7.bias"}));
  const fs::path path = dir / "cnn.mtw";
  nn::save(*model, path);
  nn::load(*fresh, path);
  const auto saved = model->state_dict(), loaded = fresh->state_dict();
  for (size_t i = 0; i < saved.size(); ++i)
    EXPECT_EQ(saved[i].second.value().to_vector(), loaded[i].second.value().to_vector()) << saved[i].first;
  // In eval mode the prediction depends on the running statistics: identical after loading.
  model->eval();
  fresh->eval();
  const Var x(Tensor::normal({3, 1, 8, 8}, 0, 1, gen));
  EXPECT_EQ(fresh->forward(x).value().to_vector(), model->forward(x).value().to_vector());
  // A model without the buffers does not take the file.
  auto no_stats = std::make_shared<nn::Sequential>();
  no_stats->add(std::make_shared<nn::Conv2d>(1, 4, 3, other, Conv2dOptions{.padding = {1, 1}}, false));
  EXPECT_THROW(nn::load(*no_stats, path), Error);
}

TEST(MnistCnn, ParameterCountAndOutputMatchTheDescription) {
  Generator gen(0);
  auto cnn = mnist_app::make_cnn(gen, 0);
  EXPECT_EQ(cnn->parameter_count(), mnist_app::kCnnParameters);
  EXPECT_NE(std::string(mnist_app::kCnnDescription).find("870,826 parameters"), std::string::npos);
  EXPECT_EQ(cnn->forward(Var(Tensor::zeros({2, 1, 28, 28}))).shape(), Shape({2, 10}));
}

}  // namespace
}  // namespace mt
