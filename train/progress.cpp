#include "train/progress.h"

namespace mt::train {

ProgressBar::ProgressBar(bool enabled, std::string label, int64_t total, int64_t done)
    : enabled_(enabled),
      label_(std::move(label)),
      total_(total),
      first_(done),
      start_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(int64_t done, double loss) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done - first_) / elapsed : 0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * done / (total_ > 0 ? total_ : 1));
  std::string bar(filled, '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\r%s [%s] %lld/%lld  %.0f steps/s  ETA %.1f s  loss %.4f ", label_.c_str(), bar.c_str(),
               static_cast<long long>(done), static_cast<long long>(total_), rate, eta, loss);
  std::fflush(stderr);
}

void ProgressBar::clear() {
  if (enabled_) std::fputs("\r\033[K", stderr);
}

}  // namespace mt::train
