// train::Classifier: learns two spirals (the non-linear problem of issue 3), reports its history,
// is reproducible from its seeds, and saves/loads through nn checkpoints. train::fit, the loop under it and
// under apps/mnist: a run stopped by a signal and resumed ends with the bits of an uninterrupted one; the
// rates it steps are the scheduler's; bad checkpoints and a diverging loss are named.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <cmath>
#include <filesystem>
#include <memory>
#include <numbers>
#include <vector>

#include "error_message.h"
#include "test_directory.h"
#include "train/loop.h"
#include "train/progress.h"
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
  const test::TestDirectory dir;
  nn::save(trained.model(), dir / "spirals.mtw");
  nn::load(fresh.model(), dir / "spirals.mtw");
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

std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// A spiral classifier with dropout (a random stream the checkpoint must carry), trained with SGD momentum and
// a cosine schedule stepped every batch, on batches of 16 shuffled by (seed, epoch).
struct LoopRun {
  Data data = spirals(60, 20);
  std::shared_ptr<nn::Sequential> model;
  std::unique_ptr<datasets::TensorDataLoader> loader;
  std::unique_ptr<optim::SGD> sgd;
  std::unique_ptr<optim::CosineAnnealingLR> cosine;
  train::Batches batches;

  static constexpr int kEpochs = 3;
  LoopRun()
      : model(make_model()),
        loader(std::make_unique<datasets::TensorDataLoader>(datasets::TensorDataset({data.x}, data.y),
                                                            datasets::TensorLoaderOptions{.batch_size = 16, .seed = 5})),
        sgd(std::make_unique<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = 0.1, .momentum = 0.9})),
        cosine(std::make_unique<optim::CosineAnnealingLR>(
            *sgd, optim::CosineAnnealingLROptions{.T_max = kEpochs * loader->num_batches()})),
        batches(*loader) {}
  static std::shared_ptr<nn::Sequential> make_model() {
    Generator gen(21);
    return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Linear>(2, 32, gen), std::make_shared<nn::ReLU>(), std::make_shared<nn::Dropout>(0.2, 22),
        std::make_shared<nn::Linear>(32, 2, gen)});
  }
  train::History fit(train::LoopOptions options) {
    options.scheduler = cosine.get();
    return train::fit(*model, *sgd, batches, options);
  }
};

TEST(Loop, AStoppedRunResumesToTheBitsOfAnUninterruptedOne) {
  const test::TestDirectory dir;
  const auto straight_dir = dir / "straight", resumed_dir = dir / "resumed";
  LoopRun straight;
  const train::History expected = straight.fit({.epochs = LoopRun::kEpochs, .out = straight_dir});
  ASSERT_EQ(expected.outcome, train::Outcome::Completed);
  const int64_t per_epoch = straight.batches.size();
  ASSERT_EQ(per_epoch, 8);

  {
    // SIGTERM in the middle of epoch 2: the loop finishes that step, saves and returns.
    LoopRun first;
    const train::StopSignals signals;
    const train::History stopped = first.fit({.epochs = LoopRun::kEpochs, .out = resumed_dir, .signals = &signals,
                                             .on_step = [&](const train::StepInfo& s) {
                                               if (s.step == per_epoch + 2) std::raise(SIGTERM);
                                             }});
    EXPECT_EQ(stopped.outcome, train::Outcome::Interrupted);
    EXPECT_EQ(signals.exit_code(), 128 + SIGTERM);
    ASSERT_EQ(stopped.epochs.size(), 2u);
    EXPECT_FALSE(stopped.epochs[1].complete);
    EXPECT_EQ(stopped.step_losses.size(), static_cast<size_t>(per_epoch + 3));
  }
  LoopRun resumed;  // new weights, optimizer, schedule and dropout stream: all of them come from the checkpoint
  std::vector<int64_t> steps;
  const train::History got = resumed.fit({.epochs = LoopRun::kEpochs, .out = resumed_dir, .resume = true,
                                          .on_step = [&](const train::StepInfo& s) { steps.push_back(s.step); }});
  ASSERT_EQ(got.outcome, train::Outcome::Completed);
  EXPECT_EQ(steps.front(), per_epoch + 4);
  EXPECT_EQ(steps.back(), LoopRun::kEpochs * per_epoch);
  EXPECT_EQ(got.step_losses, expected.step_losses);
  ASSERT_EQ(got.epochs.size(), expected.epochs.size());
  for (size_t e = 0; e < got.epochs.size(); ++e) {
    EXPECT_EQ(got.epochs[e].loss, expected.epochs[e].loss) << "epoch " << e + 1;
    EXPECT_EQ(got.epochs[e].train_acc, expected.epochs[e].train_acc) << "epoch " << e + 1;
    EXPECT_EQ(got.epochs[e].lr, expected.epochs[e].lr) << "epoch " << e + 1;
  }
  EXPECT_TRUE(file_bytes(resumed_dir / "model.bin") == file_bytes(straight_dir / "model.bin")) << "weights differ";
  EXPECT_EQ(resumed.cosine->last_lr(), straight.cosine->last_lr());

  // Going on with more epochs than the first run had continues it; a checkpoint of another data size is refused.
  LoopRun longer;
  EXPECT_EQ(longer.fit({.epochs = LoopRun::kEpochs + 1, .out = resumed_dir, .resume = true}).epochs.size(), 4u);
  LoopRun other;
  other.loader = std::make_unique<datasets::TensorDataLoader>(datasets::TensorDataset({other.data.x}, other.data.y),
                                                              datasets::TensorLoaderOptions{.batch_size = 32});
  other.batches = train::Batches(*other.loader);
  const std::string message = test::error_message([&] { other.fit({.epochs = 5, .out = resumed_dir, .resume = true}); });
  EXPECT_NE(message.find("resume from '" + (resumed_dir / "checkpoint.bin").string() +
                         "': the run had 8 batches an epoch, this one has 4"),
            std::string::npos) << message;
  // Another seed would shuffle the epochs to come otherwise: neither run. Refused, naming both seeds.
  LoopRun reseeded;
  reseeded.loader = std::make_unique<datasets::TensorDataLoader>(
      datasets::TensorDataset({reseeded.data.x}, reseeded.data.y), datasets::TensorLoaderOptions{.batch_size = 16, .seed = 6});
  reseeded.batches = train::Batches(*reseeded.loader);
  const std::string reseed = test::error_message([&] { reseeded.fit({.epochs = 5, .out = resumed_dir, .resume = true}); });
  EXPECT_NE(reseed.find("resume from '" + (resumed_dir / "checkpoint.bin").string() +
                        "': the run drew its data order from seed 5, this one from 6 (another --seed?)"),
            std::string::npos) << reseed;
  // Many empty tensors within the payload limit: refused by their count, at once (checking each name against
  // every other took 6 minutes for the 290000 of a 6 MB checkpoint).
  NamedTensors many;
  for (int i = 0; i < 2000; ++i) many.emplace_back(std::to_string(i), Tensor::zeros({0}));
  save_tensors(many, resumed_dir / "checkpoint.bin");
  const std::string crowded = test::error_message([&] { LoopRun().fit({.out = resumed_dir, .resume = true}); });
  EXPECT_NE(crowded.find("resume from '" + (resumed_dir / "checkpoint.bin").string() +
                         "': the file holds 2000 tensors, more than a checkpoint of this run could take (at most 349)"),
            std::string::npos) << crowded;
  const std::string missing = test::error_message([&] { LoopRun().fit({.out = straight_dir / "none", .resume = true}); });
  EXPECT_NE(missing.find("checkpoint.bin does not exist"), std::string::npos) << missing;
}

TEST(Loop, StepsTheSchedulersRatesAndStopsOnADivergingLoss) {
  LoopRun run;
  std::vector<double> rates;
  run.fit({.epochs = 2, .on_step = [&](const train::StepInfo& s) { rates.push_back(s.lr); }});
  Var p(Tensor::zeros({1}), true);
  optim::SGD reference({p}, {.lr = 0.1, .momentum = 0.9});
  optim::CosineAnnealingLR cosine(reference, {.T_max = LoopRun::kEpochs * 8});
  ASSERT_EQ(rates.size(), 16u);
  for (double rate : rates) {
    EXPECT_EQ(rate, reference.learning_rate());
    cosine.step();
  }
  LoopRun wild;
  wild.sgd->set_learning_rate(1e6);
  const train::History diverged = train::fit(*wild.model, *wild.sgd, wild.batches, {.epochs = 1});
  EXPECT_EQ(diverged.outcome, train::Outcome::Diverged);
  EXPECT_EQ(diverged.diverged.find("the loss became "), 0u) << diverged.diverged;
}

}  // namespace
}  // namespace mt

// A resumed epoch's bar counts its rate from the steps it has seen: with the 900 steps done before the resume
// counted as if done since it started, a bar 10 steps later claimed thousands of steps a second and an ETA
// of almost nothing.
TEST(Progress, AResumedEpochsRateCountsOnlyTheStepsSinceItStarted) {
  testing::internal::CaptureStderr();
  {
    mt::train::ProgressBar bar(true, "Epoch 2/5", 1000, 900);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    bar.update(910, 0.5);
    bar.clear();
  }
  const std::string line = testing::internal::GetCapturedStderr();
  const size_t at = line.find("910/1000");
  ASSERT_NE(at, std::string::npos) << line;
  // 10 steps in at least 50 ms: at most 200 a second, so at least 0.45 s for the 90 left (printed to 0.1 s).
  const double rate = std::stod(line.substr(at + 8));
  EXPECT_GT(rate, 0) << line;
  EXPECT_LE(rate, 200) << line;
  const double eta = std::stod(line.substr(line.find("ETA ") + 4));
  EXPECT_GE(eta, 0.4) << line;
}
