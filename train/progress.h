#pragma once
// A one-line progress bar with rate and ETA, redrawn in place on a terminal.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace mt::train {

class ProgressBar {
 public:
  // Draws only when `enabled` (a terminal, not --quiet); at most ten times a second. `done` steps of `total`
  // were done before (a resumed epoch): the rate and ETA count only the steps this bar has seen.
  ProgressBar(bool enabled, std::string label, int64_t total, int64_t done = 0);
  void update(int64_t done, double loss);
  void clear();  // erases the line, before the epoch's summary is printed

 private:
  bool enabled_;
  std::string label_;
  int64_t total_, first_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace mt::train
