#pragma once
// Optimizers: each step() updates every parameter that has a gradient, in place, by exactly the rule of
// PyTorch 1.13's torch.optim class of the same name (formulas below; g is the gradient, p the parameter).
// The update is one fused, parallel pass over each parameter's elements; state tensors are created at a
// parameter's first step and reused, so later steps allocate nothing. Gradients are read, never written.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "autograd/var.h"
#include "tensor/tensor_file.h"

namespace mt::optim {

class StateReader;

// Parameters with their own options, as one entry of PyTorch's param_groups: lr and weight_decay, when given,
// replace the optimizer's defaults for these parameters (no decay on biases and norm weights, say):
//   optim::AdamW opt({{.params = weights}, {.params = biases, .weight_decay = 0}}, {.lr = 1e-3});
struct ParamGroup {
  std::vector<Var> params;
  std::optional<double> lr{};
  std::optional<double> weight_decay{};
};

class Optimizer {
 public:
  // One group as the optimizer keeps it: its parameters are parameters()[begin, end).
  struct Group {
    size_t begin, end;
    double lr, weight_decay;
    // The rate a schedule scales (PyTorch's group["initial_lr"]): the first scheduler attached records the
    // group's rate here, so the next ones (a SequentialLR's later phases) start from it, not from what the
    // first one set.
    std::optional<double> initial_lr;
  };

  // Every group's options default to lr and weight_decay; a parameter may be in one group only.
  Optimizer(std::vector<ParamGroup> groups, double lr, double weight_decay, const char* name);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual void step() = 0;
  void zero_grad();  // drops every parameter's grad(); the next backward starts from zero

  const std::vector<Group>& param_groups() const { return groups_; }
  double learning_rate(size_t group = 0) const { return groups_.at(group).lr; }
  void set_learning_rate(double lr);  // every group's; for schedules, takes effect at the next step()
  void set_learning_rate(size_t group, double lr);
  const std::vector<Var>& parameters() const { return params_; }  // of every group, in order

  std::optional<double> initial_learning_rate(size_t group = 0) const { return groups_.at(group).initial_lr; }
  void set_initial_learning_rate(size_t group, double lr);

  // The momentum OneCycleLR cycles against the learning rate: SGD's momentum, Adam's beta1. An optimizer
  // without one returns nullopt and throws from set_momentum().
  virtual std::optional<double> momentum() const { return std::nullopt; }
  virtual void set_momentum(double momentum);

  // Everything later steps depend on, as named tensors (PyTorch's optimizer.state_dict(), flattened; scalars
  // are 0-dim float64): per group G "param_groups.G.lr", ".weight_decay", ".params" (how many) and, once a
  // scheduler recorded it, ".initial_lr"; "momentum" (SGD's, Adam's beta1) for an optimizer that has one; per
  // parameter K that has stepped, its buffers: SGD "state.K.momentum_buffer", Adam and AdamW "state.K.exp_avg",
  // "state.K.exp_avg_sq" and "state.K.step". The buffers share the optimizer's memory: save them before the
  // next step().
  NamedTensors state_dict() const;
  // Restores what state_dict() gave, into an optimizer of the same kind over parameters of the same shapes in
  // the same groups: every entry's name, shape, dtype and finiteness is checked first, and on an error the
  // optimizer is unchanged and the mt::Error starts with `where`. The buffers are copied.
  void load_state_dict(const NamedTensors& state, const std::string& where = "load_state_dict");
  // The checks of load_state_dict(), returning what then loads the state (and cannot fail): so that an
  // optimizer and its scheduler, or a whole training checkpoint, are checked before any of them changes.
  std::function<void()> check_state_dict(const NamedTensors& state, const std::string& where);

 protected:
  // The kind's own state: appends its entries; reads them back from `in`, checking each, and returns what
  // stores them.
  virtual void append_state(NamedTensors& out) const = 0;
  virtual std::function<void()> read_state(StateReader& in) = 0;

  std::vector<Var> params_;
  std::vector<Group> groups_;
  std::vector<size_t> group_of_;  // per parameter, its group's index
};

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;  // needs momentum > 0 and dampening == 0
};

// d = g + weight_decay p
// with momentum: b = d at the first step, else b = momentum b + (1 - dampening) d;
//                d = nesterov ? d + momentum b : b
// p -= lr d
class SGD : public Optimizer {
 public:
  SGD(std::vector<Var> params, const SGDOptions& options);
  SGD(std::vector<ParamGroup> groups, const SGDOptions& options);  // options' lr and weight_decay are defaults
  void step() override;
  std::optional<double> momentum() const override { return options_.momentum; }
  void set_momentum(double momentum) override;

 protected:
  void append_state(NamedTensors& out) const override;
  std::function<void()> read_state(StateReader& in) override;

 private:
  SGDOptions options_;
  std::vector<Tensor> momentum_;  // per parameter, undefined until its first step
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;  // Adam: L2, added to the gradient; AdamW: decoupled (AdamW's default is 1e-2)
};

// The vector width, in bits, of Adam's update loop on this machine: 512 on AMD family 1Ah (Zen 5) and later,
// 256 elsewhere, unless MT_ADAM_VECTOR_BITS=256|512 overrides it (tensor/cpu.h); both give the same bits.
int adam_vector_bits();

// t += 1; g += weight_decay p (Adam) or p *= 1 - lr weight_decay (AdamW)
// m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
// p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// computed in one pass per element as p -= (lr sqrt(1 - beta2^t) / (1 - beta1^t)) m / (sqrt(v) + eps sqrt(1 - beta2^t)),
// the same quantity with one division, within a few float32 roundings of PyTorch's result.
class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Var> params, const AdamOptions& options = {});
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options);  // options' lr and weight_decay are defaults
  void step() override;
  std::optional<double> momentum() const override { return options_.beta1; }  // beta1
  void set_momentum(double beta1) override;

 protected:
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options, bool decoupled);
  void append_state(NamedTensors& out) const override;
  std::function<void()> read_state(StateReader& in) override;

 private:
  struct State {
    Tensor m, v;
    int64_t steps = 0;
  };
  // A parameter to update this step, its elements shared by the threads or updated on the calling thread.
  struct Segment {
    size_t param;
    bool shared;
    int64_t count;
  };
  void update(const Segment& segment, int64_t offset, int64_t count);

  AdamOptions options_;
  bool decoupled_;
  std::vector<State> state_;
  std::vector<Segment> segments_;  // rebuilt every step, its capacity kept
};

class AdamW : public Adam {
 public:
  explicit AdamW(std::vector<Var> params, const AdamOptions& options = {.weight_decay = 1e-2})
      : Adam({ParamGroup{.params = std::move(params)}}, options, true) {}
  explicit AdamW(std::vector<ParamGroup> groups, const AdamOptions& options = {.weight_decay = 1e-2})
      : Adam(std::move(groups), options, true) {}
};

}  // namespace mt::optim
