#pragma once
// train::fit: the training loop, one for every program (apps/mnist, train::Classifier, yours). It trains a
// model on batches of inputs with integer labels (softmax cross-entropy unless told otherwise), steps an
// optimizer and, per batch, a scheduler; validates after each epoch; draws a progress bar; stops on a
// diverging loss or a stop signal; writes model.bin, metrics.csv, metrics.json and a resumable checkpoint.bin
// after every epoch; and resumes from that checkpoint to the same bits as an uninterrupted run:
//
//   mt::datasets::TensorDataLoader loader(mt::datasets::TensorDataset({x}, labels), {.batch_size = 32, .seed = 1});
//   mt::optim::Adam adam(model->parameters(), {.lr = 1e-3});
//   mt::optim::CosineAnnealingLR cosine(adam, {.T_max = 10 * loader.num_batches()});
//   mt::train::Batches batches(loader);
//   const mt::train::History history = mt::train::fit(*model, adam, batches,
//       {.epochs = 10, .scheduler = &cosine, .out = "run", .print = true});
//
// Run the same program again with .resume = true after a stop (a signal, or a smaller .epochs) and it goes on
// from run/checkpoint.bin. What a resumed run reproduces: the weights and buffers, the optimizer's and the
// scheduler's state, the model's random streams (Module::named_generators(): Dropout's masks), the position in
// the epoch, and the metrics and losses so far. The data order and augmentation come from (seed, epoch, batch)
// alone (datasets/batching.h), so they need no state.
//
// A steady-state step allocates nothing (tests/alloc_test.cpp); the results are the same at any thread count.
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "datasets/datasets.h"
#include "datasets/tensor_dataset.h"
#include "nn/nn.h"
#include "optim/lr_scheduler.h"

namespace mt::train {

// The batches of an epoch, from a DataLoader (its images) or a TensorDataLoader (its first tensor), each with
// its labels. Holds the loader by reference.
class Batches {
 public:
  explicit Batches(datasets::DataLoader& loader) : loader_(&loader) {}
  explicit Batches(datasets::TensorDataLoader& loader) : loader_(&loader) {}
  int64_t size() const;                 // batches per epoch
  int64_t examples() const;             // per epoch (this rank's share)
  uint64_t seed() const;                // the loader's: of the data order and augmentation
  void set_epoch(int64_t epoch);        // from 0
  void load(int64_t index);             // batch `index` of the current epoch into inputs() and labels()
  const Tensor& inputs() const;
  const std::vector<int64_t>& labels() const;

 private:
  std::variant<datasets::DataLoader*, datasets::TensorDataLoader*> loader_;
  datasets::Batch images_;
  datasets::TensorBatch tensors_;
};

struct EpochMetrics {
  int epoch = 0;                            // from 1
  double loss = 0;                          // mean over the epoch's examples
  double train_acc = 0;                     // on the epoch's batches, as the model was trained
  std::optional<double> val_loss, val_acc;  // after the epoch, with validation batches
  double seconds = 0;                       // of training, validation excluded
  double lr = 0;                            // the learning rate (group 0) of the epoch's last step
  bool complete = true;                     // false for an epoch cut short by a stop
};

// What on_step sees after each optimizer (and scheduler) step.
struct StepInfo {
  int epoch;           // from 1
  int64_t batch;       // within the epoch, from 1
  int64_t step;        // since the run began, from 1
  double loss;         // the batch's mean loss (over every rank)
  double lr;           // the learning rate (group 0) this step used
};

// While alive, SIGINT, SIGTERM and SIGHUP do not end the process: the first one is recorded, and a loop given
// this object finishes its step, saves and returns Outcome::Interrupted; a second one ends the process at
// once. Keep it alive past fit() to notice a signal during what follows (testing, figures).
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  bool stopped() const;
  int exit_code() const;  // 128 + the signal (130 for SIGINT)
};

// Data-parallel training (under mpirun): what the loop asks of the ranks. The defaults are one process.
struct Distributed {
  bool root = true;  // this rank validates, prints and writes
  // After backward(): averages the gradients over the ranks, with the step's loss and the stop flag (true when
  // any rank was stopped), so every rank steps alike.
  std::function<void(double& loss, bool& stop)> average_gradients{};
  std::function<void(std::span<double>)> sum{};  // adds the values over the ranks, the same bits on each
};

struct LoopOptions {
  int epochs = 1;                            // the epoch to end after (a resumed run counts the ones done)
  optim::LRScheduler* scheduler = nullptr;   // stepped after every optimizer step
  Batches* validation = nullptr;             // evaluated after every epoch, in eval mode without gradients
  // Where model.bin, metrics.csv, metrics.json and checkpoint.bin are written after every epoch (and at a
  // stop), made if missing; empty: nothing is written.
  std::filesystem::path out{};
  bool resume = false;                       // go on from out/checkpoint.bin (an error when there is none)
  // Top-level fields of metrics.json before "epochs", each value as JSON text: {"seed", "3"}.
  std::vector<std::pair<std::string, std::string>> metrics_fields{};
  bool print = false;                        // one line per epoch on stdout, "Epoch 1/5, Loss: 0.5055, ..."
  bool progress = false;                     // a progress bar on stderr, drawn only on a terminal
  const StopSignals* signals = nullptr;      // stop cleanly on a signal
  // A batch loss that is NaN or at least this (logits this far apart) stops the run as diverged; so do
  // non-finite weights or such a validation loss after an epoch, and the model is then not saved.
  double diverged_loss = 1e4;
  // The loss of a batch from the model's output; softmax cross-entropy when empty.
  std::function<Var(const Var& output, const std::vector<int64_t>& labels)> loss{};
  std::function<void(const StepInfo&)> on_step{};
  std::function<void(const EpochMetrics&)> on_epoch{};  // after validation, before anything is written
  Distributed distributed{};
};

enum class Outcome { Completed, Interrupted, Diverged };

struct History {
  Outcome outcome = Outcome::Completed;
  std::string diverged;                 // what diverged: "the loss became NaN at epoch 1, step 5 (learning rate 100)"
  std::vector<EpochMetrics> epochs;     // every epoch of the run, a resumed one's earlier epochs included
  std::vector<double> step_losses;      // every step's loss
  int saved_epoch = 0;                  // the last epoch whose model is in out/model.bin; 0: none
};

// Trains `model` on `train` until options.epochs (see the top of this file). Throws mt::Error for bad options,
// a failed write, or a checkpoint that does not fit (naming the file and what is wrong).
History fit(nn::Module& model, optim::Optimizer& optimizer, Batches& train, const LoopOptions& options);

struct Evaluation {
  double loss = 0;      // mean cross-entropy
  double accuracy = 0;
  std::vector<int64_t> predictions;  // in the batches' order
};
// The model on every batch of `batches` in eval mode without gradients (back in training mode after).
Evaluation evaluate(nn::Module& model, Batches& batches);

// metrics.csv (epoch,loss,train_acc,val_acc,seconds) and metrics.json (`fields`, the epochs and the test
// accuracy, null where missing or not finite) into `out`, each written whole or not at all.
void write_metrics(const std::filesystem::path& out, const std::vector<EpochMetrics>& epochs,
                   const std::vector<std::pair<std::string, std::string>>& fields, std::optional<double> test_accuracy);

}  // namespace mt::train
