#pragma once
// The memory of tensors and of the autograd tape: a cache of freed blocks in front of the heap.
//
// A training step frees and requests the same sizes every time (activations, gradients, graph nodes,
// backward closures), so after the first steps every request is served from the cache and a steady-state
// step performs no heap allocation at all (tests/alloc_test.cpp proves it with a counting operator new).
// Blocks are 64-byte aligned and grouped in size classes (four per power of two, so at most 25% is
// rounded away); a freed block goes to the front of its class's list, stored inside the block itself, so
// the cache never allocates for its own bookkeeping. It is the library's one piece of process-wide state
// besides the tape's recording flag: it changes where memory comes from, never a result. Thread-safe.
//
// Bounds: blocks above kLargestCachedBlock always go back to the heap, and the cache keeps at most
// kMaxCachedBytes, so evaluating with a large batch cannot pin memory for the rest of the run.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace mt {

constexpr std::size_t kAllocationAlignment = 64;  // a cache line and an AVX-512 vector
constexpr std::size_t kLargestCachedBlock = std::size_t{16} << 20;
constexpr std::size_t kMaxCachedBytes = std::size_t{64} << 20;

// `bytes` (may be 0) of kAllocationAlignment-aligned memory; throws std::bad_alloc when the heap has none.
void* allocate(std::size_t bytes);
// Returns a block from allocate() with the same `bytes`.
void deallocate(void* block, std::size_t bytes) noexcept;

struct AllocatorStats {
  int64_t heap_allocations = 0;  // requests the cache could not serve, since the start of the process
  std::size_t cached_bytes = 0;  // held in the cache now, ready for reuse
};
AllocatorStats allocator_stats();
void release_cached_memory();  // hands every cached block back to the heap

// A standard allocator over allocate(), for the tape's nodes, closures and lists.
template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(mt::allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { mt::deallocate(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const PoolAllocator<U>&) const noexcept { return true; }
};

template <class T>
using PoolVector = std::vector<T, PoolAllocator<T>>;

// std::make_shared, with the object and its reference count in one block from the cache.
template <class T, class... Args>
std::shared_ptr<T> make_pooled(Args&&... args) {
  return std::allocate_shared<T>(PoolAllocator<T>{}, std::forward<Args>(args)...);
}

}  // namespace mt
