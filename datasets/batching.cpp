#include "datasets/batching.h"

#include <numeric>

#include "tensor/error.h"
#include "tensor/random.h"

namespace mt::datasets {

void epoch_order(uint64_t seed, int64_t epoch, bool shuffle, std::vector<int64_t>& order) {
  std::iota(order.begin(), order.end(), int64_t{0});
  if (!shuffle) return;
  // The odd constant keeps (seed, epoch) pairs apart; Generator's splitmix64 then spreads the bits.
  Generator gen(seed ^ (static_cast<uint64_t>(epoch) + 1) * 0xd1342543de82ef95ULL);
  gen.shuffle(order);
}

void check_shard(const char* loader, int64_t num_replicas, int64_t rank) {
  if (num_replicas < 1 || rank < 0 || rank >= num_replicas)
    throw Error(std::string(loader) + ": rank " + std::to_string(rank) + " of " + std::to_string(num_replicas) +
                " replicas is not in 0 .. num_replicas - 1");
}

int64_t batch_count(int64_t n, int64_t batch_size, bool drop_last) {
  return drop_last ? n / batch_size : (n + batch_size - 1) / batch_size;
}

}  // namespace mt::datasets
