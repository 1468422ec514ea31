// train::Classifier: learns two spirals (the non-linear problem of issue 3), reports its history,
// is reproducible from its seeds, and saves/loads through nn checkpoints.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <numbers>
#include <vector>

#include "train/train.h"

namespace mt {
namespace {

struct Data {
  Tensor x;
  std::vector<int64_t> y;
};

// Two interleaved spirals of `per_class` points each, with a little noise, drawn from `seed`.
Data spirals(int64_t per_class, uint64_t seed) {
  Generator gen(seed);
  std::vector<float> xs;
  Data d;
  for (int64_t c = 0; c < 2; ++c) {
    for (int64_t i = 0; i < per_class; ++i) {
      const double t = 0.25 + 3.0 * static_cast<double>(i) / static_cast<double>(per_class);  // radius, ~1.5 turns
      const double angle = 3 * t + static_cast<double>(c) * std::numbers::pi;
      xs.push_back(static_cast<float>(t * std::cos(angle) + 0.05 * gen.normal()));
      xs.push_back(static_cast<float>(t * std::sin(angle) + 0.05 * gen.normal()));
      d.y.push_back(c);
    }
  }
  d.x = Tensor::from_vector(xs, {2 * per_class, 2});
  return d;
}

train::Classifier spiral_classifier(uint64_t seed) {
  Generator gen(seed);
  train::Classifier clf;
  clf.add(std::make_shared<nn::Linear>(2, 64, gen))
      .add(std::make_shared<nn::ReLU>())
      .add(std::make_shared<nn::Linear>(64, 64, gen))
      .add(std::make_shared<nn::ReLU>())
      .add(std::make_shared<nn::Linear>(64, 2, gen));
  return clf;
}

TEST(Train, MlpLearnsTwoSpirals) {
  const Data train = spirals(200, 1), val = spirals(100, 2);
  train::Classifier clf = spiral_classifier(3);
  const auto start = std::chrono::steady_clock::now();
  const auto history = clf.fit(train.x, train.y,
                               {.epochs = 40, .batch_size = 32, .learning_rate = 1e-2, .shuffle_seed = 4,
                                .val_x = val.x, .val_y = val.y});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(history.size(), 40u);
  EXPECT_LT(history.back().loss, history.front().loss);
  const double accuracy = clf.evaluate(train.x, train.y);
  EXPECT_GE(accuracy, 0.98) << "after 40 epochs of 13 steps; last epoch loss " << history.back().loss;
  EXPECT_GE(*history.back().val_accuracy, 0.9);
  RecordProperty("train_accuracy", ::testing::PrintToString(accuracy));
  RecordProperty("seconds", ::testing::PrintToString(seconds));
}

TEST(Train, HistoryPredictAndEvaluateAgree) {
  const Data d = spirals(50, 5);
  train::Classifier clf = spiral_classifier(6);
  int calls = 0;
  const auto history = clf.fit(d.x, d.y, {.epochs = 3, .batch_size = 16, .on_epoch = [&](const train::EpochStats& s) {
                                            EXPECT_EQ(s.epoch, ++calls);
                                          }});
  EXPECT_EQ(calls, 3);
  for (const auto& s : history) {
    EXPECT_FALSE(s.val_accuracy.has_value());
    EXPECT_GE(s.train_accuracy, 0);
    EXPECT_LE(s.train_accuracy, 1);
    EXPECT_GT(s.loss, 0);
  }
  const std::vector<int64_t> predicted = clf.predict(d.x);
  ASSERT_EQ(predicted.size(), d.y.size());
  int64_t correct = 0;
  for (size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == d.y[i];
  EXPECT_DOUBLE_EQ(clf.evaluate(d.x, d.y), static_cast<double>(correct) / static_cast<double>(d.y.size()));
}

TEST(Train, SameSeedsGiveIdenticalRuns) {
  const Data d = spirals(50, 7);
  train::Classifier a = spiral_classifier(8), b = spiral_classifier(8);
  const train::FitOptions options{.epochs = 5, .batch_size = 10, .learning_rate = 1e-2, .shuffle_seed = 9};
  const auto ha = a.fit(d.x, d.y, options), hb = b.fit(d.x, d.y, options);
  for (size_t i = 0; i < ha.size(); ++i) EXPECT_EQ(ha[i].loss, hb[i].loss);
  EXPECT_EQ(a.model().parameters()[0].value().to_vector(), b.model().parameters()[0].value().to_vector());
}

TEST(Train, SavedModelPredictsIdenticallyAfterLoading) {
  const Data d = spirals(50, 10);
  train::Classifier trained = spiral_classifier(11), fresh = spiral_classifier(12);
  trained.fit(d.x, d.y, {.epochs = 5, .learning_rate = 1e-2});
  const auto path = std::filesystem::path(::testing::TempDir()) / "mt_train_spirals.mtw";
  nn::save(trained.model(), path);
  nn::load(fresh.model(), path);
  std::filesystem::remove(path);
  EXPECT_EQ(fresh.predict(d.x), trained.predict(d.x));
}

TEST(Train, RejectsMismatchedInputs) {
  const Data d = spirals(10, 13);
  train::Classifier clf = spiral_classifier(14);
  const std::vector<int64_t> short_labels(5, 0);
  EXPECT_THROW(clf.fit(d.x, short_labels), Error);
  EXPECT_THROW(clf.fit(d.x, d.y, {.batch_size = 0}), Error);
  EXPECT_THROW(clf.evaluate(d.x, short_labels), Error);
}

}  // namespace
}  // namespace mt
