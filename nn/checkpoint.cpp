#include "nn/checkpoint.h"

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace mt::nn {
namespace {

NamedTensors values(const std::vector<std::pair<std::string, Var>>& named) {
  NamedTensors tensors;
  for (const auto& [name, var] : named) tensors.emplace_back(name, var.value());
  return tensors;
}

}  // namespace

void save(const Module& module, const std::filesystem::path& path) {
  try {
    save_tensors(values(module.state_dict()), path);
  } catch (const Error& e) {
    throw Error("save: " + std::string(e.what()));
  }
}

void load(Module& module, const std::filesystem::path& path) {
  const std::string where = "load '" + path.string() + "'";
  // Twice the model's own payload leaves room for longer names, and twice its tensors for a file with a few too
  // many, which load_state_dict names; anything above cannot fit the model.
  const NamedTensors own = values(module.state_dict());
  const TensorFileLimits limits{2 * tensor_payload_bytes(own) + 4096, 2 * own.size() + 64};
  load_state_dict(module, load_tensors(path, limits, "this model's tensors", where), where);
}

void load_state_dict(Module& module, const NamedTensors& stored, const std::string& where) {
  check_state_dict(module, stored, where)();
}

std::function<void()> check_state_dict(Module& module, const NamedTensors& stored, const std::string& where) {
  const std::vector<std::pair<std::string, Var>> params = module.state_dict();
  auto list = [](const auto& named) {
    std::string names;
    for (const auto& entry : named) names += (names.empty() ? "" : ", ") + entry.first;
    return names;
  };
  // By name, in linear time: a file may hold as many tensors as load() lets through.
  std::unordered_map<std::string_view, const Tensor*> by_name;
  std::unordered_set<std::string_view> repeated;
  for (const auto& [name, tensor] : stored)
    if (!by_name.emplace(name, &tensor).second) repeated.insert(name);
  std::unordered_set<std::string_view> param_names;
  for (const auto& entry : params) param_names.insert(entry.first);
  std::vector<const Tensor*> sources;
  for (const auto& [name, var] : params) {
    const auto found = by_name.find(name);
    if (found == by_name.end())
      throw Error(where + ": the model's parameter '" + name + "' is not in the file (the file has: " + list(stored) +
                  ")");
    const Tensor* const saved = found->second;
    if (saved->dtype() != var.dtype())
      throw Error(where + ": '" + name + "' is " + dtype_name(saved->dtype()) + " in the file but " +
                  dtype_name(var.dtype()) + " in the model");
    if (saved->shape() != var.shape())
      throw Error(where + ": '" + name + "' has shape " + saved->shape().str() + " in the file but " +
                  var.shape().str() + " in the model");
    if (const int64_t at = first_non_finite(*saved); at >= 0)
      throw Error(where + ": '" + name + "' holds a non-finite value (NaN or infinity) at element " +
                  std::to_string(at) + ": the model diverged before it was saved");
    sources.push_back(saved);
  }
  for (const auto& entry : stored) {
    const std::string& name = entry.first;
    if (!param_names.contains(name))
      throw Error(where + ": the file's tensor '" + name + "' is not a parameter of the model (the model has: " +
                  list(params) + ")");
    if (repeated.contains(name)) throw Error(where + ": the file has tensor '" + name + "' more than once");
  }
  // Everything matched: copying can no longer fail, so the model is never left half-loaded. The copies are
  // taken now, so that the loader does not depend on `stored` outliving it.
  std::vector<Tensor> values;
  for (const Tensor* source : sources) values.push_back(*source);
  return [params, values = std::move(values)] {
    for (size_t i = 0; i < params.size(); ++i) params[i].second.value().copy_(values[i]);
  };
}

}  // namespace mt::nn
