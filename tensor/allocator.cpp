#include "tensor/allocator.h"

#include <array>
#include <bit>
#include <mutex>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace mt {
namespace {

constexpr std::size_t kSmallestBlock = kAllocationAlignment;
constexpr int kClassesPerDoubling = 4;
constexpr int kSmallestExponent = std::countr_zero(kSmallestBlock);
constexpr int kClassCount = 1 + (std::countr_zero(kLargestCachedBlock) - kSmallestExponent) * kClassesPerDoubling;

struct SizeClass {
  int index;
  std::size_t bytes;  // what a block of the class holds: the request rounded up
};

// Class 0 holds up to 64 bytes; above, each doubling (2^e, 2^(e+1)] is cut into four steps of 2^(e-2).
SizeClass size_class(std::size_t bytes) {
  if (bytes <= kSmallestBlock) return {0, kSmallestBlock};
  const int exponent = std::bit_width(bytes - 1) - 1;  // 2^exponent < bytes <= 2^(exponent + 1)
  const std::size_t step = std::size_t{1} << (exponent - 2);
  const std::size_t steps = (bytes - (std::size_t{1} << exponent) + step - 1) / step;  // 1..4
  return {static_cast<int>((exponent - kSmallestExponent) * kClassesPerDoubling + steps),
          (std::size_t{1} << exponent) + steps * step};
}

struct FreeBlock {
  FreeBlock* next;
};

// Under AddressSanitizer a cached block is poisoned, so a tensor read after its memory was freed is still
// reported. The link stays readable: LeakSanitizer ignores pointers in poisoned memory and would report
// every block behind the first of a list as leaked.
void poison(FreeBlock* block, std::size_t bytes) {
#if defined(__SANITIZE_ADDRESS__)
  ASAN_POISON_MEMORY_REGION(block + 1, bytes - sizeof(FreeBlock));
#else
  (void)block, (void)bytes;
#endif
}

void unpoison(FreeBlock* block, std::size_t bytes) {
#if defined(__SANITIZE_ADDRESS__)
  ASAN_UNPOISON_MEMORY_REGION(block, bytes);
#else
  (void)block, (void)bytes;
#endif
}

class BlockCache {
 public:
  void* take(const SizeClass& c) {
    {
      std::lock_guard lock(mutex_);
      if (FreeBlock* block = heads_[c.index]) {
        unpoison(block, c.bytes);
        heads_[c.index] = block->next;
        cached_bytes_ -= c.bytes;
        return block;
      }
      ++heap_allocations_;
    }
    return ::operator new(c.bytes, std::align_val_t{kAllocationAlignment});
  }

  void give_back(void* p, const SizeClass& c) noexcept {
    {
      std::lock_guard lock(mutex_);
      if (cached_bytes_ + c.bytes <= kMaxCachedBytes) {
        auto* block = static_cast<FreeBlock*>(p);
        block->next = heads_[c.index];
        heads_[c.index] = block;
        cached_bytes_ += c.bytes;
        poison(block, c.bytes);
        return;
      }
    }
    ::operator delete(p, std::align_val_t{kAllocationAlignment});
  }

  void count_heap_allocation() {
    std::lock_guard lock(mutex_);
    ++heap_allocations_;
  }

  AllocatorStats stats() {
    std::lock_guard lock(mutex_);
    return {heap_allocations_, cached_bytes_};
  }

  void release() {
    std::lock_guard lock(mutex_);
    for (FreeBlock*& head : heads_) {
      while (head) {
        FreeBlock* block = head;
        head = block->next;
        ::operator delete(block, std::align_val_t{kAllocationAlignment});
      }
    }
    cached_bytes_ = 0;
  }

 private:
  std::mutex mutex_;
  std::array<FreeBlock*, kClassCount> heads_{};
  std::size_t cached_bytes_ = 0;
  int64_t heap_allocations_ = 0;
};

// Never destroyed: tensors held by other static objects may be freed after this file's statics would be.
BlockCache& cache() {
  static BlockCache* instance = new BlockCache;
  return *instance;
}

}  // namespace

void* allocate(std::size_t bytes) {
  if (bytes > kLargestCachedBlock) {
    cache().count_heap_allocation();
    return ::operator new(bytes, std::align_val_t{kAllocationAlignment});
  }
  return cache().take(size_class(bytes));
}

void deallocate(void* block, std::size_t bytes) noexcept {
  if (!block) return;
  if (bytes > kLargestCachedBlock) {
    ::operator delete(block, std::align_val_t{kAllocationAlignment});
    return;
  }
  cache().give_back(block, size_class(bytes));
}

AllocatorStats allocator_stats() { return cache().stats(); }

void release_cached_memory() { cache().release(); }

}  // namespace mt
