#pragma once
// Optimizer and scheduler state in files beside the model's (nn::save), for resumable training:
//
//   mt::optim::save(optimizer, "optimizer.bin", &scheduler);   // after mt::nn::save(model, "model.bin")
//   ...
//   mt::nn::load(model, "model.bin");
//   mt::optim::load(optimizer, "optimizer.bin", &scheduler);   // both made as before, then their state read
//
// The file is mt::save_tensors()'s (tensor/tensor_file.h): the optimizer's state_dict() under "optimizer."
// and the scheduler's under "scheduler.". StateReader is how every state_dict is read back: each entry is
// checked (name, shape, dtype, finite values) before anything changes.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "optim/lr_scheduler.h"
#include "tensor/tensor_file.h"

namespace mt::optim {

// Writes atomically (mt::AtomicFile); an error names the file.
void save(const Optimizer& optimizer, const std::filesystem::path& path, const LRScheduler* scheduler = nullptr);

// Reads what save() wrote into an optimizer (and scheduler) of the same kinds over parameters of the same
// shapes: the header first, the payload only when it is at most what such state can take; then every entry is
// checked, and on an error nothing is changed and the mt::Error names the file and what was wrong.
void load(Optimizer& optimizer, const std::filesystem::path& path, LRScheduler* scheduler = nullptr);

// What a file of `optimizer`'s state, with a scheduler's, can take: three tensors the size of each parameter
// (Adam's two moments with room to spare) and a few hundred bytes of names and scalars per parameter and group;
// 4 tensors per parameter (Adam keeps 3), 8 per group (4 today) and 256 for the scheduler.
TensorFileLimits state_limits(const Optimizer& optimizer);

// A scalar entry of a state_dict: a 0-dim float64 tensor.
void put_scalar(NamedTensors& state, std::string name, double value);
// Entries `state` with `prefix` before each name (a part of a larger state_dict).
void put_all(NamedTensors& out, const std::string& prefix, const NamedTensors& state);

// Reads a state_dict entry by entry. Every accessor checks what it reads and throws an mt::Error starting with
// `where`; finish() checks that every entry was read, so a file of another optimizer or model is refused.
class StateReader {
 public:
  StateReader(const NamedTensors& state, std::string where);

  bool has(const std::string& name) const;
  double scalar(const std::string& name);                        // 0-dim, finite
  std::optional<double> optional_scalar(const std::string& name);
  int64_t count(const std::string& name);                        // a scalar holding a whole number >= 0
  std::vector<double> values(const std::string& name, size_t n);  // 1-dim with n finite elements
  Tensor tensor(const std::string& name, const Shape& shape, DType dtype);  // a copy, finite
  NamedTensors entries_under(const std::string& prefix);         // with the prefix removed from their names
  void finish() const;
  [[noreturn]] void fail(const std::string& what) const;
  const std::string& where() const { return where_; }

 private:
  const Tensor& find(const std::string& name);  // marks it read; throws when missing
  const NamedTensors& state_;
  std::unordered_map<std::string_view, size_t> index_;  // each entry's position in state_, by name
  std::vector<bool> read_;
  std::string where_;
};

}  // namespace mt::optim
