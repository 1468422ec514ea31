#include "apps/mnist/options.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "apps/mnist/models.h"

namespace mnist_app {
namespace {

template <class T>
T parse_number(const std::string& option, const std::string& text, T min) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < min)
    throw UsageError{option + " expects a number >= " + std::to_string(min) + ", got '" + text + "'"};
  return value;
}

double parse_positive(const std::string& option, const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  // Also refuses inf, nan and what overflows to inf (1e999).
  if (text.empty() || *end != '\0' || !(value > 0) || !std::isfinite(value))
    throw UsageError{option + " expects a positive finite number, got '" + text + "'"};
  return value;
}

std::string parse_choice(const std::string& option, const std::string& text, std::initializer_list<const char*> choices) {
  std::string all;
  for (const char* c : choices) {
    if (text == c) return text;
    if (!all.empty()) all += '|';
    all += c;
  }
  throw UsageError{option + " expects " + all + ", got '" + text + "'"};
}

std::vector<int64_t> parse_sizes(const std::string& option, const std::string& text) {
  std::vector<int64_t> sizes;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) sizes.push_back(parse_number<int64_t>(option, item, 1));
  if (sizes.empty()) throw UsageError{option + " expects sizes like 256,128,64,32"};
  return sizes;
}

std::string join(const std::vector<int64_t>& sizes) {
  std::string s;
  for (int64_t v : sizes) {
    if (!s.empty()) s += ',';
    s += std::to_string(v);
  }
  return s;
}

}  // namespace

int64_t mlp_parameter_count(const std::vector<int64_t>& hidden, int64_t classes) {
  int64_t count = 0, in = 28 * 28;
  for (size_t i = 0; i <= hidden.size(); ++i) {
    const int64_t width = i < hidden.size() ? hidden[i] : classes;
    int64_t weights = 0;
    if (__builtin_mul_overflow(in, width, &weights) || __builtin_add_overflow(count, weights, &count) ||
        __builtin_add_overflow(count, width, &count))
      throw UsageError{"--hidden " + join(hidden) + ": the model would have more than 2^63 parameters"};
    in = width;
  }
  return count;
}

std::string help_text() {
  const Options d;
  std::ostringstream h;
  h << "Usage: mnist [train] [options]            train, evaluate on the test split, write figures and model\n"
       "       mnist eval --model FILE [options]   test accuracy, confusion matrix and figures of a saved model\n"
       "       mnist predict --model FILE IMAGE.png  classify a greyscale PNG (28x28 or larger)\n\n"
       "Options (default in brackets):\n"
    << "  --data DIR           directory with the IDX files [$MNIST_DATA, ./data/<dataset>, Debian's dataset dir]\n"
    << "  --dataset NAME       mnist | fashion | idx [" << d.dataset << "]\n"
    << "                         mnist, fashion: the official files, checked against their known checksums\n"
    << "                         idx: any data in MNIST's format in --data DIR (the four MNIST file names,\n"
    << "                         28x28 ubyte images); classes named by DIR/classes.txt, one per line in label\n"
    << "                         order, else 0..N-1 (N: the largest label + 1); inputs normalised with the mean\n"
    << "                         and std of the training images; eval and predict read the data too\n"
    << "  --epochs N           [" << d.epochs << "]\n"
    << "  --batch-size N       per process: under mpirun -np N the global batch is N x this [" << d.batch_size << "]\n"
    << "  --lr X               peak learning rate [" << d.lr << "]\n"
    << "  --schedule NAME      cosine (decays to 0 over the run) | constant [" << d.schedule << "]\n"
    << "  --optimizer NAME     adam | adamw | sgd (momentum 0.9) [" << d.optimizer << "]\n"
    << "  --model mlp|cnn      train: the model [" << d.architecture << "]\n"
    << "                         mlp: 784-<hidden>-<classes> with ReLU\n"
    << "                         cnn: " << kCnnDescription << "\n"
    << "  --hidden SIZES       the mlp's hidden layer sizes [" << join(d.hidden) << "]\n"
    << "  --seed N             seeds weights and shuffling; same seed, same bits [" << d.seed << "]\n"
    << "  --threads N          0 uses every core [" << d.threads << "]\n"
    << "  --val-size N         last N training images validate [" << d.val_size << "]\n"
    << "  --train-on-test N    train on the first N test images, test on the rest [off]\n"
    << "  --out DIR            where metrics, figures, model.bin and checkpoint.bin go [" << d.out << "]\n"
    << "  --resume DIR         go on with the run in DIR (stopped, or with a smaller --epochs) from its\n"
    << "                         checkpoint.bin, to the bits of an uninterrupted run; the same other\n"
    << "                         options (a larger --epochs only with --schedule constant)\n"
    << "  --format EXT         png | svg | pdf [" << d.format << "]\n"
    << "  --model FILE         eval, predict: the model file, mlp or cnn [<out>/model.bin]\n"
    << "  --no-figures         skip the figures\n"
    << "  --quiet              no progress bar\n"
    << "  --help               this text\n"
    << "  --version            microtorch's version\n";
  return h.str();
}

Options parse_options(int argc, char** argv) {
  Options o;
  int i = 1;
  if (i < argc && argv[i][0] != '-') {
    o.command = parse_choice("command", argv[i++], {"train", "eval", "predict"});
  }
  auto value = [&](const std::string& option) -> std::string {
    if (i + 1 >= argc) throw UsageError{option + " needs a value"};
    return argv[++i];
  };
  bool out_given = false;
  std::string resume_dir;
  for (; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      o.command = "help";
      return o;
    } else if (arg == "--version") {
      o.command = "version";
      return o;
    } else if (arg == "--data") {
      o.data = value(arg);
    } else if (arg == "--dataset") {
      o.dataset = parse_choice(arg, value(arg), {"mnist", "fashion", "idx"});
    } else if (arg == "--epochs") {
      o.epochs = parse_number<int>(arg, value(arg), 1);
    } else if (arg == "--batch-size") {
      o.batch_size = parse_number<int>(arg, value(arg), 1);
    } else if (arg == "--lr") {
      o.lr = parse_positive(arg, value(arg));
    } else if (arg == "--schedule") {
      o.schedule = parse_choice(arg, value(arg), {"cosine", "constant"});
    } else if (arg == "--optimizer") {
      o.optimizer = parse_choice(arg, value(arg), {"adam", "adamw", "sgd"});
    } else if (arg == "--hidden") {
      o.hidden = parse_sizes(arg, value(arg));
      mlp_parameter_count(o.hidden);
    } else if (arg == "--seed") {
      o.seed = parse_number<uint64_t>(arg, value(arg), 0);
    } else if (arg == "--threads") {
      o.threads = parse_number<int>(arg, value(arg), 0);
    } else if (arg == "--val-size") {
      o.val_size = parse_number<int64_t>(arg, value(arg), 0);
    } else if (arg == "--train-on-test") {
      o.train_on_test = parse_number<int64_t>(arg, value(arg), 1);
    } else if (arg == "--out") {
      o.out = value(arg);
      out_given = true;
    } else if (arg == "--resume") {
      resume_dir = value(arg);
    } else if (arg == "--format") {
      o.format = parse_choice(arg, value(arg), {"png", "svg", "pdf"});
    } else if (arg == "--model" && o.command == "train") {
      o.architecture = parse_choice(arg, value(arg), {"mlp", "cnn"});
    } else if (arg == "--model") {
      o.model = value(arg);
    } else if (arg == "--no-figures") {
      o.figures = false;
    } else if (arg == "--quiet") {
      o.quiet = true;
    } else if (o.command == "predict" && !arg.empty() && arg[0] != '-' && o.image.empty()) {
      o.image = arg;
    } else {
      throw UsageError{"unknown option '" + arg + "' (see mnist --help)"};
    }
  }
  if (!resume_dir.empty()) {
    if (o.command != "train") throw UsageError{"--resume is for train"};
    if (out_given && o.out != resume_dir)
      throw UsageError{"--resume " + resume_dir + " goes on writing there: leave out --out or give the same directory"};
    o.out = resume_dir;
    o.resume = true;
  }
  if (o.model.empty()) o.model = o.out + "/model.bin";
  if (o.command == "predict" && o.image.empty()) throw UsageError{"predict needs an IMAGE.png"};
  return o;
}

}  // namespace mnist_app
