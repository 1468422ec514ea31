#include "nn/module.h"

#include <algorithm>

namespace mt::nn {

const Var& Module::register_parameter(std::string name, const Var& parameter) {
  if (!parameter.defined() || !parameter.requires_grad() || !parameter.is_leaf())
    throw Error("register_parameter: '" + name + "' must be a defined leaf Var that requires a gradient");
  parameters_.emplace_back(std::move(name), parameter);
  return parameter;
}

void Module::register_buffer(std::string name, Tensor& slot) {
  if (!slot.defined()) throw Error("register_buffer: '" + name + "' must be a defined tensor");
  buffers_.emplace_back(std::move(name), &slot);
}

void Module::register_generator(std::string name, Generator& generator) {
  generators_.emplace_back(std::move(name), &generator);
}

void Module::register_module(std::string name, std::shared_ptr<Module> child) {
  if (!child) throw Error("register_module: child '" + name + "' is null");
  child->train(training_);
  children_.emplace_back(std::move(name), std::move(child));
}

template <class Visit>
void Module::for_each_module(const std::string& prefix, std::vector<const Module*>& seen, Visit&& visit) const {
  if (std::find(seen.begin(), seen.end(), this) != seen.end()) return;
  seen.push_back(this);
  visit(prefix, *this);
  for (const auto& [name, child] : children_) child->for_each_module(prefix + name + ".", seen, visit);
}

namespace {

bool listed(const std::vector<std::pair<std::string, Var>>& out, const Var& v) {
  return std::any_of(out.begin(), out.end(), [&](const auto& named) { return named.second.is_same(v); });
}

bool listed(const std::vector<std::pair<std::string, Tensor>>& out, const Tensor& t) {
  return std::any_of(out.begin(), out.end(), [&](const auto& named) { return named.second.shares_storage_with(t); });
}

}  // namespace

std::vector<std::pair<std::string, Var>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  std::vector<const Module*> seen;
  for_each_module("", seen, [&](const std::string& prefix, const Module& m) {
    for (const auto& [name, p] : m.parameters_)
      if (!listed(out, p)) out.emplace_back(prefix + name, p);
  });
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::vector<const Module*> seen;
  for_each_module("", seen, [&](const std::string& prefix, const Module& m) {
    for (const auto& [name, slot] : m.buffers_)
      if (!listed(out, *slot)) out.emplace_back(prefix + name, *slot);
  });
  return out;
}

std::vector<std::pair<std::string, Generator*>> Module::named_generators() const {
  std::vector<std::pair<std::string, Generator*>> out;
  std::vector<const Module*> seen;
  for_each_module("", seen, [&](const std::string& prefix, const Module& m) {
    for (const auto& [name, generator] : m.generators_) out.emplace_back(prefix + name, generator);
  });
  return out;
}

std::vector<std::pair<std::string, Var>> Module::state_dict() const {
  std::vector<std::pair<std::string, Var>> out;
  std::vector<const Module*> seen;
  for_each_module("", seen, [&](const std::string& prefix, const Module& m) {
    for (const auto& [name, p] : m.parameters_)
      if (!listed(out, p)) out.emplace_back(prefix + name, p);
    // Explicit capture: clang before version 16 cannot capture a structured binding implicitly.
    for (const auto& [name, slot] : m.buffers_)
      if (std::none_of(out.begin(), out.end(), [slot = slot](const auto& named) { return named.second.value().shares_storage_with(*slot); }))
        out.emplace_back(prefix + name, Var(*slot));
  });
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
  for (const Var& p : parameters()) p.set_data(p.value().to(dtype));
  std::vector<const Module*> seen;
  for_each_module("", seen, [&](const std::string&, const Module& m) {
    for (const auto& slot : m.buffers_) *slot.second = slot.second->to(dtype);
  });
}

void Module::print(std::string& out, const std::string& name, int depth) const {
  out += std::string(2 * depth, ' ');
  if (!name.empty()) out += "(" + name + "): ";
  out += describe();
  for (size_t i = 0; i < parameters_.size(); ++i)
    out += (i == 0 ? "  " : ", ") + parameters_[i].first + " " + parameters_[i].second.value().str();
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
