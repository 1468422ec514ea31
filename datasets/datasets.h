#pragma once
// MNIST and Fashion-MNIST: 28x28 grey images with labels 0..9, kept as bytes and turned into float tensors
// one batch at a time by DataLoader.
//
//   auto [train, val] = mt::datasets::train_validation_split(mt::datasets::FashionMNIST(mt::datasets::Split::Train));
//   mt::datasets::DataLoader loader(train, {.batch_size = 64, .seed = 1});
//   for (int epoch = 0; epoch < 10; ++epoch) {
//     loader.set_epoch(epoch);
//     for (const mt::datasets::Batch& batch : loader) step(batch.images, batch.labels);
//   }
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "datasets/batching.h"
#include "datasets/idx.h"
#include "tensor/tensor.h"

namespace mt::datasets {

enum class Split { Train, Test };

struct DatasetOptions {
  // Directory with the four standard files (train-images-idx3-ubyte.gz ..., or the same names without .gz).
  // Empty: the first of default_dirs() that holds them (IdxDataset needs it).
  std::string dir;
  // Files with an official name must hold the official content (what is known of each file, and so checked, is
  // listed in mnist.cpp and the README's Data section); a mismatch is an error unless this is false.
  bool verify = true;
  // The remedies that error messages offer, in the caller's terms: a command-line program names its options.
  std::string how_to_choose_dir = "set DatasetOptions::dir to the directory holding them";
  std::string how_to_load_other_data =
      "load other data in this format with mt::datasets::IdxDataset (or set DatasetOptions::verify = false)";
};

// Images of one split as bytes (rows * cols per image) with their labels; copies share the bytes.
class ImageDataset {
 public:
  ImageDataset(std::string name, std::vector<uint8_t> images, std::vector<uint8_t> labels, int64_t rows, int64_t cols,
               std::vector<std::string> class_names);

  const std::string& name() const { return name_; }  // "MNIST test", "MNIST train[0:54000]"
  int64_t size() const { return count_; }
  int64_t rows() const { return data_->rows; }
  int64_t cols() const { return data_->cols; }
  int64_t pixels() const { return data_->rows * data_->cols; }
  std::span<const uint8_t> image(int64_t i) const;  // pixels() bytes, 0 = background
  int64_t label(int64_t i) const;
  const std::vector<std::string>& class_names() const { return data_->class_names; }

  // Examples start .. start + count - 1 of this dataset, sharing its bytes.
  ImageDataset subset(int64_t start, int64_t count) const;

 private:
  struct Data {
    std::vector<uint8_t> images;
    std::vector<uint8_t> labels;
    int64_t rows;
    int64_t cols;
    std::vector<std::string> class_names;
  };
  ImageDataset(std::shared_ptr<const Data> data, std::string name, int64_t start, int64_t count);
  void check_index(int64_t i, const char* op) const;

  std::shared_ptr<const Data> data_;
  std::string name_;
  int64_t start_ = 0;
  int64_t count_ = 0;
};

// The digits, found by default in data/mnist (where cmake/fetch_data.cmake puts them).
class MNIST : public ImageDataset {
 public:
  explicit MNIST(Split split, const DatasetOptions& options = {});
  static std::vector<std::string> default_dirs();
  static std::vector<std::string> classes();  // "0" .. "9"
};

// Zalando's clothes, found by default in data/fashion or /usr/share/datasets/fashion-mnist (Debian package
// dataset-fashion-mnist). Classes: T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot.
class FashionMNIST : public ImageDataset {
 public:
  explicit FashionMNIST(Split split, const DatasetOptions& options = {});
  static std::vector<std::string> default_dirs();
  static std::vector<std::string> classes();
};

// Any data in MNIST's format: options.dir holds the four MNIST-named IDX files (KMNIST, EMNIST, one's own),
// with MNIST's structural checks (ubyte N x 28 x 28 images, as many ubyte labels) but no official content or
// sizes. The classes are named by an optional classes.txt in the directory, one name per line in label order;
// without it they are "0" .. "N-1". Either way N covers the labels of both splits (the other split's label file
// is read too, when present), so the train and test splits of a directory always agree on the classes;
// classes.txt must name exactly N classes. The dataset is named after the directory ("kmnist train").
class IdxDataset : public ImageDataset {
 public:
  IdxDataset(Split split, const DatasetOptions& options);
};

// The last `validation_size` examples become the validation set, the rest the training set: deterministic,
// and the same split every run.
struct TrainValidation {
  ImageDataset train;
  ImageDataset validation;
};
TrainValidation train_validation_split(const ImageDataset& dataset, int64_t validation_size = 6000);

// Per-pixel statistics of the training sets on the [0, 1] scale, the usual normalisation constants.
inline constexpr float kMnistMean = 0.1307f, kMnistStd = 0.3081f;
inline constexpr float kFashionMnistMean = 0.2860f, kFashionMnistStd = 0.3530f;

// The same statistics of any dataset: mean and (population) standard deviation of all its pixels / 255, as
// the constants above were computed. Throws for a dataset without images.
struct PixelStatistics {
  double mean, std;
};
PixelStatistics pixel_statistics(const ImageDataset& dataset);

// Training-time augmentation, drawn per image from a generator seeded by (seed, epoch, batch): each image is
// moved by a whole number of pixels in [-max_shift, max_shift] along each axis and, when max_rotation is
// positive, turned by an angle in [-max_rotation, max_rotation] degrees about its centre (bilinear, background
// outside). Off by default.
struct Augmentation {
  int64_t max_shift = 0;
  double max_rotation = 0;
  bool enabled() const { return max_shift > 0 || max_rotation > 0; }
};

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  uint64_t seed = 0;
  bool drop_last = false;  // drop the last batch when it is smaller than batch_size
  float mean = 0.0f;       // images = (pixel / 255 - mean) / std
  float std = 1.0f;
  bool image_layout = false;  // images as [B, 1, rows, cols] (for convolutions): the same memory, viewed
  Augmentation augment{};
  // Distributed sampling: the loader serves rank `rank` of `num_replicas` (dist::rank(), dist::world_size()).
  // Every rank shuffles the whole dataset alike from (seed, epoch) and takes the permutation's positions
  // rank, rank + num_replicas, rank + 2 num_replicas, ...: the shares are disjoint, and batch k of all ranks
  // together is batch k of one process with num_replicas x batch_size. Each rank gets size / num_replicas
  // examples an epoch; the size % num_replicas at the end of the permutation sit that epoch out.
  int64_t num_replicas = 1;
  int64_t rank = 0;
};

struct Batch {
  Tensor images;                // float32 [B, rows * cols], or [B, 1, rows, cols] with image_layout
  std::vector<int64_t> labels;  // B labels
};

// Batches of a dataset in an order fixed by (seed, epoch): set_epoch(e) gives the same order in every run,
// whatever epochs came before.
class DataLoader {
 public:
  DataLoader(ImageDataset dataset, LoaderOptions options = {});

  void set_epoch(int64_t epoch);
  int64_t epoch() const { return epoch_; }
  uint64_t seed() const { return options_.seed; }
  int64_t num_batches() const;
  int64_t examples_per_epoch() const;  // this rank's share: dataset().size() / num_replicas
  const ImageDataset& dataset() const { return dataset_; }

  Batch batch(int64_t index) const;  // of the current epoch
  // The same into `out`, reusing its labels vector. The image tensor is always new: a previous batch may
  // still be held by an autograd graph.
  void batch(int64_t index, Batch& out) const;

  using Iterator = BatchIterator<DataLoader, Batch>;
  Iterator begin() const { return Iterator(this, 0); }
  Iterator end() const { return Iterator(this, num_batches()); }

 private:
  ImageDataset dataset_;
  LoaderOptions options_;
  int64_t epoch_ = 0;
  std::vector<int64_t> order_;  // the whole dataset's permutation, the same on every rank
};

}  // namespace mt::datasets
