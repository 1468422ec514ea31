#pragma once
// nn::Module: the base of every layer. A module owns named parameters (Vars that require a gradient) and
// named child modules; names compose with dots through the children, so a Sequential's first Linear
// contributes "0.weight" and "0.bias", the names checkpoints are saved under.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/autograd.h"
#include "tensor/random.h"

namespace mt::nn {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  // Buffers are registered by address, so a module stays where it was made (held by std::shared_ptr).
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Var forward(const Var& x) = 0;
  Var operator()(const Var& x) { return forward(x); }

  // Depth first, in registration order: own parameters, then each child's, prefixed by the child's name.
  // A module or parameter registered more than once (a layer added twice, tied weights) is listed once,
  // under its first name, as in PyTorch: optimizers then update it once a step.
  std::vector<std::pair<std::string, Var>> named_parameters() const;
  std::vector<Var> parameters() const;
  int64_t parameter_count() const;  // elements, not tensors
  // Buffers: state that is not a parameter (batch norm's running statistics): no gradient, no optimizer
  // updates, but converted by to() and saved in checkpoints. Depth first and prefixed like parameters.
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  // Everything a checkpoint holds, module by module: own parameters, own buffers, then each child's. A
  // buffer appears as a Var that does not require a gradient and shares the buffer's storage.
  std::vector<std::pair<std::string, Var>> state_dict() const;
  // Random streams the forward pass draws from (Dropout's masks), depth first and prefixed like buffers: not
  // in state_dict() (a model file holds weights), but in a training checkpoint, so that a resumed run draws
  // what the uninterrupted one would have.
  std::vector<std::pair<std::string, Generator*>> named_generators() const;
  void zero_grad();

  // Training mode (the default) changes what some layers do (Dropout); it applies to all children.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Converts every parameter and buffer to `dtype` (float64 for gradcheck). Parameters keep their identity
  // (Var::set_data): every handle to them sees the new values, but optimizer state made before is stale, so
  // convert before handing parameters() to an optimizer.
  void to(DType dtype);

  // One line naming the layer and its configuration, "Linear(in_features=2, out_features=3, bias=true)".
  virtual std::string describe() const = 0;
  // The whole model: one line per module, indented by depth, with each layer's parameter shapes, and the
  // total parameter count at the end.
  std::string str() const;

 protected:
  // Registers the Var itself (a handle): a parameter may live anywhere, in a member or a std::vector<Var>.
  // Returns it, so `weight_ = register_parameter("weight", Var(w, true));` works.
  const Var& register_parameter(std::string name, const Var& parameter);
  void register_buffer(std::string name, Tensor& slot);
  void register_generator(std::string name, Generator& generator);
  void register_module(std::string name, std::shared_ptr<Module> child);
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

 private:
  void print(std::string& out, const std::string& name, int depth) const;
  // Calls visit(prefix, module) for this module and each distinct descendant, depth first, first name first.
  template <class Visit>
  void for_each_module(const std::string& prefix, std::vector<const Module*>& seen, Visit&& visit) const;

  std::vector<std::pair<std::string, Var>> parameters_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  std::vector<std::pair<std::string, Generator*>> generators_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace mt::nn
