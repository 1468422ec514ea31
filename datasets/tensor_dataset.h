#pragma once
// Datasets of tensors already in memory (torch.utils.data.TensorDataset) and their seeded, shuffling loader:
// example i is row i of every tensor. For regression, autoencoders, or features computed elsewhere:
//
//   mt::datasets::TensorDataset data({x, y});           // x [N, 3, 8, 8], y [N, 2]
//   mt::datasets::TensorDataset digits({x}, labels);    // x [N, 784] with N integer labels
//   mt::datasets::TensorDataLoader loader(data, {.batch_size = 32, .seed = 1});
//   for (int epoch = 0; epoch < epochs; ++epoch) {
//     loader.set_epoch(epoch);
//     for (const mt::datasets::TensorBatch& batch : loader) step(batch.tensors[0], batch.tensors[1]);
//   }
#include <cstdint>
#include <span>
#include <vector>

#include "datasets/batching.h"
#include "tensor/tensor.h"

namespace mt::datasets {

class TensorDataset {
 public:
  // Every tensor is [N, ...] with the same N; labels (integer classes, there being no integer tensors) are N
  // values or none. The tensors are kept contiguous: a non-contiguous one is copied once here.
  explicit TensorDataset(std::vector<Tensor> tensors, std::vector<int64_t> labels = {});

  int64_t size() const { return size_; }
  const std::vector<Tensor>& tensors() const { return tensors_; }
  std::span<const int64_t> labels() const { return labels_; }  // empty without labels

  // Examples start .. start + count - 1, sharing this dataset's tensors (views).
  TensorDataset subset(int64_t start, int64_t count) const;

 private:
  std::vector<Tensor> tensors_;
  std::vector<int64_t> labels_;
  int64_t size_ = 0;
};

struct TensorLoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  uint64_t seed = 0;
  bool drop_last = false;  // drop the last batch when it is smaller than batch_size
  // Distributed sampling, as LoaderOptions': rank `rank` of `num_replicas` takes positions rank,
  // rank + num_replicas, ... of the epoch's order of the whole dataset (datasets/batching.h).
  int64_t num_replicas = 1;
  int64_t rank = 0;
};

struct TensorBatch {
  std::vector<Tensor> tensors;  // the batch's rows of each dataset tensor, [B, ...], in the dataset's order
  std::vector<int64_t> labels;  // B labels, when the dataset has them
};

// Batches of a TensorDataset in an order fixed by (seed, epoch), the same rule as DataLoader's.
class TensorDataLoader {
 public:
  explicit TensorDataLoader(TensorDataset dataset, TensorLoaderOptions options = {});

  void set_epoch(int64_t epoch);
  int64_t epoch() const { return epoch_; }
  uint64_t seed() const { return options_.seed; }
  int64_t num_batches() const;
  int64_t examples_per_epoch() const;  // this rank's share: dataset().size() / num_replicas
  const TensorDataset& dataset() const { return dataset_; }

  TensorBatch batch(int64_t index) const;  // of the current epoch
  // The same into `out`, reusing its vectors. The tensors are always new: a previous batch may still be held
  // by an autograd graph.
  void batch(int64_t index, TensorBatch& out) const;

  using Iterator = BatchIterator<TensorDataLoader, TensorBatch>;
  Iterator begin() const { return Iterator(this, 0); }
  Iterator end() const { return Iterator(this, num_batches()); }

 private:
  TensorDataset dataset_;
  TensorLoaderOptions options_;
  int64_t epoch_ = 0;
  std::vector<int64_t> order_;
};

}  // namespace mt::datasets
