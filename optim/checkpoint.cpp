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
  index_.reserve(state_.size());
  for (size_t i = 0; i < state_.size(); ++i)
    if (!index_.emplace(state_[i].first, i).second) fail("the entry '" + state_[i].first + "' appears more than once");
}

void StateReader::fail(const std::string& what) const { throw Error(where_ + ": " + what); }

bool StateReader::has(const std::string& name) const { return index_.contains(name); }

const Tensor& StateReader::find(const std::string& name) {
  const auto it = index_.find(name);
  if (it == index_.end()) fail("'" + name + "' is missing (not saved from an optimizer or scheduler like this one)");
  read_[it->second] = true;
  const Tensor& t = state_[it->second].second;
  if (const int64_t at = first_non_finite(t); at >= 0)
    fail("'" + name + "' holds a non-finite value (NaN or infinity) at element " + std::to_string(at));
  return t;
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

TensorFileLimits state_limits(const Optimizer& optimizer) {
  const uint64_t groups = optimizer.param_groups().size();
  TensorFileLimits limits{65536 + 512 * groups, 256 + 8 * groups};
  for (const Var& p : optimizer.parameters()) {
    limits.payload_bytes += 3 * static_cast<uint64_t>(p.numel()) * dtype_size(p.dtype()) + 512;
    limits.tensors += 4;
  }
  return limits;
}

void load(Optimizer& optimizer, const std::filesystem::path& path, LRScheduler* scheduler) {
  const std::string where = "load '" + path.string() + "'";
  const NamedTensors stored = load_tensors(path, state_limits(optimizer), "this optimizer's state", where);
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
