#include "autograd/var.h"

#include <algorithm>
#include <string>
#include <unordered_set>

namespace mt {
namespace detail {

struct Node {
  Tensor value;
  Tensor grad;
  bool requires_grad = false;
  const char* op = "leaf";
  // The record: empty for leaves, and again after backward() has released it.
  PoolVector<std::shared_ptr<Node>> inputs;
  BackwardFn backward;
  bool released = false;

  // Frees a long chain of records with a loop: the default recursive destruction could overflow the stack.
  ~Node() {
    PoolVector<std::shared_ptr<Node>> pending = std::move(inputs);
    while (!pending.empty()) {
      std::shared_ptr<Node> node = std::move(pending.back());
      pending.pop_back();
      if (node.use_count() == 1)
        for (auto& input : node->inputs) pending.push_back(std::move(input));
    }
  }
};

}  // namespace detail

namespace {

// The only global state of the tape: whether ops record, per thread.
thread_local bool recording = true;

using detail::Node;

// Nodes reachable from `root` through records, each after all the nodes that consume it. Owning pointers:
// releasing a record during backward() would otherwise free nodes still waiting in the list.
PoolVector<std::shared_ptr<Node>> reverse_topological_order(const std::shared_ptr<Node>& root) {
  PoolVector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*, std::hash<Node*>, std::equal_to<Node*>, PoolAllocator<Node*>> seen{root.get()};
  // Iterative depth-first search: a long chain of ops must not overflow the call stack.
  PoolVector<std::pair<std::shared_ptr<Node>, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      std::shared_ptr<Node> input = node->inputs[next++];
      if (input->requires_grad && seen.insert(input.get()).second) stack.push_back({std::move(input), 0});
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  std::reverse(order.begin(), order.end());
  return order;
}

void accumulate(Node& node, const Tensor& grad) {
  // Gradients may arrive as broadcast views; keep them dense so optimizers can read them flat.
  node.grad = node.grad.defined() ? add(node.grad, grad) : grad.contiguous();
}

// Runs a record's backward function and hands each input its share of the gradient.
void propagate(Node& node) {
  const Grads grads = node.backward(node.grad);
  if (grads.size() != node.inputs.size())
    throw Error(std::string("backward of '") + node.op + "' returned " + std::to_string(grads.size()) +
                " gradients for " + std::to_string(node.inputs.size()) + " inputs");
  for (size_t i = 0; i < grads.size(); ++i) {
    Node& input = *node.inputs[i];
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

void Var::backward() const {
  const Tensor& v = value();
  if (v.numel() != 1)
    throw Error(std::string("backward: the result of '") + op() + "' has shape " + v.shape().str() +
                "; pass a gradient of that shape, or reduce it to a scalar first");
  backward(Tensor::ones(v.shape(), v.dtype()));
}

void Var::backward(const Tensor& grad_output) const {
  Node& root = *node_;
  if (!root.requires_grad)
    throw Error(std::string("backward: the result of '") + root.op + "' does not require a gradient");
  if (root.released)
    throw Error(std::string("backward: the graph of '") + root.op + "' was already released by an earlier backward()");
  if (grad_output.shape() != root.value.shape() || grad_output.dtype() != root.value.dtype())
    throw Error("backward: gradient " + grad_output.str() + " does not match the result " + root.value.str());

  NoGradGuard no_grad;  // gradients are plain tensors; computing them records nothing
  accumulate(root, grad_output);
  for (std::shared_ptr<Node>& node : reverse_topological_order(node_)) {
    if (!node->backward) continue;  // a leaf: its grad stays for the user
    if (node->grad.defined()) propagate(*node);
    // Release the record and the intermediate gradient: the tape is used once.
    node->inputs.clear();
    node->backward = BackwardFn();
    node->grad = Tensor();
    node->released = true;
    node.reset();
  }
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
    for (const Var& input : inputs) node->inputs.push_back(input.node_);
  }
  return Var(std::move(node));
}

NoGradGuard::NoGradGuard() : previous_(recording) { recording = false; }
NoGradGuard::~NoGradGuard() { recording = previous_; }

bool grad_enabled() { return recording; }

}  // namespace mt
