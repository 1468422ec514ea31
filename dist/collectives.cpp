#include <algorithm>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "dist/collectives.h"
#include "dist/dist.h"

namespace mt::dist {
namespace detail {
namespace {

template <class T> MPI_Datatype mpi_type();
template <> MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <> MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }

int mpi_count(int64_t count, const char* op) {
  if (count > INT_MAX)
    throw Error(std::string(op) + ": " + std::to_string(count) + " elements in one message, more than MPI's int count allows");
  return static_cast<int>(count);
}

}  // namespace

template <class T>
void reduce_in_rank_order(std::span<T> values, std::span<T> scratch, bool average) {
  const int ranks = world_size();
  if (ranks == 1) return;
  const int64_t chunk = static_cast<int64_t>(values.size()) / ranks;
  if (chunk * ranks != static_cast<int64_t>(values.size()) || scratch.size() != values.size())
    throw Error("dist: a rank-order reduction of " + std::to_string(values.size()) + " elements over " +
                std::to_string(ranks) + " ranks needs a multiple of the rank count and as much scratch");
  const int count = mpi_count(chunk, "dist::all_reduce");
  // scratch[r * chunk + i] = rank r's element rank() * chunk + i: this rank owns that chunk.
  check(MPI_Alltoall(values.data(), count, mpi_type<T>(), scratch.data(), count, mpi_type<T>(), communicator()),
        "MPI_Alltoall");
  T* owned = values.data() + static_cast<int64_t>(rank()) * chunk;
  const T* from = scratch.data();
  const double divisor = average ? ranks : 1;
  for (int64_t i = 0; i < chunk; ++i) {
    double sum = from[i];
    for (int r = 1; r < ranks; ++r) sum += from[r * chunk + i];
    owned[i] = static_cast<T>(sum / divisor);
  }
  check(MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, values.data(), count, mpi_type<T>(), communicator()),
        "MPI_Allgather");
}

template void reduce_in_rank_order<float>(std::span<float>, std::span<float>, bool);
template void reduce_in_rank_order<double>(std::span<double>, std::span<double>, bool);

void check_same_on_every_rank(uint64_t fingerprint, const std::string& what) {
  const std::vector<uint64_t> all = all_gather(fingerprint);
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0])
      throw Error(what + " differ between rank 0 and rank " + std::to_string(r) +
                  ": every rank must build the same model");
}

uint64_t fnv1a(const void* data, std::size_t bytes, uint64_t hash) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < bytes; ++i) hash = (hash ^ p[i]) * 0x100000001b3ULL;
  return hash;
}

}  // namespace detail

namespace {

// MPI counts are ints: long messages go in pieces of at most 1 GiB.
void broadcast_bytes(void* data, std::size_t bytes, int root) {
  constexpr std::size_t kPiece = std::size_t{1} << 30;
  auto* p = static_cast<char*>(data);
  for (std::size_t done = 0; done < bytes; done += kPiece)
    detail::check(MPI_Bcast(p + done, static_cast<int>(std::min(kPiece, bytes - done)), MPI_BYTE, root,
                            detail::communicator()),
                  "MPI_Bcast");
}

void check_root(int root, const char* op) {
  if (root < 0 || root >= world_size())
    throw Error(std::string(op) + ": root " + std::to_string(root) + " is not a rank of " +
                std::to_string(world_size()));
}

uint64_t layout_fingerprint(const Tensor& t, uint64_t hash = 0xcbf29ce484222325ULL) {
  const int dims = t.dim();
  const int dtype = static_cast<int>(t.dtype());
  hash = detail::fnv1a(&dims, sizeof dims, hash);
  hash = detail::fnv1a(&dtype, sizeof dtype, hash);
  return detail::fnv1a(t.shape().begin(), sizeof(int64_t) * static_cast<std::size_t>(dims), hash);
}

}  // namespace

void broadcast(const Tensor& tensor, int root) {
  check_root(root, "dist::broadcast");
  if (!tensor.defined() || !tensor.is_contiguous())
    throw Error("dist::broadcast: the tensor must be defined and contiguous, got " +
                (tensor.defined() ? tensor.str() : std::string("an undefined tensor")));
  if (world_size() == 1) return;
  detail::check_same_on_every_rank(layout_fingerprint(tensor), "dist::broadcast: the tensor's shape or dtype");
  void* data = tensor.dtype() == DType::Float32 ? static_cast<void*>(tensor.mutable_data<float>())
                                                : static_cast<void*>(tensor.mutable_data<double>());
  broadcast_bytes(data, static_cast<std::size_t>(tensor.numel()) * dtype_size(tensor.dtype()), root);
}

void broadcast(const nn::Module& model, int root) {
  check_root(root, "dist::broadcast");
  if (world_size() == 1) return;
  const auto parameters = model.state_dict();  // parameters and buffers (batch norm's running statistics)
  uint64_t fingerprint = 0xcbf29ce484222325ULL;
  std::size_t bytes = 0;
  for (const auto& [name, p] : parameters) {
    fingerprint = detail::fnv1a(name.data(), name.size(), layout_fingerprint(p.value(), fingerprint));
    bytes += static_cast<std::size_t>(p.numel()) * dtype_size(p.dtype());
  }
  detail::check_same_on_every_rank(fingerprint, "dist::broadcast: the parameters' and buffers' names, shapes or dtypes");
  // One message for the whole model: packed on the root, unpacked everywhere.
  std::vector<char> packed(bytes);
  auto each = [&](auto&& copy) {
    std::size_t at = 0;
    for (const auto& [name, p] : parameters) {
      const Tensor& v = p.value();
      const std::size_t n = static_cast<std::size_t>(v.numel()) * dtype_size(v.dtype());
      auto* data = v.dtype() == DType::Float32 ? static_cast<char*>(static_cast<void*>(v.mutable_data<float>()))
                                               : static_cast<char*>(static_cast<void*>(v.mutable_data<double>()));
      copy(data, packed.data() + at, n);
      at += n;
    }
  };
  if (rank() == root) each([](const char* param, char* buffer, std::size_t n) { std::memcpy(buffer, param, n); });
  broadcast_bytes(packed.data(), bytes, root);
  if (rank() != root) each([](char* param, const char* buffer, std::size_t n) { std::memcpy(param, buffer, n); });
}

std::vector<uint64_t> all_gather(uint64_t value) {
  std::vector<uint64_t> all(static_cast<std::size_t>(world_size()), value);
  if (all.size() > 1)
    detail::check(MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, detail::communicator()),
                  "MPI_Allgather");
  return all;
}

void all_reduce_sum(std::span<double> values) {
  const int64_t ranks = world_size();
  if (ranks == 1) return;
  const int64_t n = static_cast<int64_t>(values.size());
  std::vector<double> padded(static_cast<std::size_t>((n + ranks - 1) / ranks * ranks), 0.0), scratch(padded.size());
  std::copy(values.begin(), values.end(), padded.begin());
  detail::reduce_in_rank_order<double>(padded, scratch, false);
  std::copy(padded.begin(), padded.begin() + n, values.begin());
}

void barrier() {
  if (world_size() > 1) detail::check(MPI_Barrier(detail::communicator()), "MPI_Barrier");
}

}  // namespace mt::dist
