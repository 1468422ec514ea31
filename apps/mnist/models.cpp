#include "apps/mnist/models.h"

#include <utility>

namespace mnist_app {

std::shared_ptr<mt::nn::Sequential> make_cnn(mt::Generator& gen, uint64_t dropout_seed, int64_t classes) {
  using namespace mt::nn;
  auto model = std::make_shared<Sequential>();
  const mt::Conv2dOptions same{.padding = {1, 1}};
  for (auto [in, out] : {std::pair<int64_t, int64_t>{1, 32}, {32, 64}}) {
    model->add(std::make_shared<Conv2d>(in, out, 3, gen, same, false))
        .add(std::make_shared<BatchNorm2d>(out))
        .add(std::make_shared<ReLU>())
        .add(std::make_shared<MaxPool2d>(2));
  }
  model->add(std::make_shared<Flatten>())
      .add(std::make_shared<Linear>(64 * 7 * 7, 128, gen))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<Dropout>(0.25, dropout_seed))
      .add(std::make_shared<Linear>(128, classes, gen));
  return model;
}

}  // namespace mnist_app
