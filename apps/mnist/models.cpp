#include "apps/mnist/models.h"

namespace mnist_app {

std::shared_ptr<mt::nn::Sequential> make_cnn(mt::Generator& gen, uint64_t dropout_seed, int64_t classes) {
  using namespace mt::nn;
  auto model = std::make_shared<Sequential>();
  auto conv_block = [&](int64_t in, int64_t out) {
    model->add(std::make_shared<Conv2d>(in, out, 3, gen, mt::Conv2dOptions{.padding = {1, 1}}, false))
        .add(std::make_shared<BatchNorm2d>(out))
        .add(std::make_shared<ReLU>());
  };
  conv_block(1, 32);
  conv_block(32, 32);
  model->add(std::make_shared<MaxPool2d>(2));
  conv_block(32, 64);
  conv_block(64, 64);
  model->add(std::make_shared<MaxPool2d>(2))
      .add(std::make_shared<Flatten>())
      .add(std::make_shared<Linear>(64 * 7 * 7, 256, gen))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<Dropout>(0.25, dropout_seed))
      .add(std::make_shared<Linear>(256, classes, gen));
  return model;
}

}  // namespace mnist_app
