#include "nn/module.h"

namespace mt::nn {

void Module::register_parameter(std::string name, Var& slot) {
  if (!slot.defined() || !slot.requires_grad())
    throw Error("register_parameter: '" + name + "' must be a defined Var that requires a gradient");
  parameters_.emplace_back(std::move(name), &slot);
}

void Module::register_buffer(std::string name, Tensor& slot) {
  if (!slot.defined()) throw Error("register_buffer: '" + name + "' must be a defined tensor");
  buffers_.emplace_back(std::move(name), &slot);
}

void Module::register_module(std::string name, std::shared_ptr<Module> child) {
  if (!child) throw Error("register_module: child '" + name + "' is null");
  child->train(training_);
  children_.emplace_back(std::move(name), std::move(child));
}

std::vector<std::pair<std::string, Var>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  for (const auto& [name, slot] : parameters_) out.emplace_back(name, *slot);
  for (const auto& [child_name, child] : children_)
    for (auto& [name, var] : child->named_parameters()) out.emplace_back(child_name + "." + name, std::move(var));
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [name, slot] : buffers_) out.emplace_back(name, *slot);
  for (const auto& [child_name, child] : children_)
    for (auto& [name, t] : child->named_buffers()) out.emplace_back(child_name + "." + name, std::move(t));
  return out;
}

std::vector<std::pair<std::string, Var>> Module::state_dict() const {
  std::vector<std::pair<std::string, Var>> out;
  for (const auto& [name, slot] : parameters_) out.emplace_back(name, *slot);
  for (const auto& [name, slot] : buffers_) out.emplace_back(name, Var(*slot));
  for (const auto& [child_name, child] : children_)
    for (auto& [name, var] : child->state_dict()) out.emplace_back(child_name + "." + name, std::move(var));
  return out;
}

std::vector<Var> Module::parameters() const {
  std::vector<Var> out;
  for (auto& named : named_parameters()) out.push_back(std::move(named.second));
  return out;
}

int64_t Module::parameter_count() const {
  int64_t count = 0;
  for (const Var& p : parameters()) count += p.numel();
  return count;
}

void Module::zero_grad() {
  for (const Var& p : parameters()) p.zero_grad();
}

void Module::train(bool on) {
  training_ = on;
  for (auto& child : children_) child.second->train(on);
}

void Module::to(DType dtype) {
  for (auto& slot : parameters_) *slot.second = Var(slot.second->value().to(dtype), true);
  for (auto& slot : buffers_) *slot.second = slot.second->to(dtype);
  for (auto& child : children_) child.second->to(dtype);
}

void Module::print(std::string& out, const std::string& name, int depth) const {
  out += std::string(2 * depth, ' ');
  if (!name.empty()) out += "(" + name + "): ";
  out += describe();
  for (size_t i = 0; i < parameters_.size(); ++i)
    out += (i == 0 ? "  " : ", ") + parameters_[i].first + " " + parameters_[i].second->value().str();
  if (children_.empty()) {
    out += "\n";
    return;
  }
  out += "(\n";
  for (const auto& [child_name, child] : children_) child->print(out, child_name, depth + 1);
  out += std::string(2 * depth, ' ') + ")\n";
}

std::string Module::str() const {
  std::string out;
  print(out, "", 0);
  return out + "Parameters: " + std::to_string(parameter_count()) + "\n";
}

}  // namespace mt::nn
