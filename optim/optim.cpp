#include "optim/optim.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_set>

#include "optim/checkpoint.h"
#include "tensor/cpu.h"
#include "tensor/parallel.h"

namespace mt::optim {
namespace {

// The gradient the next update reads, or an undefined tensor when the parameter has none this step.
const Tensor& usable_grad(const Var& p, const char* optimizer, size_t index) {
  const Tensor& g = p.grad();
  if (!g.defined()) return g;
  if (!p.value().is_contiguous() || !g.is_contiguous() || g.shape() != p.shape() || g.dtype() != p.dtype())
    throw Error(std::string(optimizer) + ": parameter " + std::to_string(index) + " " + p.value().str() +
                " and its gradient " + g.str() + " must be contiguous and alike");
  return g;
}

[[noreturn]] void fail(const char* optimizer, const std::string& what) { throw Error(std::string(optimizer) + ": " + what); }

void check(bool ok, const char* optimizer, const std::string& what) {
  if (!ok) fail(optimizer, what);
}

// Rough cost per element of an update, for parallel_for's decision to fork.
constexpr int64_t kUpdateWork = 16;

// Adam updates parameters of at least this many elements in parallel, each split into the same shares as the
// GEMMs that use it (rows, see gemm.cpp), so each core updates the rows it computes with; the smaller ones
// on the calling thread, which uses them in the serial rest of a step. Splitting those too handed their cache
// lines to the other core and back every step: on the 2-core VM, 2 threads made a step slower than 1.
constexpr int64_t kSharedParameter = int64_t{1} << 14;
// The shared parameters are updated in this many equal slices, slice i being the same fraction of each, so
// that a thread's share of the slices is the same share of every parameter's rows.
constexpr int64_t kSlices = 64;

// The per-step constants of one parameter's Adam update. PyTorch's denominator sqrt(v) / sqrt(bc2) + eps and
// its step lr / bc1 are folded into p -= rate * m / (sqrt(v) + eps_scaled), with rate = lr sqrt(bc2) / bc1
// and eps_scaled = eps sqrt(bc2) (bc1 = 1 - beta1^t, bc2 = 1 - beta2^t, both computed in double): the same
// quantity with one division per element instead of two. Division and square root are the slow vector
// operations (on Sapphire Rapids two divisions and a sqrt made Adam 35% of a training step); each result
// stays within a few float32 roundings of PyTorch's (tests/optim_test.cpp, AdamFloat32*).
template <class T>
struct AdamCoefficients {
  T beta1, beta2, one_minus_beta1, one_minus_beta2;
  T rate, eps_scaled;
  T l2;      // Adam's weight decay, added to the gradient; 0 for AdamW
  T shrink;  // AdamW's decoupled decay, 1 - lr weight_decay; 1 for Adam
};

template <class T>
AdamCoefficients<T> adam_coefficients(const AdamOptions& o, double lr, double weight_decay, int64_t step,
                                      bool decoupled) {
  const double t = static_cast<double>(step);
  const double bias_correction1 = 1 - std::pow(o.beta1, t);
  const double bias_correction2_sqrt = std::sqrt(1 - std::pow(o.beta2, t));
  return {static_cast<T>(o.beta1),
          static_cast<T>(o.beta2),
          static_cast<T>(1 - o.beta1),
          static_cast<T>(1 - o.beta2),
          static_cast<T>(lr * bias_correction2_sqrt / bias_correction1),
          static_cast<T>(o.eps * bias_correction2_sqrt),
          decoupled ? T(0) : static_cast<T>(weight_decay),
          static_cast<T>(decoupled ? 1 - lr * weight_decay : 1)};
}

// One Adam update of n elements in a single pass: per element one square root and one division. The pointers
// never alias, which lets the compiler vectorise the loop (with aliasing assumed it stays scalar and reloads
// every coefficient).
template <class T>
[[gnu::always_inline]] inline void adam_loop(int64_t n, T* __restrict w, const T* __restrict g, T* __restrict m,
                                             T* __restrict v, const AdamCoefficients<T>& c) {
  for (int64_t i = 0; i < n; ++i) {
    const T gi = c.l2 != 0 ? g[i] + c.l2 * w[i] : g[i];
    const T mi = c.beta1 * m[i] + c.one_minus_beta1 * gi;
    const T vi = c.beta2 * v[i] + c.one_minus_beta2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] = w[i] * c.shrink - c.rate * mi / (std::sqrt(vi) + c.eps_scaled);
  }
}

// The loop compiled for 256-bit and for 512-bit vectors, and run in whichever the core does faster; every
// element is computed alike in either width (a square root and a division are correctly rounded). Where
// the build has AVX-512, GCC 12's -march=native vectorises with 512-bit square roots and divisions, each about
// as slow as two 256-bit ones on Zen 4 (split into halves) and on Sapphire Rapids, and twice as fast on Zen 5.
// bench_train's BM_AdamStep (244522 parameters): Zen 4, 1 thread: 89-108 us in zmm, 73-79 in ymm; Zen 5 VM
// (3 interleaved rounds, medians): 72.7 us in ymm, 55.3 in zmm at 1 thread, 41.5 and 30.9 at 2 threads.
// MT_ADAM_VECTOR_BITS=256 or 512 overrides the CPU's pick (tensor/cpu.h). Not inlined: inlined, the loop would
// be compiled with its caller's preference.
#if defined(__GNUC__) && !defined(__clang__)
#define MT_VECTOR_WIDTH(bits) __attribute__((target("prefer-vector-width=" #bits), noinline))
#else
#define MT_VECTOR_WIDTH(bits)
#endif
template <class T>
MT_VECTOR_WIDTH(256) void adam_update_256(int64_t n, T* w, const T* g, T* m, T* v, const AdamCoefficients<T> c) {
  adam_loop(n, w, g, m, v, c);
}
template <class T>
MT_VECTOR_WIDTH(512) void adam_update_512(int64_t n, T* w, const T* g, T* m, T* v, const AdamCoefficients<T> c) {
  adam_loop(n, w, g, m, v, c);
}
#undef MT_VECTOR_WIDTH

template <class T>
void adam_update(int64_t n, T* w, const T* g, T* m, T* v, const AdamCoefficients<T> c) {
  (adam_vector_bits() == 512 ? adam_update_512<T> : adam_update_256<T>)(n, w, g, m, v, c);
}

}  // namespace

int adam_vector_bits() {
  static const int bits = detail::tuning_choice("MT_ADAM_VECTOR_BITS", {"256", "512"},
                                                detail::cpu_model().amd && detail::cpu_model().family >= 0x1A) == 1
                              ? 512
                              : 256;
  return bits;
}

Optimizer::Optimizer(std::vector<ParamGroup> groups, double lr, double weight_decay, const char* name) {
  check(!groups.empty(), name, "needs at least one parameter group");
  std::unordered_set<const Tensor*> seen;  // each Var's value lives in its node: the address names the Var
  for (size_t g = 0; g < groups.size(); ++g) {
    const ParamGroup& group = groups[g];
    const Group resolved{params_.size(), params_.size() + group.params.size(), group.lr.value_or(lr),
                         group.weight_decay.value_or(weight_decay), std::nullopt};
    check(resolved.lr >= 0, name, "the learning rate of group " + std::to_string(g) + " must be >= 0, got " + std::to_string(resolved.lr));
    check(resolved.weight_decay >= 0, name, "weight_decay of group " + std::to_string(g) + " must be >= 0, got " +
                                                 std::to_string(resolved.weight_decay));
    for (const Var& p : group.params) {
      const size_t i = params_.size();
      check(p.defined() && p.requires_grad(), name,
            "parameter " + std::to_string(i) + " must be a defined Var that requires a gradient");
      // Two updates of one tensor per step would be a silent bug; PyTorch refuses it too.
      check(seen.insert(&p.value()).second, name,
            "parameter " + std::to_string(i) + " appears in more than one parameter group");
      params_.push_back(p);
      group_of_.push_back(g);
    }
    groups_.push_back(resolved);
  }
}

void Optimizer::set_learning_rate(double lr) {
  for (size_t g = 0; g < groups_.size(); ++g) set_learning_rate(g, lr);
}

// The setters a schedule calls every step build their messages only on failure: they must not allocate.
void Optimizer::set_learning_rate(size_t group, double lr) {
  if (!(lr >= 0)) fail("Optimizer", "the learning rate must be >= 0, got " + std::to_string(lr));
  groups_.at(group).lr = lr;
}

void Optimizer::set_initial_learning_rate(size_t group, double lr) {
  check(lr >= 0, "Optimizer", "the initial learning rate must be >= 0, got " + std::to_string(lr));
  groups_.at(group).initial_lr = lr;
}

void Optimizer::set_momentum(double) { throw Error("Optimizer: this optimizer has no momentum to set"); }

NamedTensors Optimizer::state_dict() const {
  NamedTensors out;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = "param_groups." + std::to_string(g) + ".";
    put_scalar(out, prefix + "lr", groups_[g].lr);
    put_scalar(out, prefix + "weight_decay", groups_[g].weight_decay);
    put_scalar(out, prefix + "params", static_cast<double>(groups_[g].end - groups_[g].begin));
    if (groups_[g].initial_lr) put_scalar(out, prefix + "initial_lr", *groups_[g].initial_lr);
  }
  if (const std::optional<double> mu = momentum()) put_scalar(out, "momentum", *mu);
  append_state(out);
  return out;
}

void Optimizer::load_state_dict(const NamedTensors& state, const std::string& where) { check_state_dict(state, where)(); }

std::function<void()> Optimizer::check_state_dict(const NamedTensors& state, const std::string& where) {
  StateReader in(state, where);
  std::vector<Group> groups = groups_;
  for (size_t g = 0; g < groups.size(); ++g) {
    const std::string prefix = "param_groups." + std::to_string(g) + ".";
    const int64_t params = in.count(prefix + "params");
    if (params != static_cast<int64_t>(groups[g].end - groups[g].begin))
      in.fail("parameter group " + std::to_string(g) + " has " + std::to_string(params) + " parameters in the file but " +
              std::to_string(groups[g].end - groups[g].begin) + " here");
    groups[g].lr = in.scalar(prefix + "lr");
    groups[g].weight_decay = in.scalar(prefix + "weight_decay");
    groups[g].initial_lr = in.optional_scalar(prefix + "initial_lr");
    if (groups[g].lr < 0 || groups[g].weight_decay < 0)
      in.fail("group " + std::to_string(g) + "'s lr and weight_decay must be >= 0");
  }
  const std::optional<double> mu = momentum() ? std::optional<double>(in.scalar("momentum")) : std::nullopt;
  std::function<void()> store = read_state(in);
  in.finish();
  return [this, groups = std::move(groups), mu, store = std::move(store)] {
    groups_ = groups;
    if (mu) set_momentum(*mu);
    store();
  };
}

void Optimizer::zero_grad() {
  for (const Var& p : params_) p.zero_grad();
}

SGD::SGD(std::vector<Var> params, const SGDOptions& options)
    : SGD(std::vector<ParamGroup>{{.params = std::move(params)}}, options) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& options)
    : Optimizer(std::move(groups), options.lr, options.weight_decay, "SGD"), options_(options), momentum_(params_.size()) {
  check(options.momentum >= 0, "SGD", "momentum must be >= 0, got " + std::to_string(options.momentum));
  check(!options.nesterov || (options.momentum > 0 && options.dampening == 0), "SGD",
        "nesterov needs momentum > 0 and dampening == 0");
}

void SGD::set_momentum(double momentum) {
  if (!(momentum >= 0)) fail("SGD", "momentum must be >= 0, got " + std::to_string(momentum));
  check(!options_.nesterov || momentum > 0, "SGD", "nesterov needs momentum > 0");
  options_.momentum = momentum;
}

void SGD::append_state(NamedTensors& out) const {
  for (size_t k = 0; k < params_.size(); ++k)
    if (momentum_[k].defined()) out.emplace_back("state." + std::to_string(k) + ".momentum_buffer", momentum_[k]);
}

std::function<void()> SGD::read_state(StateReader& in) {
  std::vector<Tensor> buffers(params_.size());
  for (size_t k = 0; k < params_.size(); ++k) {
    const std::string name = "state." + std::to_string(k) + ".momentum_buffer";
    if (in.has(name)) buffers[k] = in.tensor(name, params_[k].shape(), params_[k].dtype());
  }
  return [this, buffers = std::move(buffers)] { momentum_ = buffers; };
}

void SGD::step() {
  for (size_t k = 0; k < params_.size(); ++k) {
    const Var& p = params_[k];
    const Tensor& grad = usable_grad(p, "SGD", k);
    if (!grad.defined()) continue;
    const bool first = options_.momentum != 0 && !momentum_[k].defined();
    if (first) momentum_[k] = Tensor::empty(p.shape(), p.dtype());
    dispatch_dtype(p.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* w = p.value().mutable_data<T>();
      const T* g = grad.data<T>();
      T* b = options_.momentum != 0 ? momentum_[k].mutable_data<T>() : nullptr;
      const Group& group = groups_[group_of_[k]];
      const T lr = static_cast<T>(group.lr), decay = static_cast<T>(group.weight_decay);
      const T mu = static_cast<T>(options_.momentum), keep = static_cast<T>(1 - options_.dampening);
      const bool nesterov = options_.nesterov;
      parallel_for(p.numel(), p.numel() * kUpdateWork, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          T d = g[i];
          if (decay != 0) d += decay * w[i];
          if (b) {
            b[i] = first ? d : mu * b[i] + keep * d;
            d = nesterov ? d + mu * b[i] : b[i];
          }
          w[i] -= lr * d;
        }
      });
    });
  }
}

Adam::Adam(std::vector<Var> params, const AdamOptions& options)
    : Adam(std::vector<ParamGroup>{{.params = std::move(params)}}, options, false) {}

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& options) : Adam(std::move(groups), options, false) {}

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& options, bool decoupled)
    : Optimizer(std::move(groups), options.lr, options.weight_decay, decoupled ? "AdamW" : "Adam"),
      options_(options),
      decoupled_(decoupled),
      state_(params_.size()) {
  const char* name = decoupled ? "AdamW" : "Adam";
  check(options.beta1 >= 0 && options.beta1 < 1, name, "beta1 must be in [0, 1), got " + std::to_string(options.beta1));
  check(options.beta2 >= 0 && options.beta2 < 1, name, "beta2 must be in [0, 1), got " + std::to_string(options.beta2));
  check(options.eps >= 0, name, "eps must be >= 0, got " + std::to_string(options.eps));
}

void Adam::set_momentum(double beta1) {
  if (!(beta1 >= 0 && beta1 < 1))
    fail(decoupled_ ? "AdamW" : "Adam", "beta1 must be in [0, 1), got " + std::to_string(beta1));
  options_.beta1 = beta1;
}

void Adam::append_state(NamedTensors& out) const {
  for (size_t k = 0; k < params_.size(); ++k) {
    const State& s = state_[k];
    if (!s.m.defined()) continue;
    const std::string prefix = "state." + std::to_string(k) + ".";
    out.emplace_back(prefix + "exp_avg", s.m);
    out.emplace_back(prefix + "exp_avg_sq", s.v);
    put_scalar(out, prefix + "step", static_cast<double>(s.steps));
  }
}

std::function<void()> Adam::read_state(StateReader& in) {
  std::vector<State> state(params_.size());
  for (size_t k = 0; k < params_.size(); ++k) {
    const std::string prefix = "state." + std::to_string(k) + ".";
    if (!in.has(prefix + "step")) continue;
    const Var& p = params_[k];
    state[k] = {in.tensor(prefix + "exp_avg", p.shape(), p.dtype()), in.tensor(prefix + "exp_avg_sq", p.shape(), p.dtype()),
                in.count(prefix + "step")};
  }
  return [this, state = std::move(state)] { state_ = state; };
}

void Adam::step() {
  segments_.clear();
  int64_t shared_elements = 0;
  for (size_t k = 0; k < params_.size(); ++k) {
    const Var& p = params_[k];
    if (!usable_grad(p, decoupled_ ? "AdamW" : "Adam", k).defined()) continue;
    State& s = state_[k];
    if (!s.m.defined()) {
      s.m = Tensor::zeros(p.shape(), p.dtype());
      s.v = Tensor::zeros(p.shape(), p.dtype());
    }
    ++s.steps;
    const bool shared = p.numel() >= kSharedParameter;
    segments_.push_back({k, shared, p.numel()});
    if (shared) shared_elements += p.numel();
  }
  // One parallel pass over the slices of all large parameters: a single fork and join per step, where one
  // per parameter tensor cost more than the small tensors' updates themselves.
  parallel_for(kSlices, shared_elements * kUpdateWork, [&](int64_t begin, int64_t end) {
    for (const Segment& segment : segments_) {
      if (!segment.shared) continue;
      const int64_t lo = segment.count * begin / kSlices, hi = segment.count * end / kSlices;
      if (lo < hi) update(segment, lo, hi - lo);
    }
  });
  for (const Segment& segment : segments_)
    if (!segment.shared) update(segment, 0, segment.count);
}

void Adam::update(const Segment& segment, int64_t offset, int64_t count) {
  const Var& p = params_[segment.param];
  const State& s = state_[segment.param];
  const Group& group = groups_[group_of_[segment.param]];
  dispatch_dtype(p.dtype(), [&](auto tag) {
    using T = decltype(tag);
    adam_update(count, p.value().mutable_data<T>() + offset, p.grad().data<T>() + offset, s.m.mutable_data<T>() + offset,
                s.v.mutable_data<T>() + offset,
                adam_coefficients<T>(options_, group.lr, group.weight_decay, s.steps, decoupled_));
  });
}

}  // namespace mt::optim
