#pragma once
// The project's seeded random numbers. The engine is xoshiro256** and every distribution is computed
// here from its raw 64-bit output, so a seed gives the same numbers with every compiler and standard
// library (std::normal_distribution and std::shuffle do not promise that).
#include <cstdint>
#include <span>

namespace mt {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0);

  uint64_t next_u64();
  double uniform();                            // in [0, 1), 53 random bits
  double uniform(double low, double high);     // in [low, high)
  double normal();                             // standard normal, Box-Muller
  uint64_t below(uint64_t n);                  // uniform in [0, n), unbiased; n > 0
  void shuffle(std::span<int64_t> values);     // Fisher-Yates

  // Everything the next draws depend on, so a stream can be saved and continued where it was (resumable
  // training): xoshiro256**'s four words and the second normal of the last Box-Muller pair.
  struct State {
    uint64_t words[4];
    double spare_normal;
    bool has_spare_normal;
    bool operator==(const State&) const = default;
  };
  State state() const;
  void set_state(const State& state);

 private:
  uint64_t state_[4];
  double spare_normal_ = 0;
  bool has_spare_normal_ = false;
};

}  // namespace mt
