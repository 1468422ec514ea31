#include "datasets/tensor_dataset.h"

#include <algorithm>
#include <string>
#include <utility>

#include "tensor/error.h"

namespace mt::datasets {

TensorDataset::TensorDataset(std::vector<Tensor> tensors, std::vector<int64_t> labels)
    : tensors_(std::move(tensors)), labels_(std::move(labels)) {
  if (tensors_.empty()) throw Error("TensorDataset: needs at least one tensor");
  for (size_t k = 0; k < tensors_.size(); ++k) {
    Tensor& t = tensors_[k];
    if (!t.defined() || t.dim() == 0)
      throw Error("TensorDataset: tensor " + std::to_string(k) + " must have a first dimension of examples, got " +
                  (t.defined() ? t.str() : std::string("an undefined tensor")));
    if (t.size(0) != tensors_[0].size(0))
      throw Error("TensorDataset: tensor " + std::to_string(k) + " " + t.str() + " has " + std::to_string(t.size(0)) +
                  " examples, tensor 0 " + tensors_[0].str() + " has " + std::to_string(tensors_[0].size(0)));
    t = t.contiguous();
  }
  size_ = tensors_[0].size(0);
  if (!labels_.empty() && static_cast<int64_t>(labels_.size()) != size_)
    throw Error("TensorDataset: " + std::to_string(labels_.size()) + " labels for " + std::to_string(size_) +
                " examples");
}

TensorDataset TensorDataset::subset(int64_t start, int64_t count) const {
  if (start < 0 || count < 0 || start + count > size_)
    throw Error("TensorDataset::subset: examples [" + std::to_string(start) + ", " + std::to_string(start + count) +
                ") out of range, the dataset has " + std::to_string(size_));
  std::vector<Tensor> views;
  for (const Tensor& t : tensors_) views.push_back(t.narrow(0, start, count));
  std::vector<int64_t> labels;
  if (!labels_.empty()) labels.assign(labels_.begin() + start, labels_.begin() + start + count);
  return TensorDataset(std::move(views), std::move(labels));
}

TensorDataLoader::TensorDataLoader(TensorDataset dataset, TensorLoaderOptions options)
    : dataset_(std::move(dataset)), options_(options), order_(static_cast<size_t>(dataset_.size())) {
  if (options_.batch_size <= 0)
    throw Error("TensorDataLoader: batch_size must be positive, got " + std::to_string(options_.batch_size));
  check_shard("TensorDataLoader", options_.num_replicas, options_.rank);
  set_epoch(0);
}

void TensorDataLoader::set_epoch(int64_t epoch) {
  epoch_ = epoch;
  epoch_order(options_.seed, epoch, options_.shuffle, order_);
}

int64_t TensorDataLoader::examples_per_epoch() const { return dataset_.size() / options_.num_replicas; }

int64_t TensorDataLoader::num_batches() const {
  return batch_count(examples_per_epoch(), options_.batch_size, options_.drop_last);
}

TensorBatch TensorDataLoader::batch(int64_t index) const {
  TensorBatch out;
  batch(index, out);
  return out;
}

void TensorDataLoader::batch(int64_t index, TensorBatch& out) const {
  if (index < 0 || index >= num_batches())
    throw Error("TensorDataLoader::batch: batch " + std::to_string(index) + " out of range, the dataset has " +
                std::to_string(num_batches()) + " batches of " + std::to_string(options_.batch_size));
  const int64_t start = index * options_.batch_size;
  const int64_t size = std::min(options_.batch_size, examples_per_epoch() - start);
  // The epoch order's position of this batch's b-th example.
  auto example = [&](int64_t b) { return order_[static_cast<size_t>((start + b) * options_.num_replicas + options_.rank)]; };
  const std::vector<Tensor>& sources = dataset_.tensors();
  out.tensors.resize(sources.size());
  for (size_t k = 0; k < sources.size(); ++k) {
    const Tensor& source = sources[k];
    Shape shape = source.shape();
    shape[0] = size;
    out.tensors[k] = Tensor::empty(shape, source.dtype());
    const int64_t row = source.size(0) == 0 ? 0 : source.numel() / source.size(0);
    dispatch_dtype(source.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* src = source.data<T>();
      T* dst = out.tensors[k].mutable_data<T>();
      for (int64_t b = 0; b < size; ++b)
        std::copy_n(src + example(b) * row, row, dst + b * row);
    });
  }
  const std::span<const int64_t> labels = dataset_.labels();
  out.labels.resize(labels.empty() ? 0 : static_cast<size_t>(size));
  for (size_t b = 0; b < out.labels.size(); ++b) out.labels[b] = labels[static_cast<size_t>(example(static_cast<int64_t>(b)))];
}

}  // namespace mt::datasets
