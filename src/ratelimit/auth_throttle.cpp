#include "ratelimit/auth_throttle.hpp"

#include <algorithm>
#include <iterator>

namespace aegis::ratelimit {

namespace {

// Addresses tracked at most; beyond it, those whose bucket has refilled go
// (a full bucket is what a new address starts with).
constexpr std::size_t kMaxAddresses = 100'000;

}  // namespace

AuthThrottle::AuthThrottle(const Clock& clock, telemetry::Registry& metrics, std::int64_t failures_per_minute)
    : clock_(clock),
      limited_(metrics.counter("aegis_rate_limited_total",
                               "Requests refused with 429 by a rate limit, by team and kind (requests, tokens, "
                               "concurrency, auth)",
                               {"team", "kind"})),
      per_minute_(failures_per_minute) {}

Result<void> AuthThrottle::check(std::string_view address) {
  if (per_minute_ <= 0) return {};
  const auto now = clock_.steady_now();
  std::chrono::nanoseconds wait{0};
  {
    std::lock_guard lock(mu_);
    auto it = buckets_.find(std::string(address));
    if (it == buckets_.end() || it->second.can_take(1, now)) return {};
    wait = it->second.time_until(1, now);
  }
  limited_.with({"-", "auth"}).inc();
  Error error =
      make_error(ErrorCode::rate_limited, "too many failed authentication attempts from this address; retry later");
  error.retry_after_seconds =
      static_cast<int>(std::clamp<std::int64_t>((wait.count() + 999'999'999) / 1'000'000'000, 1, 3600));
  return error;
}

void AuthThrottle::failed(std::string_view address) {
  if (per_minute_ <= 0) return;
  const auto now = clock_.steady_now();
  std::lock_guard lock(mu_);
  auto it = buckets_.find(std::string(address));
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxAddresses) {
      for (auto drop = buckets_.begin(); drop != buckets_.end();) {
        drop = drop->second.time_until_full(now).count() == 0 ? buckets_.erase(drop) : std::next(drop);
      }
    }
    it = buckets_.emplace(std::string(address), TokenBucket(per_minute_, now)).first;
  }
  it->second.add(-1, now);
}

std::size_t AuthThrottle::tracked() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace aegis::ratelimit
