#include <cstdio>
#include <filesystem>
#include <optional>
#include <utility>

#include "datasets/datasets.h"
#include "tensor/error.h"

namespace mt::datasets {
namespace {

// The content of the official files: size and zlib CRC32 of the decompressed IDX file. The content, not the
// .gz, is what is checked because repackagers recompress: Debian's dataset-fashion-mnist files differ from
// upstream's by the dropped gzip file-name field (each is exactly strlen(name) + 1 bytes shorter) but
// decompress to the same bytes. Values were computed with Python's zlib.crc32 from the MNIST test files on
// this machine (whose .gz MD5s match the official ones) and from the Debian Fashion-MNIST package.
// The MNIST training files were not available, so only their sizes are known here (crc32 empty); their
// official MD5s are checked by cmake/fetch_data.cmake when downloading.
struct OfficialFile {
  const char* stem;
  uint64_t content_size;
  std::optional<uint32_t> crc32;
};

struct Spec {
  const char* title;  // in messages and dataset names
  const char* fetch_name;
  const char* install_hint;  // another way to get the files, or ""
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
      {{"train-images-idx3-ubyte", 47040016, std::nullopt},
       {"train-labels-idx1-ubyte", 60008, std::nullopt},
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
constexpr int64_t kClasses = 10;

std::string hex32(uint32_t value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", value);
  return buf;
}

std::string fetch_command(const Spec& spec) {
  return std::string("cmake -DDATASET=") + spec.fetch_name + " -DDEST=data -P cmake/fetch_data.cmake" +
         " (from the microtorch source directory)";
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

struct Paths {
  std::string images;
  std::string labels;
};

Paths locate(const Spec& spec, const std::string& split_name, const std::string& images_stem,
             const std::string& labels_stem, const DatasetOptions& options) {
  const std::vector<std::string> dirs = options.dir.empty() ? spec.dirs : std::vector<std::string>{options.dir};
  for (const std::string& dir : dirs) {
    std::optional<std::string> images = find_file(dir, images_stem);
    std::optional<std::string> labels = find_file(dir, labels_stem);
    if (images && labels) return {*images, *labels};
  }
  std::string looked;
  for (const std::string& dir : dirs) {
    std::error_code ec;
    looked += "\n  " + std::filesystem::absolute(dir, ec).string() + ":";
    for (const std::string& stem : {images_stem, labels_stem})
      looked += std::string(" ") + stem + ".gz (or " + stem + ")" + (find_file(dir, stem) ? " found," : " missing,");
    looked.pop_back();
  }
  throw Error(std::string(spec.title) + " " + split_name + ": files not found. Looked in:" + looked +
              "\nFetch them with: " + fetch_command(spec) + spec.install_hint +
              "; or set DatasetOptions::dir to the directory holding them.");
}

// `content_size` and (when read) `crc32` of the decompressed file against the official file of that name.
void verify_official(const Spec& spec, const std::string& path, const std::string& stem, uint64_t content_size,
                     std::optional<uint32_t> crc32, const std::string& shape) {
  for (const OfficialFile& file : spec.official) {
    if (stem != file.stem) continue;
    const bool size_ok = content_size == file.content_size;
    const bool crc_ok = !file.crc32 || !crc32 || *crc32 == *file.crc32;
    if (size_ok && crc_ok) return;
    const std::string expected =
        std::to_string(file.content_size) + " bytes" + (file.crc32 ? " with CRC32 " + hex32(*file.crc32) : "");
    throw Error(path + ": does not match the official " + spec.title + " file " + stem + ": expected " + expected +
                " after decompression, got " + std::to_string(content_size) + " bytes" +
                (crc32 ? " with CRC32 " + hex32(*crc32) : " (by its header: shape " + shape + ")") +
                ". The file is corrupt, modified, or from another dataset with the " +
                "same file names. Fetch it again with: " + fetch_command(spec) +
                "; or set DatasetOptions::verify = false to load it anyway.");
  }
}

// Reads one split, checking what the IDX format itself cannot: the image size, labels in range, matching counts.
// Both headers are read and checked first (types, 28 x 28, equal counts, the official sizes), so that the
// elements read are only ever what a valid split holds: a header claiming a million images costs nothing.
ImageDataset load(const Spec& spec, Split split, const DatasetOptions& options) {
  const std::string split_name = split == Split::Train ? "train" : "test";
  const std::string prefix = split == Split::Train ? "train" : "t10k";
  const std::string images_stem = prefix + "-images-idx3-ubyte";
  const std::string labels_stem = prefix + "-labels-idx1-ubyte";
  const Paths paths = locate(spec, split_name, images_stem, labels_stem, options);

  const IdxHeader image_header = read_idx_header(paths.images);
  if (image_header.type != IdxType::UInt8 || image_header.dims.size() != 3 || image_header.dims[1] != kSide ||
      image_header.dims[2] != kSide)
    throw Error(paths.images + ": expected " + spec.title + " images, ubyte N x 28 x 28, but the file holds " +
                idx_type_name(image_header.type) + " " + image_header.shape());
  const IdxHeader label_header = read_idx_header(paths.labels);
  if (label_header.type != IdxType::UInt8 || label_header.dims.size() != 1)
    throw Error(paths.labels + ": expected " + spec.title + " labels, ubyte N, but the file holds " +
                idx_type_name(label_header.type) + " " + label_header.shape());
  if (image_header.dims[0] != label_header.dims[0])
    throw Error(std::string(spec.title) + " " + split_name + ": " + paths.images + " holds " +
                std::to_string(image_header.dims[0]) + " images but " + paths.labels + " holds " +
                std::to_string(label_header.dims[0]) + " labels");
  if (options.verify) {
    verify_official(spec, paths.images, images_stem, image_header.content_size(), std::nullopt, image_header.shape());
    verify_official(spec, paths.labels, labels_stem, label_header.content_size(), std::nullopt, label_header.shape());
  }
  IdxArray labels = read_idx(paths.labels, {.expect = label_header});
  for (std::size_t i = 0; i < labels.bytes.size(); ++i)
    if (labels.bytes[i] >= kClasses)
      throw Error(paths.labels + ": label " + std::to_string(labels.bytes[i]) + " at index " + std::to_string(i) +
                  " is outside 0..9");
  IdxArray images = read_idx(paths.images, {.expect = image_header});
  if (options.verify) {
    verify_official(spec, paths.images, images_stem, images.content_size, images.content_crc32, image_header.shape());
    verify_official(spec, paths.labels, labels_stem, labels.content_size, labels.content_crc32, label_header.shape());
  }
  return ImageDataset(std::string(spec.title) + " " + split_name, std::move(images.bytes), std::move(labels.bytes),
                      kSide, kSide, spec.class_names);
}

}  // namespace

MNIST::MNIST(Split split, const DatasetOptions& options) : ImageDataset(load(mnist_spec(), split, options)) {}
std::vector<std::string> MNIST::default_dirs() { return mnist_spec().dirs; }

FashionMNIST::FashionMNIST(Split split, const DatasetOptions& options)
    : ImageDataset(load(fashion_spec(), split, options)) {}
std::vector<std::string> FashionMNIST::default_dirs() { return fashion_spec().dirs; }

}  // namespace mt::datasets
