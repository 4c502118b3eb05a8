#pragma once
// Repeated failed authentication from one source address is throttled
// (issue 19): a token bucket per address of `failures_per_minute` failures,
// refilling at that rate. While an address's bucket is empty every request
// from it that needs a credential is refused with 429 rate_limited, a valid
// key included, without looking the key up; other addresses are not
// affected. Counted in aegis_rate_limited_total{team="-",kind="auth"}.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "ratelimit/token_bucket.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::ratelimit {

class AuthThrottle {
 public:
  // failures_per_minute 0: never throttles.
  AuthThrottle(const Clock& clock, telemetry::Registry& metrics, std::int64_t failures_per_minute);

  // rate_limited (with retry-after) while `address` has no failures left.
  Result<void> check(std::string_view address);
  // `address` failed to authenticate (401).
  void failed(std::string_view address);

  std::size_t tracked() const;

 private:
  const Clock& clock_;
  telemetry::CounterFamily& limited_;
  const std::int64_t per_minute_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, TokenBucket> buckets_;
};

}  // namespace aegis::ratelimit
