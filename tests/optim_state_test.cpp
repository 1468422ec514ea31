// Optimizer and scheduler state saved and loaded (optim/checkpoint.h): training that stops, saves, and goes on
// in fresh objects ends with the same bits as training straight through; files of another optimizer, shape or
// kind, with non-finite values or a payload larger than the state can take, are refused naming the file, and
// leave the optimizer as it was.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "error_message.h"
#include "test_directory.h"
#include "nn/functional.h"
#include "optim/checkpoint.h"

namespace mt {
namespace {

using test::error_message;

// A small softmax regression: weights and bias in two parameter groups, the bias without weight decay.
struct Problem {
  Var w, b, x;
  std::vector<int64_t> y{0, 1, 2, 1, 0, 2};

  Problem() {
    std::vector<float> wv, bv, xv;
    for (int i = 0; i < 12; ++i) wv.push_back(static_cast<float>(0.3 * std::cos(0.7 * i + 0.2)));
    for (int i = 0; i < 3; ++i) bv.push_back(static_cast<float>(0.1 * (i - 1)));
    for (int i = 0; i < 24; ++i) xv.push_back(static_cast<float>(std::sin(1.3 * i)));
    w = Var(Tensor::from_vector(wv, {3, 4}), true);
    b = Var(Tensor::from_vector(bv, {3}), true);
    x = Var(Tensor::from_vector(xv, {6, 4}));
  }
  std::vector<optim::ParamGroup> groups() const { return {{.params = {w}}, {.params = {b}, .weight_decay = 0.0}}; }
  void step(optim::Optimizer& opt, optim::LRScheduler& schedule) const {
    opt.zero_grad();
    nn::cross_entropy(nn::linear(x, w, b), y).backward();
    opt.step();
    schedule.step();
  }
  std::vector<double> values() const {
    std::vector<double> v = w.value().to_vector(), bias = b.value().to_vector();
    v.insert(v.end(), bias.begin(), bias.end());
    return v;
  }
};

struct Training {
  std::unique_ptr<optim::Optimizer> optimizer;
  std::shared_ptr<optim::LRScheduler> schedule;
};
using MakeRun = std::function<Training(const Problem&)>;

// Straight through `total` steps, against `stop` steps, a save, and the rest in a new problem and optimizer.
void expect_resume_is_bit_identical(const MakeRun& make, int stop, int total) {
  Problem straight;
  Training a = make(straight);
  for (int s = 0; s < total; ++s) straight.step(*a.optimizer, *a.schedule);

  const test::TestDirectory dir;
  const std::filesystem::path path = dir / "state.bin";
  std::vector<double> weights;
  {
    Problem first;
    Training b = make(first);
    for (int s = 0; s < stop; ++s) first.step(*b.optimizer, *b.schedule);
    optim::save(*b.optimizer, path, b.schedule.get());
    weights = first.values();
  }
  Problem resumed;
  resumed.w.value().copy_(Tensor::from_vector(std::vector<double>(weights.begin(), weights.begin() + 12), {3, 4}));
  resumed.b.value().copy_(Tensor::from_vector(std::vector<double>(weights.begin() + 12, weights.end()), {3}));
  Training c = make(resumed);
  optim::load(*c.optimizer, path, c.schedule.get());
  EXPECT_EQ(c.schedule->last_epoch(), stop);
  for (int s = stop; s < total; ++s) resumed.step(*c.optimizer, *c.schedule);
  EXPECT_EQ(resumed.values(), straight.values());
  EXPECT_EQ(c.schedule->last_lr(), a.schedule->last_lr());
  EXPECT_EQ(c.optimizer->momentum(), a.optimizer->momentum());
}

TEST(OptimState, SGDNesterovWithStepLRResumesBitIdentically) {
  expect_resume_is_bit_identical(
      [](const Problem& p) {
        Training r;
        r.optimizer = std::make_unique<optim::SGD>(p.groups(), optim::SGDOptions{.lr = 0.5, .momentum = 0.9, .weight_decay = 1e-2, .nesterov = true});
        r.schedule = std::make_shared<optim::StepLR>(*r.optimizer, optim::StepLROptions{.step_size = 3, .gamma = 0.5});
        return r;
      },
      5, 12);
}

TEST(OptimState, AdamWithOneCycleLRResumesBitIdenticallyBeta1Included) {
  expect_resume_is_bit_identical(
      [](const Problem& p) {
        Training r;
        r.optimizer = std::make_unique<optim::Adam>(p.groups(), optim::AdamOptions{.lr = 0.01, .weight_decay = 1e-3});
        r.schedule = std::make_shared<optim::OneCycleLR>(*r.optimizer, optim::OneCycleLROptions{.max_lr = 0.1, .total_steps = 12});
        return r;
      },
      7, 12);
}

TEST(OptimState, AdamWWithWarmUpThenCosineResumesBitIdentically) {
  expect_resume_is_bit_identical(
      [](const Problem& p) {
        Training r;
        r.optimizer = std::make_unique<optim::AdamW>(p.groups(), optim::AdamOptions{.lr = 0.05});
        auto warm = std::make_shared<optim::LinearLR>(*r.optimizer, optim::LinearLROptions{.total_iters = 3});
        auto cosine = std::make_shared<optim::CosineAnnealingLR>(*r.optimizer, optim::CosineAnnealingLROptions{.T_max = 9});
        r.schedule = std::make_shared<optim::SequentialLR>(
            *r.optimizer, std::vector<std::shared_ptr<optim::FormulaScheduler>>{warm, cosine}, std::vector<int64_t>{3});
        return r;
      },
      4, 12);
}

TEST(OptimState, StateDictNamesFollowPyTorch) {
  Problem p;
  optim::Adam adam(p.groups(), {.lr = 0.01});
  std::vector<std::string> names;
  for (const auto& [name, t] : adam.state_dict()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"param_groups.0.lr", "param_groups.0.weight_decay", "param_groups.0.params",
                                             "param_groups.1.lr", "param_groups.1.weight_decay", "param_groups.1.params",
                                             "momentum"}))
      << "no state before the first step";
  optim::CosineAnnealingLR cosine(adam, {.T_max = 4});
  p.step(adam, cosine);
  const NamedTensors state = adam.state_dict();
  ASSERT_EQ(state.size(), 15u);  // the groups' initial_lr, and per parameter two moments and a step
  EXPECT_EQ(state[3].first, "param_groups.0.initial_lr");
  EXPECT_EQ(state[9].first, "state.0.exp_avg");
  EXPECT_EQ(state[9].second.shape(), Shape({3, 4}));
  EXPECT_EQ(state[11].first, "state.0.step");
  EXPECT_EQ(state[11].second.item(), 1);
  EXPECT_EQ(state[14].second.item(), 1);
}

TEST(OptimState, FilesOfAnotherOptimizerShapeOrKindAreRefusedAndChangeNothing) {
  Problem p;
  optim::Adam adam(p.groups(), {.lr = 0.01});
  optim::StepLR step_lr(adam, {.step_size = 2});
  p.step(adam, step_lr);
  const test::TestDirectory dir;
  const std::filesystem::path path = dir / "adam.bin";
  optim::save(adam, path, &step_lr);

  Problem q;
  optim::SGD sgd(q.groups(), {.lr = 0.3, .momentum = 0.9});
  optim::StepLR sgd_lr(sgd, {.step_size = 2});
  std::string message = error_message([&] { optim::load(sgd, path, &sgd_lr); });
  EXPECT_NE(message.find("load '" + path.string() + "': the entry 'state.0.exp_avg' is not part of this state"),
            std::string::npos) << message;
  EXPECT_EQ(sgd.learning_rate(0), 0.3) << "a refused file changes nothing";
  EXPECT_EQ(sgd_lr.last_epoch(), 0);

  message = error_message([&] { optim::load(sgd, path); });
  EXPECT_NE(message.find("holds a scheduler's state"), std::string::npos) << message;

  // The same optimizer over a parameter of another shape.
  Var wide(Tensor::zeros({3, 5}), true), bias(Tensor::zeros({3}), true);
  optim::Adam other({{.params = {wide}}, {.params = {bias}}}, {});
  optim::StepLR other_lr(other, {.step_size = 2});
  message = error_message([&] { optim::load(other, path, &other_lr); });
  EXPECT_NE(message.find("'state.0.exp_avg' is float32[3, 4] in the file but float32[3, 5] here"), std::string::npos)
      << message;

  // One group where the file has two.
  optim::Adam one_group(std::vector<Var>{p.w, p.b});
  optim::StepLR one_lr(one_group, {.step_size = 2});
  message = error_message([&] { optim::load(one_group, path, &one_lr); });
  EXPECT_NE(message.find("parameter group 0 has 1 parameters in the file but 2 here"), std::string::npos) << message;
}

TEST(OptimState, NonFiniteValuesAndOversizedPayloadsAreRefused) {
  Problem p;
  optim::SGD sgd(p.groups(), {.lr = 0.1, .momentum = 0.9});
  optim::StepLR schedule(sgd, {.step_size = 2});
  p.step(sgd, schedule);
  NamedTensors state;
  optim::put_all(state, "optimizer.", sgd.state_dict());
  optim::put_all(state, "scheduler.", schedule.state_dict());
  for (auto& [name, t] : state)
    if (name == "optimizer.state.1.momentum_buffer") t = Tensor::from_vector({0.f, NAN, 0.f}, {3});
  const test::TestDirectory dir;
  const std::filesystem::path path = dir / "nan.bin";
  save_tensors(state, path);
  std::string message = error_message([&] { optim::load(sgd, path, &schedule); });
  EXPECT_NE(message.find("'state.1.momentum_buffer' holds a non-finite value (NaN or infinity) at element 1"),
            std::string::npos) << message;

  // A file with a tensor far larger than this optimizer's state: refused from its header.
  save_tensors({{"optimizer.state.0.momentum_buffer", Tensor::zeros({1 << 20})}}, path);
  message = error_message([&] { optim::load(sgd, path, &schedule); });
  EXPECT_NE(message.find("more than this optimizer's state could take"), std::string::npos) << message;

  // Many empty tensors within the payload limit: refused by their count before any is made. Each costs far more
  // memory than its 14 to 30 bytes in the file, and checking the names against each other one pair at a time
  // took minutes for the 290000 of a 6 MB checkpoint.
  NamedTensors many;
  for (int i = 0; i < 2000; ++i) many.emplace_back("optimizer.x" + std::to_string(i), Tensor::zeros({0}));
  save_tensors(many, path);
  message = error_message([&] { optim::load(sgd, path, &schedule); });
  EXPECT_NE(message.find("the file holds 2000 tensors, more than this optimizer's state could take (at most 280)"),
            std::string::npos) << message;
  std::filesystem::remove(path);
  message = error_message([&] { optim::load(sgd, path, &schedule); });
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
}

TEST(OptimState, ReduceLROnPlateauStateRoundTrips) {
  Problem p;
  optim::SGD sgd({p.w, p.b}, {.lr = 1});
  optim::ReduceLROnPlateau plateau(sgd, {.factor = 0.5, .patience = 1, .cooldown = 1});
  for (double metric : {3.0, 2.0, 2.5, 2.5, 2.5}) plateau.step(metric);
  optim::SGD sgd2({p.w, p.b}, {.lr = 1});
  optim::ReduceLROnPlateau copy(sgd2, {.factor = 0.5, .patience = 1, .cooldown = 1});
  copy.load_state_dict(plateau.state_dict());
  sgd2.load_state_dict(sgd.state_dict());
  for (double metric : {2.5, 2.5, 1.0, 1.5, 1.5, 1.5}) {
    plateau.step(metric);
    copy.step(metric);
    EXPECT_EQ(copy.last_lr(), plateau.last_lr());
    EXPECT_EQ(copy.num_bad_epochs(), plateau.num_bad_epochs());
    EXPECT_EQ(copy.best(), plateau.best());
  }
  EXPECT_LT(plateau.last_lr()[0], 1);
}

}  // namespace
}  // namespace mt
