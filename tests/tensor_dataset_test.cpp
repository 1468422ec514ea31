// TensorDataset and TensorDataLoader: batches are the dataset's rows in the shared (seed, epoch) order, the
// same order DataLoader gives an image dataset of the same size; inputs are checked.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "datasets/datasets.h"
#include "datasets/tensor_dataset.h"
#include "tensor/kernels.h"
#include "tests/error_message.h"

namespace mt::datasets {
namespace {

// x [N, 2, 3] with x[i] = 100 i + (0..5), built transposed so the dataset has to make it contiguous;
// y [N] float64 = -i; labels i % 7.
struct Data {
  int64_t n;
  Tensor x, y;
  std::vector<int64_t> labels;
  explicit Data(int64_t count) : n(count) {
    std::vector<float> values;
    for (int64_t i = 0; i < n; ++i)
      for (int j = 0; j < 6; ++j) values.push_back(static_cast<float>(100 * i + j));
    const Tensor rows = Tensor::from_vector(values, {n, 2, 3});
    x = rows.permute(std::vector<int>{2, 1, 0}).contiguous().permute(std::vector<int>{2, 1, 0});
    std::vector<double> targets;
    for (int64_t i = 0; i < n; ++i) targets.push_back(-static_cast<double>(i));
    y = Tensor::from_vector(targets, {n});
    for (int64_t i = 0; i < n; ++i) labels.push_back(i % 7);
  }
};

TEST(TensorDataLoader, EveryExampleOnceAnEpochWithItsRowsTargetAndLabel) {
  Data d(23);
  ASSERT_FALSE(d.x.is_contiguous());
  TensorDataLoader loader(TensorDataset({d.x, d.y}, d.labels), {.batch_size = 5, .seed = 9});
  ASSERT_EQ(loader.num_batches(), 5);
  for (int64_t epoch : {0, 3}) {
    loader.set_epoch(epoch);
    std::vector<int64_t> seen;
    for (const TensorBatch& batch : loader) {
      ASSERT_EQ(batch.tensors.size(), 2u);
      const int64_t b = batch.tensors[0].size(0);
      EXPECT_EQ(batch.tensors[0].shape(), Shape({b, 2, 3}));
      EXPECT_EQ(batch.tensors[1].shape(), Shape({b}));
      EXPECT_EQ(batch.tensors[1].dtype(), DType::Float64);
      const std::vector<double> xs = batch.tensors[0].to_vector(), ys = batch.tensors[1].to_vector();
      for (int64_t r = 0; r < b; ++r) {
        const int64_t i = static_cast<int64_t>(-ys[static_cast<size_t>(r)]);
        for (int j = 0; j < 6; ++j) EXPECT_EQ(xs[static_cast<size_t>(r * 6 + j)], 100.0 * i + j);
        EXPECT_EQ(batch.labels[static_cast<size_t>(r)], i % 7);
        seen.push_back(i);
      }
    }
    EXPECT_EQ(seen.size(), 23u);
    std::vector<int64_t> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> all(23);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(sorted, all) << "epoch " << epoch;
    EXPECT_NE(seen, all) << "epoch " << epoch << " was not shuffled";
  }
}

// The order of epoch e: the labels of every batch in turn.
template <class Loader>
std::vector<int64_t> label_order(Loader& loader, int64_t epoch) {
  loader.set_epoch(epoch);
  std::vector<int64_t> out;
  for (const auto& batch : loader) out.insert(out.end(), batch.labels.begin(), batch.labels.end());
  return out;
}

TEST(TensorDataLoader, ShufflesExactlyAsDataLoaderDoes) {
  // 200 one-pixel images labelled by their index: the image loader's order, read from its labels.
  const int64_t n = 200;
  std::vector<uint8_t> pixels(n), labels(n);
  std::iota(labels.begin(), labels.end(), uint8_t{0});
  std::vector<std::string> names;
  for (int64_t i = 0; i < n; ++i) names.push_back(std::to_string(i));
  DataLoader images(ImageDataset("index", pixels, labels, 1, 1, names), {.batch_size = 16, .seed = 42});
  std::vector<int64_t> index(n);
  std::iota(index.begin(), index.end(), 0);
  TensorDataLoader tensors(TensorDataset({Tensor::zeros({n, 1})}, index), {.batch_size = 16, .seed = 42});
  for (int64_t epoch : {0, 1, 7}) EXPECT_EQ(label_order(tensors, epoch), label_order(images, epoch)) << epoch;
  EXPECT_EQ(label_order(tensors, 1), label_order(tensors, 1));  // a function of (seed, epoch) alone
  EXPECT_NE(label_order(tensors, 1), label_order(tensors, 2));

  TensorDataLoader in_order(TensorDataset({Tensor::zeros({n, 1})}, index),
                            {.batch_size = 64, .shuffle = false, .drop_last = true});
  EXPECT_EQ(in_order.num_batches(), 3);
  const std::vector<int64_t> first = label_order(in_order, 5);
  EXPECT_EQ(first, std::vector<int64_t>(index.begin(), index.begin() + 192));
}

TEST(TensorDataLoader, DistributedSharesAreDataLoadersShares) {
  // 200 examples labelled by their index; 3 ranks get 66 each, the same ones the image loader gives each rank.
  const int64_t n = 200;
  std::vector<uint8_t> pixels(n), labels(n);
  std::iota(labels.begin(), labels.end(), uint8_t{0});
  std::vector<std::string> names;
  for (int64_t i = 0; i < n; ++i) names.push_back(std::to_string(i));
  std::vector<int64_t> index(n);
  std::iota(index.begin(), index.end(), 0);
  const Tensor rows = Tensor::arange(0, n).reshape({n, 1});
  for (int64_t rank = 0; rank < 3; ++rank) {
    DataLoader images(ImageDataset("index", pixels, labels, 1, 1, names),
                      {.batch_size = 16, .seed = 4, .num_replicas = 3, .rank = rank});
    TensorDataLoader tensors(TensorDataset({rows}, index), {.batch_size = 16, .seed = 4, .num_replicas = 3, .rank = rank});
    EXPECT_EQ(tensors.examples_per_epoch(), 66);
    EXPECT_EQ(tensors.num_batches(), 5);
    EXPECT_EQ(label_order(tensors, 2), label_order(images, 2)) << rank;
    tensors.set_epoch(2);
    const TensorBatch first = tensors.batch(0);
    for (size_t b = 0; b < first.labels.size(); ++b)
      EXPECT_EQ(first.tensors[0].at({static_cast<int64_t>(b), 0}), static_cast<double>(first.labels[b]));
  }
  EXPECT_THROW(TensorDataLoader(TensorDataset({rows}, index), {.num_replicas = 3, .rank = 3}), Error);
}

TEST(TensorDataLoader, EachBatchIsNewMemoryAndSubsetsAreViews) {
  Data d(10);
  TensorDataset data({d.y});
  TensorDataLoader loader(data, {.batch_size = 4, .shuffle = false});
  const TensorBatch first = loader.batch(0);
  TensorBatch reused = loader.batch(0);
  loader.batch(1, reused);
  EXPECT_EQ(first.tensors[0].to_vector(), (std::vector<double>{0, -1, -2, -3}));  // not overwritten
  EXPECT_EQ(reused.tensors[0].to_vector(), (std::vector<double>{-4, -5, -6, -7}));
  EXPECT_TRUE(reused.labels.empty());

  const TensorDataset middle = data.subset(3, 4);
  EXPECT_EQ(middle.size(), 4);
  EXPECT_TRUE(middle.tensors()[0].shares_storage_with(data.tensors()[0]));
  EXPECT_EQ(TensorDataLoader(middle, {.shuffle = false}).batch(0).tensors[0].to_vector(),
            (std::vector<double>{-3, -4, -5, -6}));
  EXPECT_THROW(data.subset(8, 3), Error);
}

TEST(TensorDataLoader, BadInputsAreErrorsSayingWhatIsWrong) {
  EXPECT_NE(test::error_message([] { TensorDataset({Tensor::zeros({3, 2}), Tensor::zeros({4})}); }).find("has 4 examples"),
            std::string::npos);
  EXPECT_NE(test::error_message([] { TensorDataset({Tensor::zeros({3})}, {0, 1}); }).find("2 labels for 3 examples"),
            std::string::npos);
  EXPECT_NE(test::error_message([] { TensorDataset({Tensor::scalar(1)}); }).find("first dimension"), std::string::npos);
  EXPECT_NE(test::error_message([] { TensorDataset({}); }).find("at least one tensor"), std::string::npos);
  EXPECT_NE(test::error_message([] { TensorDataLoader(TensorDataset({Tensor::zeros({3})}), {.batch_size = 0}); })
                .find("batch_size"),
            std::string::npos);
  TensorDataLoader empty(TensorDataset({Tensor::zeros({0, 5})}), {.batch_size = 4});
  EXPECT_EQ(empty.num_batches(), 0);
  EXPECT_TRUE(empty.begin() == empty.end());
  EXPECT_NE(test::error_message([&] { empty.batch(0); }).find("out of range"), std::string::npos);
}

}  // namespace
}  // namespace mt::datasets
