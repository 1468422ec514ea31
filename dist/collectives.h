#pragma once
// dist's own helpers around MPI, shared by its source files; not part of the public header.
#include <mpi.h>

#include <cstdint>
#include <span>
#include <string>

namespace mt::dist::detail {

// dist's duplicate of MPI_COMM_WORLD, so its messages never meet the application's own. MPI_COMM_NULL
// when MPI is not running (a single process).
MPI_Comm communicator();
// Throws dist::Error naming the call and MPI's reason when `code` is not MPI_SUCCESS.
void check(int code, const char* call);

// In place on every rank: values[i] = the sum over ranks of values[i], added in rank order in float64 and,
// with `average`, divided by the world size; rounded once to T. values.size() is a multiple of world_size(),
// scratch has as many elements. See "Determinism" in dist.h.
template <class T>
void reduce_in_rank_order(std::span<T> values, std::span<T> scratch, bool average);

// Throws on every rank (naming `what` and the first rank that differs) unless `fingerprint` is the same on all.
void check_same_on_every_rank(uint64_t fingerprint, const std::string& what);

// FNV-1a over bytes, for fingerprints of parameter layouts.
uint64_t fnv1a(const void* data, std::size_t bytes, uint64_t hash = 0xcbf29ce484222325ULL);

}  // namespace mt::dist::detail
