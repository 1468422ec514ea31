// nn: modules and their parameter names, Linear's initialisation and gradients, the initialisers, the
// layers, and checkpoints (round trip and every corruption case).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "nn/nn.h"
#include "tests/test_directory.h"

namespace mt {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<nn::Sequential> mlp(Generator& gen, DType dtype = DType::Float32) {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(4, 8, gen, true, dtype), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(8, 3, gen, true, dtype)});
}

std::vector<std::string> names(const nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& [name, var] : m.named_parameters()) out.push_back(name);
  return out;
}

struct Stats {
  double min, max, mean, stddev;
};

Stats stats(const Tensor& t) {
  const std::vector<double> v = t.to_vector();
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double sq = 0;
  for (double e : v) sq += (e - mean) * (e - mean);
  return {*std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()), mean,
          std::sqrt(sq / static_cast<double>(v.size()))};
}

// --- Modules -------------------------------------------------------------------------------------------

TEST(NnModule, NamesParametersRecursively) {
  Generator gen(1);
  nn::Linear linear(4, 3, gen);
  EXPECT_EQ(names(linear), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(linear.weight().shape(), Shape({3, 4}));
  EXPECT_EQ(linear.bias().shape(), Shape({3}));
  EXPECT_EQ(linear.parameter_count(), 15);

  auto model = mlp(gen);
  EXPECT_EQ(names(*model), (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  EXPECT_EQ(model->parameters().size(), 4u);
  EXPECT_EQ(model->parameter_count(), 4 * 8 + 8 + 8 * 3 + 3);
  // The handles share the module's parameters: writing through one is seen by the model.
  model->parameters()[0].value().fill_(0.25);
  EXPECT_EQ((*model)[0].named_parameters()[0].second.value().at({0, 0}), 0.25);

  nn::Sequential outer;
  outer.add(model).add(std::make_shared<nn::Tanh>());
  EXPECT_EQ(names(outer)[3], "0.2.bias");

  nn::Linear no_bias(4, 3, gen, false);
  EXPECT_EQ(names(no_bias), std::vector<std::string>{"weight"});
  EXPECT_FALSE(no_bias.bias().defined());
}

TEST(NnModule, PrintsLayersShapesAndParameterCount) {
  Generator gen(1);
  auto model = mlp(gen);
  model->add(std::make_shared<nn::Dropout>(0.25));
  const std::string text = model->str();
  EXPECT_EQ(text,
            "Sequential(\n"
            "  (0): Linear(in_features=4, out_features=8, bias=true)  weight float32[8, 4], bias float32[8]\n"
            "  (1): ReLU()\n"
            "  (2): Linear(in_features=8, out_features=3, bias=true)  weight float32[3, 8], bias float32[3]\n"
            "  (3): Dropout(p=0.25)\n"
            ")\n"
            "Parameters: 67\n");
}

TEST(NnModule, TrainEvalAndZeroGradReachEveryChild) {
  Generator gen(1);
  auto model = mlp(gen);
  EXPECT_TRUE(model->is_training());
  model->eval();
  EXPECT_FALSE(model->is_training());
  EXPECT_FALSE((*model)[2].is_training());
  model->train();
  EXPECT_TRUE((*model)[1].is_training());

  const Var x(Tensor::ones({2, 4}));
  sum(model->forward(x)).backward();
  for (const Var& p : model->parameters()) EXPECT_TRUE(p.grad().defined());
  model->zero_grad();
  for (const Var& p : model->parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(NnModule, ConvertsToFloat64) {
  Generator gen(1);
  auto model = mlp(gen);
  const std::vector<double> before = model->parameters()[0].value().to_vector();
  model->to(DType::Float64);
  for (const Var& p : model->parameters()) {
    EXPECT_EQ(p.dtype(), DType::Float64);
    EXPECT_TRUE(p.requires_grad());
  }
  EXPECT_EQ(model->parameters()[0].value().to_vector(), before);
  EXPECT_EQ(model->forward(Var(Tensor::ones({2, 4}, DType::Float64))).dtype(), DType::Float64);
}

// --- Linear --------------------------------------------------------------------------------------------

TEST(NnLinear, ForwardIsXWTransposedPlusB) {
  Generator gen(3);
  nn::Linear linear(2, 3, gen, true, DType::Float64);
  linear.weight().value().copy_(Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {3, 2}));
  linear.bias().value().copy_(Tensor::from_vector(std::vector<double>{0.5, -0.5, 1}, {3}));
  const Var y = linear(Var(Tensor::from_vector(std::vector<double>{1, -1, 2, 0.5}, {2, 2})));
  EXPECT_EQ(y.value().to_vector(), (std::vector<double>{-0.5, -1.5, 0, 3.5, 7.5, 14}));
  // Any leading dims: [2, 1, 2] -> [2, 1, 3].
  const Var y3 = linear(Var(Tensor::from_vector(std::vector<double>{1, -1, 2, 0.5}, {2, 1, 2})));
  EXPECT_EQ(y3.shape(), Shape({2, 1, 3}));
  EXPECT_EQ(y3.value().to_vector(), y.value().to_vector());
  EXPECT_THROW(linear(Var(Tensor::ones({2, 3}, DType::Float64))), Error);
}

TEST(NnLinear, InitialisationIsReproducibleFromTheSeed) {
  Generator a(42), b(42), c(43);
  nn::Linear la(16, 8, a), lb(16, 8, b), lc(16, 8, c);
  EXPECT_EQ(la.weight().value().to_vector(), lb.weight().value().to_vector());
  EXPECT_EQ(la.bias().value().to_vector(), lb.bias().value().to_vector());
  EXPECT_NE(la.weight().value().to_vector(), lc.weight().value().to_vector());
}

TEST(NnLinear, InitialisationMatchesPyTorchsDistribution) {
  // W and b ~ U(-1/sqrt(in), 1/sqrt(in)): mean 0, std bound/sqrt(3). With n samples the sample mean has
  // std bound/sqrt(3n); the bounds below are 5 of those standard errors.
  Generator gen(7);
  const int64_t in = 256, out = 512;
  nn::Linear linear(in, out, gen);
  const double bound = 1 / std::sqrt(static_cast<double>(in));
  const Stats w = stats(linear.weight().value());
  const double n = static_cast<double>(in * out);
  EXPECT_GE(w.min, -bound);
  EXPECT_LT(w.max, bound);
  EXPECT_LT(w.min, -bound * 0.999);  // the whole range is used
  EXPECT_GT(w.max, bound * 0.999);
  EXPECT_NEAR(w.mean, 0, 5 * bound / std::sqrt(3 * n));
  EXPECT_NEAR(w.stddev, bound / std::sqrt(3.0), 0.01 * bound);
  const Stats b = stats(linear.bias().value());
  EXPECT_GE(b.min, -bound);
  EXPECT_LT(b.max, bound);
  EXPECT_NEAR(b.mean, 0, 5 * bound / std::sqrt(3.0 * out));
}

TEST(NnLinear, GradcheckFloat64) {
  Generator gen(5);
  nn::Linear linear(4, 3, gen, true, DType::Float64);
  const Tensor x = Tensor::normal({5, 4}, 0, 1, gen, DType::Float64);
  // Through the functional form, the gradient of every input: x, W and b; with and without bias.
  auto with_bias = [](const std::vector<Var>& v) { return nn::linear(v[0], v[1], v[2]); };
  auto without_bias = [](const std::vector<Var>& v) { return nn::linear(v[0], v[1]); };
  const std::vector<Tensor> inputs{x, linear.weight().value().clone(), linear.bias().value().clone()};
  EXPECT_TRUE(gradcheck(with_bias, inputs)) << gradcheck(with_bias, inputs).message;
  EXPECT_TRUE(gradcheck(without_bias, {x, inputs[1]})) << gradcheck(without_bias, {x, inputs[1]}).message;
  // A batch of sequences [2, 5, 4].
  const Tensor xb = Tensor::normal({2, 5, 4}, 0, 1, gen, DType::Float64);
  EXPECT_TRUE(gradcheck(with_bias, {xb, inputs[1], inputs[2]}));
  // Through the module, whose parameters gradcheck cannot perturb: the input gradient is checked, and the
  // module's parameter gradients must equal the functional form's.
  auto module_fn = [&](const std::vector<Var>& v) { return linear(v[0]); };
  EXPECT_TRUE(gradcheck(module_fn, {x}));
  const Tensor g = Tensor::normal({5, 3}, 0, 1, gen, DType::Float64);
  linear.zero_grad();  // gradcheck's own backward reached the module's parameters too
  linear(Var(x)).backward(g);
  std::vector<Var> vars{Var(x), Var(inputs[1], true), Var(inputs[2], true)};
  with_bias(vars).backward(g);
  EXPECT_EQ(linear.weight().grad().to_vector(), vars[1].grad().to_vector());
  EXPECT_EQ(linear.bias().grad().to_vector(), vars[2].grad().to_vector());
}

TEST(NnSequential, GradcheckThroughEveryActivation) {
  Generator gen(9);
  nn::Sequential model({std::make_shared<nn::Linear>(3, 5, gen), std::make_shared<nn::Tanh>(),
                        std::make_shared<nn::Linear>(5, 4, gen), std::make_shared<nn::Sigmoid>(),
                        std::make_shared<nn::Linear>(4, 2, gen, false), std::make_shared<nn::ReLU>()});
  model.to(DType::Float64);
  auto f = [&](const std::vector<Var>& v) { return nn::log_softmax(model(v[0]), -1); };
  const GradcheckResult r = gradcheck(f, {Tensor::normal({6, 3}, 0, 1, gen, DType::Float64)});
  EXPECT_TRUE(r) << r.message;
}

// --- Initialisers --------------------------------------------------------------------------------------

TEST(NnInit, FansAndGains) {
  EXPECT_EQ(nn::init::fans({8, 4}).in, 4);
  EXPECT_EQ(nn::init::fans({8, 4}).out, 8);
  EXPECT_EQ(nn::init::fans({8, 4, 3, 3}).in, 36);
  EXPECT_EQ(nn::init::fans({8, 4, 3, 3}).out, 72);
  EXPECT_THROW(nn::init::fans({8}), Error);
  EXPECT_DOUBLE_EQ(nn::init::gain(nn::init::Nonlinearity::ReLU), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(nn::init::gain(nn::init::Nonlinearity::Tanh), 5.0 / 3);
  EXPECT_DOUBLE_EQ(nn::init::gain(nn::init::Nonlinearity::LeakyReLU, std::sqrt(5.0)), std::sqrt(1.0 / 3));
}

TEST(NnInit, DistributionsHaveTheirStandardDeviations) {
  Generator gen(11);
  const int64_t out = 400, in = 300;
  const double n = static_cast<double>(in * out);
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const Tensor t = Tensor::empty({out, in}, dtype);

    nn::init::kaiming_normal_(t, gen, 0, nn::init::FanMode::FanIn, nn::init::Nonlinearity::ReLU);
    Stats s = stats(t);
    double stddev = std::sqrt(2.0 / in);
    EXPECT_NEAR(s.mean, 0, 5 * stddev / std::sqrt(n));
    EXPECT_NEAR(s.stddev, stddev, 0.01 * stddev);

    nn::init::kaiming_uniform_(t, gen, 0, nn::init::FanMode::FanOut, nn::init::Nonlinearity::ReLU);
    s = stats(t);
    stddev = std::sqrt(2.0 / out);
    EXPECT_GE(s.min, -std::sqrt(3.0) * stddev);
    EXPECT_LT(s.max, std::sqrt(3.0) * stddev);
    EXPECT_NEAR(s.stddev, stddev, 0.01 * stddev);

    nn::init::xavier_uniform_(t, gen);
    s = stats(t);
    stddev = std::sqrt(2.0 / (in + out));
    EXPECT_GE(s.min, -std::sqrt(3.0) * stddev);
    EXPECT_LT(s.max, std::sqrt(3.0) * stddev);
    EXPECT_NEAR(s.mean, 0, 5 * stddev / std::sqrt(n));
    EXPECT_NEAR(s.stddev, stddev, 0.01 * stddev);

    nn::init::xavier_normal_(t, gen, 2);
    s = stats(t);
    EXPECT_NEAR(s.stddev, 2 * stddev, 0.02 * stddev);

    nn::init::zeros_(t);
    s = stats(t);
    EXPECT_EQ(s.min, 0);
    EXPECT_EQ(s.max, 0);
    EXPECT_EQ(t.dtype(), dtype);
  }
}

// --- Layers --------------------------------------------------------------------------------------------

TEST(NnDropout, DropsInTrainingOnlyAndIsSeeded) {
  const Var x(Tensor::ones({100, 100}), true);
  nn::Dropout a(0.3, 5), b(0.3, 5);
  const std::vector<double> ya = a(x).value().to_vector();
  EXPECT_EQ(ya, b(x).value().to_vector());
  const auto zeros = std::count(ya.begin(), ya.end(), 0.0);
  EXPECT_NEAR(static_cast<double>(zeros) / 10000, 0.3, 0.03);
  for (double v : ya) EXPECT_TRUE(v == 0 || std::abs(v - 1 / 0.7) < 1e-6);

  const Var y = a(x);
  sum(y).backward();
  EXPECT_EQ(x.grad().to_vector(), y.value().to_vector());  // the gradient passes where the value did

  a.eval();
  EXPECT_EQ(a(x).value().to_vector(), x.value().to_vector());
  EXPECT_THROW(nn::Dropout(1.5), Error);
}

TEST(NnFunctional, SoftmaxFamilyAndCrossEntropy) {
  const Var logits(Tensor::from_vector(std::vector<double>{1, 2, 3, -1, 0.5, 1000}, {2, 3}), true);
  const std::vector<int64_t> labels{2, 0};
  const std::vector<double> p = nn::softmax(logits, 1).value().to_vector();
  EXPECT_NEAR(p[0] + p[1] + p[2], 1, 1e-12);
  const Var loss = nn::cross_entropy(logits, labels);
  const std::vector<double> lsm = nn::log_softmax(logits, 1).value().to_vector();
  EXPECT_NEAR(loss.item(), -(lsm[2] + lsm[3]) / 2, 1e-12);
  EXPECT_TRUE(std::isfinite(loss.item()));
}

// --- Checkpoints ---------------------------------------------------------------------------------------

class NnCheckpoint : public ::testing::Test {
 protected:

  static std::vector<char> read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  static void write(const fs::path& path, const std::vector<char>& bytes) {
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  static std::vector<std::vector<double>> snapshot(const nn::Module& m) {
    std::vector<std::vector<double>> out;
    for (const Var& p : m.parameters()) out.push_back(p.value().to_vector());
    return out;
  }
  // Loading `path` into `model` fails with a message containing `expected`, and leaves the model as it was.
  static void expect_load_fails(nn::Module& model, const fs::path& path, const std::string& expected) {
    const auto before = snapshot(model);
    try {
      nn::load(model, path);
      ADD_FAILURE() << "load succeeded; expected an error containing '" << expected << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path.filename().string()), std::string::npos) << e.what();
    }
    EXPECT_EQ(snapshot(model), before);
  }

  const test::TestDirectory directory_;
  const fs::path& dir_ = directory_.path();
};

TEST_F(NnCheckpoint, SaveThenLoadGivesBitIdenticalPredictions) {
  Generator gen(1), other(2);
  auto model = mlp(gen), fresh = mlp(other);
  const Var x(Tensor::normal({10, 4}, 0, 1, gen));
  const fs::path path = dir_ / "model.mtw";
  nn::save(*model, path);
  EXPECT_NE(fresh->forward(x).value().to_vector(), model->forward(x).value().to_vector());
  nn::load(*fresh, path);
  EXPECT_EQ(fresh->forward(x).value().to_vector(), model->forward(x).value().to_vector());
  EXPECT_EQ(snapshot(*fresh), snapshot(*model));
  // Only the file itself is left: the temporary file was renamed into place.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(NnCheckpoint, RoundTripsFloat64AndOverwrites) {
  Generator gen(1), other(2);
  auto model = mlp(gen, DType::Float64), fresh = mlp(other, DType::Float64);
  const fs::path path = dir_ / "model.mtw";
  nn::save(*fresh, path);
  nn::save(*model, path);
  nn::load(*fresh, path);
  EXPECT_EQ(snapshot(*fresh), snapshot(*model));
}

TEST_F(NnCheckpoint, FileFollowsTheDocumentedFormat) {
  Generator gen(1);
  nn::Linear linear(2, 1, gen, false);
  const fs::path path = dir_ / "linear.mtw";
  nn::save(linear, path);
  const std::vector<char> bytes = read(path);
  // Header 20 + count 4 + name length 4 + "weight" 6 + dtype 1 + ndim 1 + 2 sizes 16 + 2 floats 8 + CRC 4.
  ASSERT_EQ(bytes.size(), 64u);
  EXPECT_EQ(std::string(bytes.data(), 8), "MTWEIGHT");
  EXPECT_EQ(std::vector<char>(bytes.begin() + 8, bytes.begin() + 20),
            (std::vector<char>{1, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(std::string(bytes.data() + 28, 6), "weight");
  EXPECT_EQ(bytes[34], 0);  // float32
  EXPECT_EQ(bytes[35], 2);  // dims
  EXPECT_EQ(bytes[36], 1);  // out_features, little-endian u64
  EXPECT_EQ(bytes[44], 2);  // in_features
}

TEST_F(NnCheckpoint, CorruptFilesAreRejectedAndLeaveTheModelUnchanged) {
  Generator gen(1), other(2);
  auto model = mlp(gen), target = mlp(other);
  const fs::path good = dir_ / "good.mtw";
  nn::save(*model, good);
  const std::vector<char> bytes = read(good);

  std::vector<char> truncated(bytes.begin(), bytes.end() - 10);
  write(dir_ / "truncated.mtw", truncated);
  expect_load_fails(*target, dir_ / "truncated.mtw", "truncated");
  write(dir_ / "stub.mtw", std::vector<char>(bytes.begin(), bytes.begin() + 5));
  expect_load_fails(*target, dir_ / "stub.mtw", "truncated");

  std::vector<char> magic = bytes;
  magic[0] = 'X';
  write(dir_ / "magic.mtw", magic);
  expect_load_fails(*target, dir_ / "magic.mtw", "bad magic");

  std::vector<char> version = bytes;
  version[8] = 2;
  write(dir_ / "version.mtw", version);
  expect_load_fails(*target, dir_ / "version.mtw", "unsupported checkpoint version 2");

  // A flipped bit anywhere in the payload, names and sizes included, is caught by the CRC.
  for (size_t at : {size_t{24}, size_t{30}, bytes.size() / 2, bytes.size() - 5}) {
    std::vector<char> flipped = bytes;
    flipped[at] ^= 0x10;
    write(dir_ / "flipped.mtw", flipped);
    expect_load_fails(*target, dir_ / "flipped.mtw", "CRC mismatch");
  }

  std::vector<char> longer = bytes;
  longer.push_back(0);
  write(dir_ / "longer.mtw", longer);
  expect_load_fails(*target, dir_ / "longer.mtw", "unexpected bytes");

  expect_load_fails(*target, dir_ / "missing.mtw", "cannot open");
}

TEST_F(NnCheckpoint, MismatchedModelsAreRejectedAndLeftUnchanged) {
  Generator gen(1);
  auto model = mlp(gen);
  const fs::path path = dir_ / "model.mtw";
  nn::save(*model, path);

  // Same layers without the ReLU: the second Linear is "1.*", not "2.*".
  nn::Sequential renamed({std::make_shared<nn::Linear>(4, 8, gen), std::make_shared<nn::Linear>(8, 3, gen)});
  expect_load_fails(renamed, path, "parameter '1.weight' is not in the file");

  auto wider = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(4, 9, gen), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(9, 3, gen)});
  expect_load_fails(*wider, path, "'0.weight' has shape [8, 4] in the file but [9, 4] in the model");

  auto doubles = mlp(gen, DType::Float64);
  expect_load_fails(*doubles, path, "'0.weight' is float32 in the file but float64 in the model");

  nn::Sequential fewer({std::make_shared<nn::Linear>(4, 8, gen)});
  expect_load_fails(fewer, path, "the file's tensor '2.weight' is not a parameter of the model");

  nn::Sequential no_bias({std::make_shared<nn::Linear>(4, 8, gen), std::make_shared<nn::ReLU>(),
                          std::make_shared<nn::Linear>(8, 3, gen, false)});
  expect_load_fails(no_bias, path, "'2.bias' is not a parameter");
}

TEST_F(NnCheckpoint, SaveIntoAMissingOrUnwritableDirectoryFails) {
  Generator gen(1);
  auto model = mlp(gen);
  try {
    nn::save(*model, dir_ / "no_such_dir" / "model.mtw");
    ADD_FAILURE() << "save succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create a temporary file"), std::string::npos) << e.what();
  }
  // A regular file where the directory should be: unwritable even for root.
  write(dir_ / "file", {'x'});
  EXPECT_THROW(nn::save(*model, dir_ / "file" / "model.mtw"), Error);
  // A directory where the file should be: the rename fails and the temporary file is removed.
  fs::create_directory(dir_ / "taken");
  fs::create_directory(dir_ / "taken" / "sub");
  EXPECT_THROW(nn::save(*model, dir_ / "taken"), Error);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2);
}

TEST(Layers, ActivationModulesAreTheirOpsAndDescribeTheirArguments) {
  const Var x(Tensor::from_vector(std::vector<double>{-2, -0.5, 0.5, 3}, {2, 2}));
  nn::GELU gelu_erf, gelu_tanh(GeluApproximation::Tanh);
  nn::LeakyReLU leaky(0.2);
  nn::SiLU silu_layer;
  EXPECT_EQ(gelu_erf(x).value().to_vector(), gelu(x).value().to_vector());
  EXPECT_EQ(gelu_tanh(x).value().to_vector(), gelu(x, GeluApproximation::Tanh).value().to_vector());
  EXPECT_EQ(leaky(x).value().to_vector(), (std::vector<double>{-0.4, -0.1, 0.5, 3}));
  EXPECT_EQ(silu_layer(x).value().to_vector(), silu(x).value().to_vector());
  EXPECT_EQ(gelu_tanh.describe(), "GELU(approximate='tanh')");
  EXPECT_EQ(leaky.describe(), "LeakyReLU(negative_slope=0.2)");
  EXPECT_EQ(nn::LeakyReLU().describe(), "LeakyReLU(negative_slope=0.01)");
  EXPECT_EQ(silu_layer.describe(), "SiLU()");
}

TEST(NnEmbedding, LooksUpRowsInitialisedNormalWithAZeroPaddingRowThatGetsNoGradient) {
  Generator gen(3);
  nn::Embedding table(1000, 64, gen, -1, DType::Float64);
  EXPECT_EQ(table.padding_idx(), 999);
  EXPECT_EQ(table.describe(), "Embedding(1000, 64, padding_idx=999)");
  EXPECT_EQ(nn::Embedding(5, 2, gen).describe(), "Embedding(5, 2)");
  // N(0, 1) over the 999 * 64 rows not padding: 5 standard errors on the mean, 2% on the deviation.
  const Stats s = stats(table.weight().value().narrow(0, 0, 999));
  EXPECT_NEAR(s.mean, 0, 5 / std::sqrt(999.0 * 64));
  EXPECT_NEAR(s.stddev, 1, 0.02);
  EXPECT_EQ(table.weight().value().select(0, 999).to_vector(), std::vector<double>(64, 0.0));

  const Var y = table.forward(Indices({7, 999, 7}, {3, 1}));
  EXPECT_EQ(y.shape(), Shape({3, 1, 64}));
  EXPECT_EQ(y.value().select(0, 2).to_vector(), table.weight().value().select(0, 7).to_vector());
  sum(y).backward();
  const Tensor& g = table.weight().grad();
  EXPECT_EQ(g.select(0, 7).to_vector(), std::vector<double>(64, 2.0));  // looked up twice
  EXPECT_EQ(g.select(0, 999).to_vector(), std::vector<double>(64, 0.0));
  EXPECT_EQ(sum(g).item(), 128);

  // Through the Module interface, token ids arrive as whole-number values.
  const Var ids(Tensor::from_vector(std::vector<double>{7, 3}, {2}));
  EXPECT_EQ(table(ids).value().select(0, 1).to_vector(), table.weight().value().select(0, 3).to_vector());
  EXPECT_THROW(table(Var(Tensor::from_vector(std::vector<double>{0.5}, {1}))), Error);
  EXPECT_THROW(table.forward(Indices{1000}), Error);
  EXPECT_THROW(nn::Embedding(4, 2, gen, 4), Error);
}

TEST(NnLayerNorm, IsLayerNormWithOnesAndZerosAndRejectsOtherShapes) {
  nn::LayerNorm norm({2, 3}, 1e-3, true, DType::Float64), plain({3}, 1e-5, false);
  EXPECT_EQ(norm.describe(), "LayerNorm([2, 3], eps=0.001, elementwise_affine=true)");
  EXPECT_EQ(plain.describe(), "LayerNorm([3], eps=1e-05, elementwise_affine=false)");
  EXPECT_EQ(norm.parameters().size(), 2u);
  EXPECT_TRUE(plain.parameters().empty());
  EXPECT_EQ(norm.weight().value().to_vector(), std::vector<double>(6, 1.0));
  EXPECT_EQ(norm.bias().value().to_vector(), std::vector<double>(6, 0.0));
  // Each [2, 3] slice of x is normalised by its own statistics: 0..5 has mean 2.5 and variance 35 / 12.
  const Var x(Tensor::arange(0, 12, 1, DType::Float64).reshape({2, 2, 3}));
  const std::vector<double> y = norm(x).value().to_vector();
  const double rstd = 1 / std::sqrt(35.0 / 12 + 1e-3);
  for (int i = 0; i < 12; ++i) EXPECT_NEAR(y[i], (i % 6 - 2.5) * rstd, 1e-15) << i;
  // float32 agrees with float64 to float32 rounding, on rows with a large offset.
  const Var big(Tensor::arange(0, 12, 1, DType::Float64).reshape({4, 3}) * 0.25 + 3000.0);
  const std::vector<double> wide = plain(big).value().to_vector();
  const std::vector<double> narrow = plain(Var(big.value().to(DType::Float32))).value().to_vector();
  for (size_t i = 0; i < wide.size(); ++i) EXPECT_NEAR(narrow[i], wide[i], 1e-3) << i;
  EXPECT_THROW(norm(Var(Tensor::zeros({2, 3, 2}, DType::Float64))), Error);
  EXPECT_THROW(nn::LayerNorm(Shape{}), Error);
  EXPECT_THROW(nn::LayerNorm({3}, 0), Error);
}

// Gradient clipping against torch.nn.utils (tests/reference/clip_grad_reference.py), float64.
struct ClipReference {
  std::string name;
  double limit, norm_type, total;  // norm_type: 0 for clip_grad_value_, -1 for inf
  std::vector<double> clipped;     // A then b
};

const std::vector<ClipReference> kClipReferences = {
#include "reference/clip_grad_reference.inc"
};

// The script's two parameters, their gradients set by a backward: d/dA sum(A * GA) = GA.
struct ClipProblem {
  Var a, b;
  explicit ClipProblem(DType dtype = DType::Float64) {
    std::vector<double> ga, gb;
    for (int i = 0; i < 12; ++i) ga.push_back(2 * std::sin(0.37 * i + 0.1));
    for (int i = 0; i < 5; ++i) gb.push_back(3 * std::cos(0.91 * i));
    a = Var(Tensor::zeros({3, 4}, dtype), true);
    b = Var(Tensor::zeros({5}, dtype), true);
    const Var GA(Tensor::from_vector(ga, {3, 4}).to(dtype)), GB(Tensor::from_vector(gb, {5}).to(dtype));
    (sum(a * GA) + sum(b * GB)).backward();
  }
  std::vector<double> grads() const {
    std::vector<double> out = a.grad().to_vector();
    const std::vector<double> rest = b.grad().to_vector();
    out.insert(out.end(), rest.begin(), rest.end());
    return out;
  }
};

TEST(ClipGrad, NormAndValueMatchPyTorch) {
  ASSERT_EQ(kClipReferences.size(), 6u);
  for (const ClipReference& ref : kClipReferences) {
    ClipProblem p;
    const std::vector<Var> params{p.a, p.b};
    if (ref.norm_type == 0) {
      nn::clip_grad_value_(params, ref.limit);
    } else {
      const double total = nn::clip_grad_norm_(params, ref.limit, ref.norm_type < 0 ? nn::kInfNorm : ref.norm_type);
      EXPECT_NEAR(total, ref.total, 1e-14 * ref.total) << ref.name;
    }
    const std::vector<double> got = p.grads();
    ASSERT_EQ(got.size(), ref.clipped.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], ref.clipped[i], 1e-14) << ref.name << " element " << i;
  }
}

TEST(ClipGrad, Float32GradientsClipLikeTheFloat64Reference) {
  ClipProblem p(DType::Float32);
  const ClipReference& ref = kClipReferences[0];
  EXPECT_NEAR(nn::clip_grad_norm_(std::vector<Var>{p.a, p.b}, ref.limit), ref.total, 1e-6 * ref.total);
  const std::vector<double> got = p.grads();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], ref.clipped[i], 1e-6) << i;
}

TEST(ClipGrad, OneGradientHeldByTwoLeavesIsScaledOnce) {
  // backward() gives every leaf its own gradient, but set_grad() can hand one tensor to two leaves.
  Var x(Tensor::zeros({4}, DType::Float64), true), y(Tensor::zeros({4}, DType::Float64), true);
  const Tensor g = Tensor::from_vector(std::vector<double>{3, 0, 4, 0}, {4});
  x.set_grad(g);
  y.set_grad(g);
  ASSERT_TRUE(x.grad().shares_storage_with(y.grad()));
  const double total = nn::clip_grad_norm_(std::vector<Var>{x, y}, 1.0);
  EXPECT_NEAR(total, 5 * std::sqrt(2.0), 1e-14);  // both count in the norm
  const double coef = 1.0 / (5 * std::sqrt(2.0) + 1e-6);
  EXPECT_NEAR(x.grad().to_vector()[0], 3 * coef, 1e-15);  // scaled once, not coef^2
  EXPECT_NEAR(y.grad().to_vector()[2], 4 * coef, 1e-15);
}

TEST(ClipGrad, SkipsParametersWithoutGradientsAndReportsNonFiniteNorms) {
  Var unused(Tensor::ones({2}, DType::Float64), true);
  EXPECT_EQ(nn::clip_grad_norm_(std::vector<Var>{unused}, 1.0), 0.0);
  EXPECT_FALSE(unused.grad().defined());

  Var w(Tensor::zeros({3}, DType::Float64), true);
  (w * 1.0).backward(Tensor::from_vector(std::vector<double>{1, NAN, 2}, {3}));
  EXPECT_THROW(nn::clip_grad_norm_(std::vector<Var>{w}, 1.0, 2.0, true), Error);
  EXPECT_TRUE(std::isnan(nn::clip_grad_norm_(std::vector<Var>{w}, 1.0, nn::kInfNorm)));  // a NaN is not dropped
  EXPECT_TRUE(std::isnan(w.grad().to_vector()[0]));  // PyTorch's outcome: the NaN coefficient spreads

  EXPECT_THROW(nn::clip_grad_norm_(std::vector<Var>{w}, 1.0, 0.0), Error);
  EXPECT_THROW(nn::clip_grad_norm_(std::vector<Var>{w}, -1.0), Error);
  EXPECT_THROW(nn::clip_grad_value_(std::vector<Var>{w}, -0.5), Error);
}

}  // namespace
}  // namespace mt
