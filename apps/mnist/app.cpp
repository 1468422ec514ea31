#include "apps/mnist/app.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <new>
#include <optional>
#include <span>

#include "apps/mnist/image_input.h"
#include "apps/mnist/models.h"
#include "apps/mnist/parallel.h"
#include "datasets/datasets.h"
#include "nn/nn.h"
#include "optim/lr_scheduler.h"
#include "optim/optim.h"
#include "tensor/file_io.h"
#include "train/loop.h"
#include "viz/viz.h"

namespace mnist_app {
namespace {

using mt::datasets::ImageDataset;

// A softmax cross-entropy this large means logits 10,000 apart: the weights have blown up even if the loss is
// still finite (Adam's bounded steps can grow the weights for a long time before anything overflows).
constexpr double kDivergedLoss = 1e4;

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

// What predict needs of the data: the normalisation and the class names. Only --dataset idx reads files for
// it (the training images for the statistics, the labels and classes.txt for the names).
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

// The model on a whole split, in the split's order.
mt::train::Evaluation evaluate(mt::nn::Module& model, const Data& data, const ImageDataset& dataset) {
  const bool cnn = !model.named_buffers().empty();
  mt::datasets::DataLoader loader(dataset, loader_options(data, eval_batch_size(model), false, 0, cnn));
  mt::train::Batches batches(loader);
  return mt::train::evaluate(model, batches);
}

// The learning-rate schedule of --schedule over the run's steps, stepped after every batch; none for constant.
std::unique_ptr<mt::optim::LRScheduler> make_schedule(const Options& o, mt::optim::Optimizer& optimizer, int64_t total_steps) {
  if (o.schedule != "cosine") return nullptr;
  return std::make_unique<mt::optim::CosineAnnealingLR>(optimizer, mt::optim::CosineAnnealingLROptions{.T_max = total_steps});
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
    filters.columns = 8;  // 32 filters as 4 full rows
    filters.figure.title = "First convolution: " + std::to_string(w.size(0)) + " learned " + std::to_string(w.size(2)) +
                           "x" + std::to_string(w.size(3)) + " filters";
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
  if (is_cnn(o)) shares.augment.max_shift = kCnnMaxShift;
  shares.num_replicas = rank_count();
  shares.rank = rank();
  mt::datasets::DataLoader loader(*data.train, shares);
  mt::train::Batches batches(loader);
  mt::datasets::DataLoader validation_loader(*data.validation,
                                             loader_options(data, eval_batch_size(*model), false, 0, is_cnn(o)));
  mt::train::Batches validation(validation_loader);
  const bool root = rank() == 0;

  if (root) {
    std::printf("%s: %lld training, %lld validation, %lld test images; %lld parameters; %d threads\n",
                data.test.name().c_str(), static_cast<long long>(data.train->size()),
                static_cast<long long>(data.validation->size()), static_cast<long long>(data.test.size()),
                static_cast<long long>(model->parameter_count()), mt::num_threads());
    if (rank_count() > 1)
      std::printf("%d ranks x batch %d: global batch %d\n", rank_count(), o.batch_size, rank_count() * o.batch_size);
    std::fflush(stdout);
  }

  const auto schedule = make_schedule(o, *optimizer, loader.num_batches() * o.epochs);
  const mt::train::StopSignals signals;
  mt::train::LoopOptions loop;
  loop.epochs = o.epochs;
  loop.scheduler = schedule.get();
  loop.validation = data.validation->size() > 0 ? &validation : nullptr;
  loop.out = out;
  loop.resume = o.resume;
  loop.metrics_fields = {{"dataset", "\"" + o.dataset + "\""}, {"seed", std::to_string(o.seed)}};
  loop.print = true;
  loop.progress = !o.quiet;
  loop.signals = &signals;
  loop.diverged_loss = kDivergedLoss;
  loop.distributed = {root, [&](double& loss, bool& stop) { averager.average(loss, stop); },
                      [](std::span<double> values) { sum(values); }};
  const mt::train::History history = mt::train::fit(*model, *optimizer, batches, loop);

  if (history.outcome == mt::train::Outcome::Diverged) {
    if (root)
      std::fprintf(stderr, "error: %s: training diverged; try a smaller --lr. %s\n", history.diverged.c_str(),
                   history.saved_epoch == 0 ? "No model was saved."
                                            : ("The model of epoch " + std::to_string(history.saved_epoch) +
                                               " is kept in " + (out / "model.bin").string() + ".").c_str());
    return kExitDiverged;
  }
  const bool stopped = history.outcome == mt::train::Outcome::Interrupted;
  if (!root) return stopped ? signals.exit_code() : 0;

  const std::vector<std::filesystem::path> saved = {out / "model.bin", out / "metrics.csv", out / "metrics.json",
                                                    out / "checkpoint.bin"};
  auto interrupted_after = [&](const std::vector<std::filesystem::path>& written) {
    if (history.saved_epoch == 0) {
      std::printf("Interrupted before an epoch finished: nothing was saved.\n");
      std::fflush(stdout);
      return signals.exit_code();
    }
    std::printf("Interrupted: saved the model and metrics so far.\n");
    print_written(written);
    if (stopped) std::printf("mnist --resume %s goes on from there.\n", out.string().c_str());
    std::fflush(stdout);
    return signals.exit_code();
  };
  if (stopped) return interrupted_after(saved);
  const mt::train::Evaluation test = out_of_memory_as_error("testing", [&] { return evaluate(*model, data, data.test); });
  std::printf("Test accuracy: %.4f\n", test.accuracy);
  std::fflush(stdout);
  mt::train::write_metrics(out, history.epochs, loop.metrics_fields, test.accuracy);
  std::vector<std::filesystem::path> written = saved;
  if (signals.stopped()) return interrupted_after(written);
  if (o.figures) {
    mt::viz::History curves;
    for (const mt::train::EpochMetrics& m : history.epochs) {
      curves.train_loss.push_back(m.loss);
      curves.train_acc.push_back(m.train_acc);
      if (m.val_loss) curves.val_loss.push_back(*m.val_loss);
      if (m.val_acc) curves.val_acc.push_back(*m.val_acc);
    }
    mt::viz::plot_learning_curves(curves, written.emplace_back(figure_path(o, "curves")).string());
    if (signals.stopped()) return interrupted_after(written);
    mt::viz::plot_step_loss(history.step_losses, written.emplace_back(figure_path(o, "step_loss")).string());
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
  const mt::train::Evaluation test = evaluate(*model, data, data.test);
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
