#include "optim/checkpoint.h"

#include <cmath>
#include <functional>
#include <utility>

namespace mt::optim {
namespace {

constexpr const char* kOptimizerPrefix = "optimizer.";
constexpr const char* kSchedulerPrefix = "scheduler.";

}  // namespace

void put_scalar(NamedTensors& state, std::string name, double value) {
  state.emplace_back(std::move(name), Tensor::scalar(value, DType::Float64));
}

void put_all(NamedTensors& out, const std::string& prefix, const NamedTensors& state) {
  for (const auto& [name, tensor] : state) out.emplace_back(prefix + name, tensor);
}

StateReader::StateReader(const NamedTensors& state, std::string where)
    : state_(state), read_(state.size(), false), where_(std::move(where)) {
  for (size_t i = 0; i < state_.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (state_[i].first == state_[j].first) fail("the entry '" + state_[i].first + "' appears more than once");
}

void StateReader::fail(const std::string& what) const { throw Error(where_ + ": " + what); }

bool StateReader::has(const std::string& name) const {
  for (const auto& entry : state_)
    if (entry.first == name) return true;
  return false;
}

const Tensor& StateReader::find(const std::string& name) {
  for (size_t i = 0; i < state_.size(); ++i)
    if (state_[i].first == name) {
      read_[i] = true;
      const Tensor& t = state_[i].second;
      if (const int64_t at = first_non_finite(t); at >= 0)
        fail("'" + name + "' holds a non-finite value (NaN or infinity) at element " + std::to_string(at));
      return t;
    }
  fail("'" + name + "' is missing (not saved from an optimizer or scheduler like this one)");
}

double StateReader::scalar(const std::string& name) {
  const Tensor& t = find(name);
  if (t.dim() != 0) fail("'" + name + "' should be a scalar, got " + t.str());
  return t.item();
}

std::optional<double> StateReader::optional_scalar(const std::string& name) {
  if (!has(name)) return std::nullopt;
  return scalar(name);
}

int64_t StateReader::count(const std::string& name) {
  const double v = scalar(name);
  if (!(v >= 0 && v <= 9007199254740992.0 && v == std::floor(v)))
    fail("'" + name + "' should be a whole number >= 0, got " + std::to_string(v));
  return static_cast<int64_t>(v);
}

std::vector<double> StateReader::values(const std::string& name, size_t n) {
  const Tensor& t = find(name);
  if (t.dim() != 1 || t.size(0) != static_cast<int64_t>(n))
    fail("'" + name + "' should hold " + std::to_string(n) + " values, got " + t.str());
  std::vector<double> out;
  for (int64_t i = 0; i < t.size(0); ++i) out.push_back(t.at({i}));
  return out;
}

Tensor StateReader::tensor(const std::string& name, const Shape& shape, DType dtype) {
  const Tensor& t = find(name);
  if (t.shape() != shape || t.dtype() != dtype)
    fail("'" + name + "' is " + t.str() + " in the file but " + dtype_name(dtype) + shape.str() + " here");
  return t.clone();
}

NamedTensors StateReader::entries_under(const std::string& prefix) {
  NamedTensors out;
  for (size_t i = 0; i < state_.size(); ++i)
    if (state_[i].first.compare(0, prefix.size(), prefix) == 0) {
      read_[i] = true;
      out.emplace_back(state_[i].first.substr(prefix.size()), state_[i].second);
    }
  return out;
}

void StateReader::finish() const {
  for (size_t i = 0; i < state_.size(); ++i)
    if (!read_[i]) fail("the entry '" + state_[i].first + "' is not part of this state (saved from another kind?)");
}

void save(const Optimizer& optimizer, const std::filesystem::path& path, const LRScheduler* scheduler) {
  NamedTensors state;
  put_all(state, kOptimizerPrefix, optimizer.state_dict());
  if (scheduler) put_all(state, kSchedulerPrefix, scheduler->state_dict());
  try {
    save_tensors(state, path);
  } catch (const Error& e) {
    throw Error("save: " + std::string(e.what()));
  }
}

void load(Optimizer& optimizer, const std::filesystem::path& path, LRScheduler* scheduler) {
  const std::string where = "load '" + path.string() + "'";
  // The most this state can take: three tensors the size of each parameter (Adam's two moments with room to
  // spare) and a few hundred bytes of names and scalars for each parameter and group.
  uint64_t limit = 65536;
  for (const Var& p : optimizer.parameters()) limit += 3 * static_cast<uint64_t>(p.numel()) * dtype_size(p.dtype()) + 512;
  limit += 512 * optimizer.param_groups().size();
  const NamedTensors stored = load_tensors(path, limit, "this optimizer's state", where);
  StateReader in(stored, where);
  const NamedTensors optimizer_state = in.entries_under(kOptimizerPrefix);
  const NamedTensors scheduler_state = in.entries_under(kSchedulerPrefix);
  in.finish();
  if (!scheduler && !scheduler_state.empty()) in.fail("the file holds a scheduler's state; pass the scheduler to load it");
  if (scheduler && scheduler_state.empty()) in.fail("the file holds no scheduler state");
  // Both are checked before either changes.
  const auto load_optimizer = optimizer.check_state_dict(optimizer_state, where);
  const auto load_scheduler = scheduler ? scheduler->check_state_dict(scheduler_state, where) : std::function<void()>();
  load_optimizer();
  if (load_scheduler) load_scheduler();
}

}  // namespace mt::optim
