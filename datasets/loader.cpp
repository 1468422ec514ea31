#include <numeric>
#include <utility>

#include "datasets/datasets.h"
#include "tensor/error.h"
#include "tensor/random.h"

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
  std::iota(order_.begin(), order_.end(), int64_t{0});
  if (!options_.shuffle) return;
  // Seeding per epoch (rather than continuing one generator) lets a resumed run reproduce epoch e directly.
  // The odd constant keeps (seed, epoch) pairs apart; Generator's splitmix64 then spreads the bits.
  Generator gen(options_.seed ^ (static_cast<uint64_t>(epoch) + 1) * 0xd1342543de82ef95ULL);
  gen.shuffle(order_);
}

int64_t DataLoader::num_batches() const {
  const int64_t n = dataset_.size();
  return options_.drop_last ? n / options_.batch_size : (n + options_.batch_size - 1) / options_.batch_size;
}

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

DataLoader::Iterator::Iterator(const DataLoader* loader, int64_t index) : loader_(loader), index_(index) {
  if (index_ < loader_->num_batches()) loader_->batch(index_, batch_);
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  if (++index_ < loader_->num_batches()) loader_->batch(index_, batch_);
  return *this;
}

}  // namespace mt::datasets
