#pragma once
// Var: a tensor that takes part in differentiation, and the tape that records how to differentiate it.
//
// Every differentiable op computes its result on plain tensors and then calls record(), which, when any
// input requires a gradient and recording is on, keeps the inputs and a backward function beside the
// result. backward() walks these records from the result back to the leaves in reverse topological
// order, accumulating into each leaf's grad(), then releases them. A new op needs nothing more than a
// forward computed with tensor kernels and a backward passed to record(): see "Adding an op" in README.md.
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <span>
#include <utility>
#include <type_traits>

#include "tensor/allocator.h"
#include "tensor/kernels.h"
#include "tensor/tensor.h"

namespace mt {

namespace detail {
struct Node;
}

// The gradients a backward function returns: one per input of the op, in the order the inputs were given,
// each shaped like its input; an undefined Tensor means "no gradient" for an input that does not need one.
// The list lives in the tape's memory (tensor/allocator.h), like everything else a training step records.
using Grads = PoolVector<Tensor>;

// Maps the gradient of an op's result to the gradients of its inputs. It holds any callable, as std::function
// would, but keeps the callable's captures in the tape's memory instead of on the heap, so recording an op
// allocates nothing once training has reached a steady state.
class BackwardFn {
 public:
  BackwardFn() = default;
  template <class F>
    requires std::is_invocable_r_v<Grads, F&, const Tensor&>
  BackwardFn(F fn) : impl_(make_pooled<Impl<F>>(std::move(fn))) {}  // NOLINT: converts from a lambda on purpose

  Grads operator()(const Tensor& grad_output) const { return (*impl_)(grad_output); }
  explicit operator bool() const { return impl_ != nullptr; }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual Grads operator()(const Tensor& grad_output) = 0;
  };
  template <class F>
  struct Impl final : Base {
    explicit Impl(F f) : fn(std::move(f)) {}
    Grads operator()(const Tensor& grad_output) override { return fn(grad_output); }
    F fn;
  };
  std::shared_ptr<Base> impl_;
};

struct BackwardOptions {
  // Keeps the records, so that another backward() can pass through the same graph (several losses over one
  // trunk, a GAN's discriminator and generator losses). Without it, backward() releases what it walked.
  bool retain_graph = false;
};

// Called with the gradient a backward pass computes for a Var; returns a replacement gradient, or an undefined
// tensor to keep it as it is.
using GradHook = std::function<Tensor(const Tensor& grad)>;

class Var {
 public:
  Var() = default;
  explicit Var(Tensor value, bool requires_grad = false);

  bool defined() const { return node_ != nullptr; }
  const Tensor& value() const;
  const Tensor& grad() const;  // undefined until a backward pass reaches this leaf
  bool requires_grad() const;
  bool is_leaf() const;        // made by the user, not recorded by an op
  const char* op() const;      // the op that produced it: "add", "matmul", ... or "leaf"

  const Shape& shape() const { return value().shape(); }
  DType dtype() const { return value().dtype(); }
  int dim() const { return value().dim(); }
  int64_t size(int dim) const { return value().size(dim); }
  int64_t numel() const { return value().numel(); }
  double item() const { return value().item(); }

  // Differentiates this scalar (or, with grad_output, any-shaped) result with respect to every leaf that
  // requires a gradient, adding to their grad(); every leaf's grad() is its own storage. The records walked
  // are released unless options.retain_graph: a later backward() reaching a released record throws.
  void backward(BackwardOptions options = {}) const;
  void backward(const Tensor& grad_output, BackwardOptions options = {}) const;

  // As PyTorch's register_hook: `hook` sees the gradient of this Var in each backward pass (for a leaf, the
  // pass's whole contribution before it is added to grad()) and may replace it. Hooks run in registration order.
  void register_hook(GradHook hook) const;

  void zero_grad() const;  // drops grad(), so the next backward starts from zero
  // Replaces grad() with `grad`, shaped and typed like the value (dist::GradientReducer puts the average
  // over all ranks there); an undefined tensor drops it like zero_grad().
  void set_grad(Tensor grad) const;
  Var detach() const;      // the same value, cut off from the graph
  // Replaces the value of this leaf in place (any shape and dtype), for every handle to it, and drops grad():
  // how Module::to() converts parameters while modules and optimizers keep holding the same Vars.
  void set_data(Tensor value) const;
  bool is_same(const Var& other) const { return node_ == other.node_; }  // the same Var, not equal values

 private:
  friend Var record(const char*, Tensor, std::span<const Var>, BackwardFn);
  explicit Var(std::shared_ptr<detail::Node> node) : node_(std::move(node)) {}
  const detail::Node& node(const char* what) const;
  std::shared_ptr<detail::Node> node_;
};

// The value as PyTorch prints a tensor, with ", requires_grad=true" for a leaf that requires a gradient and
// ", grad_fn=mul" for the result of an op.
std::ostream& operator<<(std::ostream& os, const Var& v);

// The tape's single entry point: returns `value` as the result of op `name` on `inputs`, recording
// `backward` when recording is on and some input requires a gradient.
Var record(const char* name, Tensor value, std::span<const Var> inputs, BackwardFn backward);
inline Var record(const char* name, Tensor value, std::initializer_list<Var> inputs, BackwardFn backward) {
  return record(name, std::move(value), std::span<const Var>(inputs.begin(), inputs.size()), std::move(backward));
}

// While alive, ops record nothing (evaluation, optimizer updates). Scopes nest. Per thread.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

bool grad_enabled();

}  // namespace mt
