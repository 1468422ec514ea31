#pragma once
// What every loader shares: the order of an epoch's examples, the number of batches, and the iterator that
// walks the batches (a loader gives num_batches() and batch(index, out)).
#include <cstdint>
#include <vector>

namespace mt::datasets {

// 0 .. order.size() - 1, shuffled when `shuffle` by a generator seeded from (seed, epoch) alone, so a resumed
// run reproduces epoch e without replaying the epochs before it.
void epoch_order(uint64_t seed, int64_t epoch, bool shuffle, std::vector<int64_t>& order);

// Distributed sampling (the loaders' num_replicas and rank): rank r's i-th example of an epoch is the epoch
// order's position i * num_replicas + r, and each rank has n / num_replicas of them. Throws unless
// 0 <= rank < num_replicas, naming `loader`.
void check_shard(const char* loader, int64_t num_replicas, int64_t rank);

// Batches of batch_size out of n examples; the last, smaller one counts unless drop_last.
int64_t batch_count(int64_t n, int64_t batch_size, bool drop_last);

// Walks a loader's batches, filling one batch object in place (so its vectors keep their memory).
template <class Loader, class Batch>
class BatchIterator {
 public:
  BatchIterator(const Loader* loader, int64_t index) : loader_(loader), index_(index) { load(); }
  const Batch& operator*() const { return batch_; }
  const Batch* operator->() const { return &batch_; }
  BatchIterator& operator++() {
    ++index_;
    load();
    return *this;
  }
  bool operator==(const BatchIterator& other) const { return index_ == other.index_; }

 private:
  void load() {
    if (index_ < loader_->num_batches()) loader_->batch(index_, batch_);
  }
  const Loader* loader_;
  int64_t index_;
  Batch batch_;
};

}  // namespace mt::datasets
