#include "nn/checkpoint.h"

#include <algorithm>
#include <functional>
#include <string>
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
  // Twice the model's own payload leaves room for longer names; anything above cannot fit the model.
  const uint64_t limit = 2 * tensor_payload_bytes(values(module.state_dict())) + 4096;
  load_state_dict(module, load_tensors(path, limit, "this model's tensors", where), where);
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
  std::vector<const Tensor*> sources;
  for (const auto& [name, var] : params) {
    // Explicit capture: clang before version 16 cannot capture a structured binding implicitly.
    const auto it = std::find_if(stored.begin(), stored.end(), [&name = name](const auto& s) { return s.first == name; });
    if (it == stored.end())
      throw Error(where + ": the model's parameter '" + name + "' is not in the file (the file has: " + list(stored) +
                  ")");
    if (it->second.dtype() != var.dtype())
      throw Error(where + ": '" + name + "' is " + dtype_name(it->second.dtype()) + " in the file but " +
                  dtype_name(var.dtype()) + " in the model");
    if (it->second.shape() != var.shape())
      throw Error(where + ": '" + name + "' has shape " + it->second.shape().str() + " in the file but " +
                  var.shape().str() + " in the model");
    if (const int64_t at = first_non_finite(it->second); at >= 0)
      throw Error(where + ": '" + name + "' holds a non-finite value (NaN or infinity) at element " +
                  std::to_string(at) + ": the model diverged before it was saved");
    sources.push_back(&it->second);
  }
  for (const auto& [name, tensor] : stored) {
    // Explicit captures: clang before version 16 cannot capture a structured binding implicitly.
    const auto used = std::count_if(params.begin(), params.end(), [&name = name](const auto& p) { return p.first == name; });
    const auto copies = std::count_if(stored.begin(), stored.end(), [&name = name](const auto& s) { return s.first == name; });
    if (used == 0)
      throw Error(where + ": the file's tensor '" + name + "' is not a parameter of the model (the model has: " +
                  list(params) + ")");
    if (copies > 1) throw Error(where + ": the file has tensor '" + name + "' more than once");
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
