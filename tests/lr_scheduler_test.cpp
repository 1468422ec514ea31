// Learning-rate schedulers against torch.optim.lr_scheduler, step for step and to the last bit (rates from
// tests/reference/lr_scheduler_reference.py), plus their contracts: argument checks, OneCycleLR's end,
// SequentialLR's membership, and that a scheduled rate is the one the optimizer steps with.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "optim/lr_scheduler.h"
#include "tests/error_message.h"

namespace mt::optim {
namespace {

struct Reference {
  std::string name;
  std::vector<double> lrs, momenta, metrics;
};

const std::vector<Reference>& references() {
  static const std::vector<Reference> all = {
#include "reference/lr_scheduler_reference.inc"
  };
  return all;
}

const Reference& reference(const std::string& name) {
  for (const Reference& r : references())
    if (r.name == name) return r;
  throw Error("no reference case " + name);
}

Var parameter() { return Var(Tensor::zeros({1}), true); }

struct SGDCase {
  Var p = parameter();
  SGD opt;
  explicit SGDCase(double lr = 0.1, double momentum = 0.9) : opt({p}, {.lr = lr, .momentum = momentum}) {}
};

struct AdamCase {
  Var p = parameter();
  Adam opt;
  explicit AdamCase(double lr = 1e-3) : opt({p}, {.lr = lr}) {}
};

// Steps `step` as many times as the reference did and compares every rate (and momentum when recorded),
// bit for bit: the formulas keep PyTorch's order of operations.
void expect_matches(const Reference& ref, Optimizer& opt, const std::function<void(size_t)>& step) {
  const std::string& name = ref.name;
  ASSERT_FALSE(ref.lrs.empty());
  EXPECT_EQ(opt.learning_rate(), ref.lrs[0]) << name << " after construction";
  if (!ref.momenta.empty()) {
    EXPECT_EQ(opt.momentum().value(), ref.momenta[0]) << name << " after construction";
  }
  for (size_t i = 1; i < ref.lrs.size(); ++i) {
    step(i - 1);
    EXPECT_EQ(opt.learning_rate(), ref.lrs[i]) << name << " after step " << i;
    if (!ref.momenta.empty()) {
      EXPECT_EQ(opt.momentum().value(), ref.momenta[i]) << name << " after step " << i;
    }
  }
}

void expect_matches(const Reference& ref, LRScheduler& scheduler) {
  expect_matches(ref, scheduler.optimizer(), [&](size_t) {
    scheduler.step();
    EXPECT_EQ(scheduler.last_lr(), std::vector<double>{scheduler.optimizer().learning_rate()});
  });
}

TEST(LRScheduler, LambdaLRMatchesPyTorch) {
  SGDCase c;
  LambdaLR s(c.opt, [](int64_t e) { return 1 / std::sqrt(1 + static_cast<double>(e)); });
  expect_matches(reference("lambda"), s);
}

TEST(LRScheduler, StepLRMatchesPyTorch) {
  SGDCase c;
  StepLR s(c.opt, {.step_size = 3, .gamma = 0.5});
  expect_matches(reference("step"), s);
  EXPECT_EQ(s.last_epoch(), 12);
}

TEST(LRScheduler, MultiStepLRCountsRepeatedMilestonesLikePyTorch) {
  SGDCase c;
  MultiStepLR s(c.opt, {.milestones = {5, 2, 9, 5}, .gamma = 0.3});
  expect_matches(reference("multistep"), s);
}

TEST(LRScheduler, ExponentialLRMatchesPyTorch) {
  SGDCase c;
  ExponentialLR s(c.opt, {.gamma = 0.9});
  expect_matches(reference("exponential"), s);
}

TEST(LRScheduler, CosineAnnealingLRMatchesPyTorchThroughItsRestarts) {
  SGDCase c;
  CosineAnnealingLR s(c.opt, {.T_max = 10, .eta_min = 0.001});
  expect_matches(reference("cosine_restarts"), s);
}

TEST(LRScheduler, CosineAnnealingLRPerBatchEndsAtZero) {
  AdamCase c(3e-3);
  CosineAnnealingLR s(c.opt, {.T_max = 7});
  expect_matches(reference("cosine_per_batch"), s);
  EXPECT_EQ(c.opt.learning_rate(), 0.0);
}

TEST(LRScheduler, LinearLRWarmUpAndDecayMatchPyTorch) {
  SGDCase warm;
  LinearLR up(warm.opt, {.start_factor = 0.25, .end_factor = 1.0, .total_iters = 4});
  expect_matches(reference("linear_warmup"), up);
  SGDCase cool;
  LinearLR down(cool.opt, {.start_factor = 1.0, .end_factor = 0.1, .total_iters = 6});
  expect_matches(reference("linear_decay"), down);
}

TEST(LRScheduler, OneCycleLRCyclesRateAndSGDMomentumLikePyTorch) {
  SGDCase c;
  OneCycleLR s(c.opt, {.max_lr = 0.1, .total_steps = 20});
  expect_matches(reference("onecycle_cos_sgd"), s);
  EXPECT_THROW(s.step(), Error);  // PyTorch allows total_steps + 1 rates (epochs 0..total_steps), no more
  EXPECT_EQ(s.last_epoch(), 20);  // and the failed step changed nothing
}

TEST(LRScheduler, OneCycleLRThreePhaseLinearCyclesAdamBeta1LikePyTorch) {
  AdamCase c;
  OneCycleLR s(c.opt, {.max_lr = 0.01,
                       .epochs = 4,
                       .steps_per_epoch = 5,
                       .pct_start = 0.25,
                       .anneal_strategy = AnnealStrategy::Linear,
                       .base_momentum = 0.8,
                       .max_momentum = 0.9,
                       .div_factor = 10,
                       .final_div_factor = 100,
                       .three_phase = true});
  EXPECT_EQ(s.total_steps(), 20);
  // The rate after the 20th step, which no step of the cycle uses, is PyTorch's linear extrapolation below
  // zero, -8e-5; here it stops at 0.
  Reference ref = reference("onecycle_linear_three_phase_adam");
  ASSERT_LT(ref.lrs.back(), 0);
  ref.lrs.back() = 0;
  expect_matches(ref, s);
}

TEST(LRScheduler, OneCycleLRLeavesMomentumAloneWhenNotCycling) {
  SGDCase c(0.1, 0.5);
  OneCycleLR s(c.opt, {.max_lr = 0.2, .total_steps = 9, .cycle_momentum = false});
  expect_matches(reference("onecycle_fixed_momentum"), s);
}

TEST(LRScheduler, SequentialLRWarmUpThenCosineMatchesPyTorch) {
  SGDCase c;
  auto warmup = std::make_shared<LinearLR>(c.opt, LinearLROptions{.start_factor = 0.1, .total_iters = 3});
  auto cosine = std::make_shared<CosineAnnealingLR>(c.opt, CosineAnnealingLROptions{.T_max = 8});
  SequentialLR s(c.opt, {warmup, cosine}, {3});
  expect_matches(reference("sequential_warmup_cosine"), s);
}

TEST(LRScheduler, SequentialLRRestartsEachPhaseByItsClosedFormLikePyTorch) {
  SGDCase c;
  auto exponential = std::make_shared<ExponentialLR>(c.opt, ExponentialLROptions{.gamma = 0.8});
  auto step = std::make_shared<StepLR>(c.opt, StepLROptions{.step_size = 2, .gamma = 0.5});
  auto linear = std::make_shared<LinearLR>(c.opt, LinearLROptions{.start_factor = 0.5, .total_iters = 2});
  SequentialLR s(c.opt, {exponential, step, linear}, {4, 7});
  expect_matches(reference("sequential_three"), s);
}

TEST(LRScheduler, ChainedSchedulerMultipliesItsMembersLikePyTorch) {
  SGDCase c;
  auto exponential = std::make_shared<ExponentialLR>(c.opt, ExponentialLROptions{.gamma = 0.9});
  auto multistep = std::make_shared<MultiStepLR>(c.opt, MultiStepLROptions{.milestones = {3, 6}, .gamma = 0.5});
  ChainedScheduler s({exponential, multistep});
  expect_matches(reference("chained"), s);
}

TEST(LRScheduler, ReduceLROnPlateauMinRelWithCooldownAndFloorMatchesPyTorch) {
  SGDCase c;
  ReduceLROnPlateau s(c.opt, {.factor = 0.5, .patience = 2, .cooldown = 1, .min_lr = 0.01});
  const Reference& ref = reference("plateau_min_rel");
  expect_matches(ref, c.opt, [&](size_t i) { s.step(ref.metrics[i]); });
  EXPECT_EQ(s.best(), 0.8);
  EXPECT_EQ(s.last_lr(), std::vector<double>{0.01});
}

TEST(LRScheduler, ReduceLROnPlateauMaxAbsMatchesPyTorch) {
  SGDCase c;
  ReduceLROnPlateau s(c.opt,
                      {.mode = PlateauMode::Max, .factor = 0.3, .patience = 1, .threshold = 0.01,
                       .threshold_mode = ThresholdMode::Abs});
  const Reference& ref = reference("plateau_max_abs");
  expect_matches(ref, c.opt, [&](size_t i) { s.step(ref.metrics[i]); });
}

TEST(LRScheduler, TheScheduledRateIsTheOneTheOptimizerSteps) {
  // SGD without momentum moves p by -lr * g: with g = 1 each step shows the rate it used.
  Var p = parameter();
  SGD opt({p}, {.lr = 1.0});
  StepLR s(opt, {.step_size = 1, .gamma = 0.5});
  double expected = 0;
  for (int i = 0; i < 4; ++i) {
    p.zero_grad();
    mt::sum(p).backward();
    expected -= std::ldexp(1.0, -i);
    opt.step();
    s.step();
    EXPECT_FLOAT_EQ(p.value().item(), static_cast<float>(expected));
  }
}

TEST(LRScheduler, BadArgumentsAreErrorsNamingTheScheduler) {
  SGDCase c;
  EXPECT_NE(test::error_message([&] { StepLR(c.opt, {.step_size = 0}); }).find("StepLR: step_size"), std::string::npos);
  EXPECT_NE(test::error_message([&] { ExponentialLR(c.opt, {}); }).find("ExponentialLR: gamma"), std::string::npos);
  EXPECT_NE(test::error_message([&] { CosineAnnealingLR(c.opt, {.T_max = 0}); }).find("T_max"), std::string::npos);
  EXPECT_NE(test::error_message([&] { LinearLR(c.opt, {.start_factor = 0}); }).find("start_factor"), std::string::npos);
  EXPECT_NE(test::error_message([&] { OneCycleLR(c.opt, {.max_lr = 0.1}); }).find("total_steps"), std::string::npos);
  EXPECT_NE(test::error_message([&] { OneCycleLR(c.opt, {.max_lr = 0.1, .total_steps = 5, .pct_start = 1.5}); }).find("pct_start"),
            std::string::npos);
  EXPECT_NE(test::error_message([&] { ReduceLROnPlateau(c.opt, {.factor = 1.0}); }).find("factor"), std::string::npos);
  SGDCase other;
  auto foreign = std::make_shared<StepLR>(other.opt, StepLROptions{.step_size = 1});
  auto own = std::make_shared<StepLR>(c.opt, StepLROptions{.step_size = 1});
  EXPECT_NE(test::error_message([&] { SequentialLR(c.opt, {own, foreign}, {2}); }).find("does not belong"), std::string::npos);
  EXPECT_NE(test::error_message([&] { SequentialLR(c.opt, {own}, {2}); }).find("one milestone fewer"), std::string::npos);
  EXPECT_NE(test::error_message([&] { ChainedScheduler({own, foreign}); }).find("does not belong"), std::string::npos);
}

TEST(LRScheduler, OneCycleLRRejectsAPhaseOfNoSteps) {
  // pct_start * total_steps = 1 makes the rise end at step 0, where it starts: 0 / 0 in the formula
  // (PyTorch's ZeroDivisionError). An error naming the phase, not a NaN rate.
  SGDCase c;
  try {
    OneCycleLR(c.opt, {.max_lr = 0.1, .total_steps = 10, .pct_start = 0.1});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("phase 1 has no steps"), std::string::npos) << e.what();
  }
  OneCycleLR fine(c.opt, {.max_lr = 0.1, .total_steps = 10, .pct_start = 0.2});
  EXPECT_NEAR(c.opt.learning_rate(), 0.1 / 25, 1e-17);
}

// Each parameter group follows the schedule from its own base (tests/reference/optim_reference.py,
// cosine_groups): rates 0.1 and 0.3, CosineAnnealingLR(T_max=4), bit for bit.
TEST(LRScheduler, EachParameterGroupIsScheduledFromItsOwnBaseLikePyTorch) {
  const std::vector<double> expected = {0.1, 0.3, 0.08535533905932738, 0.2560660171779821, 0.05, 0.15,
                                        0.014644660940672627, 0.04393398282201788, 0.0, 0.0, 0.014644660940672622,
                                        0.04393398282201786, 0.05000000000000001, 0.15000000000000002};
  Var a = parameter(), b = parameter();
  SGD opt({{.params = {a}}, {.params = {b}, .lr = 0.3}}, {.lr = 0.1});
  CosineAnnealingLR schedule(opt, {.T_max = 4});
  std::vector<double> rates = schedule.last_lr();
  for (int i = 0; i < 6; ++i) {
    schedule.step();
    const std::vector<double> now = schedule.last_lr();
    ASSERT_EQ(now.size(), 2u);
    EXPECT_EQ(now[0], opt.learning_rate(0));
    EXPECT_EQ(now[1], opt.learning_rate(1));
    rates.insert(rates.end(), now.begin(), now.end());
  }
  EXPECT_EQ(rates, expected);
  EXPECT_EQ(schedule.base_lrs(), (std::vector<double>{0.1, 0.3}));
}

}  // namespace
}  // namespace mt::optim
