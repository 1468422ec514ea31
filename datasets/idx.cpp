#include "datasets/idx.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>

#include "datasets/md5.h"
#include "tensor/error.h"
#include "tensor/file_io.h"

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

// Where the (possibly compressed) bytes of a file come from: memory, or a file read a chunk at a time so that
// a large file costs one chunk of memory, not its size.
class Source {
 public:
  virtual ~Source() = default;
  virtual uint64_t size() const = 0;
  // The next piece of the file, at most UINT_MAX bytes (zlib's counts are 32-bit); empty at the end.
  virtual std::span<const uint8_t> next() = 0;
  // n bytes at `offset`, without moving on; false when the file is shorter.
  virtual bool peek(uint8_t* out, std::size_t n, uint64_t offset) = 0;
};

class MemorySource : public Source {
 public:
  explicit MemorySource(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  uint64_t size() const override { return bytes_.size(); }
  std::span<const uint8_t> next() override {
    const std::size_t piece = std::min<std::size_t>(bytes_.size() - given_, UINT_MAX);
    const auto out = bytes_.subspan(given_, piece);
    given_ += piece;
    return out;
  }
  bool peek(uint8_t* out, std::size_t n, uint64_t offset) override {
    if (offset > bytes_.size() || n > bytes_.size() - offset) return false;
    std::memcpy(out, bytes_.data() + offset, n);
    return true;
  }

 private:
  std::span<const uint8_t> bytes_;
  std::size_t given_ = 0;
};

class FileSource : public Source {
 public:
  explicit FileSource(InputFile& file) : file_(file), chunk_(std::size_t{1} << 20) {}
  uint64_t size() const override { return file_.size(); }
  std::span<const uint8_t> next() override { return {chunk_.data(), file_.read(chunk_.data(), chunk_.size())}; }
  bool peek(uint8_t* out, std::size_t n, uint64_t offset) override { return file_.read_at(out, n, offset); }

 private:
  InputFile& file_;
  std::vector<uint8_t> chunk_;
};

// The decompressed bytes of a file, produced on demand so that nothing is allocated ahead of the data.
class Reader {
 public:
  Reader(Source& source, bool gzip, const std::string& name, bool hash = false)
      : source_(source), gzip_(gzip), name_(name), hash_(hash) {
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
      std::size_t done = 0;
      while (done < n) {
        if (piece_.empty() && !fetch()) break;
        const std::size_t got = std::min(n - done, piece_.size());
        std::memcpy(out + done, piece_.data(), got);
        piece_ = piece_.subspan(got);
        done += got;
      }
      return done;
    }
    std::size_t done = 0;
    while (done < n && !finished_) {
      z_stream& s = *stream_;
      if (s.avail_in == 0 && fetch()) {
        s.next_in = const_cast<Bytef*>(piece_.data());
        s.avail_in = static_cast<uInt>(piece_.size());
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
        if (s.avail_out > 0 && s.avail_in == 0 && at_end_)
          throw Error(name_ + ": truncated gzip stream (the file ends before the end of the compressed data)");
      } else {
        throw Error(name_ + ": corrupt gzip data (" + (s.msg ? s.msg : "zlib error " + std::to_string(rc)) + ")");
      }
    }
    return done;
  }

  bool gzip() const { return gzip_; }
  uint64_t file_size() const { return source_.size(); }

  // The MD5 of the whole file, once the data has been read: the rest of the file (nothing, for a file that
  // passed the checks) is hashed too.
  std::string file_md5() {
    while (fetch()) {
    }
    return md5_.hex();
  }

  // An upper bound on the decompressed size, to refuse a header's impossible claim before reading.
  uint64_t size_bound() const { return gzip_ ? source_.size() * kMaxDeflateRatio : source_.size(); }

  // Whether the file itself says its content is `bytes` long: its size for a plain file; for gzip, the size
  // modulo 2^32 in the trailer of its (last) member. A second, independent claim that agrees with the header;
  // the data is still read and checked as it arrives.
  bool confirms_size(uint64_t bytes) const {
    if (!gzip_) return bytes == source_.size();
    if (bytes > source_.size() * kTrustedGzipRatio) return false;
    uint8_t t[4];
    // A gzip member has a 10-byte header and an 8-byte trailer.
    if (source_.size() < 18 || !source_.peek(t, 4, source_.size() - 4)) return false;
    const uint32_t isize = uint32_t{t[0]} | uint32_t{t[1]} << 8 | uint32_t{t[2]} << 16 | uint32_t{t[3]} << 24;
    return isize == static_cast<uint32_t>(bytes);
  }

 private:
  // The next piece of input into piece_; false at the end of the file.
  bool fetch() {
    if (at_end_) return false;
    piece_ = source_.next();
    consumed_ += piece_.size();
    if (hash_) md5_.update(piece_);
    at_end_ = piece_.empty();
    return !at_end_;
  }

  void end_of_member() {
    z_stream& s = *stream_;
    if (s.avail_in == 0 && fetch()) {
      s.next_in = const_cast<Bytef*>(piece_.data());
      s.avail_in = static_cast<uInt>(piece_.size());
    }
    if (s.avail_in == 0) {
      finished_ = true;
      return;
    }
    // gzip allows several members one after the other (as `cat a.gz b.gz` makes); anything else is garbage.
    const uint64_t offset = consumed_ - s.avail_in;
    uint8_t next[2];
    if (source_.peek(next, 2, offset) && next[0] == 0x1f && next[1] == 0x8b) {
      inflateReset(&s);
      return;
    }
    throw Error(name_ + ": trailing garbage: " + std::to_string(source_.size() - offset) +
                " bytes after the end of the gzip stream");
  }

  Source& source_;
  bool gzip_;
  const std::string& name_;
  bool hash_;
  Md5 md5_;
  std::unique_ptr<z_stream> stream_;
  std::span<const uint8_t> piece_;  // input given by source_ and not yet used (plain) or handed to zlib (gzip)
  uint64_t consumed_ = 0;           // bytes given by source_ so far
  bool at_end_ = false;
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

namespace {

// Whether the file is gzip (by its magic bytes), after the rule that a .gz name must be.
bool is_gzip(Source& source, const std::string& name) {
  if (source.size() == 0) throw Error(name + ": empty file (0 bytes)");
  uint8_t first[4] = {};
  const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(source.size(), 4));
  if (!source.peek(first, n, 0)) throw Error(name + ": the file shrank while being read");
  const bool gzip = n >= 2 && first[0] == 0x1f && first[1] == 0x8b;
  if (ends_with(name, ".gz") && !gzip)
    throw Error(name + ": not a gzip file although named .gz (it starts with " + hex_bytes(std::span(first, n)) +
                ", gzip starts with 1f 8b)");
  return gzip;
}

struct HeaderRead {
  IdxHeader header;
  uint64_t header_bytes = 0;  // magic and sizes
  uint64_t need = 0;          // bytes of elements
  uLong crc = 0;              // of the header bytes
};

// Reads and checks the header: its own consistency, options.expect, the byte limit and what the file can hold.
HeaderRead read_header(Reader& reader, const std::string& name, const IdxReadOptions& options) {
  HeaderRead out;
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
  out.header.type = static_cast<IdxType>(magic[2]);
  const int ndims = magic[3];

  std::vector<uint8_t> sizes(4 * static_cast<std::size_t>(ndims));
  if (reader.read(sizes.data(), sizes.size()) < sizes.size())
    throw Error(name + ": the data ends inside the IDX header (" + std::to_string(ndims) + " dimension sizes expected)");
  for (int d = 0; d < ndims; ++d) out.header.dims.push_back(big_endian_u32(sizes.data() + 4 * d));
  out.header_bytes = 4 + sizes.size();
  const std::string shape = out.header.shape();
  if (options.expect && out.header != *options.expect)
    throw Error(name + ": the header says " + idx_type_name(out.header.type) + " " + shape + ", expected " +
                idx_type_name(options.expect->type) + " " + options.expect->shape());

  // Multiply with an overflow check against the limit: a header is a claim, not yet data.
  const uint64_t element_size = idx_type_size(out.header.type);
  uint64_t need = element_size;
  bool too_big = false;
  for (int64_t size : out.header.dims) {
    if (size == 0) need = 0;
    if (need != 0 && static_cast<uint64_t>(size) > options.max_bytes / need) too_big = true;
    need = too_big ? need : need * static_cast<uint64_t>(size);
  }
  if (too_big && need != 0)
    throw Error(name + ": the header claims " + std::string(idx_type_name(out.header.type)) + " elements of shape " +
                shape + ", more than the " + std::to_string(options.max_bytes) + "-byte limit");
  if (need > reader.size_bound() - std::min<uint64_t>(reader.size_bound(), out.header_bytes))
    throw Error(name + ": the header claims shape " + shape + " (" + std::to_string(need) +
                " bytes of elements) but the file cannot hold that much (" + std::to_string(reader.size_bound()) +
                " bytes at most" + (reader.gzip() ? " after decompression" : "") + ")");
  out.need = need;
  out.crc = crc32(crc32(0, magic, 4), sizes.data(), static_cast<uInt>(sizes.size()));
  return out;
}

// The elements the header announced, and nothing after them: inflating stops at the announced size (and at
// most 1 MiB beyond it, to tell trailing garbage), and a plain file's size is checked before reading.
IdxArray read_body(Reader& reader, HeaderRead h, const std::string& name) {
  const std::string shape = h.header.shape();
  const uint64_t content = h.header_bytes + h.need;
  auto trailing = [&](const std::string& count) {
    return Error(name + ": trailing garbage: " + count + " bytes after the " + std::to_string(h.need) +
                 " bytes of elements the header declares (shape " + shape + ")");
  };
  if (!reader.gzip() && reader.file_size() > content) throw trailing(std::to_string(reader.file_size() - content));

  IdxArray out;
  out.type = h.header.type;
  out.dims = h.header.dims;
  // Grow with the data as it arrives, so a lying header costs at most what the file really holds; but when the
  // file itself vouches for the size, reserve it at once, so a 47 MB image file does not pass through a vector's
  // doubling (which made loading Fashion-MNIST's training images peak at twice their size).
  if (reader.confirms_size(content)) out.bytes.reserve(h.need);
  constexpr std::size_t kChunk = std::size_t{1} << 20;
  while (out.bytes.size() < h.need) {
    const std::size_t have = out.bytes.size();
    const std::size_t want = std::min<std::size_t>(h.need - have, kChunk);
    out.bytes.resize(have + want);
    const std::size_t got = reader.read(out.bytes.data() + have, want);
    h.crc = crc32(h.crc, out.bytes.data() + have, static_cast<uInt>(got));
    if (got < want)
      throw Error(name + ": the header claims shape " + shape + " (" + std::to_string(h.need) +
                  " bytes of elements) but the data ends after " + std::to_string(have + got) + " bytes");
  }
  uint8_t extra[4096];
  std::size_t extra_bytes = 0;
  // Counting stops at 1 MiB: enough for the message, and a decompression bomb after the data cannot stall us.
  for (std::size_t got; extra_bytes < kChunk && (got = reader.read(extra, sizeof extra)) > 0;) extra_bytes += got;
  if (extra_bytes > 0) throw trailing((extra_bytes >= kChunk ? "over " : "") + std::to_string(extra_bytes));

  out.content_size = content;
  out.content_crc32 = static_cast<uint32_t>(h.crc);
  to_native_order(out.bytes, idx_type_size(out.type));
  return out;
}

IdxArray parse(Source& source, const std::string& name, const IdxReadOptions& options) {
  Reader reader(source, is_gzip(source, name), name, options.file_md5);
  IdxArray out = read_body(reader, read_header(reader, name, options), name);
  if (options.file_md5) out.file_md5 = reader.file_md5();
  return out;
}

}  // namespace

std::string IdxHeader::shape() const {
  std::string out;
  for (int64_t d : dims) out += (out.empty() ? "" : " x ") + std::to_string(d);
  return out;
}

uint64_t IdxHeader::content_size() const {
  uint64_t size = idx_type_size(type);
  for (int64_t d : dims)
    if (__builtin_mul_overflow(size, static_cast<uint64_t>(d), &size)) return UINT64_MAX;
  return size > UINT64_MAX - 4 - 4 * dims.size() ? UINT64_MAX : 4 + 4 * dims.size() + size;
}

IdxArray parse_idx(std::span<const uint8_t> file, const std::string& name, const IdxReadOptions& options) {
  MemorySource source(file);
  return parse(source, name, options);
}

IdxArray read_idx(const std::string& path, const IdxReadOptions& options) {
  InputFile file(path, path);
  FileSource source(file);
  return parse(source, path, options);
}

IdxHeader read_idx_header(const std::string& path, const IdxReadOptions& options) {
  InputFile file(path, path);
  FileSource source(file);
  Reader reader(source, is_gzip(source, path), path);
  return read_header(reader, path, options).header;
}

}  // namespace mt::datasets
