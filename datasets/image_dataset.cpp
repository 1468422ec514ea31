#include <utility>

#include "datasets/datasets.h"
#include "tensor/error.h"

namespace mt::datasets {

ImageDataset::ImageDataset(std::string name, std::vector<uint8_t> images, std::vector<uint8_t> labels, int64_t rows,
                           int64_t cols, std::vector<std::string> class_names) {
  if (rows <= 0 || cols <= 0)
    throw Error("ImageDataset " + name + ": image size " + std::to_string(rows) + "x" + std::to_string(cols) +
                " is not positive");
  const auto pixels = static_cast<std::size_t>(rows * cols);
  if (images.size() != labels.size() * pixels)
    throw Error("ImageDataset " + name + ": " + std::to_string(images.size()) + " image bytes for " +
                std::to_string(labels.size()) + " labels of " + std::to_string(rows) + "x" + std::to_string(cols) +
                " images");
  for (uint8_t label : labels)
    if (label >= class_names.size())
      throw Error("ImageDataset " + name + ": label " + std::to_string(label) + " but only " +
                  std::to_string(class_names.size()) + " class names");
  count_ = static_cast<int64_t>(labels.size());
  data_ = std::make_shared<const Data>(Data{std::move(images), std::move(labels), rows, cols, std::move(class_names)});
  name_ = std::move(name);
}

ImageDataset::ImageDataset(std::shared_ptr<const Data> data, std::string name, int64_t start, int64_t count)
    : data_(std::move(data)), name_(std::move(name)), start_(start), count_(count) {}

void ImageDataset::check_index(int64_t i, const char* op) const {
  if (i < 0 || i >= count_)
    throw Error(std::string("ImageDataset::") + op + ": index " + std::to_string(i) + " out of range for " + name_ +
                " with " + std::to_string(count_) + " examples");
}

std::span<const uint8_t> ImageDataset::image(int64_t i) const {
  check_index(i, "image");
  return std::span<const uint8_t>(data_->images).subspan(static_cast<std::size_t>((start_ + i) * pixels()),
                                                          static_cast<std::size_t>(pixels()));
}

int64_t ImageDataset::label(int64_t i) const {
  check_index(i, "label");
  return data_->labels[static_cast<std::size_t>(start_ + i)];
}

ImageDataset ImageDataset::subset(int64_t start, int64_t count) const {
  if (start < 0 || count < 0 || start > count_ - count)
    throw Error("ImageDataset::subset: examples " + std::to_string(start) + " to " + std::to_string(start + count) +
                " are not within " + name_ + " with " + std::to_string(count_) + " examples");
  return ImageDataset(data_, name_ + "[" + std::to_string(start) + ":" + std::to_string(start + count) + "]",
                      start_ + start, count);
}

TrainValidation train_validation_split(const ImageDataset& dataset, int64_t validation_size) {
  if (validation_size < 0 || validation_size > dataset.size())
    throw Error("train_validation_split: " + std::to_string(validation_size) + " validation examples asked of " +
                dataset.name() + " with " + std::to_string(dataset.size()));
  const int64_t train_size = dataset.size() - validation_size;
  return {dataset.subset(0, train_size), dataset.subset(train_size, validation_size)};
}

}  // namespace mt::datasets
