#include "ratelimit/token_bucket.hpp"

#include <algorithm>

namespace aegis::ratelimit {

namespace {

// Units a token is worth: a minute in nanoseconds, so that N tokens a minute refill N units a nanosecond.
constexpr __int128 kUnitsPerToken = 60'000'000'000;

std::chrono::nanoseconds ceil_div_ns(__int128 units, std::int64_t per_ns) {
  if (units <= 0) return std::chrono::nanoseconds::zero();
  return std::chrono::nanoseconds(static_cast<std::int64_t>((units + per_ns - 1) / per_ns));
}

}  // namespace

TokenBucket::TokenBucket(std::int64_t capacity, time_point now)
    : capacity_(std::max<std::int64_t>(capacity, 1)), level_(kUnitsPerToken * capacity_), last_(now) {}

void TokenBucket::refill(time_point now) {
  if (now <= last_) return;  // the steady clock never goes back; a stale caller's time adds nothing
  const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_).count();
  last_ = now;
  const __int128 full = kUnitsPerToken * capacity_;
  if (level_ >= full) return;
  level_ = std::min(full, level_ + static_cast<__int128>(elapsed) * capacity_);
}

void TokenBucket::set_capacity(std::int64_t capacity, time_point now) {
  refill(now);
  capacity_ = std::max<std::int64_t>(capacity, 1);
  level_ = std::min(level_, kUnitsPerToken * capacity_);
}

bool TokenBucket::can_take(std::int64_t n, time_point now) {
  refill(now);
  return level_ >= kUnitsPerToken * n;
}

void TokenBucket::add(std::int64_t n, time_point now) {
  refill(now);
  level_ += kUnitsPerToken * n;
  level_ = std::min(level_, kUnitsPerToken * capacity_);
}

std::int64_t TokenBucket::remaining(time_point now) {
  refill(now);
  return level_ <= 0 ? 0 : static_cast<std::int64_t>(level_ / kUnitsPerToken);
}

std::chrono::nanoseconds TokenBucket::time_until(std::int64_t n, time_point now) {
  refill(now);
  const __int128 want = kUnitsPerToken * std::min(n, capacity_);
  return ceil_div_ns(want - level_, capacity_);
}

std::chrono::nanoseconds TokenBucket::time_until_full(time_point now) {
  refill(now);
  return ceil_div_ns(kUnitsPerToken * capacity_ - level_, capacity_);
}

}  // namespace aegis::ratelimit
