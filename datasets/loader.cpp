#include <cmath>
#include <numbers>
#include <utility>

#include "datasets/datasets.h"
#include "tensor/error.h"
#include "tensor/random.h"

namespace mt::datasets {
namespace {

// Pixel (r, c) of the output is read at the point that the inverse motion maps it to, between four pixels
// of the source (bilinear; 0, the background, outside it). Pixel values stay on the 0..255 scale.
void augment_image(const uint8_t* image, int64_t rows, int64_t cols, double shift_r, double shift_c, double angle,
                   float* out) {
  const double cr = static_cast<double>(rows - 1) / 2, cc = static_cast<double>(cols - 1) / 2;
  const double cs = std::cos(angle), sn = std::sin(angle);
  auto pixel = [&](int64_t r, int64_t c) {
    return r >= 0 && r < rows && c >= 0 && c < cols ? static_cast<double>(image[r * cols + c]) : 0.0;
  };
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const double y = static_cast<double>(r) - cr - shift_r, x = static_cast<double>(c) - cc - shift_c;
      const double sy = cs * y + sn * x + cr, sx = -sn * y + cs * x + cc;
      const double fy = std::floor(sy), fx = std::floor(sx);
      const double wy = sy - fy, wx = sx - fx;
      const auto y0 = static_cast<int64_t>(fy), x0 = static_cast<int64_t>(fx);
      const double v = (1 - wy) * ((1 - wx) * pixel(y0, x0) + wx * pixel(y0, x0 + 1)) +
                       wy * ((1 - wx) * pixel(y0 + 1, x0) + wx * pixel(y0 + 1, x0 + 1));
      out[r * cols + c] = static_cast<float>(v);
    }
}

// The augmentation generator of one batch: a function of (seed, epoch, batch index) alone.
Generator batch_generator(uint64_t seed, int64_t epoch, int64_t index) {
  return Generator(seed * 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(epoch) * 0xBF58476D1CE4E5B9ull ^
                   static_cast<uint64_t>(index) * 0x94D049BB133111EBull ^ 0xA076'1D64'78BD'642Full);
}

}  // namespace

DataLoader::DataLoader(ImageDataset dataset, LoaderOptions options)
    : dataset_(std::move(dataset)), options_(options), order_(static_cast<std::size_t>(dataset_.size())) {
  if (options_.batch_size <= 0)
    throw Error("DataLoader: batch_size must be positive, got " + std::to_string(options_.batch_size));
  if (!(options_.std > 0))
    throw Error("DataLoader: std must be positive, got " + std::to_string(options_.std));
  if (options_.augment.max_shift < 0 || !(options_.augment.max_rotation >= 0 && options_.augment.max_rotation <= 180))
    throw Error("DataLoader: augmentation needs max_shift >= 0 and max_rotation in [0, 180] degrees, got " +
                std::to_string(options_.augment.max_shift) + " and " + std::to_string(options_.augment.max_rotation));
  check_shard("DataLoader", options_.num_replicas, options_.rank);
  set_epoch(0);
}

void DataLoader::set_epoch(int64_t epoch) {
  epoch_ = epoch;
  epoch_order(options_.seed, epoch, options_.shuffle, order_);
}

int64_t DataLoader::examples_per_epoch() const { return dataset_.size() / options_.num_replicas; }

int64_t DataLoader::num_batches() const { return batch_count(examples_per_epoch(), options_.batch_size, options_.drop_last); }

Batch DataLoader::batch(int64_t index) const {
  Batch out;
  batch(index, out);
  return out;
}

namespace {
// A batch's images lie anywhere in the dataset (47 MB for MNIST's training split, beyond the caches), so each
// one's first lines would miss all the way to memory: the image this many places ahead in the epoch's order is
// prefetched while one converts, the last ones of a batch prefetching the next batch's first. bench_train
// BM_LoaderEpoch (Zen 5 VM, 1 thread, 3 interleaved rounds, medians): 18.1 ms an epoch without, 10.8 ms one
// ahead, 8.7 two ahead, 8.6 four ahead within the batch; four ahead across batches, 6.2 -> 5.1 ms (5 rounds of
// 5 repetitions).
constexpr int64_t kPrefetchAhead = 4;
}  // namespace

void DataLoader::batch(int64_t index, Batch& out) const {
  if (index < 0 || index >= num_batches())
    throw Error("DataLoader::batch: batch " + std::to_string(index) + " out of range, " + dataset_.name() + " has " +
                std::to_string(num_batches()) + " batches of " + std::to_string(options_.batch_size));
  const int64_t start = index * options_.batch_size, examples = examples_per_epoch();
  const int64_t size = std::min(options_.batch_size, examples - start);
  const int64_t pixels = dataset_.pixels();
  out.images = Tensor::empty({size, pixels});
  out.labels.resize(static_cast<std::size_t>(size));
  // The formula itself, not a table of its 256 values: a lookup per pixel does not vectorise, and this
  // loop was a tenth of a training step.
  const float mean = options_.mean, std = options_.std;
  float* dst = out.images.mutable_data<float>();
  const Augmentation& aug = options_.augment;
  // Each rank's batch k draws its own numbers: as if it were batch k N + rank of N k-th batches.
  Generator gen = batch_generator(options_.seed, epoch_, index * options_.num_replicas + options_.rank);
  const auto example_at = [&](int64_t b) {
    return order_[static_cast<std::size_t>((start + b) * options_.num_replicas + options_.rank)];
  };
  for (int64_t b = 0; b < size; ++b) {
    const int64_t example = example_at(b);
    if (start + b + kPrefetchAhead < examples) {
      const std::span<const uint8_t> next = dataset_.image(example_at(b + kPrefetchAhead));
      for (std::size_t offset = 0; offset < next.size(); offset += 64) __builtin_prefetch(next.data() + offset);
    }
    const uint8_t* __restrict image = dataset_.image(example).data();
    float* __restrict row = dst + b * pixels;
    out.labels[static_cast<std::size_t>(b)] = dataset_.label(example);
    if (!aug.enabled()) {
      for (int64_t p = 0; p < pixels; ++p) row[p] = (static_cast<float>(image[p]) / 255.0f - mean) / std;
      continue;
    }
    const auto span = static_cast<uint64_t>(2 * aug.max_shift + 1);
    const double shift_r = static_cast<double>(static_cast<int64_t>(gen.below(span)) - aug.max_shift);
    const double shift_c = static_cast<double>(static_cast<int64_t>(gen.below(span)) - aug.max_shift);
    const double angle = aug.max_rotation > 0 ? gen.uniform(-aug.max_rotation, aug.max_rotation) * std::numbers::pi / 180 : 0;
    augment_image(image, dataset_.rows(), dataset_.cols(), shift_r, shift_c, angle, row);
    for (int64_t p = 0; p < pixels; ++p) row[p] = (row[p] / 255.0f - mean) / std;
  }
  if (options_.image_layout) out.images = out.images.view({size, 1, dataset_.rows(), dataset_.cols()});
}

}  // namespace mt::datasets
