// Optimizers against torch.optim (numbers from tests/reference/optim_reference.py), plus their contracts:
// parameters without a gradient are skipped, gradients are never written, options are validated.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <memory>
#include <vector>

#include "nn/functional.h"
#include "optim/optim.h"
#include "tensor/cpu.h"
#include "tensor/parallel.h"

namespace mt {
namespace {

constexpr int kSteps = 12;

// The reference problem, built from the same formulas as the Python script.
struct Problem {
  Var w, b, x;
  std::vector<int64_t> y{0, 1, 2, 1, 0, 2};

  Problem() {
    std::vector<double> wv, bv, xv;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j) wv.push_back(0.3 * std::cos(0.5 * i + 1.1 * j + 0.2));
    for (int i = 0; i < 3; ++i) bv.push_back(0.1 * (i - 1));
    for (int n = 0; n < 6; ++n)
      for (int j = 0; j < 4; ++j) xv.push_back(std::sin(1.3 * n + 0.7 * j));
    w = Var(Tensor::from_vector(wv, {3, 4}), true);
    b = Var(Tensor::from_vector(bv, {3}), true);
    x = Var(Tensor::from_vector(xv, {6, 4}));
  }

  // Runs the script's loop and returns the largest relative difference from `expected` (W then b).
  double run(optim::Optimizer& opt, const std::vector<double>& expected) {
    for (int step = 0; step < kSteps; ++step) {
      if (step == kSteps / 2)
        for (size_t g = 0; g < opt.param_groups().size(); ++g) opt.set_learning_rate(g, opt.learning_rate(g) * 0.5);
      opt.zero_grad();
      nn::cross_entropy(nn::linear(x, w, b), y).backward();
      opt.step();
    }
    std::vector<double> got = w.value().to_vector();
    const std::vector<double> bias = b.value().to_vector();
    got.insert(got.end(), bias.begin(), bias.end());
    EXPECT_EQ(got.size(), expected.size());
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - expected[i]) / std::abs(expected[i]));
    return worst;
  }
};

constexpr double kRelTol = 1e-6;

TEST(Optim, SGDNesterovWeightDecayMatchesPyTorch) {
  Problem p;
  optim::SGD opt({p.w, p.b}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
  const double worst = p.run(opt, {-0.32233293289423426, -0.07077605493018672, 0.16618428166120203,
                                   0.4569827106846874, 0.35430521169714, -0.1895535850059612, -0.6035920594819968,
                                   -0.5599453975605839, 0.5739971931188039, 0.0803218741126001, -0.33186334290900454,
                                   -0.41490634067604343, -0.11461164240979962, 0.0637590110618199,
                                   0.05085263134797981});
  RecordProperty("max_rel_diff", ::testing::PrintToString(worst));
  EXPECT_LT(worst, kRelTol);
}

TEST(Optim, SGDMomentumDampeningMatchesPyTorch) {
  Problem p;
  optim::SGD opt({p.w, p.b}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1});
  const double worst = p.run(opt, {-0.2359526912864704, -0.03746102738570662, 0.12869436822049224, 0.3720293273183986,
                                   0.34134200200212145, -0.19213521832684666, -0.5928187884042212,
                                   -0.5333662738361651, 0.5267906451650699, 0.041802459508056014,
                                   -0.33842060179736017, -0.3789318857577897, -0.08695142587689826,
                                   0.043437920379501296, 0.04351350549739692});
  RecordProperty("max_rel_diff", ::testing::PrintToString(worst));
  EXPECT_LT(worst, kRelTol);
}

TEST(Optim, AdamMatchesPyTorch) {
  Problem p;
  optim::Adam opt({p.w, p.b}, {.lr = 0.05});
  const double worst = p.run(opt, {-0.13660094922311564, -0.3699250149804819, 0.19152548956897325, 0.1419102645412473,
                                   0.669675226605383, -0.45456434375190075, -0.7007853124974407, -0.6133767568469501,
                                   0.5364564020319357, 0.2270595345574211, -0.7116065958320081, -0.49147987546584365,
                                   -0.15177871373320095, 0.23780652017787673, 0.14097947808181044});
  RecordProperty("max_rel_diff", ::testing::PrintToString(worst));
  EXPECT_LT(worst, kRelTol);
}

TEST(Optim, AdamL2WeightDecayMatchesPyTorch) {
  Problem p;
  optim::Adam opt({p.w, p.b}, {.lr = 0.05, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1});
  const double worst = p.run(opt, {-0.11802556991945057, -0.25632736723839344, 0.17603496657588483,
                                   0.12874341677856738, 0.336701751046324, -0.1982191654931561, -0.5353201493752031,
                                   -0.5261514869932279, 0.4776319273479726, 0.1559186020790414, -0.32144411806030837,
                                   -0.4543876344153681, -0.12374507498069555, 0.1107830047009427,
                                   0.06888638491279854});
  RecordProperty("max_rel_diff", ::testing::PrintToString(worst));
  EXPECT_LT(worst, kRelTol);
}

TEST(Optim, AdamWMatchesPyTorch) {
  Problem p;
  optim::AdamW opt({p.w, p.b}, {.lr = 0.05, .weight_decay = 0.1});
  const double worst = p.run(opt, {-0.1407106152303063, -0.3638580407468383, 0.1937681781188808, 0.145981406546748,
                                   0.6508566895151725, -0.444942169580089, -0.6804257038361282, -0.5969034396920772,
                                   0.5227362106038311, 0.2267727598119733, -0.6915229164040891, -0.4799440681658185,
                                   -0.1499248514576622, 0.23355289241335656, 0.13868986667032612});
  RecordProperty("max_rel_diff", ::testing::PrintToString(worst));
  EXPECT_LT(worst, kRelTol);
}

// Parameter groups: W and b each with their own lr and weight decay, against torch.optim's param_groups.
TEST(Optim, SGDParameterGroupsMatchPyTorch) {
  Problem p;
  optim::SGD opt({{.params = {p.w}}, {.params = {p.b}, .lr = 0.3, .weight_decay = 0}},
                 {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.05});
  ASSERT_EQ(opt.param_groups().size(), 2u);
  EXPECT_EQ(opt.param_groups()[0].weight_decay, 0.05);
  EXPECT_EQ(opt.learning_rate(1), 0.3);
  EXPECT_EQ(opt.parameters().size(), 2u);
  const double worst = p.run(opt, {-0.2968587302024707, -0.057545291852512094, 0.1676284108702706, 0.4275483032836793,
                                   0.30480588050494745, -0.17975017790638823, -0.5447698413555545, -0.5040141825214127,
                                   0.5134936989660687, 0.08239756378305063, -0.28482159751843983, -0.3691639388456569,
                                   -0.13663737283346908, 0.10528961157253135, 0.03134776126093755});
  EXPECT_LT(worst, kRelTol);
}

TEST(Optim, AdamParameterGroupsMatchPyTorch) {
  Problem p;
  optim::Adam opt({{.params = {p.w}, .weight_decay = 0.02}, {.params = {p.b}, .lr = 0.01}},
                  {.lr = 0.05, .weight_decay = 0.1});
  const double worst = p.run(opt, {-0.1349220912457126, -0.36652676817107255, 0.18980257074242793, 0.1407997215510326,
                                   0.6549432648408923, -0.427446987440173, -0.6884450923185722, -0.605700779623018,
                                   0.5314531451666858, 0.22185098433714592, -0.6336966001438383, -0.48637315789682084,
                                   -0.06358432395587553, 0.09121210717719204, 0.04206126013329908});
  EXPECT_LT(worst, kRelTol);
}

TEST(Optim, AdamWParameterGroupsMatchPyTorch) {
  Problem p;
  optim::AdamW opt({{.params = {p.w}, .weight_decay = 0.2}, {.params = {p.b}, .lr = 0.02, .weight_decay = 0}},
                   {.lr = 0.05});
  const double worst = p.run(opt, {-0.14437398086106795, -0.3602651319493193, 0.19445719009549559, 0.14902445141735496,
                                   0.6319823826959909, -0.4363825483116057, -0.6607065711608765, -0.5806847373073505,
                                   0.5094852262468018, 0.22786589023882667, -0.672054823003404, -0.46760805678296674,
                                   -0.07254069428112143, 0.175894067794542, 0.052628162969176995});
  EXPECT_LT(worst, kRelTol);
}

TEST(Optim, ParameterGroupsRejectAParameterInTwoGroupsAndBadOptions) {
  Problem p;
  try {
    optim::SGD({{.params = {p.w, p.b}}, {.params = {p.w}}}, {});
    FAIL() << "a parameter in two groups was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("SGD: parameter 2 appears in more than one parameter group"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(optim::Adam({{.params = {p.w}, .lr = -1}}, {}), Error);
  EXPECT_THROW(optim::AdamW({{.params = {p.w}, .weight_decay = -0.1}}), Error);
  EXPECT_THROW(optim::SGD(std::vector<optim::ParamGroup>{}, {}), Error);
  optim::SGD opt({{.params = {p.w}}, {.params = {p.b}, .lr = 0.5}}, {.lr = 0.1});
  opt.set_learning_rate(0.2);  // every group's, as a schedule written for one group expects
  EXPECT_EQ(opt.learning_rate(0), 0.2);
  EXPECT_EQ(opt.learning_rate(1), 0.2);
  EXPECT_THROW(opt.set_learning_rate(2, 0.1), std::out_of_range);
}

// Float32: the update kernel's own rounding against PyTorch's, without a model around it. The gradient of
// sum(w * g) is g exactly, in both frameworks; some gradients are small enough for eps to matter.
// Returns the largest difference from `expected` in units of float32 rounding: ulps of the expected value, or
// of the learning rate for a value smaller than that (an update's rounding error scales with the update).
constexpr float kFloat32UpdateScale = 0.05f;
float float32_trajectory_ulps(const std::function<std::unique_ptr<optim::Optimizer>(Var)>& make,
                              const std::vector<float>& expected) {
  std::vector<float> w0;
  for (int j = 0; j < 40; ++j) w0.push_back(static_cast<float>(std::cos(0.3 * j)));
  Var w(Tensor::from_vector(w0, {40}), true);
  auto opt = make(w);
  for (int t = 1; t <= kSteps; ++t) {
    std::vector<float> g;
    for (int j = 0; j < 40; ++j) g.push_back(static_cast<float>(std::sin(0.37 * j + 1.9 * t) * std::pow(10.0, -(j % 7))));
    opt->zero_grad();
    sum(mul(w, Var(Tensor::from_vector(g, {40})))).backward();
    opt->step();
  }
  const std::vector<double> got = w.value().to_vector();
  EXPECT_EQ(got.size(), expected.size());
  float worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const float scale = std::max(std::abs(expected[i]), kFloat32UpdateScale);
    const float ulp = std::nextafter(scale, INFINITY) - scale;
    worst = std::max(worst, std::abs(static_cast<float>(got[i]) - expected[i]) / ulp);
  }
  return worst;
}

// Within 8 float32 roundings after 12 steps (measured: 2.5 for Adam, 5 for AdamW; PyTorch's own formula
// in this loop gives 1 and 5: FMA contraction rounds differently too). Our one division per element,
// rate m / (sqrt(v) + eps'), rounds differently from PyTorch's two, m / (sqrt(v) / sqrt(bc2) + eps).
constexpr float kFloat32Ulps = 8;

TEST(Optim, AdamFloat32MatchesPyTorchWithinFloat32Rounding) {
  const float worst = float32_trajectory_ulps(
      [](Var w) { return std::make_unique<optim::Adam>(std::vector<Var>{w}, optim::AdamOptions{.lr = 0.05}); },
      {
      0.9213309288024902f, 0.9046317338943481f, 0.8033859729766846f, 0.6273530125617981f, 0.4915086627006531f,
      0.21150553226470947f, -0.0941552072763443f, -0.388755738735199f, -0.6456880569458008f, -0.8394532203674316f,
      -0.9539348483085632f, -0.9799151420593262f, -1.014338731765747f, -0.8606618046760559f, -0.6303108930587769f,
      -0.33715754747390747f, -0.016612548381090164f, 0.29980918765068054f, 0.5845217704772949f, 0.8133543729782104f,
      0.9693094491958618f, 1.129395604133606f, 1.0912843942642212f, 0.9503819346427917f, 0.7240269780158997f,
      0.4378516674041748f, 0.1179821640253067f, -0.2086016982793808f, -0.5122251510620117f, -0.8676295876502991f,
      -1.0486133098602295f, -1.1321498155593872f, -1.1106775999069214f, -0.9927272200584412f, -0.7910490036010742f,
      -0.5251869559288025f, -0.21522754430770874f, 0.11094430834054947f, 0.5233734250068665f, 0.7886704802513123f});
  RecordProperty("max_ulps", ::testing::PrintToString(worst));
  EXPECT_LE(worst, kFloat32Ulps);
}

TEST(Optim, AdamWFloat32MatchesPyTorchWithinFloat32Rounding) {
  const float worst = float32_trajectory_ulps(
      [](Var w) {
        return std::make_unique<optim::AdamW>(
            std::vector<Var>{w}, optim::AdamOptions{.lr = 0.05, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1});
      },
      {
      0.8782640695571899f, 0.8588384985923767f, 0.758566677570343f, 0.5874031186103821f, 0.45153045654296875f,
      0.17005392909049988f, -0.16662687063217163f, -0.3798287808895111f, -0.6200548410415649f, -0.7994489669799805f,
      -0.9029365181922913f, -0.9228503108024597f, -0.912354588508606f, -0.7250432372093201f, -0.5802635550498962f,
      -0.3034326732158661f, -0.002555194776505232f, 0.29303833842277527f, 0.5578417181968689f, 0.7724484205245972f,
      0.9191514849662781f, 1.054985523223877f, 1.0154221057891846f, 0.8809952139854431f, 0.667895495891571f,
      0.3994588255882263f, 0.09690584242343903f, -0.21881219744682312f, -0.48142725229263306f, -0.8109210729598999f,
      -0.9767904877662659f, -1.0525977611541748f, -1.0304696559906006f, -0.9130144119262695f, -0.7021117210388184f,
      -0.4876728653907776f, -0.20078983902931213f, 0.10067929327487946f, 0.48396897315979004f, 0.7284855842590332f});
  RecordProperty("max_ulps", ::testing::PrintToString(worst));
  EXPECT_LE(worst, kFloat32Ulps);
}

TEST(Optim, AdamWDefaultsToPyTorchWeightDecay) {
  Problem p, q;
  optim::AdamW defaults({p.w, p.b});
  optim::AdamW explicit_options({q.w, q.b}, {.lr = 1e-3, .weight_decay = 1e-2});
  nn::cross_entropy(nn::linear(p.x, p.w, p.b), p.y).backward();
  nn::cross_entropy(nn::linear(q.x, q.w, q.b), q.y).backward();
  defaults.step();
  explicit_options.step();
  EXPECT_EQ(p.w.value().to_vector(), q.w.value().to_vector());
}

// Every optimizer, made fresh over the given parameters.
std::vector<std::function<std::unique_ptr<optim::Optimizer>(std::vector<Var>)>> all_optimizers() {
  return {
      [](std::vector<Var> ps) { return std::make_unique<optim::SGD>(std::move(ps), optim::SGDOptions{.lr = 0.1, .momentum = 0.9}); },
      [](std::vector<Var> ps) { return std::make_unique<optim::Adam>(std::move(ps), optim::AdamOptions{.weight_decay = 0.1}); },
      [](std::vector<Var> ps) { return std::make_unique<optim::AdamW>(std::move(ps)); },
  };
}

TEST(Optim, SkipsParametersWithoutGradientAndNeverWritesGradients) {
  for (const auto& make : all_optimizers()) {
    Problem p;
    const Var unused(Tensor::from_vector(std::vector<double>{1.5, -2.5}, {2}), true);
    auto opt = make({p.w, p.b, unused});
    for (int step = 0; step < 3; ++step) {
      opt->zero_grad();
      nn::cross_entropy(nn::linear(p.x, p.w, p.b), p.y).backward();
      const std::vector<double> grad_before = p.w.grad().to_vector();
      const std::vector<double> w_before = p.w.value().to_vector();
      opt->step();
      EXPECT_EQ(p.w.grad().to_vector(), grad_before);
      EXPECT_NE(p.w.value().to_vector(), w_before);
    }
    EXPECT_FALSE(unused.grad().defined());
    EXPECT_EQ(unused.value().to_vector(), (std::vector<double>{1.5, -2.5}));
  }
}

TEST(Optim, UpdatesFloat32ParametersAndKeepsTheirStorage) {
  for (const auto& make : all_optimizers()) {
    // Large enough for the update to run in parallel.
    const Var w(Tensor::full({300, 300}, 0.5), true);
    const float* storage = w.value().data<float>();
    auto opt = make({w});
    for (int step = 0; step < 2; ++step) {
      opt->zero_grad();
      sum(w * w).backward();
      opt->step();
    }
    EXPECT_EQ(w.value().data<float>(), storage);
    const std::vector<double> v = w.value().to_vector();
    EXPECT_LT(v.front(), 0.5);
    EXPECT_TRUE(std::all_of(v.begin(), v.end(), [&](double e) { return e == v.front(); }));
  }
}

// Parameters past Adam's parallel threshold (2^14 elements), ragged ones among them, are updated in slices
// that the threads share: every element exactly once, with the same bits as on one thread.
TEST(Optim, SameUpdatesOnAnyThreadCount) {
  const int saved = num_threads();
  const Shape shapes[] = {{300, 300}, {131, 127}, {16411}, {7, 3}};
  auto train = [&](int threads, int which) {
    set_num_threads(threads);
    std::vector<Var> params;
    for (const Shape& shape : shapes) {
      Tensor t = Tensor::empty(shape);
      float* w = t.mutable_data<float>();
      for (int64_t i = 0; i < t.numel(); ++i) w[i] = std::sin(0.37f * static_cast<float>(i));
      params.emplace_back(t, true);
    }
    auto opt = all_optimizers()[which](params);
    for (int step = 0; step < 3; ++step) {
      opt->zero_grad();
      Var loss = sum(params[0] * params[0] * params[0]);
      for (size_t k = 1; k < params.size(); ++k) loss = loss + sum(params[k] * params[k] * params[k]);
      loss.backward();
      opt->step();
    }
    std::vector<std::vector<double>> values;
    for (const Var& p : params) values.push_back(p.value().to_vector());
    return values;
  };
  for (int which = 0; which < 3; ++which) {
    const auto one = train(1, which);
    EXPECT_NE(one[0][1], std::sin(0.37f));
    for (int threads : {2, 3}) EXPECT_EQ(train(threads, which), one) << "optimizer " << which << ", " << threads << " threads";
  }
  set_num_threads(saved);
}

// The width Adam runs in is the one MT_ADAM_VECTOR_BITS forces (ctest runs this file with 256 and with 512),
// else the CPU's pick.
TEST(Optim, AdamRunsInTheVectorWidthTheEnvironmentOrTheCpuPicks) {
  const char* forced = std::getenv("MT_ADAM_VECTOR_BITS");
  const bool zen5_or_later = detail::cpu_model().amd && detail::cpu_model().family >= 0x1A;
  EXPECT_EQ(optim::adam_vector_bits(), forced ? std::atoi(forced) : (zen5_or_later ? 512 : 256));
}

TEST(Optim, ZeroGradDropsGradients) {
  Problem p;
  optim::SGD opt({p.w, p.b}, {});
  nn::cross_entropy(nn::linear(p.x, p.w, p.b), p.y).backward();
  ASSERT_TRUE(p.w.grad().defined());
  opt.zero_grad();
  EXPECT_FALSE(p.w.grad().defined());
  EXPECT_FALSE(p.b.grad().defined());
}

TEST(Optim, RejectsBadOptions) {
  Problem p;
  EXPECT_THROW(optim::SGD({p.w}, {.lr = -1}), Error);
  EXPECT_THROW(optim::SGD({p.w}, {.nesterov = true}), Error);
  EXPECT_THROW(optim::SGD({p.w}, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}), Error);
  EXPECT_THROW(optim::Adam({p.w}, {.beta1 = 1}), Error);
  EXPECT_THROW(optim::AdamW({p.w}, {.eps = -1}), Error);
  EXPECT_THROW(optim::Adam({p.x}, {}), Error);  // does not require a gradient
  optim::Adam opt({p.w}, {});
  EXPECT_THROW(opt.set_learning_rate(-0.1), Error);
  try {
    optim::SGD({p.w}, {.nesterov = true});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("SGD"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mt
