#include "autograd/var.h"

#include <algorithm>
#include <ostream>
#include <string>
#include <unordered_set>

namespace mt {
namespace detail {

struct Node {
  Tensor value;
  Tensor grad;     // a leaf's accumulated gradient, its own storage
  Tensor pending;  // the gradient reaching this node in the running backward pass
  bool requires_grad = false;
  const char* op = "leaf";
  // The record: empty for leaves, and again after backward() has released it. Each input is kept with the
  // version of its value's storage at the forward, and so is this node's value: a backward may read them.
  struct Input {
    std::shared_ptr<Node> node;
    uint64_t version;
  };
  PoolVector<Input> inputs;
  uint64_t value_version = 0;
  BackwardFn backward;
  bool released = false;
  std::vector<GradHook> hooks;

  // Frees a long chain of records with a loop: the default recursive destruction could overflow the stack.
  ~Node() {
    PoolVector<Input> to_free = std::move(inputs);
    while (!to_free.empty()) {
      std::shared_ptr<Node> node = std::move(to_free.back().node);
      to_free.pop_back();
      if (node.use_count() == 1)
        for (Input& input : node->inputs) to_free.push_back(std::move(input));
    }
  }
};

}  // namespace detail

namespace {

// The only global state of the tape: whether ops record, per thread.
thread_local bool recording = true;

using detail::Node;

std::string second_backward_message(const Node& node) {
  return std::string("backward: trying to backward through the graph a second time: the record of '") + node.op +
         "' was already released by an earlier backward(); pass {.retain_graph = true} to that backward() to keep it";
}

// Nodes reachable from `root` through records, each after all the nodes that consume it. Owning pointers:
// releasing a record during backward() would otherwise free nodes still waiting in the list. A released
// record ends the walk with an error, before any gradient is touched: it would otherwise pass for a leaf and
// silently drop the gradient behind it.
PoolVector<std::shared_ptr<Node>> reverse_topological_order(const std::shared_ptr<Node>& root) {
  PoolVector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*, std::hash<Node*>, std::equal_to<Node*>, PoolAllocator<Node*>> seen{root.get()};
  // Iterative depth-first search: a long chain of ops must not overflow the call stack.
  PoolVector<std::pair<std::shared_ptr<Node>, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      std::shared_ptr<Node> input = node->inputs[next++].node;
      if (!input->requires_grad || !seen.insert(input.get()).second) continue;
      if (input->released) throw Error(second_backward_message(*input));
      stack.push_back({std::move(input), 0});
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  std::reverse(order.begin(), order.end());
  return order;
}

// Adds one contribution to the pass's gradient of `node`. Out of place: a contribution may be shared with
// other inputs of the same op (add hands one g to both) or with the caller.
void accumulate(Node& node, const Tensor& grad) {
  node.pending = node.pending.defined() ? add(node.pending, grad) : grad;
}

// The pass's gradient of `node` after its hooks.
Tensor hooked_gradient(Node& node) {
  Tensor grad = std::move(node.pending);
  for (const GradHook& hook : node.hooks) {
    Tensor replaced = hook(grad);
    if (!replaced.defined()) continue;
    if (replaced.shape() != grad.shape() || replaced.dtype() != grad.dtype())
      throw Error(std::string("register_hook: a hook on the result of '") + node.op + "' returned " + replaced.str() +
                  " for the gradient " + grad.str());
    grad = std::move(replaced);
  }
  return grad;
}

// Adds the pass's gradient to a leaf's grad(), which must be storage of its own: editing one leaf's gradient
// (clipping, zeroing) must not change another's or the caller's. The incoming tensor is kept only when
// nothing else views its storage; gradients may arrive as broadcast views, kept dense for the optimizers.
void accumulate_leaf(Node& leaf, Tensor grad) {
  if (leaf.grad.defined()) {
    leaf.grad = add(leaf.grad, grad);
  } else if (grad.is_contiguous() && grad.storage_use_count() == 1) {
    leaf.grad = std::move(grad);
  } else {
    leaf.grad = grad.clone();
  }
}

// The backward of `node` may read its inputs' values and its own (mul, tanh...): they must be as the forward
// left them. PyTorch's version check: an in-place edit in between raises instead of giving a wrong gradient.
void check_unmodified(const Node& node) {
  auto check = [&](const Tensor& value, uint64_t saved, int input) {
    if (value.version() == saved) return;
    throw Error(std::string("backward of '") + node.op + "': " +
                (input < 0 ? std::string("its result ") : "input " + std::to_string(input) + " ") + value.str() +
                " was modified in place after the forward (its storage is at version " + std::to_string(value.version()) +
                ", the forward saw " + std::to_string(saved) + "); edit a clone(), or edit after backward()");
  };
  check(node.value, node.value_version, -1);
  for (size_t i = 0; i < node.inputs.size(); ++i)
    check(node.inputs[i].node->value, node.inputs[i].version, static_cast<int>(i));
}

// Runs a record's backward function and hands each input its share of the gradient.
void propagate(Node& node, const Tensor& grad) {
  check_unmodified(node);
  const Grads grads = node.backward(grad);
  if (grads.size() != node.inputs.size())
    throw Error(std::string("backward of '") + node.op + "' returned " + std::to_string(grads.size()) +
                " gradients for " + std::to_string(node.inputs.size()) + " inputs");
  for (size_t i = 0; i < grads.size(); ++i) {
    Node& input = *node.inputs[i].node;
    if (!input.requires_grad || !grads[i].defined()) continue;
    if (grads[i].shape() != input.value.shape() || grads[i].dtype() != input.value.dtype())
      throw Error(std::string("backward of '") + node.op + "': gradient " + grads[i].str() + " for input " +
                  std::to_string(i) + " does not match the input " + input.value.str());
    accumulate(input, grads[i]);
  }
}

}  // namespace

Var::Var(Tensor value, bool requires_grad) : node_(make_pooled<Node>()) {
  if (!value.defined()) throw Error("Var: the value tensor is undefined");
  node_->value = std::move(value);
  node_->requires_grad = requires_grad;
}

const detail::Node& Var::node(const char* what) const {
  if (!node_) throw Error(std::string(what) + ": the Var is undefined");
  return *node_;
}

const Tensor& Var::value() const { return node("value").value; }
const Tensor& Var::grad() const { return node("grad").grad; }
bool Var::requires_grad() const { return node("requires_grad").requires_grad; }
bool Var::is_leaf() const { return !node("is_leaf").backward && !node_->released; }
const char* Var::op() const { return node("op").op; }

void Var::zero_grad() const {
  node("zero_grad");
  node_->grad = Tensor();
}

void Var::set_grad(Tensor grad) const {
  const Node& n = node("set_grad");
  if (grad.defined() && (grad.shape() != n.value.shape() || grad.dtype() != n.value.dtype()))
    throw Error("set_grad: gradient " + grad.str() + " does not match the value " + n.value.str());
  node_->grad = std::move(grad);
}

Var Var::detach() const { return Var(value(), false); }

void Var::set_data(Tensor value) const {
  if (!is_leaf()) throw Error(std::string("set_data: the result of '") + op() + "' is not a leaf");
  if (!value.defined()) throw Error("set_data: the value tensor is undefined");
  node_->value = std::move(value);
  node_->grad = Tensor();
}

void Var::backward(BackwardOptions options) const {
  const Tensor& v = value();
  if (v.numel() != 1)
    throw Error(std::string("backward: the result of '") + op() + "' has shape " + v.shape().str() +
                "; pass a gradient of that shape, or reduce it to a scalar first");
  backward(Tensor::ones(v.shape(), v.dtype()), options);
}

void Var::backward(const Tensor& grad_output, BackwardOptions options) const {
  node("backward");
  Node& root = *node_;
  if (!root.requires_grad)
    throw Error(std::string("backward: the result of '") + root.op + "' does not require a gradient");
  if (root.released) throw Error(second_backward_message(root));
  if (grad_output.shape() != root.value.shape() || grad_output.dtype() != root.value.dtype())
    throw Error("backward: gradient " + grad_output.str() + " does not match the result " + root.value.str());

  NoGradGuard no_grad;  // gradients are plain tensors; computing them records nothing
  PoolVector<std::shared_ptr<Node>> order = reverse_topological_order(node_);
  accumulate(root, grad_output);
  try {
    for (std::shared_ptr<Node>& node : order) {
      if (node->pending.defined()) {
        Tensor grad = hooked_gradient(*node);
        if (node->backward) {
          propagate(*node, grad);
        } else {
          accumulate_leaf(*node, std::move(grad));
        }
      }
      if (node->backward && !options.retain_graph) {
        node->inputs.clear();
        node->backward = BackwardFn();
        node->released = true;
      }
      node.reset();
    }
  } catch (...) {
    // A failed pass leaves no partial gradient behind for the next one to add to.
    for (const std::shared_ptr<Node>& node : order)
      if (node) node->pending = Tensor();
    throw;
  }
}

void Var::register_hook(GradHook hook) const {
  const Node& n = node("register_hook");
  if (!n.requires_grad)
    throw Error(std::string("register_hook: the result of '") + n.op + "' does not require a gradient");
  if (!hook) throw Error("register_hook: the hook is empty");
  node_->hooks.push_back(std::move(hook));
}

Var record(const char* name, Tensor value, std::span<const Var> inputs, BackwardFn backward) {
  auto node = make_pooled<Node>();
  node->value = std::move(value);
  node->op = name;
  bool needs_grad = false;
  for (const Var& input : inputs) needs_grad = needs_grad || input.node(name).requires_grad;
  if (needs_grad && recording) {
    node->requires_grad = true;
    node->backward = std::move(backward);
    node->value_version = node->value.version();
    for (const Var& input : inputs) node->inputs.push_back({input.node_, input.node_->value.version()});
  }
  return Var(std::move(node));
}

std::ostream& operator<<(std::ostream& os, const Var& v) {
  if (!v.defined()) return os << "Var(undefined)";
  if (!v.is_leaf()) return os << to_string(v.value(), std::string(", grad_fn=") + v.op());
  return os << to_string(v.value(), v.requires_grad() ? ", requires_grad=true" : "");
}

NoGradGuard::NoGradGuard() : previous_(recording) { recording = false; }
NoGradGuard::~NoGradGuard() { recording = previous_; }

bool grad_enabled() { return recording; }

}  // namespace mt
