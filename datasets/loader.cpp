#include <utility>

#include "datasets/datasets.h"
#include "tensor/error.h"

namespace mt::datasets {

DataLoader::DataLoader(ImageDataset dataset, LoaderOptions options)
    : dataset_(std::move(dataset)), options_(options), order_(static_cast<std::size_t>(dataset_.size())) {
  if (options_.batch_size <= 0)
    throw Error("DataLoader: batch_size must be positive, got " + std::to_string(options_.batch_size));
  if (!(options_.std > 0))
    throw Error("DataLoader: std must be positive, got " + std::to_string(options_.std));
  set_epoch(0);
}

void DataLoader::set_epoch(int64_t epoch) {
  epoch_ = epoch;
  epoch_order(options_.seed, epoch, options_.shuffle, order_);
}

int64_t DataLoader::num_batches() const { return batch_count(dataset_.size(), options_.batch_size, options_.drop_last); }

Batch DataLoader::batch(int64_t index) const {
  Batch out;
  batch(index, out);
  return out;
}

void DataLoader::batch(int64_t index, Batch& out) const {
  if (index < 0 || index >= num_batches())
    throw Error("DataLoader::batch: batch " + std::to_string(index) + " out of range, " + dataset_.name() + " has " +
                std::to_string(num_batches()) + " batches of " + std::to_string(options_.batch_size));
  const int64_t start = index * options_.batch_size;
  const int64_t size = std::min(options_.batch_size, dataset_.size() - start);
  const int64_t pixels = dataset_.pixels();
  out.images = Tensor::empty({size, pixels});
  out.labels.resize(static_cast<std::size_t>(size));
  // The formula itself, not a table of its 256 values: a lookup per pixel does not vectorise, and this
  // loop was a tenth of a training step.
  const float mean = options_.mean, std = options_.std;
  float* dst = out.images.data<float>();
  for (int64_t b = 0; b < size; ++b) {
    const int64_t example = order_[static_cast<std::size_t>(start + b)];
    const uint8_t* __restrict image = dataset_.image(example).data();
    float* __restrict row = dst + b * pixels;
    for (int64_t p = 0; p < pixels; ++p) row[p] = (static_cast<float>(image[p]) / 255.0f - mean) / std;
    out.labels[static_cast<std::size_t>(b)] = dataset_.label(example);
  }
}

}  // namespace mt::datasets
