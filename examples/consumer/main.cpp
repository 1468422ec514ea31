// A program outside microtorch that uses it as a library: it makes 8x8 images of three shapes (a horizontal
// bar, a vertical bar, a diagonal) with random noise, trains a small MLP on them with Adam, prints the mean
// loss of each epoch, saves and reloads the model, and draws the loss of every step into consumer_loss.png.
// It exits 1 unless the loss falls to under a quarter of the first epoch's and the reloaded model predicts
// as the trained one did.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "datasets/datasets.h"
#include "nn/nn.h"
#include "optim/optim.h"
#include "tensor/version.h"
#include "viz/viz.h"

namespace {

constexpr int64_t kSide = 8;

// Shape `label` drawn at a random place in bright pixels, over dark noise: integers only, so that every
// build of this file makes the same bytes.
mt::datasets::ImageDataset make_shapes(int64_t count, mt::Generator& gen) {
  std::vector<uint8_t> images(count * kSide * kSide), labels(count);
  for (int64_t i = 0; i < count; ++i) {
    uint8_t* image = &images[i * kSide * kSide];
    for (int64_t p = 0; p < kSide * kSide; ++p) image[p] = static_cast<uint8_t>(gen.below(64));
    const int64_t label = i % 3, at = static_cast<int64_t>(gen.below(kSide));
    for (int64_t k = 0; k < kSide; ++k) {
      const int64_t row = label == 0 ? at : k, col = label == 1 ? at : k;
      image[row * kSide + col] = static_cast<uint8_t>(192 + gen.below(64));
    }
    labels[i] = static_cast<uint8_t>(label);
  }
  return {"shapes", std::move(images), std::move(labels), kSide, kSide, {"horizontal", "vertical", "diagonal"}};
}

std::vector<int64_t> predict(mt::nn::Module& model, const mt::Tensor& images) {
  mt::NoGradGuard no_grad;
  std::vector<int64_t> classes;
  mt::argmax(model(mt::Var(images)).value(), 1, classes);
  return classes;
}

}  // namespace

int main() {
  std::printf("microtorch %s\n", std::string(mt::version()).c_str());
  mt::Generator gen(7);
  const mt::datasets::ImageDataset shapes = make_shapes(600, gen);
  mt::datasets::DataLoader loader(shapes, {.batch_size = 30, .seed = 1});

  auto model = std::make_shared<mt::nn::Sequential>();
  model->add(std::make_shared<mt::nn::Linear>(kSide * kSide, 32, gen))
      .add(std::make_shared<mt::nn::ReLU>())
      .add(std::make_shared<mt::nn::Linear>(32, 3, gen));
  mt::optim::Adam adam(model->parameters(), {.lr = 3e-3});

  std::vector<double> step_losses, epoch_losses;
  for (int64_t epoch = 0; epoch < 6; ++epoch) {
    loader.set_epoch(epoch);
    double sum = 0;
    for (const mt::datasets::Batch& batch : loader) {
      mt::Var loss = mt::nn::cross_entropy(model->forward(mt::Var(batch.images)), batch.labels);
      adam.zero_grad();
      loss.backward();
      adam.step();
      step_losses.push_back(loss.value().item());
      sum += step_losses.back();
    }
    epoch_losses.push_back(sum / static_cast<double>(loader.num_batches()));
    std::printf("epoch %lld: loss %.9g\n", static_cast<long long>(epoch + 1), epoch_losses.back());
  }

  mt::nn::save(*model, "consumer_model.mtw");
  auto reloaded = std::make_shared<mt::nn::Sequential>();
  reloaded->add(std::make_shared<mt::nn::Linear>(kSide * kSide, 32, gen))
      .add(std::make_shared<mt::nn::ReLU>())
      .add(std::make_shared<mt::nn::Linear>(32, 3, gen));
  mt::nn::load(*reloaded, "consumer_model.mtw");
  const mt::Tensor all = loader.batch(0).images;
  const bool same = predict(*model, all) == predict(*reloaded, all);
  mt::viz::plot_step_loss(step_losses, "consumer_loss.png");

  const bool fell = epoch_losses.back() < epoch_losses.front() / 4;
  std::printf("loss %s (%.4f -> %.4f); reloaded model %s\n", fell ? "fell" : "did NOT fall enough",
              epoch_losses.front(), epoch_losses.back(), same ? "predicts the same" : "predicts DIFFERENTLY");
  return fell && same ? 0 : 1;
}
