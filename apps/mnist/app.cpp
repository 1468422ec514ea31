#include "apps/mnist/app.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <new>
#include <numbers>
#include <optional>

#include "apps/mnist/image_input.h"
#include "apps/mnist/models.h"
#include "apps/mnist/parallel.h"
#include "apps/mnist/progress.h"
#include "datasets/datasets.h"
#include "nn/nn.h"
#include "optim/optim.h"
#include "tensor/file_io.h"
#include "viz/viz.h"

namespace mnist_app {
namespace {

using mt::datasets::ImageDataset;

// A softmax cross-entropy this large means logits 10,000 apart: the weights have blown up even if the loss is
// still finite (Adam's bounded steps can grow the weights for a long time before anything overflows).
constexpr double kDivergedLoss = 1e4;

// The signals that stop a run cleanly: the training loop finishes its step, saves and exits with 128 + the
// signal. Set by the handler (the number of the first such signal), read by the loop.
volatile std::sig_atomic_t interrupted = 0;
constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

void on_stop_signal(int signal) {
  if (!interrupted) interrupted = signal;
  std::signal(signal, SIG_DFL);  // a second one ends the process at once
}

// Handles the stop signals while alive, so that a run is never killed between saving its parts.
class StopSignals {
 public:
  StopSignals() {
    for (int s : kStopSignals) std::signal(s, on_stop_signal);
  }
  ~StopSignals() {
    for (int s : kStopSignals) std::signal(s, SIG_DFL);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  bool stopped() const { return interrupted != 0; }
  int exit_code() const { return 128 + (interrupted ? static_cast<int>(interrupted) : SIGINT); }
};

// What std::bad_alloc means to the user: which part of the run and how large it was.
template <class F>
auto out_of_memory_as_error(const std::string& what, F&& run) {
  try {
    return run();
  } catch (const std::bad_alloc&) {
    throw mt::Error("out of memory while " + what);
  }
}

std::string megabytes(double bytes) {
  char text[48];
  std::snprintf(text, sizeof text, "%.0f MB", bytes / 1e6);
  return text;
}

// The training set's pixel statistics, which every input to the model is normalised with.
struct Normalisation {
  float mean, std;
};

// MNIST's and Fashion-MNIST's published constants. For --dataset idx, the statistics of `training`, the
// images the model is trained on (the whole training file, validation part included, as the published
// constants were computed; with --train-on-test N, the first N test images).
Normalisation normalisation(const Options& o, const ImageDataset* training) {
  if (o.dataset == "fashion") return {mt::datasets::kFashionMnistMean, mt::datasets::kFashionMnistStd};
  if (o.dataset == "mnist") return {mt::datasets::kMnistMean, mt::datasets::kMnistStd};
  const mt::datasets::PixelStatistics stats = mt::datasets::pixel_statistics(*training);
  if (!(stats.std > 0))
    throw mt::Error(training->name() + ": every pixel of the training images has the same value, " +
                    "so they cannot be normalised (their standard deviation is 0)");
  return {static_cast<float>(stats.mean), static_cast<float>(stats.std)};
}

struct Data {
  std::optional<ImageDataset> train, validation;
  ImageDataset test;
  float mean, std;
};

int64_t class_count(const Data& data) { return static_cast<int64_t>(data.test.class_names().size()); }

mt::datasets::DatasetOptions dataset_options(const Options& o) {
  mt::datasets::DatasetOptions d;
  d.dir = o.data;
  if (d.dir.empty())
    if (const char* env = std::getenv("MNIST_DATA")) d.dir = env;
  if (o.dataset == "idx" && d.dir.empty())
    throw UsageError{"--dataset idx needs --data DIR, the directory holding the four IDX files"};
  d.how_to_choose_dir = "pass --data DIR";
  d.how_to_load_other_data = "to train on other data in MNIST's format, use --dataset idx --data DIR";
  return d;
}

ImageDataset load_split(const Options& o, mt::datasets::Split split) {
  if (o.dataset == "fashion") return mt::datasets::FashionMNIST(split, dataset_options(o));
  if (o.dataset == "idx") return mt::datasets::IdxDataset(split, dataset_options(o));
  return mt::datasets::MNIST(split, dataset_options(o));
}

// The test split always; the training and validation splits when training. For --dataset idx the training
// images are read for their statistics even when not training.
Data load_data(const Options& o, bool for_training) {
  ImageDataset test = load_split(o, mt::datasets::Split::Test);
  std::optional<ImageDataset> pool;
  if (o.train_on_test > 0) {
    const int64_t n = o.train_on_test;
    if (n >= test.size())
      throw mt::Error("--train-on-test " + std::to_string(n) + " leaves no test images: the test split has " +
                      std::to_string(test.size()));
    pool = test.subset(0, n);
    test = test.subset(n, test.size() - n);
  } else if (for_training || o.dataset == "idx") {
    pool = load_split(o, mt::datasets::Split::Train);
  }
  const Normalisation norm = normalisation(o, pool ? &*pool : nullptr);
  Data data{std::nullopt, std::nullopt, std::move(test), norm.mean, norm.std};
  if (for_training) {
    if (o.val_size >= pool->size())
      throw mt::Error("--val-size " + std::to_string(o.val_size) + " leaves no training images out of " +
                      std::to_string(pool->size()));
    auto split = mt::datasets::train_validation_split(*pool, o.val_size);
    data.train = split.train;
    data.validation = split.validation;
  }
  return data;
}

// What predict needs of the data without reading it: the normalisation and the class names. Only --dataset
// idx reads its files (the training images for the statistics, the labels and classes.txt for the names).
struct Description {
  Normalisation norm;
  std::vector<std::string> class_names;
};

Description describe(const Options& o) {
  if (o.dataset == "idx") {
    const Data data = load_data(o, false);
    return {{data.mean, data.std}, data.test.class_names()};
  }
  return {normalisation(o, nullptr),
          o.dataset == "fashion" ? mt::datasets::FashionMNIST::classes() : mt::datasets::MNIST::classes()};
}

bool is_cnn(const Options& o) { return o.architecture == "cnn"; }

std::shared_ptr<mt::nn::Sequential> make_model(const Options& o, int64_t classes, mt::Generator& gen) {
  if (is_cnn(o)) return make_cnn(gen, o.seed, classes);
  auto model = std::make_shared<mt::nn::Sequential>();
  int64_t in = 28 * 28;
  for (int64_t width : o.hidden) {
    model->add(std::make_shared<mt::nn::Linear>(in, width, gen));
    model->add(std::make_shared<mt::nn::ReLU>());
    in = width;
  }
  model->add(std::make_shared<mt::nn::Linear>(in, classes, gen));
  return model;
}

std::unique_ptr<mt::optim::Optimizer> make_optimizer(const Options& o, std::vector<mt::Var> params) {
  if (o.optimizer == "sgd") return std::make_unique<mt::optim::SGD>(std::move(params), mt::optim::SGDOptions{.lr = o.lr, .momentum = 0.9});
  if (o.optimizer == "adamw")
    return std::make_unique<mt::optim::AdamW>(std::move(params), mt::optim::AdamOptions{.lr = o.lr, .weight_decay = 1e-2});
  return std::make_unique<mt::optim::Adam>(std::move(params), mt::optim::AdamOptions{.lr = o.lr});
}

mt::datasets::LoaderOptions loader_options(const Data& data, int64_t batch_size, bool shuffle, uint64_t seed, bool images) {
  mt::datasets::LoaderOptions l;
  l.batch_size = batch_size;
  l.shuffle = shuffle;
  l.seed = seed;
  l.mean = data.mean;
  l.std = data.std;
  l.image_layout = images;
  return l;
}

// Evaluation batches: the cnn's activations are 32 maps per image, so smaller batches bound its memory.
int64_t eval_batch_size(const mt::nn::Module& model) { return model.named_buffers().empty() ? 1000 : 100; }

// `predicted` is the caller's, so that a training step reuses its memory.
int64_t count_correct(const mt::Tensor& logits, const std::vector<int64_t>& labels, std::vector<int64_t>& predicted) {
  mt::argmax(logits, 1, predicted);
  int64_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) correct += predicted[i] == labels[i];
  return correct;
}

struct Evaluation {
  double loss = 0;  // mean cross-entropy
  double accuracy = 0;
  std::vector<int64_t> predictions;  // in dataset order
};

Evaluation evaluate(mt::nn::Module& model, const Data& data, const ImageDataset& dataset) {
  mt::NoGradGuard no_grad;
  model.eval();
  const bool cnn = !model.named_buffers().empty();
  mt::datasets::DataLoader loader(dataset, loader_options(data, eval_batch_size(model), false, 0, cnn));
  Evaluation e;
  int64_t correct = 0;
  double loss_sum = 0;
  std::vector<int64_t> predicted;
  for (const auto& batch : loader) {
    const mt::Tensor logits = model(mt::Var(batch.images)).value();
    loss_sum += mt::cross_entropy(logits, batch.labels).item() * static_cast<double>(batch.labels.size());
    correct += count_correct(logits, batch.labels, predicted);
    e.predictions.insert(e.predictions.end(), predicted.begin(), predicted.end());
  }
  model.train();
  const double n = static_cast<double>(std::max<int64_t>(dataset.size(), 1));
  e.loss = loss_sum / n;
  e.accuracy = static_cast<double>(correct) / n;
  return e;
}

struct EpochMetrics {
  int epoch;
  double loss, train_acc;
  std::optional<double> val_loss, val_acc;  // none without validation images (--val-size 0)
  double seconds;
};

// `missing` for no value or a non-finite one: JSON has no NaN, and a CSV reader is better told nothing.
std::string number(std::optional<double> value, int decimals, const char* missing) {
  if (!value || !std::isfinite(*value)) return missing;
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", decimals, *value);
  return text;
}

// Both files are written whole or not at all (mt::AtomicFile); a failure is an mt::Error naming the file.
void write_metrics(const std::filesystem::path& out, const Options& o, const std::vector<EpochMetrics>& epochs,
                   std::optional<double> test_accuracy) {
  std::string csv = "epoch,loss,train_acc,val_acc,seconds\n";
  for (const EpochMetrics& m : epochs)
    csv += std::to_string(m.epoch) + "," + number(m.loss, 6, "") + "," + number(m.train_acc, 6, "") + "," +
           number(m.val_acc, 6, "") + "," + number(m.seconds, 3, "") + "\n";
  std::string json = "{\n  \"dataset\": \"" + o.dataset + "\",\n  \"seed\": " + std::to_string(o.seed) + ",\n  \"epochs\": [";
  for (size_t i = 0; i < epochs.size(); ++i) {
    const EpochMetrics& m = epochs[i];
    json += std::string(i ? "," : "") + "\n    {\"epoch\": " + std::to_string(m.epoch) +
            ", \"loss\": " + number(m.loss, 6, "null") + ", \"train_acc\": " + number(m.train_acc, 6, "null") +
            ", \"val_loss\": " + number(m.val_loss, 6, "null") + ", \"val_acc\": " + number(m.val_acc, 6, "null") +
            ", \"seconds\": " + number(m.seconds, 3, "null") + "}";
  }
  json += "\n  ],\n  \"test_accuracy\": " + number(test_accuracy, 6, "null") + "\n}\n";
  mt::write_file_atomically(out / "metrics.csv", csv);
  mt::write_file_atomically(out / "metrics.json", json);
}

// The first parameter holding a NaN or an infinity, or "".
std::string non_finite_parameter(const mt::nn::Module& model) {
  for (const auto& [name, var] : model.state_dict()) {
    const mt::Tensor t = var.value().contiguous();
    for (int64_t i = 0; i < t.numel(); ++i)
      if (!std::isfinite(t.dtype() == mt::DType::Float32 ? t.data<float>()[i] : t.data<double>()[i])) return name;
  }
  return "";
}

// --out must take files before an epoch is spent: made if missing, and a file created and removed in it.
void check_writable(const std::filesystem::path& out) {
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) throw mt::Error("--out " + out.string() + ": cannot create the directory: " + ec.message());
  try {
    mt::AtomicFile probe(out / "model.bin");  // removed unopened: model.bin itself is untouched
  } catch (const mt::Error& e) {
    throw mt::Error("--out " + out.string() + ": cannot write there: " + e.what());
  }
}

std::filesystem::path figure_path(const Options& o, const char* name) {
  return std::filesystem::path(o.out) / (std::string(name) + "." + o.format);
}

// The figures that need only a model and the test split: confusion matrix, samples, mistakes, weights.
std::vector<std::filesystem::path> write_test_figures(const Options& o, const mt::nn::Sequential& model,
                                                      const ImageDataset& test, const std::vector<int64_t>& predicted) {
  const std::vector<std::string> names = test.class_names();
  const auto classes = names.size();
  std::vector<std::vector<int64_t>> confusion(classes, std::vector<int64_t>(classes, 0));
  std::vector<int64_t> truth(test.size());
  std::vector<uint8_t> pixels;
  pixels.reserve(static_cast<size_t>(test.size() * test.pixels()));
  for (int64_t i = 0; i < test.size(); ++i) {
    truth[i] = test.label(i);
    ++confusion[truth[i]][predicted[i]];
    const auto image = test.image(i);
    pixels.insert(pixels.end(), image.begin(), image.end());
  }
  std::vector<std::filesystem::path> written;
  auto add = [&](const char* name) { return written.emplace_back(figure_path(o, name)).string(); };
  mt::viz::ConfusionOptions c;
  c.class_names = names;
  mt::viz::plot_confusion_matrix(confusion, add("confusion"), c);
  mt::viz::SamplesOptions s;
  s.class_names = names;
  mt::viz::plot_sample_predictions(std::span<const uint8_t>(pixels), truth, predicted, add("samples"), s);
  s.only_mistakes = true;
  mt::viz::plot_sample_predictions(std::span<const uint8_t>(pixels), truth, predicted, add("mistakes"), s);
  if (const auto* conv = dynamic_cast<const mt::nn::Conv2d*>(&model[0])) {
    // One tile per filter of the first convolution, its kh x kw taps on the single input channel.
    const mt::Tensor w = conv->weight().value();
    mt::viz::WeightsOptions filters;
    filters.image_height = static_cast<int>(w.size(2));
    filters.image_width = static_cast<int>(w.size(3));
    mt::viz::plot_first_layer_weights(w.reshape({w.size(0), -1}), add("filters"), filters);
  } else {
    const auto& first = dynamic_cast<const mt::nn::Linear&>(model[0]);
    mt::viz::plot_first_layer_weights(first.weight().value(), add("weights"));
  }
  return written;
}

void print_written(const std::vector<std::filesystem::path>& files) {
  for (const auto& f : files) std::printf("  wrote %s\n", f.string().c_str());
}

// The model in o.model, an mlp (of --hidden) or the cnn with `classes` outputs: whichever the file's tensors fit.
std::shared_ptr<mt::nn::Sequential> load_model(const Options& o, int64_t classes, bool& cnn) {
  mt::Generator unused(0);
  try {
    auto model = make_cnn(unused, 0, classes);
    mt::nn::load(*model, o.model);
    cnn = true;
    return model;
  } catch (const mt::Error&) {
    Options mlp = o;
    mlp.architecture = "mlp";
    auto model = make_model(mlp, classes, unused);
    mt::nn::load(*model, o.model);  // its error names the file and what does not fit an mlp
    cnn = false;
    return model;
  }
}

// Thread count and float mode, before any kernel runs.
void set_up_cpu(const Options& o) {
  if (o.threads > 0) mt::set_num_threads(o.threads);
  mt::set_flush_denormal(true);
}

}  // namespace

int run_train(const Options& o) {
  set_up_cpu(o);
  const std::filesystem::path out(o.out);
  if (rank() == 0) check_writable(out);
  const Data data = out_of_memory_as_error("loading the data", [&] { return load_data(o, true); });

  mt::Generator init(o.seed);
  const int64_t planned = is_cnn(o) ? 0 : mlp_parameter_count(o.hidden, class_count(data));
  auto model = out_of_memory_as_error(
      is_cnn(o) ? std::string("building the cnn")
                : "building the mlp (" + std::to_string(planned) + " parameters, " + megabytes(4.0 * static_cast<double>(planned)) + ")",
      [&] { return make_model(o, class_count(data), init); });
  broadcast(*model);
  auto optimizer = make_optimizer(o, model->parameters());
  StepAverager averager(model->parameters());
  // Under mpirun each rank takes its share of every epoch; rank 0 alone evaluates, prints and writes.
  mt::datasets::LoaderOptions shares = loader_options(data, o.batch_size, true, o.seed, is_cnn(o));
  if (is_cnn(o)) shares.augment.max_shift = 2;
  shares.num_replicas = rank_count();
  shares.rank = rank();
  mt::datasets::DataLoader loader(*data.train, shares);
  const bool root = rank() == 0;
  const bool validating = data.validation->size() > 0;

  if (root) {
    std::printf("%s: %lld training, %lld validation, %lld test images; %lld parameters; %d threads\n",
                data.test.name().c_str(), static_cast<long long>(data.train->size()),
                static_cast<long long>(data.validation->size()), static_cast<long long>(data.test.size()),
                static_cast<long long>(model->parameter_count()), mt::num_threads());
    if (rank_count() > 1)
      std::printf("%d ranks x batch %d: global batch %d\n", rank_count(), o.batch_size, rank_count() * o.batch_size);
    std::fflush(stdout);
  }

  const bool show_progress = root && !o.quiet && isatty(STDERR_FILENO);
  const int64_t steps_per_epoch = loader.num_batches();
  const int64_t total_steps = steps_per_epoch * o.epochs;
  std::vector<EpochMetrics> epochs;
  std::vector<double> step_losses;
  // A hint only: a huge --epochs must not ask for its whole history up front.
  step_losses.reserve(static_cast<size_t>(std::min<int64_t>(total_steps, int64_t{1} << 20)));
  std::vector<int64_t> predicted;
  const StopSignals signals;
  const std::string step_context = "training (batch " + std::to_string(o.batch_size) + ", " +
                                   std::to_string(model->parameter_count()) + " parameters)";
  // Said when a run diverges: what of it is on disk.
  auto kept = [&] {
    return epochs.empty() ? std::string("No model was saved.")
                          : "The model of epoch " + std::to_string(epochs.back().epoch) + " is kept in " +
                                (out / "model.bin").string() + ".";
  };

  int64_t step = 0;
  bool stopped = false;  // interrupted on some rank
  for (int epoch = 1; epoch <= o.epochs && !stopped; ++epoch) {
    loader.set_epoch(epoch - 1);
    ProgressBar progress(show_progress, "Epoch " + std::to_string(epoch) + "/" + std::to_string(o.epochs),
                         steps_per_epoch);
    const auto start = std::chrono::steady_clock::now();
    double loss_sum = 0;
    int64_t correct = 0, seen = 0, batch_index = 0;
    try {
      for (const auto& batch : loader) {
        if (o.schedule == "cosine")
          optimizer->set_learning_rate(o.lr * 0.5 * (1 + std::cos(std::numbers::pi * static_cast<double>(step) /
                                                                  static_cast<double>(total_steps))));
        const mt::Var logits = (*model)(mt::Var(batch.images));
        const mt::Var loss = mt::nn::cross_entropy(logits, batch.labels);
        double loss_value = loss.item();
        ++batch_index;
        optimizer->zero_grad();
        loss.backward();
        stopped = signals.stopped();
        averager.average(loss_value, stopped);  // the gradients, loss and stop of the global batch
        if (!(loss_value < kDivergedLoss)) {  // also true for NaN
          if (!root) return kExitDiverged;
          progress.clear();
          char what[64];
          std::snprintf(what, sizeof what, std::isnan(loss_value) ? "NaN" : "%g", loss_value);
          std::fprintf(stderr,
                       "error: the loss became %s at epoch %d, step %lld (learning rate %g): training diverged; "
                       "try a smaller --lr. %s\n",
                       what, epoch, static_cast<long long>(batch_index), o.lr, kept().c_str());
          return kExitDiverged;
        }
        optimizer->step();
        ++step;
        step_losses.push_back(loss_value);
        loss_sum += loss_value * static_cast<double>(batch.labels.size());
        correct += count_correct(logits.value(), batch.labels, predicted);
        seen += static_cast<int64_t>(batch.labels.size());
        progress.update(batch_index, loss_value);
        if (stopped) break;
      }
    } catch (const std::bad_alloc&) {
      throw mt::Error("out of memory while " + step_context);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    progress.clear();
    double totals[3] = {loss_sum, static_cast<double>(correct), static_cast<double>(seen)};
    sum(totals);
    loss_sum = totals[0];
    correct = static_cast<int64_t>(totals[1]);
    seen = static_cast<int64_t>(totals[2]);
    if (seen == 0) break;
    if (!root) continue;
    EpochMetrics m{epoch, loss_sum / static_cast<double>(seen), static_cast<double>(correct) / static_cast<double>(seen),
                   std::nullopt, std::nullopt, seconds};
    if (validating) {
      const Evaluation validation =
          out_of_memory_as_error("validating", [&] { return evaluate(*model, data, *data.validation); });
      m.val_loss = validation.loss;
      m.val_acc = validation.accuracy;
    }
    // The last step may have broken the weights without a training loss showing it: such a model is not kept.
    // Non-finite weights, or a validation loss as large as a diverged training loss, say so.
    const std::string broken = non_finite_parameter(*model);
    if (!broken.empty() || (m.val_loss && !(*m.val_loss < kDivergedLoss))) {
      std::fprintf(stderr, "error: after epoch %d %s (learning rate %g): training diverged; try a smaller --lr. %s\n",
                   epoch,
                   (broken.empty() ? "the validation loss is " + number(m.val_loss, 4, "NaN")
                                   : "parameter '" + broken + "' is not finite").c_str(),
                   o.lr, kept().c_str());
      return kExitDiverged;
    }
    epochs.push_back(m);
    std::printf("Epoch %d/%d, Loss: %.4f, Train Acc: %.4f, Val Acc: %s (%.1f s)%s\n", m.epoch, o.epochs, m.loss,
                m.train_acc, number(m.val_acc, 4, "-").c_str(), m.seconds, stopped ? " [interrupted]" : "");
    std::fflush(stdout);
    mt::nn::save(*model, out / "model.bin");
    write_metrics(out, o, epochs, std::nullopt);
  }
  if (!root) return stopped ? signals.exit_code() : 0;

  const std::vector<std::filesystem::path> saved = {out / "model.bin", out / "metrics.csv", out / "metrics.json"};
  auto interrupted_after = [&](const std::vector<std::filesystem::path>& written) {
    if (epochs.empty()) {
      std::printf("Interrupted before an epoch finished: nothing was saved.\n");
      std::fflush(stdout);
      return signals.exit_code();
    }
    std::printf("Interrupted: saved the model and metrics so far.\n");
    print_written(written);
    std::fflush(stdout);
    return signals.exit_code();
  };
  if (stopped) return interrupted_after(saved);
  const Evaluation test = out_of_memory_as_error("testing", [&] { return evaluate(*model, data, data.test); });
  std::printf("Test accuracy: %.4f\n", test.accuracy);
  std::fflush(stdout);
  write_metrics(out, o, epochs, test.accuracy);
  std::vector<std::filesystem::path> written = saved;
  if (signals.stopped()) return interrupted_after(written);
  if (o.figures) {
    mt::viz::History history;
    for (const EpochMetrics& m : epochs) {
      history.train_loss.push_back(m.loss);
      history.train_acc.push_back(m.train_acc);
      if (m.val_loss) history.val_loss.push_back(*m.val_loss);
      if (m.val_acc) history.val_acc.push_back(*m.val_acc);
    }
    mt::viz::plot_learning_curves(history, written.emplace_back(figure_path(o, "curves")).string());
    if (signals.stopped()) return interrupted_after(written);
    mt::viz::plot_step_loss(step_losses, written.emplace_back(figure_path(o, "step_loss")).string());
    if (signals.stopped()) return interrupted_after(written);
    for (auto& f : write_test_figures(o, *model, data.test, test.predictions)) written.push_back(f);
    if (signals.stopped()) return interrupted_after(written);
  }
  print_written(written);
  return 0;
}

int run_eval(const Options& o) {
  set_up_cpu(o);
  const Data data = load_data(o, false);
  bool cnn = false;
  auto model = load_model(o, class_count(data), cnn);
  const Evaluation test = evaluate(*model, data, data.test);
  std::printf("%s: %lld images, test accuracy: %.4f\n", data.test.name().c_str(), static_cast<long long>(data.test.size()),
              test.accuracy);
  if (o.figures) {
    check_writable(o.out);
    print_written(write_test_figures(o, *model, data.test, test.predictions));
  }
  return 0;
}

int run_predict(const Options& o) {
  const Description data = describe(o);
  bool cnn = false;
  auto model = load_model(o, static_cast<int64_t>(data.class_names.size()), cnn);
  model->eval();
  std::vector<float> pixels = load_digit_png(o.image);
  for (float& p : pixels) p = (p - data.norm.mean) / data.norm.std;
  mt::NoGradGuard no_grad;
  const mt::Tensor probabilities =
      mt::softmax((*model)(mt::Var(mt::Tensor::from_vector(pixels, cnn ? mt::Shape{1, 1, 28, 28}
                                                                                      : mt::Shape{1, 28 * 28})))
                      .value(),
                  1);
  const int64_t best = mt::argmax(probabilities, 1)[0];
  std::printf("%s: %s\n", o.image.c_str(), data.class_names[static_cast<size_t>(best)].c_str());
  for (int64_t c = 0; c < probabilities.size(1); ++c)
    std::printf("  %s: %.4f\n", data.class_names[static_cast<size_t>(c)].c_str(), probabilities.at({0, c}));
  return 0;
}

}  // namespace mnist_app
