#include "datasets/idx.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "tensor/error.h"

namespace mt::datasets {
namespace {

// DEFLATE cannot expand data by more than about 1032:1, so the compressed size bounds the decompressed one.
constexpr uint64_t kMaxDeflateRatio = 1032;
// The most a gzip trailer is believed about the size when reserving memory: real IDX files compress 2-5:1, and
// the trailer's size field is only checked at the end, so a forged one must not reserve 1000 times the file.
constexpr uint64_t kTrustedGzipRatio = 64;

std::string hex_bytes(std::span<const uint8_t> bytes) {
  std::string out;
  char buf[4];
  for (uint8_t b : bytes) {
    std::snprintf(buf, sizeof buf, "%s%02x", out.empty() ? "" : " ", b);
    out += buf;
  }
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The decompressed bytes of a file, produced on demand so that nothing is allocated ahead of the data.
class Reader {
 public:
  Reader(std::span<const uint8_t> file, bool gzip, const std::string& name) : file_(file), gzip_(gzip), name_(name) {
    if (!gzip_) return;
    stream_ = std::make_unique<z_stream>();
    // 16 + MAX_WBITS: gzip wrapper only, so a zlib or raw deflate stream is not mistaken for a .gz file.
    if (inflateInit2(stream_.get(), 16 + MAX_WBITS) != Z_OK) throw Error(name_ + ": cannot initialise zlib");
  }
  ~Reader() {
    if (stream_) inflateEnd(stream_.get());
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Fills up to n bytes; fewer only at the end of the data.
  std::size_t read(uint8_t* out, std::size_t n) {
    if (!gzip_) {
      const std::size_t got = std::min(n, file_.size() - consumed_);
      std::memcpy(out, file_.data() + consumed_, got);
      consumed_ += got;
      return got;
    }
    std::size_t done = 0;
    while (done < n && !finished_) {
      z_stream& s = *stream_;
      if (s.avail_in == 0 && consumed_ < file_.size()) {
        // avail_in is 32-bit: feed files above 4 GiB in pieces.
        const std::size_t piece = std::min<std::size_t>(file_.size() - consumed_, UINT_MAX);
        s.next_in = const_cast<Bytef*>(file_.data() + consumed_);
        s.avail_in = static_cast<uInt>(piece);
        consumed_ += piece;
      }
      const std::size_t want = std::min<std::size_t>(n - done, UINT_MAX);
      s.next_out = out + done;
      s.avail_out = static_cast<uInt>(want);
      const int rc = inflate(&s, Z_NO_FLUSH);
      done += want - s.avail_out;
      if (rc == Z_STREAM_END) {
        end_of_member();
      } else if (rc == Z_OK || rc == Z_BUF_ERROR) {
        // Output room left and no input left: the stream stopped before its end.
        if (s.avail_out > 0 && s.avail_in == 0 && consumed_ == file_.size())
          throw Error(name_ + ": truncated gzip stream (the file ends before the end of the compressed data)");
      } else {
        throw Error(name_ + ": corrupt gzip data (" + (s.msg ? s.msg : "zlib error " + std::to_string(rc)) + ")");
      }
    }
    return done;
  }

  // An upper bound on the decompressed size, to refuse a header's impossible claim before reading.
  uint64_t size_bound() const { return gzip_ ? file_.size() * kMaxDeflateRatio : file_.size(); }

  // Whether the file itself says its content is `bytes` long: its size for a plain file; for gzip, the size
  // modulo 2^32 in the trailer of its (last) member. A second, independent claim that agrees with the header;
  // the data is still read and checked as it arrives.
  bool confirms_size(uint64_t bytes) const {
    if (!gzip_) return bytes == file_.size();
    if (bytes > file_.size() * kTrustedGzipRatio) return false;
    if (file_.size() < 18) return false;  // a gzip member has a 10-byte header and an 8-byte trailer
    const uint8_t* t = file_.data() + file_.size() - 4;
    const uint32_t isize = uint32_t{t[0]} | uint32_t{t[1]} << 8 | uint32_t{t[2]} << 16 | uint32_t{t[3]} << 24;
    return isize == static_cast<uint32_t>(bytes);
  }

 private:
  void end_of_member() {
    z_stream& s = *stream_;
    const std::size_t rest = s.avail_in + (file_.size() - consumed_);
    if (rest == 0) {
      finished_ = true;
      return;
    }
    // gzip allows several members one after the other (as `cat a.gz b.gz` makes); anything else is garbage.
    const uint8_t* next = s.next_in;
    if (s.avail_in >= 2 && next[0] == 0x1f && next[1] == 0x8b) {
      inflateReset(&s);
      return;
    }
    throw Error(name_ + ": trailing garbage: " + std::to_string(rest) + " bytes after the end of the gzip stream");
  }

  std::span<const uint8_t> file_;
  bool gzip_;
  const std::string& name_;
  std::unique_ptr<z_stream> stream_;
  std::size_t consumed_ = 0;
  bool finished_ = false;
};

uint32_t big_endian_u32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

bool known_type(uint8_t code) {
  switch (static_cast<IdxType>(code)) {
    case IdxType::UInt8:
    case IdxType::Int8:
    case IdxType::Int16:
    case IdxType::Int32:
    case IdxType::Float32:
    case IdxType::Float64:
      return true;
  }
  return false;
}

void to_native_order(std::vector<uint8_t>& bytes, std::size_t element_size) {
  if constexpr (std::endian::native == std::endian::big) return;
  if (element_size == 1) return;
  for (std::size_t i = 0; i + element_size <= bytes.size(); i += element_size)
    std::reverse(bytes.begin() + static_cast<std::ptrdiff_t>(i), bytes.begin() + static_cast<std::ptrdiff_t>(i + element_size));
}

template <class T>
double element(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  return static_cast<double>(value);
}

}  // namespace

const char* idx_type_name(IdxType type) {
  switch (type) {
    case IdxType::UInt8: return "ubyte";
    case IdxType::Int8: return "byte";
    case IdxType::Int16: return "short";
    case IdxType::Int32: return "int";
    case IdxType::Float32: return "float";
    case IdxType::Float64: return "double";
  }
  return "unknown";
}

std::size_t idx_type_size(IdxType type) {
  switch (type) {
    case IdxType::UInt8:
    case IdxType::Int8: return 1;
    case IdxType::Int16: return 2;
    case IdxType::Int32:
    case IdxType::Float32: return 4;
    case IdxType::Float64: return 8;
  }
  return 1;
}

int64_t IdxArray::numel() const {
  return static_cast<int64_t>(bytes.size() / idx_type_size(type));
}

std::span<const uint8_t> IdxArray::u8() const {
  if (type != IdxType::UInt8)
    throw Error(std::string("IdxArray::u8: the array holds ") + idx_type_name(type) + " elements, not ubyte");
  return bytes;
}

std::vector<double> IdxArray::values() const {
  const std::size_t size = idx_type_size(type);
  std::vector<double> out(bytes.size() / size);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const uint8_t* p = bytes.data() + i * size;
    switch (type) {
      case IdxType::UInt8: out[i] = element<uint8_t>(p); break;
      case IdxType::Int8: out[i] = element<int8_t>(p); break;
      case IdxType::Int16: out[i] = element<int16_t>(p); break;
      case IdxType::Int32: out[i] = element<int32_t>(p); break;
      case IdxType::Float32: out[i] = element<float>(p); break;
      case IdxType::Float64: out[i] = element<double>(p); break;
    }
  }
  return out;
}

IdxArray parse_idx(std::span<const uint8_t> file, const std::string& name, const IdxReadOptions& options) {
  if (file.empty()) throw Error(name + ": empty file (0 bytes)");
  const bool has_gzip_magic = file.size() >= 2 && file[0] == 0x1f && file[1] == 0x8b;
  if (ends_with(name, ".gz") && !has_gzip_magic)
    throw Error(name + ": not a gzip file although named .gz (it starts with " +
                hex_bytes(file.first(std::min<std::size_t>(file.size(), 4))) + ", gzip starts with 1f 8b)");
  Reader reader(file, has_gzip_magic, name);

  IdxArray out;
  uint8_t magic[4];
  const std::size_t got_magic = reader.read(magic, 4);
  if (got_magic < 4)
    throw Error(name + ": too short for an IDX file (" + std::to_string(got_magic) +
                " bytes of data, the magic number alone takes 4)");
  if (magic[0] != 0 || magic[1] != 0)
    throw Error(name + ": bad IDX magic number " + hex_bytes(magic) + " (an IDX file starts with two zero bytes)");
  if (!known_type(magic[2]))
    throw Error(name + ": unknown IDX type code " + hex_bytes(std::span(magic).subspan(2, 1)) +
                " (expected 08 ubyte, 09 byte, 0b short, 0c int, 0d float or 0e double)");
  if (magic[3] == 0) throw Error(name + ": the IDX header declares 0 dimensions");
  out.type = static_cast<IdxType>(magic[2]);
  const int ndims = magic[3];

  std::vector<uint8_t> header(4 * static_cast<std::size_t>(ndims));
  if (reader.read(header.data(), header.size()) < header.size())
    throw Error(name + ": the data ends inside the IDX header (" + std::to_string(ndims) + " dimension sizes expected)");

  // Multiply with an overflow check against the limit: a header is a claim, not yet data.
  const uint64_t element_size = idx_type_size(out.type);
  uint64_t need = element_size;
  bool too_big = false;
  for (int d = 0; d < ndims; ++d) {
    const uint32_t size = big_endian_u32(header.data() + 4 * d);
    out.dims.push_back(size);
    if (size == 0) need = 0;
    if (need != 0 && size > options.max_bytes / need) too_big = true;
    need = too_big ? need : need * size;
  }
  std::string shape;
  for (int64_t d : out.dims) shape += (shape.empty() ? "" : " x ") + std::to_string(d);
  if (too_big && need != 0)
    throw Error(name + ": the header claims " + std::string(idx_type_name(out.type)) + " elements of shape " + shape +
                ", more than the " + std::to_string(options.max_bytes) + "-byte limit");
  if (need > reader.size_bound() - std::min<uint64_t>(reader.size_bound(), 4 + header.size()))
    throw Error(name + ": the header claims shape " + shape + " (" + std::to_string(need) +
                " bytes of elements) but the file cannot hold that much (" + std::to_string(reader.size_bound()) +
                " bytes at most" + (has_gzip_magic ? " after decompression" : "") + ")");

  uLong crc = crc32(0, magic, 4);
  crc = crc32(crc, header.data(), static_cast<uInt>(header.size()));
  // Grow with the data as it arrives, so a lying header costs at most what the file really holds; but when the
  // file itself vouches for the size, reserve it at once, so a 47 MB image file does not pass through a vector's
  // doubling (which made loading Fashion-MNIST's training images peak at twice their size).
  if (reader.confirms_size(4 + header.size() + need)) out.bytes.reserve(need);
  constexpr std::size_t kChunk = std::size_t{1} << 20;
  while (out.bytes.size() < need) {
    const std::size_t have = out.bytes.size();
    const std::size_t want = std::min<std::size_t>(need - have, kChunk);
    out.bytes.resize(have + want);
    const std::size_t got = reader.read(out.bytes.data() + have, want);
    crc = crc32(crc, out.bytes.data() + have, static_cast<uInt>(got));
    if (got < want)
      throw Error(name + ": the header claims shape " + shape + " (" + std::to_string(need) +
                  " bytes of elements) but the data ends after " + std::to_string(have + got) + " bytes");
  }
  uint8_t extra[4096];
  std::size_t extra_bytes = 0;
  // Counting stops at 1 MiB: enough for the message, and a decompression bomb after the data cannot stall us.
  for (std::size_t got; extra_bytes < kChunk && (got = reader.read(extra, sizeof extra)) > 0;) extra_bytes += got;
  if (extra_bytes > 0)
    throw Error(name + ": trailing garbage: " + (extra_bytes >= kChunk ? "over " : "") + std::to_string(extra_bytes) +
                " bytes after the " + std::to_string(need) + " bytes of elements the header declares (shape " + shape +
                ")");

  out.content_size = 4 + header.size() + need;
  out.content_crc32 = static_cast<uint32_t>(crc);
  to_native_order(out.bytes, element_size);
  return out;
}

IdxArray read_idx(const std::string& path, const IdxReadOptions& options) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  std::vector<uint8_t> bytes;
  constexpr std::size_t kChunk = std::size_t{1} << 20;
  std::error_code size_error;
  const auto file_size = std::filesystem::file_size(path, size_error);
  // A hint only (reading stops at the real end either way); one chunk more, as the loop asks for it.
  if (!size_error) bytes.reserve(file_size + kChunk);
  for (;;) {
    const std::size_t have = bytes.size();
    bytes.resize(have + kChunk);
    const std::size_t got = std::fread(bytes.data() + have, 1, kChunk, file.get());
    bytes.resize(have + got);
    if (got < kChunk) break;
  }
  if (std::ferror(file.get())) throw Error(path + ": read error (" + std::strerror(errno) + ")");
  return parse_idx(bytes, path, options);
}

}  // namespace mt::datasets
