#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <utility>

#include "datasets/datasets.h"
#include "tensor/error.h"
#include "tensor/file_io.h"

namespace mt::datasets {
namespace {

// The content of the official files: size and zlib CRC32 of the decompressed IDX file. The content, not the
// .gz, is what is checked because repackagers recompress: Debian's dataset-fashion-mnist files differ from
// upstream's by the dropped gzip file-name field (each is exactly strlen(name) + 1 bytes shorter) but
// decompress to the same bytes. Values were computed with Python's zlib.crc32 from the MNIST test files on
// this machine (whose .gz MD5s match the official ones) and from the Debian Fashion-MNIST package.
// The MNIST training files were not available, so their content's CRC32 is not known here: they are
// recognised by the official MD5 of the .gz instead (the value cmake/fetch_data.cmake checks a download
// against, torchvision's), or a decompressed or recompressed copy by the CRC32 that script recorded beside a
// .gz it verified (read_content_record).
struct OfficialFile {
  const char* stem;
  uint64_t content_size;
  std::optional<uint32_t> crc32;
  const char* gz_md5 = nullptr;  // where crc32 is not known
};

struct Spec {
  const char* title;  // in messages and dataset names
  const char* fetch_name = nullptr;  // cmake/fetch_data.cmake's DATASET, or none
  const char* install_hint = "";     // another way to get the files, or ""
  std::vector<std::string> dirs;
  std::vector<std::string> class_names;
  std::vector<OfficialFile> official;
};

const Spec& mnist_spec() {
  static const Spec spec{
      "MNIST",
      "mnist",
      "",
      {"data/mnist"},
      {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
      {{"train-images-idx3-ubyte", 47040016, std::nullopt, "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
       {"train-labels-idx1-ubyte", 60008, std::nullopt, "d53e105ee54ea40749a09fcbcd1e9432"},
       {"t10k-images-idx3-ubyte", 7840016, 0x91373bdf},
       {"t10k-labels-idx1-ubyte", 10008, 0x4ab9eff9}},
  };
  return spec;
}

const Spec& fashion_spec() {
  static const Spec spec{
      "Fashion-MNIST",
      "fashion",
      "; on Debian or Ubuntu, `apt install dataset-fashion-mnist` puts them in /usr/share/datasets/fashion-mnist",
      {"data/fashion", "/usr/share/datasets/fashion-mnist"},
      {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"},
      {{"train-images-idx3-ubyte", 47040016, 0xb4f29f28},
       {"train-labels-idx1-ubyte", 60008, 0x741a4657},
       {"t10k-images-idx3-ubyte", 7840016, 0x678fe0b1},
       {"t10k-labels-idx1-ubyte", 10008, 0x80142c1f}},
  };
  return spec;
}

constexpr int64_t kSide = 28;
constexpr const char* kClassesFile = "classes.txt";
// Labels are bytes: at most 256 classes, and a names file larger than this is not one.
constexpr std::size_t kMaxClasses = 256;
constexpr uint64_t kMaxClassesFileBytes = uint64_t{1} << 20;

std::string hex32(uint32_t value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", value);
  return buf;
}

// "Fetch them with: <the download command>", and another way to get the files where there is one.
std::string fetch_advice(const Spec& spec, const std::string& verb) {
  return verb + " with: cmake -DDATASET=" + spec.fetch_name + " -DDEST=data -P cmake/fetch_data.cmake" +
         " (from the microtorch source directory)" + spec.install_hint;
}

// The .gz name first: it is what the official sites and the Debian package ship.
std::optional<std::string> find_file(const std::string& dir, const std::string& stem) {
  for (const std::string& name : {stem + ".gz", stem}) {
    const std::filesystem::path path = std::filesystem::path(dir) / name;
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) return path.string();
  }
  return std::nullopt;
}

struct Stems {
  std::string images, labels;
};

Stems stems(Split split) {
  const std::string prefix = split == Split::Train ? "train" : "t10k";
  return {prefix + "-images-idx3-ubyte", prefix + "-labels-idx1-ubyte"};
}

const char* split_name(Split split) { return split == Split::Train ? "train" : "test"; }

struct Paths {
  std::string images;
  std::string labels;
};

Paths locate(const Spec& spec, Split split, const DatasetOptions& options) {
  const Stems names = stems(split);
  const std::vector<std::string> dirs = options.dir.empty() ? spec.dirs : std::vector<std::string>{options.dir};
  for (const std::string& dir : dirs) {
    std::optional<std::string> images = find_file(dir, names.images);
    std::optional<std::string> labels = find_file(dir, names.labels);
    if (images && labels) return {*images, *labels};
  }
  std::string looked;
  for (const std::string& dir : dirs) {
    std::error_code ec;
    looked += "\n  " + std::filesystem::absolute(dir, ec).string() + ":";
    for (const std::string& stem : {names.images, names.labels})
      looked += std::string(" ") + stem + ".gz (or " + stem + ")" + (find_file(dir, stem) ? " found," : " missing,");
    looked.pop_back();
  }
  // An IdxDataset's directory was chosen by the caller: where it looked is all there is to say.
  throw Error(std::string(spec.title) + " " + split_name(split) + ": files not found. Looked in:" + looked +
              (spec.fetch_name ? "\n" + fetch_advice(spec, "Fetch them") + "; or " + options.how_to_choose_dir + "."
                               : ""));
}

// What is known of the official file of that name, if any.
const OfficialFile* official_file(const Spec& spec, const std::string& stem) {
  for (const OfficialFile& file : spec.official)
    if (stem == file.stem) return &file;
  return nullptr;
}

// Whether the file's MD5 must be computed to verify it: an official file known only by its .gz's MD5.
bool needs_md5(const Spec& spec, const std::string& stem, const DatasetOptions& options) {
  const OfficialFile* file = official_file(spec, stem);
  return options.verify && file && !file->crc32 && file->gz_md5;
}

// What cmake/fetch_data.cmake records beside an official .gz whose MD5 it verified, from its gzip trailer: the
// CRC32 and size of the content, as "91373bdf 7840016\n" in <stem>.crc32.
struct ContentRecord {
  uint32_t crc32;
  uint64_t size;
};

ContentRecord read_content_record(const std::string& path) {
  InputFile file(path, path);
  char text[64] = {};
  const std::size_t n = file.size() < sizeof text ? file.read(text, sizeof text - 1) : 0;
  const char* end = text + n;
  ContentRecord record{};
  auto crc = std::from_chars(text, end, record.crc32, 16);
  if (crc.ec == std::errc() && crc.ptr == text + 8 && *crc.ptr == ' ') {
    auto size = std::from_chars(crc.ptr + 1, end, record.size);
    if (size.ec == std::errc() && size.ptr == end - 1 && *size.ptr == '\n') return record;
  }
  throw Error(path + ": not a record written by cmake/fetch_data.cmake (\"<CRC32 in 8 hex digits> <size>\" and a newline)");
}

// `content_size` and (once read) the content's CRC32 or the file's MD5 (or its record) against the official file
// of that name.
void verify_official(const Spec& spec, const std::string& path, const std::string& stem, uint64_t content_size,
                     const IdxArray* read, const std::string& shape, const DatasetOptions& options) {
  const OfficialFile* file = official_file(spec, stem);
  if (!file) return;
  const std::string remedies =
      ". " + fetch_advice(spec, "Fetch it again") + "; or " + options.how_to_load_other_data + ".";
  const bool size_ok = content_size == file->content_size;
  const bool crc_ok = !file->crc32 || !read || read->content_crc32 == *file->crc32;
  if (!size_ok || !crc_ok) {
    const std::string expected =
        std::to_string(file->content_size) + " bytes" + (file->crc32 ? " with CRC32 " + hex32(*file->crc32) : "");
    throw Error(path + ": does not match the official " + spec.title + " file " + stem + ": expected " + expected +
                " after decompression, got " + std::to_string(content_size) + " bytes" +
                (read ? " with CRC32 " + hex32(read->content_crc32) : " (by its header: shape " + shape + ")") +
                ". The file is corrupt, modified, or from another dataset with the same file names" + remedies);
  }
  if (!read || file->crc32 || !file->gz_md5 || read->file_md5 == file->gz_md5) return;
  // Not the official .gz itself: a copy of its content passes only by the record of a verified download.
  const std::string record_path = (std::filesystem::path(path).parent_path() / (stem + ".crc32")).string();
  std::error_code ec;
  if (!std::filesystem::exists(record_path, ec))
    throw Error(path + ": not the official " + spec.title + " file " + stem + ".gz: its size is right (" +
                std::to_string(content_size) + " bytes after decompression) but its MD5 is " + read->file_md5 +
                ", not the official " + file->gz_md5 + ". The content of this file is known only by that MD5 of " +
                "the official .gz, or by the record of its CRC32 (" + stem + ".crc32) that cmake/fetch_data.cmake " +
                "leaves beside a .gz it verified; without either, a decompressed or recompressed copy cannot be " +
                "told from other data with the same file names (such as the same images inverted)" + remedies);
  const ContentRecord record = read_content_record(record_path);
  if (record.size != file->content_size)
    throw Error(record_path + ": records " + std::to_string(record.size) + " bytes of content, but the official " +
                spec.title + " file " + stem + " holds " + std::to_string(file->content_size) +
                ": not a record of the official file");
  if (record.crc32 != read->content_crc32)
    throw Error(path + ": does not match the official " + spec.title + " file " + stem + ": its content's CRC32 is " +
                hex32(read->content_crc32) + ", not the " + hex32(record.crc32) + " recorded in " + record_path +
                " when cmake/fetch_data.cmake verified the official .gz. The file is corrupt, modified, or from " +
                "another dataset with the same file names" + remedies);
}

// One split read with the checks that the IDX format itself cannot make: images ubyte N x 28 x 28, ubyte
// labels, equal counts and, when verifying, the official content. Both headers are read and checked first
// (types, 28 x 28, equal counts, the official sizes), so that the elements read are only ever what a valid
// split holds: a header claiming a million images costs nothing. The labels are not range-checked here.
struct RawSplit {
  Paths paths;
  std::vector<uint8_t> images, labels;
};

IdxHeader check_labels_header(const Spec& spec, const std::string& path) {
  const IdxHeader header = read_idx_header(path);
  if (header.type != IdxType::UInt8 || header.dims.size() != 1)
    throw Error(path + ": expected " + spec.title + " labels, ubyte N, but the file holds " +
                idx_type_name(header.type) + " " + header.shape());
  return header;
}

RawSplit read_split(const Spec& spec, Split split, const DatasetOptions& options) {
  const Stems names = stems(split);
  const Paths paths = locate(spec, split, options);

  const IdxHeader image_header = read_idx_header(paths.images);
  if (image_header.type != IdxType::UInt8 || image_header.dims.size() != 3 || image_header.dims[1] != kSide ||
      image_header.dims[2] != kSide)
    throw Error(paths.images + ": expected " + spec.title + " images, ubyte N x 28 x 28, but the file holds " +
                idx_type_name(image_header.type) + " " + image_header.shape());
  const IdxHeader label_header = check_labels_header(spec, paths.labels);
  if (image_header.dims[0] != label_header.dims[0])
    throw Error(std::string(spec.title) + " " + split_name(split) + ": " + paths.images + " holds " +
                std::to_string(image_header.dims[0]) + " images but " + paths.labels + " holds " +
                std::to_string(label_header.dims[0]) + " labels");
  if (options.verify) {
    verify_official(spec, paths.images, names.images, image_header.content_size(), nullptr, image_header.shape(),
                    options);
    verify_official(spec, paths.labels, names.labels, label_header.content_size(), nullptr, label_header.shape(),
                    options);
  }
  IdxArray labels =
      read_idx(paths.labels, {.expect = label_header, .file_md5 = needs_md5(spec, names.labels, options)});
  IdxArray images =
      read_idx(paths.images, {.expect = image_header, .file_md5 = needs_md5(spec, names.images, options)});
  if (options.verify) {
    verify_official(spec, paths.images, names.images, images.content_size, &images, image_header.shape(), options);
    verify_official(spec, paths.labels, names.labels, labels.content_size, &labels, label_header.shape(), options);
  }
  return {paths, std::move(images.bytes), std::move(labels.bytes)};
}

ImageDataset load(const Spec& spec, Split split, const DatasetOptions& options) {
  RawSplit raw = read_split(spec, split, options);
  for (std::size_t i = 0; i < raw.labels.size(); ++i)
    if (raw.labels[i] >= spec.class_names.size())
      throw Error(raw.paths.labels + ": label " + std::to_string(raw.labels[i]) + " at index " + std::to_string(i) +
                  " is outside 0.." + std::to_string(spec.class_names.size() - 1));
  return ImageDataset(std::string(spec.title) + " " + split_name(split), std::move(raw.images), std::move(raw.labels),
                      kSide, kSide, spec.class_names);
}

// --- IdxDataset ------------------------------------------------------------------------------------------------

// The directory's own name ("kmnist" for data/kmnist/ or .), what its dataset is called.
std::string directory_title(const std::string& dir) {
  std::error_code ec;
  std::filesystem::path path = std::filesystem::absolute(dir, ec).lexically_normal();
  if (path.filename().empty()) path = path.parent_path();
  return path.filename().empty() ? dir : path.filename().string();
}

// classes.txt: one name per line (a final newline, and \r\n line ends, allowed), none empty, at most 256.
std::vector<std::string> read_class_names(const std::string& path) {
  InputFile file(path, path);
  if (file.size() > kMaxClassesFileBytes)
    throw Error(path + ": " + std::to_string(file.size()) + " bytes, more than the " +
                std::to_string(kMaxClassesFileBytes) + " a list of at most 256 class names may take");
  std::string text(static_cast<std::size_t>(file.size()), '\0');
  if (file.read(text.data(), text.size()) != text.size()) throw Error(path + ": the file shrank while being read");
  if (!text.empty() && text.back() == '\n') text.pop_back();
  std::vector<std::string> names;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string name = text.substr(start, end - start);
    if (!name.empty() && name.back() == '\r') name.pop_back();
    if (name.empty())
      throw Error(path + ": line " + std::to_string(names.size() + 1) +
                  " is empty (one class name per line, in label order)");
    names.push_back(std::move(name));
    if (names.size() > kMaxClasses)
      throw Error(path + ": more than 256 class names, but labels are bytes (0..255)");
    start = end + 1;
  }
  return names;
}

// The largest label in `labels`, or -1 for none.
int largest(const std::vector<uint8_t>& labels) {
  return labels.empty() ? -1 : *std::max_element(labels.begin(), labels.end());
}

ImageDataset load_idx(Split split, const DatasetOptions& options) {
  if (options.dir.empty())
    throw Error("IdxDataset: no directory given: " + options.how_to_choose_dir);
  Spec spec{};
  const std::string title = directory_title(options.dir);
  spec.title = title.c_str();
  RawSplit raw = read_split(spec, split, options);

  // The other split's labels, so that both splits of the directory get the same classes.
  const Split other = split == Split::Train ? Split::Test : Split::Train;
  std::string largest_at = raw.paths.labels;
  int top = largest(raw.labels);
  if (std::optional<std::string> path = find_file(options.dir, stems(other).labels)) {
    const IdxArray labels = read_idx(*path, {.expect = check_labels_header(spec, *path)});
    const int other_top = largest(labels.bytes);
    if (other_top > top) {
      top = other_top;
      largest_at = *path;
    }
  }
  const auto count = static_cast<std::size_t>(top + 1);

  std::vector<std::string> names;
  const std::string names_path = (std::filesystem::path(options.dir) / kClassesFile).string();
  std::error_code ec;
  if (std::filesystem::exists(names_path, ec)) {
    names = read_class_names(names_path);
    if (count > names.size())
      throw Error(largest_at + ": label " + std::to_string(top) + ", but " + names_path + " names " +
                  std::to_string(names.size()) + " classes (labels 0.." + std::to_string(names.size() - 1) + ")");
    if (count < names.size())
      throw Error(names_path + ": names " + std::to_string(names.size()) + " classes, but the labels of " +
                  title + " only reach " + std::to_string(top) + " (" + std::to_string(count) +
                  " classes): one name per class, in label order");
  } else {
    for (std::size_t c = 0; c < count; ++c) names.push_back(std::to_string(c));
  }
  return ImageDataset(title + " " + split_name(split), std::move(raw.images), std::move(raw.labels), kSide, kSide,
                      std::move(names));
}

}  // namespace

MNIST::MNIST(Split split, const DatasetOptions& options) : ImageDataset(load(mnist_spec(), split, options)) {}
std::vector<std::string> MNIST::default_dirs() { return mnist_spec().dirs; }
std::vector<std::string> MNIST::classes() { return mnist_spec().class_names; }

FashionMNIST::FashionMNIST(Split split, const DatasetOptions& options)
    : ImageDataset(load(fashion_spec(), split, options)) {}
std::vector<std::string> FashionMNIST::default_dirs() { return fashion_spec().dirs; }
std::vector<std::string> FashionMNIST::classes() { return fashion_spec().class_names; }

IdxDataset::IdxDataset(Split split, const DatasetOptions& options) : ImageDataset(load_idx(split, options)) {}

PixelStatistics pixel_statistics(const ImageDataset& dataset) {
  if (dataset.size() == 0 || dataset.pixels() == 0)
    throw Error("pixel_statistics: " + dataset.name() + " has no images");
  // A histogram, then exact sums: no rounding error grows with the pixel count.
  std::vector<uint64_t> histogram(256, 0);
  for (int64_t i = 0; i < dataset.size(); ++i)
    for (uint8_t p : dataset.image(i)) ++histogram[p];
  const double n = static_cast<double>(dataset.size()) * static_cast<double>(dataset.pixels());
  double sum = 0;
  for (int v = 0; v < 256; ++v) sum += static_cast<double>(histogram[v]) * v;
  const double mean = sum / n / 255.0;
  double squares = 0;
  for (int v = 0; v < 256; ++v) {
    const double d = v / 255.0 - mean;
    squares += static_cast<double>(histogram[v]) * d * d;
  }
  return {mean, std::sqrt(squares / n)};
}

}  // namespace mt::datasets
