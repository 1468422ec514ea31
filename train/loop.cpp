#include "train/loop.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <new>

#include "optim/checkpoint.h"
#include "tensor/file_io.h"
#include "train/progress.h"

namespace mt::train {
namespace {

// --- stop signals ---

// The first stop signal's number, set by the handler and read by the loop: the one state a signal handler
// may share with a program.
volatile std::sig_atomic_t received_signal = 0;
constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

void on_stop_signal(int signal) {
  if (!received_signal) received_signal = signal;
  std::signal(signal, SIG_DFL);  // a second one ends the process at once
}

// --- metrics ---

// `missing` for no value or a non-finite one: JSON has no NaN, and a CSV reader is better told nothing.
std::string number(std::optional<double> value, int decimals, const char* missing) {
  if (!value || !std::isfinite(*value)) return missing;
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", decimals, *value);
  return text;
}

// The rate as the shortest text that reads back to the same double.
std::string exact(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

// `predicted` is the caller's, so that a training step reuses its memory.
int64_t count_correct(const Tensor& output, const std::vector<int64_t>& labels, std::vector<int64_t>& predicted) {
  argmax(output, 1, predicted);
  int64_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) correct += predicted[i] == labels[i];
  return correct;
}

// The first parameter or buffer holding a NaN or an infinity, or "".
std::string non_finite_entry(const nn::Module& model) {
  for (const auto& [name, var] : model.state_dict())
    if (first_non_finite(var.value()) >= 0) return name;
  return "";
}

// --- the checkpoint ---

// Where a run is: `epochs_done` complete epochs, then `batch` batches of the next one with their running sums.
struct Position {
  int64_t epochs_done = 0, batch = 0, step = 0;
  double loss_sum = 0, correct = 0, seen = 0, seconds = 0;
};

constexpr const char* kCheckpoint = "checkpoint.bin";

// A 64-bit word as float64 values that hold it exactly: its two 32-bit halves.
void append_halves(std::vector<double>& v, uint64_t w) {
  v.push_back(static_cast<double>(w >> 32));
  v.push_back(static_cast<double>(w & 0xffffffffu));
}

// The word of halves v[at], v[at + 1]; `what` names the entry when they are not two 32-bit halves.
uint64_t from_halves(const std::vector<double>& v, size_t at, optim::StateReader& in, const std::string& what) {
  const double hi = v[at], lo = v[at + 1];
  if (!(hi >= 0 && hi <= 0xffffffffu && hi == std::floor(hi) && lo >= 0 && lo <= 0xffffffffu && lo == std::floor(lo)))
    in.fail(what);
  return static_cast<uint64_t>(hi) << 32 | static_cast<uint64_t>(lo);
}

Tensor generator_tensor(const Generator::State& s) {
  std::vector<double> v;
  for (uint64_t w : s.words) append_halves(v, w);
  v.push_back(s.spare_normal);
  v.push_back(s.has_spare_normal ? 1 : 0);
  return Tensor::from_vector(std::span<const double>(v), {static_cast<int64_t>(v.size())});
}

Generator::State generator_state(const std::vector<double>& v, optim::StateReader& in, const std::string& name) {
  Generator::State s{};
  for (size_t i = 0; i < 4; ++i) s.words[i] = from_halves(v, 2 * i, in, "'" + name + "' is not a generator state");
  s.spare_normal = v[8];
  s.has_spare_normal = v[9] != 0;
  return s;
}

Tensor doubles(const std::vector<double>& v) {
  return Tensor::from_vector(std::span<const double>(v), {static_cast<int64_t>(v.size())});
}

void save_checkpoint(const std::filesystem::path& path, const nn::Module& model, const optim::Optimizer& optimizer,
                     const optim::LRScheduler* scheduler, const Position& at, int64_t batches_per_epoch,
                     uint64_t data_seed, const History& history) {
  NamedTensors state;
  for (const auto& [name, var] : model.state_dict()) state.emplace_back("model." + name, var.value());
  optim::put_all(state, "optimizer.", optimizer.state_dict());
  if (scheduler) optim::put_all(state, "scheduler.", scheduler->state_dict());
  for (const auto& [name, generator] : model.named_generators())
    state.emplace_back("generator." + name, generator_tensor(generator->state()));
  optim::put_scalar(state, "loop.batches_per_epoch", static_cast<double>(batches_per_epoch));
  std::vector<double> seed;
  append_halves(seed, data_seed);
  state.emplace_back("loop.data_seed", doubles(seed));
  optim::put_scalar(state, "loop.epochs_done", static_cast<double>(at.epochs_done));
  optim::put_scalar(state, "loop.batch", static_cast<double>(at.batch));
  optim::put_scalar(state, "loop.step", static_cast<double>(at.step));
  optim::put_scalar(state, "loop.loss_sum", at.loss_sum);
  optim::put_scalar(state, "loop.correct", at.correct);
  optim::put_scalar(state, "loop.seen", at.seen);
  optim::put_scalar(state, "loop.seconds", at.seconds);
  // The complete epochs only: a cut epoch goes on from the running sums.
  std::vector<double> loss, train_acc, val_loss, val_acc, seconds, lr;
  for (const EpochMetrics& m : history.epochs) {
    if (!m.complete) continue;
    loss.push_back(m.loss);
    train_acc.push_back(m.train_acc);
    if (m.val_loss) val_loss.push_back(*m.val_loss);
    if (m.val_acc) val_acc.push_back(*m.val_acc);
    seconds.push_back(m.seconds);
    lr.push_back(m.lr);
  }
  optim::put_scalar(state, "loop.validated", val_acc.empty() ? 0 : 1);
  state.emplace_back("loop.epochs.loss", doubles(loss));
  state.emplace_back("loop.epochs.train_acc", doubles(train_acc));
  state.emplace_back("loop.epochs.val_loss", doubles(val_loss));
  state.emplace_back("loop.epochs.val_acc", doubles(val_acc));
  state.emplace_back("loop.epochs.seconds", doubles(seconds));
  state.emplace_back("loop.epochs.lr", doubles(lr));
  state.emplace_back("loop.step_losses", doubles(history.step_losses));
  save_tensors(state, path);
}

// Reads `path` into the model, optimizer, scheduler and generators, and returns where the run was; on an error
// nothing is changed and the mt::Error names the file and what does not fit.
Position load_checkpoint(const std::filesystem::path& path, nn::Module& model, optim::Optimizer& optimizer,
                         optim::LRScheduler* scheduler, int64_t batches_per_epoch, uint64_t data_seed,
                         int planned_epochs, History& history) {
  const std::string where = "resume from '" + path.string() + "'";
  // What such a checkpoint can take: the model twice over, three times its parameters for the optimizer, and
  // a few numbers per planned epoch and step; the file is measured against it before its payload is read.
  const std::vector<std::pair<std::string, Var>> model_tensors = model.state_dict();
  double limit = 1 << 20;
  for (const auto& [name, var] : model_tensors) limit += 5.0 * static_cast<double>(var.numel() * dtype_size(var.dtype())) + 1024;
  limit += (64.0 + 8.0 * static_cast<double>(batches_per_epoch)) * std::max(planned_epochs, 1);
  // Tensors: the model's and the optimizer's (optim::state_limits), a generator state each, and the loop's.
  const uint64_t tensors = model_tensors.size() + optim::state_limits(optimizer).tensors +
                           model.named_generators().size() + 64;
  const NamedTensors stored = load_tensors(
      path, {static_cast<uint64_t>(std::min(limit, static_cast<double>(std::numeric_limits<uint64_t>::max() / 2))), tensors},
      "a checkpoint of this run", where);
  optim::StateReader in(stored, where);
  const NamedTensors model_state = in.entries_under("model.");
  const NamedTensors optimizer_state = in.entries_under("optimizer.");
  const NamedTensors scheduler_state = in.entries_under("scheduler.");
  if (scheduler && scheduler_state.empty()) in.fail("the checkpoint has no scheduler state, this run has a scheduler");
  if (!scheduler && !scheduler_state.empty()) in.fail("the checkpoint has a scheduler's state, this run has none");
  std::vector<std::pair<Generator*, Generator::State>> generators;
  for (const auto& [name, generator] : model.named_generators()) {
    const std::string entry = "generator." + name;
    generators.emplace_back(generator, generator_state(in.values(entry, 10), in, entry));
  }
  const int64_t stored_batches = in.count("loop.batches_per_epoch");
  if (stored_batches != batches_per_epoch)
    in.fail("the run had " + std::to_string(stored_batches) + " batches an epoch, this one has " +
            std::to_string(batches_per_epoch) + " (another batch size or data set?)");
  // The data order and augmentation of the epochs to come follow the loader's seed: another one would go on
  // with a run that is neither.
  const uint64_t stored_seed = from_halves(in.values("loop.data_seed", 2), 0, in, "'loop.data_seed' is not a seed");
  if (stored_seed != data_seed)
    in.fail("the run drew its data order from seed " + std::to_string(stored_seed) + ", this one from " +
            std::to_string(data_seed) + " (another --seed?)");
  Position at;
  at.epochs_done = in.count("loop.epochs_done");
  at.batch = in.count("loop.batch");
  at.step = in.count("loop.step");
  at.loss_sum = in.scalar("loop.loss_sum");
  at.correct = in.scalar("loop.correct");
  at.seen = in.scalar("loop.seen");
  at.seconds = in.scalar("loop.seconds");
  if (at.batch >= batches_per_epoch || at.step != at.epochs_done * batches_per_epoch + at.batch)
    in.fail("its position (epoch " + std::to_string(at.epochs_done + 1) + ", batch " + std::to_string(at.batch) +
            ", step " + std::to_string(at.step) + ") does not add up");
  const size_t done = static_cast<size_t>(at.epochs_done);
  const std::vector<double> loss = in.values("loop.epochs.loss", done), train_acc = in.values("loop.epochs.train_acc", done),
                            seconds = in.values("loop.epochs.seconds", done), lr = in.values("loop.epochs.lr", done);
  const bool validated = in.count("loop.validated") != 0;
  const std::vector<double> val_loss = in.values("loop.epochs.val_loss", validated ? done : 0),
                            val_acc = in.values("loop.epochs.val_acc", validated ? done : 0);
  const std::vector<double> step_losses = in.values("loop.step_losses", static_cast<size_t>(at.step));
  in.finish();
  // Everything read; each part checks its own, all before any is loaded.
  const auto load_model = nn::check_state_dict(model, model_state, where);
  const auto load_optimizer = optimizer.check_state_dict(optimizer_state, where);
  const auto load_scheduler = scheduler ? scheduler->check_state_dict(scheduler_state, where) : std::function<void()>();
  load_model();
  load_optimizer();
  if (load_scheduler) load_scheduler();
  for (const auto& [generator, state] : generators) generator->set_state(state);
  history.epochs.clear();
  for (size_t e = 0; e < done; ++e) {
    EpochMetrics m{static_cast<int>(e + 1), loss[e], train_acc[e], std::nullopt, std::nullopt, seconds[e], lr[e], true};
    if (validated) {
      m.val_loss = val_loss[e];
      m.val_acc = val_acc[e];
    }
    history.epochs.push_back(m);
  }
  history.step_losses = step_losses;
  return at;
}

}  // namespace

// --- Batches ---

int64_t Batches::size() const {
  return std::visit([](const auto* loader) { return loader->num_batches(); }, loader_);
}

uint64_t Batches::seed() const {
  return std::visit([](const auto* loader) { return loader->seed(); }, loader_);
}

int64_t Batches::examples() const {
  return std::visit([](const auto* loader) { return loader->examples_per_epoch(); }, loader_);
}

void Batches::set_epoch(int64_t epoch) {
  std::visit([&](auto* loader) { loader->set_epoch(epoch); }, loader_);
}

void Batches::load(int64_t index) {
  if (auto* images = std::get_if<datasets::DataLoader*>(&loader_))
    (*images)->batch(index, images_);
  else
    std::get<datasets::TensorDataLoader*>(loader_)->batch(index, tensors_);
}

const Tensor& Batches::inputs() const {
  return std::holds_alternative<datasets::DataLoader*>(loader_) ? images_.images : tensors_.tensors.at(0);
}

const std::vector<int64_t>& Batches::labels() const {
  return std::holds_alternative<datasets::DataLoader*>(loader_) ? images_.labels : tensors_.labels;
}

// --- StopSignals ---

StopSignals::StopSignals() {
  received_signal = 0;
  for (int s : kStopSignals) std::signal(s, on_stop_signal);
}

StopSignals::~StopSignals() {
  for (int s : kStopSignals) std::signal(s, SIG_DFL);
}

bool StopSignals::stopped() const { return received_signal != 0; }

int StopSignals::exit_code() const { return 128 + (received_signal ? static_cast<int>(received_signal) : SIGINT); }

// --- evaluate, write_metrics ---

Evaluation evaluate(nn::Module& model, Batches& batches) {
  NoGradGuard no_grad;
  model.eval();
  Evaluation e;
  int64_t correct = 0, seen = 0;
  double loss_sum = 0;
  std::vector<int64_t> predicted;
  for (int64_t b = 0; b < batches.size(); ++b) {
    batches.load(b);
    const Tensor output = model(Var(batches.inputs())).value();
    const std::vector<int64_t>& labels = batches.labels();
    loss_sum += cross_entropy(output, labels).item() * static_cast<double>(labels.size());
    correct += count_correct(output, labels, predicted);
    seen += static_cast<int64_t>(labels.size());
    e.predictions.insert(e.predictions.end(), predicted.begin(), predicted.end());
  }
  model.train();
  const double n = static_cast<double>(std::max<int64_t>(seen, 1));
  e.loss = loss_sum / n;
  e.accuracy = static_cast<double>(correct) / n;
  return e;
}

void write_metrics(const std::filesystem::path& out, const std::vector<EpochMetrics>& epochs,
                   const std::vector<std::pair<std::string, std::string>>& fields, std::optional<double> test_accuracy) {
  std::string csv = "epoch,loss,train_acc,val_acc,seconds\n";
  for (const EpochMetrics& m : epochs)
    csv += std::to_string(m.epoch) + "," + number(m.loss, 6, "") + "," + number(m.train_acc, 6, "") + "," +
           number(m.val_acc, 6, "") + "," + number(m.seconds, 3, "") + "\n";
  std::string json = "{\n";
  for (const auto& [key, value] : fields) json += "  \"" + key + "\": " + value + ",\n";
  json += "  \"epochs\": [";
  for (size_t i = 0; i < epochs.size(); ++i) {
    const EpochMetrics& m = epochs[i];
    json += std::string(i ? "," : "") + "\n    {\"epoch\": " + std::to_string(m.epoch) +
            ", \"loss\": " + number(m.loss, 6, "null") + ", \"train_acc\": " + number(m.train_acc, 6, "null") +
            ", \"val_loss\": " + number(m.val_loss, 6, "null") + ", \"val_acc\": " + number(m.val_acc, 6, "null") +
            ", \"seconds\": " + number(m.seconds, 3, "null") + ", \"lr\": " + (std::isfinite(m.lr) ? exact(m.lr) : "null") +
            "}";
  }
  json += "\n  ],\n  \"test_accuracy\": " + number(test_accuracy, 6, "null") + "\n}\n";
  write_file_atomically(out / "metrics.csv", csv);
  write_file_atomically(out / "metrics.json", json);
}

// --- fit ---

History fit(nn::Module& model, optim::Optimizer& optimizer, Batches& train, const LoopOptions& o) {
  if (o.epochs < 0) throw Error("train::fit: epochs must be >= 0, got " + std::to_string(o.epochs));
  if (o.resume && o.out.empty()) throw Error("train::fit: resume needs the directory of the run (out)");
  if (o.scheduler && &o.scheduler->optimizer() != &optimizer)
    throw Error("train::fit: the scheduler belongs to another optimizer");
  const bool root = o.distributed.root, writing = root && !o.out.empty();
  const int64_t per_epoch = train.size();
  if (writing) {
    std::error_code ec;
    std::filesystem::create_directories(o.out, ec);
    if (ec) throw Error("train::fit: cannot create " + o.out.string() + ": " + ec.message());
  }
  History h;
  Position at;
  if (o.resume) {
    const std::filesystem::path checkpoint = o.out / kCheckpoint;
    if (!std::filesystem::exists(checkpoint))
      throw Error("resume: " + checkpoint.string() + " does not exist (no epoch of that run finished, or another directory)");
    at = load_checkpoint(checkpoint, model, optimizer, o.scheduler, per_epoch, train.seed(), o.epochs, h);
    h.saved_epoch = static_cast<int>(at.epochs_done + (at.batch > 0 ? 1 : 0));
    if (!root) at.loss_sum = at.correct = at.seen = 0;  // the sums of a cut epoch are every rank's: counted once
    if (root && o.print) {
      std::printf("Resumed %s at epoch %lld, batch %lld of %lld (step %lld)\n", checkpoint.string().c_str(),
                  static_cast<long long>(at.epochs_done + 1), static_cast<long long>(at.batch),
                  static_cast<long long>(per_epoch), static_cast<long long>(at.step));
      std::fflush(stdout);
    }
  }
  // A hint only: a huge epoch count must not ask for its whole history up front.
  const int64_t planned = std::max<int64_t>(0, (o.epochs - at.epochs_done) * per_epoch);
  h.step_losses.reserve(h.step_losses.size() + static_cast<size_t>(std::min<int64_t>(planned, int64_t{1} << 20)));
  model.train();
  std::vector<int64_t> predicted;
  int64_t step = at.step;
  bool stopped = false;
  for (int epoch = static_cast<int>(at.epochs_done) + 1; epoch <= o.epochs && !stopped; ++epoch) {
    train.set_epoch(epoch - 1);
    const auto start = std::chrono::steady_clock::now();
    double loss_sum = at.loss_sum, earlier_seconds = at.seconds, lr = optimizer.learning_rate();
    int64_t correct = static_cast<int64_t>(at.correct), seen = static_cast<int64_t>(at.seen), batch = at.batch;
    ProgressBar progress(root && o.progress && isatty(STDERR_FILENO),
                         "Epoch " + std::to_string(epoch) + "/" + std::to_string(o.epochs), per_epoch, batch);
    at = Position{};
    try {
      while (batch < per_epoch && !stopped) {
        train.load(batch);
        const std::vector<int64_t>& labels = train.labels();
        lr = optimizer.learning_rate();
        const Var output = model(Var(train.inputs()));
        const Var loss = o.loss ? o.loss(output, labels) : nn::cross_entropy(output, labels);
        double loss_value = loss.item();
        ++batch;
        optimizer.zero_grad();
        loss.backward();
        stopped = o.signals && o.signals->stopped();
        if (o.distributed.average_gradients) o.distributed.average_gradients(loss_value, stopped);
        if (!(loss_value < o.diverged_loss)) {  // also true for NaN
          progress.clear();
          char what[160];
          std::snprintf(what, sizeof what, "the loss became %s at epoch %d, step %lld (learning rate %g)",
                        std::isnan(loss_value) ? "NaN" : exact(loss_value).c_str(), epoch, static_cast<long long>(batch), lr);
          h.outcome = Outcome::Diverged;
          h.diverged = what;
          return h;
        }
        optimizer.step();
        if (o.scheduler) o.scheduler->step();
        ++step;
        h.step_losses.push_back(loss_value);
        loss_sum += loss_value * static_cast<double>(labels.size());
        correct += count_correct(output.value(), labels, predicted);
        seen += static_cast<int64_t>(labels.size());
        progress.update(batch, loss_value);
        if (o.on_step) o.on_step({epoch, batch, step, loss_value, lr});
      }
    } catch (const std::bad_alloc&) {
      throw Error("out of memory while training (batch " + std::to_string(train.labels().size()) + ", " +
                  std::to_string(model.parameter_count()) + " parameters)");
    }
    const double seconds = earlier_seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    progress.clear();
    double totals[3] = {loss_sum, static_cast<double>(correct), static_cast<double>(seen)};
    if (o.distributed.sum) o.distributed.sum(totals);
    if (totals[2] == 0) break;
    if (!root) continue;
    const bool complete = batch == per_epoch;
    EpochMetrics m{epoch, totals[0] / totals[2], totals[1] / totals[2], std::nullopt, std::nullopt, seconds, lr, complete};
    if (o.validation) {
      Evaluation validation;
      try {
        validation = evaluate(model, *o.validation);
      } catch (const std::bad_alloc&) {
        throw Error("out of memory while validating");
      }
      m.val_loss = validation.loss;
      m.val_acc = validation.accuracy;
    }
    // The last step may have broken the weights without a training loss showing it: such a model is not kept.
    const std::string broken = non_finite_entry(model);
    if (!broken.empty() || (m.val_loss && !(*m.val_loss < o.diverged_loss))) {
      char what[64];
      std::snprintf(what, sizeof what, " (learning rate %g)", lr);
      h.outcome = Outcome::Diverged;
      h.diverged = "after epoch " + std::to_string(epoch) + " " +
                   (broken.empty() ? "the validation loss is " + number(m.val_loss, 4, "NaN")
                                   : "parameter '" + broken + "' is not finite") + what;
      return h;
    }
    h.epochs.push_back(m);
    if (o.on_epoch) o.on_epoch(m);
    if (o.print) {
      std::printf("Epoch %d/%d, Loss: %.4f, Train Acc: %.4f, Val Acc: %s (%.1f s)%s\n", m.epoch, o.epochs, m.loss,
                  m.train_acc, number(m.val_acc, 4, "-").c_str(), m.seconds, stopped ? " [interrupted]" : "");
      std::fflush(stdout);
    }
    if (writing) {
      nn::save(model, o.out / "model.bin");
      h.saved_epoch = epoch;
      write_metrics(o.out, h.epochs, o.metrics_fields, std::nullopt);
      const Position here = complete ? Position{epoch, 0, step, 0, 0, 0, 0}
                                     : Position{epoch - 1, batch, step, totals[0], totals[1], totals[2], seconds};
      save_checkpoint(o.out / kCheckpoint, model, optimizer, o.scheduler, here, per_epoch, train.seed(), h);
    }
  }
  if (stopped) h.outcome = Outcome::Interrupted;
  return h;
}

}  // namespace mt::train
