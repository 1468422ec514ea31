#include <algorithm>
#include <cstring>
#include <string>

#include "dist/collectives.h"
#include "dist/dist.h"

namespace mt::dist {
namespace {

// Each parameter's gradient starts on a 64-byte boundary of the flat buffer, as it would in its own tensor.
constexpr int64_t kAlignFloats = 16;

int64_t round_up(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

}  // namespace

GradientReducer::GradientReducer(std::vector<Var> parameters, ReducerOptions options)
    : parameters_(std::move(parameters)), extra_values_(options.extra_values) {
  if (options.bucket_bytes <= 0 || options.extra_values < 0)
    throw Error("dist::GradientReducer: bucket_bytes must be positive and extra_values not negative, got " +
                std::to_string(options.bucket_bytes) + " and " + std::to_string(options.extra_values));
  const int64_t ranks = world_size();
  uint64_t fingerprint = detail::fnv1a(&extra_values_, sizeof extra_values_);
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const Var& p = parameters_[i];
    if (!p.defined() || !p.requires_grad() || p.dtype() != DType::Float32)
      throw Error("dist::GradientReducer: parameter " + std::to_string(i) +
                  " must be a float32 Var that requires a gradient" + (p.defined() ? ", got " + p.value().str() : ""));
    const int64_t numel = p.numel();
    fingerprint = detail::fnv1a(&numel, sizeof numel, fingerprint);
    fingerprint = detail::fnv1a(p.shape().begin(), sizeof(int64_t) * static_cast<size_t>(p.dim()), fingerprint);
  }
  if (ranks > 1)
    detail::check_same_on_every_rank(fingerprint, "dist::GradientReducer: the parameters' shapes or the extra values");

  // Buckets of whole parameters, closed once they reach bucket_bytes; the last one also carries a flag per
  // parameter (did this rank have its gradient) and the caller's extra values. Each is padded with zeros to
  // a multiple of the rank count, which the reduction splits it into.
  const int64_t bucket_floats = std::max<int64_t>(options.bucket_bytes / static_cast<int64_t>(sizeof(float)), 1);
  int64_t at = 0, bucket_start = 0;
  auto close_bucket = [&] {
    const int64_t length = round_up(at - bucket_start, ranks);
    buckets_.push_back({bucket_start, length});
    bucket_start = at = round_up(bucket_start + length, kAlignFloats);
  };
  for (const Var& p : parameters_) {
    offsets_.push_back(at);
    at = round_up(at + p.numel(), kAlignFloats);
    numel_ += p.numel();
    if (at - bucket_start >= bucket_floats) close_bucket();
  }
  flags_at_ = at;
  extra_at_ = flags_at_ + static_cast<int64_t>(parameters_.size());
  at = extra_at_ + extra_values_;
  if (at > bucket_start) close_bucket();
  flat_ = Tensor::zeros({std::max<int64_t>(at, 1)});
  int64_t largest = 0;
  for (const Bucket& b : buckets_) largest = std::max(largest, b.length);
  scratch_.resize(static_cast<size_t>(largest));
  for (size_t i = 0; i < parameters_.size(); ++i)
    views_.push_back(flat_.narrow(0, offsets_[i], parameters_[i].numel()).view(parameters_[i].shape()));
}

void GradientReducer::reduce(std::span<float> extra) {
  if (static_cast<int64_t>(extra.size()) != extra_values_)
    throw Error("dist::GradientReducer::reduce: " + std::to_string(extra.size()) + " extra values, the reducer was made for " +
                std::to_string(extra_values_));
  if (world_size() == 1) return;  // the average over one rank is its own gradient
  float* flat = flat_.mutable_data<float>();
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& grad = parameters_[i].grad();
    const Tensor& slot = views_[i];
    const bool has = grad.defined();
    flat[flags_at_ + static_cast<int64_t>(i)] = has ? 1.0f : 0.0f;
    if (!has)
      slot.fill_(0);
    else if (grad.is_contiguous() && grad.dtype() == DType::Float32)
      // Still the view from the last reduce() when no backward reached this parameter since.
      std::memmove(slot.mutable_data<float>(), grad.data<float>(), static_cast<size_t>(grad.numel()) * sizeof(float));
    else
      slot.copy_(grad);
  }
  std::copy(extra.begin(), extra.end(), flat + extra_at_);
  for (const Bucket& b : buckets_)
    detail::reduce_in_rank_order<float>({flat + b.start, static_cast<size_t>(b.length)},
                                        {scratch_.data(), static_cast<size_t>(b.length)}, true);
  for (size_t i = 0; i < parameters_.size(); ++i)
    parameters_[i].set_grad(flat[flags_at_ + static_cast<int64_t>(i)] > 0 ? views_[i] : Tensor());
  std::copy(flat + extra_at_, flat + extra_at_ + extra_values_, extra.begin());
}

}  // namespace mt::dist
