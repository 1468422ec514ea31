#include "optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <span>
#include <string>
#include <utility>

#include "optim/checkpoint.h"
#include "tensor/error.h"

// Every formula keeps PyTorch's order of operations (Python evaluates left to right in double), so the rates
// agree with torch's to the last bit, not merely to a tolerance.
namespace mt::optim {
namespace {

void check(bool ok, const char* scheduler, const std::string& what) {
  if (!ok) throw Error(std::string(scheduler) + ": " + what);
}

std::string str(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

constexpr double kPi = std::numbers::pi;

Optimizer& first_optimizer(const std::vector<std::shared_ptr<LRScheduler>>& schedulers) {
  check(!schedulers.empty() && schedulers[0], "ChainedScheduler", "needs at least one scheduler");
  return schedulers[0]->optimizer();
}

}  // namespace

namespace {

// Into `rates` in place: a scheduler stepped every batch must not allocate (tests/alloc_test.cpp).
void read_rates(const Optimizer& optimizer, std::vector<double>& rates) {
  const auto& groups = optimizer.param_groups();
  rates.resize(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) rates[g] = groups[g].lr;
}

}  // namespace

void LRScheduler::record_lr() { read_rates(optimizer_, last_lr_); }

namespace {

// last_epoch is -1 in a SequentialLR's members that have not started.
int64_t read_epoch(StateReader& in, const std::string& name) {
  const double epoch = in.scalar(name);
  if (!(epoch >= -1 && epoch <= 9007199254740992.0 && epoch == std::floor(epoch)))
    in.fail("'" + name + "' should be a whole number >= -1, got " + str(epoch));
  return static_cast<int64_t>(epoch);
}

Tensor vector_tensor(const std::vector<double>& values) {
  return Tensor::from_vector(std::span<const double>(values), {static_cast<int64_t>(values.size())});
}

}  // namespace

NamedTensors LRScheduler::state_dict() const {
  NamedTensors out;
  put_scalar(out, "last_epoch", static_cast<double>(last_epoch_));
  out.emplace_back("last_lr", vector_tensor(last_lr_));
  append_state(out);
  return out;
}

void LRScheduler::load_state_dict(const NamedTensors& state, const std::string& where) { check_state_dict(state, where)(); }

std::function<void()> LRScheduler::check_state_dict(const NamedTensors& state, const std::string& where) {
  StateReader in(state, where);
  const int64_t epoch = read_epoch(in, "last_epoch");
  std::vector<double> last_lr = in.values("last_lr", last_lr_.size());
  std::function<void()> store = read_state(in);
  in.finish();
  return [this, epoch, last_lr = std::move(last_lr), store = std::move(store)] {
    last_epoch_ = epoch;
    last_lr_ = last_lr;
    store();
  };
}

void FormulaScheduler::append_state(NamedTensors& out) const { out.emplace_back("base_lrs", vector_tensor(base_lrs_)); }

std::function<void()> FormulaScheduler::read_state(StateReader& in) {
  return [this, base = in.values("base_lrs", base_lrs_.size())] { base_lrs_ = base; };
}

namespace {

template <class Scheduler>
void append_members(NamedTensors& out, const std::vector<std::shared_ptr<Scheduler>>& members) {
  for (size_t i = 0; i < members.size(); ++i) put_all(out, "schedulers." + std::to_string(i) + ".", members[i]->state_dict());
}

template <class Scheduler>
std::function<void()> read_members(StateReader& in, const std::vector<std::shared_ptr<Scheduler>>& members) {
  std::vector<std::function<void()>> stores;
  for (size_t i = 0; i < members.size(); ++i)
    stores.push_back(members[i]->check_state_dict(in.entries_under("schedulers." + std::to_string(i) + "."), in.where()));
  return [stores = std::move(stores)] {
    for (const auto& store : stores) store();
  };
}

}  // namespace

void SequentialLR::append_state(NamedTensors& out) const { append_members(out, schedulers_); }
std::function<void()> SequentialLR::read_state(StateReader& in) { return read_members(in, schedulers_); }
void ChainedScheduler::append_state(NamedTensors& out) const { append_members(out, schedulers_); }
std::function<void()> ChainedScheduler::read_state(StateReader& in) { return read_members(in, schedulers_); }

FormulaScheduler::FormulaScheduler(Optimizer& optimizer, std::optional<double> initial_lr) : LRScheduler(optimizer) {
  for (size_t g = 0; g < optimizer.param_groups().size(); ++g) {
    if (initial_lr)
      optimizer.set_initial_learning_rate(g, *initial_lr);
    else if (!optimizer.initial_learning_rate(g))
      optimizer.set_initial_learning_rate(g, optimizer.learning_rate(g));
    base_lrs_.push_back(*optimizer.initial_learning_rate(g));
  }
}

void FormulaScheduler::initial_step() {
  ++last_epoch_;
  apply(false);
}

void FormulaScheduler::step() {
  ++last_epoch_;
  apply(false);
}

void FormulaScheduler::restart() {
  last_epoch_ = 0;
  apply(true);
}

void FormulaScheduler::apply(bool closed_form) {
  for (size_t g = 0; g < base_lrs_.size(); ++g) {
    const double lr = optimizer_.learning_rate(g), base = base_lrs_[g];
    optimizer_.set_learning_rate(g, closed_form ? closed_form_lr(lr, base) : chained_lr(lr, base));
  }
  record_lr();
}

LambdaLR::LambdaLR(Optimizer& optimizer, std::function<double(int64_t)> lr_lambda)
    : FormulaScheduler(optimizer), lambda_(std::move(lr_lambda)) {
  check(static_cast<bool>(lambda_), "LambdaLR", "lr_lambda must be a callable");
  initial_step();
}

double LambdaLR::chained_lr(double, double base) const { return base * lambda_(last_epoch_); }

StepLR::StepLR(Optimizer& optimizer, const StepLROptions& options) : FormulaScheduler(optimizer), options_(options) {
  check(options.step_size > 0, "StepLR", "step_size must be > 0, got " + std::to_string(options.step_size));
  check(options.gamma > 0, "StepLR", "gamma must be > 0, got " + str(options.gamma));
  initial_step();
}

double StepLR::chained_lr(double lr, double) const {
  if (last_epoch_ == 0 || last_epoch_ % options_.step_size != 0) return lr;
  return lr * options_.gamma;
}

double StepLR::closed_form_lr(double, double base) const {
  return base * std::pow(options_.gamma, static_cast<double>(last_epoch_ / options_.step_size));
}

MultiStepLR::MultiStepLR(Optimizer& optimizer, MultiStepLROptions options)
    : FormulaScheduler(optimizer), options_(std::move(options)) {
  check(options_.gamma > 0, "MultiStepLR", "gamma must be > 0, got " + str(options_.gamma));
  std::sort(options_.milestones.begin(), options_.milestones.end());
  initial_step();
}

double MultiStepLR::chained_lr(double lr, double) const {
  const auto [first, last] = std::equal_range(options_.milestones.begin(), options_.milestones.end(), last_epoch_);
  if (first == last) return lr;
  return lr * std::pow(options_.gamma, static_cast<double>(last - first));
}

double MultiStepLR::closed_form_lr(double, double base) const {
  const auto passed = std::upper_bound(options_.milestones.begin(), options_.milestones.end(), last_epoch_) -
                      options_.milestones.begin();
  return base * std::pow(options_.gamma, static_cast<double>(passed));
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, const ExponentialLROptions& options)
    : FormulaScheduler(optimizer), options_(options) {
  check(options.gamma > 0, "ExponentialLR", "gamma must be > 0, got " + str(options.gamma));
  initial_step();
}

double ExponentialLR::chained_lr(double lr, double) const { return last_epoch_ == 0 ? lr : lr * options_.gamma; }

double ExponentialLR::closed_form_lr(double, double base) const {
  return base * std::pow(options_.gamma, static_cast<double>(last_epoch_));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, const CosineAnnealingLROptions& options)
    : FormulaScheduler(optimizer), options_(options) {
  check(options.T_max > 0, "CosineAnnealingLR", "T_max must be > 0, got " + std::to_string(options.T_max));
  check(options.eta_min >= 0, "CosineAnnealingLR", "eta_min must be >= 0, got " + str(options.eta_min));
  initial_step();
}

double CosineAnnealingLR::chained_lr(double lr, double base) const {
  const double t = static_cast<double>(last_epoch_), period = static_cast<double>(options_.T_max);
  const double eta_min = options_.eta_min;
  if (last_epoch_ == 0) return lr;
  // At the bottom of the cosine the ratio below is 0/0; PyTorch steps up by the first increment instead.
  if ((last_epoch_ - 1 - options_.T_max) % (2 * options_.T_max) == 0)
    return lr + (base - eta_min) * (1 - std::cos(kPi / period)) / 2;
  return (1 + std::cos(kPi * t / period)) / (1 + std::cos(kPi * (t - 1) / period)) * (lr - eta_min) + eta_min;
}

double CosineAnnealingLR::closed_form_lr(double, double base) const {
  const double t = static_cast<double>(last_epoch_), period = static_cast<double>(options_.T_max);
  return options_.eta_min + (base - options_.eta_min) * (1 + std::cos(kPi * t / period)) / 2;
}

void CosineAnnealingLR::append_state(NamedTensors& out) const {
  FormulaScheduler::append_state(out);
  put_scalar(out, "T_max", static_cast<double>(options_.T_max));
  put_scalar(out, "eta_min", options_.eta_min);
}

std::function<void()> CosineAnnealingLR::read_state(StateReader& in) {
  const int64_t period = in.count("T_max");
  const double eta_min = in.scalar("eta_min");
  if (period != options_.T_max)
    in.fail("'T_max' is " + std::to_string(period) + " in the file but " + std::to_string(options_.T_max) +
            " here: the cosine was planned over another number of steps");
  if (eta_min != options_.eta_min) in.fail("'eta_min' is " + str(eta_min) + " in the file but " + str(options_.eta_min) + " here");
  return FormulaScheduler::read_state(in);
}

LinearLR::LinearLR(Optimizer& optimizer, const LinearLROptions& options)
    : FormulaScheduler(optimizer), options_(options) {
  check(options.start_factor > 0 && options.start_factor <= 1, "LinearLR",
        "start_factor must be in (0, 1], got " + str(options.start_factor));
  check(options.end_factor >= 0 && options.end_factor <= 1, "LinearLR",
        "end_factor must be in [0, 1], got " + str(options.end_factor));
  check(options.total_iters > 0, "LinearLR", "total_iters must be > 0, got " + std::to_string(options.total_iters));
  initial_step();
}

double LinearLR::chained_lr(double lr, double) const {
  const double start = options_.start_factor, end = options_.end_factor;
  if (last_epoch_ == 0) return lr * start;
  if (last_epoch_ > options_.total_iters) return lr;
  return lr * (1. + (end - start) / (static_cast<double>(options_.total_iters) * start +
                                     static_cast<double>(last_epoch_ - 1) * (end - start)));
}

double LinearLR::closed_form_lr(double, double base) const {
  const double start = options_.start_factor, end = options_.end_factor;
  return base * (start + (end - start) * static_cast<double>(std::min(options_.total_iters, last_epoch_)) /
                             static_cast<double>(options_.total_iters));
}

OneCycleLR::OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options)
    : FormulaScheduler(optimizer, options.max_lr / options.div_factor), options_(options) {
  const char* name = "OneCycleLR";
  if (options.total_steps > 0) {
    total_steps_ = options.total_steps;
  } else {
    check(options.total_steps == 0 && options.epochs > 0 && options.steps_per_epoch > 0, name,
          "needs total_steps > 0, or epochs > 0 and steps_per_epoch > 0; got total_steps " +
              std::to_string(options.total_steps) + ", epochs " + std::to_string(options.epochs) +
              ", steps_per_epoch " + std::to_string(options.steps_per_epoch));
    total_steps_ = options.epochs * options.steps_per_epoch;
  }
  check(options.max_lr > 0, name, "max_lr must be > 0, got " + str(options.max_lr));
  check(options.pct_start >= 0 && options.pct_start <= 1, name,
        "pct_start must be in [0, 1], got " + str(options.pct_start));
  check(options.div_factor > 0 && options.final_div_factor > 0, name,
        "div_factor and final_div_factor must be > 0, got " + str(options.div_factor) + " and " +
            str(options.final_div_factor));
  check(!options.cycle_momentum || optimizer.momentum().has_value(), name,
        "cycle_momentum needs an optimizer with a momentum (SGD's, or Adam's beta1)");
  const double initial = options.max_lr / options.div_factor, min_lr = initial / options.final_div_factor;
  const double up_end = options.pct_start * static_cast<double>(total_steps_) - 1;
  const double last = static_cast<double>(total_steps_ - 1);
  const double lo = options.base_momentum, hi = options.max_momentum;
  if (options.three_phase)
    phases_ = {{up_end, initial, options.max_lr, hi, lo},
               {2 * options.pct_start * static_cast<double>(total_steps_) - 2, options.max_lr, initial, lo, hi},
               {last, initial, min_lr, hi, hi}};
  else
    phases_ = {{up_end, initial, options.max_lr, hi, lo}, {last, options.max_lr, min_lr, lo, hi}};
  initial_step();
  set_momentum();
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (options_.anneal_strategy == AnnealStrategy::Linear) return (end - start) * pct + start;
  const double cos_out = std::cos(kPi * pct) + 1;
  return end + (start - end) / 2.0 * cos_out;
}

OneCycleLR::Position OneCycleLR::position() const {
  const double step = static_cast<double>(last_epoch_);
  double start_step = 0;
  for (size_t i = 0; i < phases_.size(); ++i) {
    const Phase& phase = phases_[i];
    if (step <= phase.end_step || i + 1 == phases_.size()) {
      check(phase.end_step != start_step, "OneCycleLR",
            "phase " + std::to_string(i + 1) + " has no steps (total_steps " + std::to_string(total_steps_) +
                ", pct_start " + str(options_.pct_start) + ")");
      return {&phase, (step - start_step) / (phase.end_step - start_step)};
    }
    start_step = phase.end_step;
  }
  return {};  // not reached: the last phase always matches
}

double OneCycleLR::chained_lr(double, double) const {
  const auto [phase, pct] = position();
  // After the last step of the cycle (last_epoch_ == total_steps_, a rate no step of it uses) the linear
  // anneal extrapolates below zero in PyTorch; a rate stops at 0.
  return std::max(0.0, anneal(phase->start_lr, phase->end_lr, pct));
}

void OneCycleLR::set_momentum() {
  if (!options_.cycle_momentum) return;
  const auto [phase, pct] = position();
  optimizer_.set_momentum(anneal(phase->start_momentum, phase->end_momentum, pct));
}

void OneCycleLR::step() {
  check(last_epoch_ + 1 <= total_steps_, "OneCycleLR",
        "stepped " + std::to_string(last_epoch_ + 2) + " times; total_steps is " + std::to_string(total_steps_));
  FormulaScheduler::step();
  set_momentum();
}

SequentialLR::SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<FormulaScheduler>> schedulers,
                           std::vector<int64_t> milestones)
    : LRScheduler(optimizer), schedulers_(std::move(schedulers)), milestones_(std::move(milestones)) {
  const char* name = "SequentialLR";
  check(!schedulers_.empty(), name, "needs at least one scheduler");
  for (size_t i = 0; i < schedulers_.size(); ++i)
    check(schedulers_[i] && &schedulers_[i]->optimizer() == &optimizer, name,
          "scheduler " + std::to_string(i) + " does not belong to this optimizer");
  check(milestones_.size() + 1 == schedulers_.size(), name,
        "needs one milestone fewer than schedulers, got " + std::to_string(milestones_.size()) + " milestones for " +
            std::to_string(schedulers_.size()) + " schedulers");
  for (size_t i = 0; i < milestones_.size(); ++i)
    check(milestones_[i] > (i == 0 ? 0 : milestones_[i - 1]), name, "milestones must be positive and increasing");
  // As PyTorch: back to the base, the members' construction steps undone, then the first one's epoch 0.
  last_epoch_ = 0;
  for (size_t g = 0; g < optimizer.param_groups().size(); ++g)
    optimizer.set_learning_rate(g, *optimizer.initial_learning_rate(g));
  for (const auto& scheduler : schedulers_) --scheduler->last_epoch_;
  schedulers_[0]->initial_step();
  last_lr_ = schedulers_[0]->last_lr();
}

void SequentialLR::step() {
  ++last_epoch_;
  const size_t index = static_cast<size_t>(std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) -
                                           milestones_.begin());
  FormulaScheduler& scheduler = *schedulers_[index];
  if (index > 0 && milestones_[index - 1] == last_epoch_)
    scheduler.restart();
  else
    scheduler.step();
  last_lr_ = scheduler.last_lr();
}

ChainedScheduler::ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers)
    : LRScheduler(first_optimizer(schedulers)), schedulers_(std::move(schedulers)) {
  for (size_t i = 0; i < schedulers_.size(); ++i)
    check(schedulers_[i] && &schedulers_[i]->optimizer() == &optimizer_, "ChainedScheduler",
          "scheduler " + std::to_string(i) + " does not belong to the first one's optimizer");
  last_epoch_ = 0;
  record_lr();
}

void ChainedScheduler::step() {
  ++last_epoch_;
  for (const auto& scheduler : schedulers_) scheduler->step();
  record_lr();
}

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options)
    : optimizer_(optimizer),
      options_(options),
      best_(options.mode == PlateauMode::Min ? INFINITY : -INFINITY) {
  read_rates(optimizer, last_lr_);
  const char* name = "ReduceLROnPlateau";
  check(options.factor >= 0 && options.factor < 1, name, "factor must be in [0, 1), got " + str(options.factor));
  check(options.patience >= 0 && options.cooldown >= 0, name, "patience and cooldown must be >= 0");
  check(options.threshold >= 0, name, "threshold must be >= 0, got " + str(options.threshold));
  check(options.min_lr >= 0 && options.eps >= 0, name, "min_lr and eps must be >= 0");
}

NamedTensors ReduceLROnPlateau::state_dict() const {
  NamedTensors out;
  put_scalar(out, "last_epoch", static_cast<double>(last_epoch_));
  out.emplace_back("last_lr", vector_tensor(last_lr_));
  put_scalar(out, "num_bad_epochs", static_cast<double>(num_bad_epochs_));
  put_scalar(out, "cooldown_counter", static_cast<double>(cooldown_counter_));
  if (std::isfinite(best_)) put_scalar(out, "best", best_);  // infinite before the first metric
  return out;
}

void ReduceLROnPlateau::load_state_dict(const NamedTensors& state, const std::string& where) {
  StateReader in(state, where);
  const int64_t epoch = in.count("last_epoch"), bad = in.count("num_bad_epochs"), cooldown = in.count("cooldown_counter");
  std::vector<double> last_lr = in.values("last_lr", last_lr_.size());
  const double best = in.optional_scalar("best").value_or(options_.mode == PlateauMode::Min ? INFINITY : -INFINITY);
  in.finish();
  last_epoch_ = epoch;
  num_bad_epochs_ = bad;
  cooldown_counter_ = cooldown;
  last_lr_ = std::move(last_lr);
  best_ = best;
}

bool ReduceLROnPlateau::is_better(double metric) const {
  const bool rel = options_.threshold_mode == ThresholdMode::Rel;
  if (options_.mode == PlateauMode::Min)
    return rel ? metric < best_ * (1. - options_.threshold) : metric < best_ - options_.threshold;
  return rel ? metric > best_ * (options_.threshold + 1.) : metric > best_ + options_.threshold;
}

void ReduceLROnPlateau::step(double metric) {
  ++last_epoch_;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (in_cooldown()) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs in the cooldown do not count
  }
  if (num_bad_epochs_ > options_.patience) {
    for (size_t g = 0; g < optimizer_.param_groups().size(); ++g) {
      const double old_lr = optimizer_.learning_rate(g), new_lr = std::max(old_lr * options_.factor, options_.min_lr);
      if (old_lr - new_lr > options_.eps) optimizer_.set_learning_rate(g, new_lr);
    }
    cooldown_counter_ = options_.cooldown;
    num_bad_epochs_ = 0;
  }
  read_rates(optimizer_, last_lr_);
}

}  // namespace mt::optim
