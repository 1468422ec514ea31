#pragma once
// The IDX file format of MNIST-like datasets (http://yann.lecun.com/exdb/mnist/), read from plain or gzip files.
// Layout: two zero bytes, a type code, the number of dimensions, one big-endian uint32 size per dimension,
// then the elements in row-major order, big-endian.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace mt::datasets {

enum class IdxType : uint8_t {
  UInt8 = 0x08,
  Int8 = 0x09,
  Int16 = 0x0B,
  Int32 = 0x0C,
  Float32 = 0x0D,
  Float64 = 0x0E,
};

const char* idx_type_name(IdxType type);  // "ubyte", "byte", "short", "int", "float", "double"
std::size_t idx_type_size(IdxType type);

// What an IDX header says: the element type and the sizes.
struct IdxHeader {
  IdxType type = IdxType::UInt8;
  std::vector<int64_t> dims;

  bool operator==(const IdxHeader&) const = default;
  std::string shape() const;      // "10000 x 28 x 28"
  uint64_t content_size() const;  // of the whole decompressed file, header included; UINT64_MAX on overflow
};

struct IdxArray {
  IdxType type = IdxType::UInt8;
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;  // the elements, converted to this machine's byte order
  // Of the whole decompressed file (header and elements as stored): what identifies an official file
  // however it was compressed.
  uint64_t content_size = 0;
  uint32_t content_crc32 = 0;
  // With IdxReadOptions::file_md5: the MD5 of the file as stored (compressed or not), what a publisher's
  // checksum of its download is; else empty.
  std::string file_md5;

  int64_t numel() const;
  std::span<const uint8_t> u8() const;  // the elements of a UInt8 array; throws for other types
  std::vector<double> values() const;   // any type, converted
};

struct IdxReadOptions {
  // A header claiming more than this many element bytes is refused before anything is read, so a corrupt
  // header cannot ask for gigabytes. Fashion-MNIST's largest file holds 47 MB.
  uint64_t max_bytes = uint64_t{1} << 30;
  // When set, the header must be exactly this (type and sizes), checked before any element is read: a loader
  // that knows what a file must hold (60000 x 28 x 28 images, as many labels) refuses anything else at once.
  std::optional<IdxHeader> expect = std::nullopt;
  bool file_md5 = false;  // also hash the stored bytes (IdxArray::file_md5)
};

// Reads an IDX file. A name ending in ".gz" must be gzip; other names may be either (told apart by the magic
// bytes: IDX starts with 00 00, gzip with 1f 8b). Throws mt::Error naming the file and the problem for
// missing, empty, truncated or malformed files, trailing data, sizes above options.max_bytes, a header other
// than options.expect, or a path that is not a regular file (a FIFO or directory is refused at once, never
// waited on). The file is read a 1 MiB chunk at a time: memory is the elements plus that chunk, and a plain
// file larger than its header says is refused before its elements are read.
IdxArray read_idx(const std::string& path, const IdxReadOptions& options = {});

// The header alone (for gzip, the first few bytes inflated), checked as read_idx() checks it.
IdxHeader read_idx_header(const std::string& path, const IdxReadOptions& options = {});

// The same from a file's bytes already in memory; `name` is used for the .gz rule and in messages.
IdxArray parse_idx(std::span<const uint8_t> file, const std::string& name, const IdxReadOptions& options = {});

}  // namespace mt::datasets
