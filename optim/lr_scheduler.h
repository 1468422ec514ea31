#pragma once
// Learning-rate schedulers with the names, arguments and arithmetic of PyTorch 1.13's
// torch.optim.lr_scheduler, so a recipe ported from PyTorch gets the same rates step for step
// (tests/lr_scheduler_test.cpp checks each against torch). A scheduler is made after its optimizer, sets the
// rate of epoch 0 at once, and each step() moves to the next epoch (or batch: the unit is whatever the
// caller steps by). Call it after optimizer.step():
//
//   mt::optim::SGD opt(model->parameters(), {.lr = 0.1, .momentum = 0.9});
//   mt::optim::CosineAnnealingLR schedule(opt, {.T_max = epochs});
//   for (int epoch = 0; epoch < epochs; ++epoch) { train_one_epoch(opt); schedule.step(); }
//
// Like PyTorch's, the schedules are chainable: each step scales each parameter group's current rate (formulas
// below, lr is the group's current rate, base its rate when the first scheduler was attached, t the epoch after
// the step), so a rate changed from outside, or by a ChainedScheduler's other members, carries on.
// SequentialLR restarts a phase from its base with the closed form (given where it differs).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "optim/optim.h"

namespace mt::optim {

// What a training loop steps: once per epoch or per batch, after optimizer.step().
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  virtual void step() = 0;  // to epoch last_epoch() + 1, setting the optimizer's rate
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& last_lr() const { return last_lr_; }  // PyTorch's get_last_lr(), per group
  Optimizer& optimizer() const { return optimizer_; }

  // Where the schedule is, as named tensors (0-dim float64 scalars): "last_epoch", "last_lr" (one per group)
  // and each kind's own: a formula's "base_lrs", SequentialLR's and ChainedScheduler's members' state under
  // "schedulers.I.". The options are not state: a scheduler is made with its options, then loaded. The
  // optimizer's rates are the optimizer's (Optimizer::state_dict()).
  NamedTensors state_dict() const;
  // Restores what state_dict() gave into a scheduler of the same kind over as many groups; on an error the
  // scheduler is unchanged and the mt::Error starts with `where`.
  void load_state_dict(const NamedTensors& state, const std::string& where = "load_state_dict");
  // The checks of load_state_dict(), returning what then loads the state (it cannot fail).
  std::function<void()> check_state_dict(const NamedTensors& state, const std::string& where);

 protected:
  explicit LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {}
  void record_lr();  // last_lr() = the optimizer's rates now
  // A kind's own state, as Optimizer's.
  virtual void append_state(NamedTensors&) const {}
  virtual std::function<void()> read_state(StateReader&) { return [] {}; }

  Optimizer& optimizer_;
  int64_t last_epoch_ = -1;
  std::vector<double> last_lr_;
};

// A schedule given by a formula of the epoch, the current rate and the base (PyTorch's _LRScheduler).
class FormulaScheduler : public LRScheduler {
 public:
  void step() override;
  const std::vector<double>& base_lrs() const { return base_lrs_; }

 protected:
  // Records each group's base: `initial_lr` when given (OneCycleLR's, for every group), else the group's
  // initial_learning_rate, set to its current rate when no scheduler has set it.
  explicit FormulaScheduler(Optimizer& optimizer, std::optional<double> initial_lr = std::nullopt);
  // The rate of epoch 0; the constructor of every concrete scheduler ends with it (PyTorch's _initial_step).
  void initial_step();
  // The rate at epoch last_epoch_ from the current one (PyTorch's get_lr) and from the base alone
  // (_get_closed_form_lr; the chainable form when a schedule has no other).
  virtual double chained_lr(double lr, double base) const = 0;
  virtual double closed_form_lr(double lr, double base) const { return chained_lr(lr, base); }
  void append_state(NamedTensors& out) const override;
  std::function<void()> read_state(StateReader& in) override;

 private:
  friend class SequentialLR;
  void apply(bool closed_form);
  void restart();  // to epoch 0 by the closed form (PyTorch's step(0), as SequentialLR calls it)

  std::vector<double> base_lrs_;
};

// base * lambda(t)
class LambdaLR final : public FormulaScheduler {
 public:
  LambdaLR(Optimizer& optimizer, std::function<double(int64_t)> lr_lambda);

 private:
  double chained_lr(double lr, double base) const override;
  std::function<double(int64_t)> lambda_;
};

struct StepLROptions {
  int64_t step_size = 0;  // required, > 0
  double gamma = 0.1;
};
// lr * gamma when t is a positive multiple of step_size, else lr; closed form base * gamma^(t / step_size)
class StepLR final : public FormulaScheduler {
 public:
  StepLR(Optimizer& optimizer, const StepLROptions& options);

 private:
  double chained_lr(double lr, double base) const override;
  double closed_form_lr(double lr, double base) const override;
  StepLROptions options_;
};

struct MultiStepLROptions {
  std::vector<int64_t> milestones;  // epochs; one listed k times decays by gamma^k
  double gamma = 0.1;
};
// lr * gamma^(times t is a milestone); closed form base * gamma^(milestones <= t)
class MultiStepLR final : public FormulaScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, MultiStepLROptions options);

 private:
  double chained_lr(double lr, double base) const override;
  double closed_form_lr(double lr, double base) const override;
  MultiStepLROptions options_;  // milestones sorted
};

struct ExponentialLROptions {
  double gamma = 0;  // required, > 0
};
// lr * gamma (t > 0); closed form base * gamma^t
class ExponentialLR final : public FormulaScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, const ExponentialLROptions& options);

 private:
  double chained_lr(double lr, double base) const override;
  double closed_form_lr(double lr, double base) const override;
  ExponentialLROptions options_;
};

struct CosineAnnealingLROptions {
  int64_t T_max = 0;  // required, > 0: half a cosine period, in steps
  double eta_min = 0;
};
// (1 + cos(pi t / T_max)) / (1 + cos(pi (t - 1) / T_max)) (lr - eta_min) + eta_min, and at the trough of each
// period (t - 1 - T_max divisible by 2 T_max) lr + (base - eta_min)(1 - cos(pi / T_max)) / 2 (it climbs back);
// closed form eta_min + (base - eta_min)(1 + cos(pi t / T_max)) / 2
// Its state_dict() also holds "T_max" and "eta_min", and loading refuses other values: a cosine planned over
// another number of steps cannot go on as the same schedule.
class CosineAnnealingLR final : public FormulaScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, const CosineAnnealingLROptions& options);

 private:
  double chained_lr(double lr, double base) const override;
  double closed_form_lr(double lr, double base) const override;
  void append_state(NamedTensors& out) const override;
  std::function<void()> read_state(StateReader& in) override;
  CosineAnnealingLROptions options_;
};

struct LinearLROptions {
  double start_factor = 1.0 / 3;  // in (0, 1]
  double end_factor = 1.0;        // in [0, 1]
  int64_t total_iters = 5;        // > 0
};
// Linear warm-up (or decay) of the factor from start_factor to end_factor over total_iters steps:
// t = 0: lr * start; t <= total_iters: lr (1 + (end - start) / (total_iters start + (t - 1)(end - start)));
// closed form base (start + (end - start) min(t, total_iters) / total_iters)
class LinearLR final : public FormulaScheduler {
 public:
  LinearLR(Optimizer& optimizer, const LinearLROptions& options = {});

 private:
  double chained_lr(double lr, double base) const override;
  double closed_form_lr(double lr, double base) const override;
  LinearLROptions options_;
};

enum class AnnealStrategy { Cos, Linear };

struct OneCycleLROptions {
  double max_lr = 0;           // required, > 0: the peak
  int64_t total_steps = 0;     // > 0; or 0 with epochs and steps_per_epoch
  int64_t epochs = 0, steps_per_epoch = 0;
  double pct_start = 0.3;      // in [0, 1]: the share of the steps spent rising
  AnnealStrategy anneal_strategy = AnnealStrategy::Cos;
  bool cycle_momentum = true;  // momentum (Adam: beta1) from max_momentum down to base_momentum and back
  double base_momentum = 0.85, max_momentum = 0.95;
  double div_factor = 25;      // the start is max_lr / div_factor
  double final_div_factor = 1e4;  // the end is start / final_div_factor
  bool three_phase = false;    // rise, fall back to the start by 2 pct_start, then anneal to the end
};
// The 1cycle policy (Smith, fastai's variant by default): the rate anneals from max_lr / div_factor up to
// max_lr over pct_start of the steps, then down to the minimum; anneal(a, b, p) = b + (a - b)(1 + cos(pi p)) / 2
// or a + (b - a) p. It replaces the optimizer's rate (not chainable); stepping past total_steps throws.
class OneCycleLR final : public FormulaScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options);
  void step() override;
  int64_t total_steps() const { return total_steps_; }

 private:
  struct Phase {
    double end_step;
    double start_lr, end_lr, start_momentum, end_momentum;
  };
  struct Position {
    const Phase* phase;
    double pct;  // through the phase, 0 to 1
  };
  Position position() const;  // of last_epoch_
  double anneal(double start, double end, double pct) const;
  double chained_lr(double lr, double base) const override;
  void set_momentum();  // of last_epoch_, cycled like the rate

  OneCycleLROptions options_;
  int64_t total_steps_;
  std::vector<Phase> phases_;
};

// Runs schedulers one after another: schedulers[i] from epoch milestones[i - 1] on, restarted there from its
// base by the closed form (PyTorch's SequentialLR, e.g. LinearLR warm-up then CosineAnnealingLR). All
// belong to `optimizer`; there is one milestone fewer than schedulers.
class SequentialLR final : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<FormulaScheduler>> schedulers,
               std::vector<int64_t> milestones);
  void step() override;

 private:
  void append_state(NamedTensors& out) const override;
  std::function<void()> read_state(StateReader& in) override;
  std::vector<std::shared_ptr<FormulaScheduler>> schedulers_;
  std::vector<int64_t> milestones_;
};

// Steps every scheduler at once, each scaling what the previous one set (PyTorch's ChainedScheduler).
class ChainedScheduler final : public LRScheduler {
 public:
  explicit ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers);
  void step() override;

 private:
  void append_state(NamedTensors& out) const override;
  std::function<void()> read_state(StateReader& in) override;
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
};

enum class PlateauMode { Min, Max };
enum class ThresholdMode { Rel, Abs };

struct ReduceLROnPlateauOptions {
  PlateauMode mode = PlateauMode::Min;  // Min: the metric should fall (a loss); Max: rise (an accuracy)
  double factor = 0.1;                  // in [0, 1): lr = max(lr * factor, min_lr)
  int64_t patience = 10;                // epochs without improvement tolerated before reducing
  double threshold = 1e-4;              // improvement: below best (1 - threshold) (Rel) or best - threshold (Abs)
  ThresholdMode threshold_mode = ThresholdMode::Rel;
  int64_t cooldown = 0;                 // epochs after a reduction during which bad epochs are not counted
  double min_lr = 0;
  double eps = 1e-8;                    // a reduction smaller than this is skipped
};
// Reduces the rate when a metric stops improving: step(metric) once per epoch. A NaN metric is never an
// improvement. Not an LRScheduler, as in PyTorch: it reads a metric instead of counting epochs.
class ReduceLROnPlateau {
 public:
  ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options = {});
  void step(double metric);

  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& last_lr() const { return last_lr_; }
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  bool in_cooldown() const { return cooldown_counter_ > 0; }

  // As LRScheduler's: "last_epoch", "last_lr", "num_bad_epochs", "cooldown_counter" and, once a metric was
  // seen, "best".
  NamedTensors state_dict() const;
  void load_state_dict(const NamedTensors& state, const std::string& where = "load_state_dict");

 private:
  bool is_better(double metric) const;

  Optimizer& optimizer_;
  ReduceLROnPlateauOptions options_;
  double best_;
  int64_t num_bad_epochs_ = 0, cooldown_counter_ = 0, last_epoch_ = 0;
  std::vector<double> last_lr_;
};

}  // namespace mt::optim
