#pragma once
// Per-team and per-key rate and concurrency limits (issue 19): what the admin
// API and the CLI set, and the buckets several replicas share
// (ratelimit/rate_limiter.hpp enforces them).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace aegis::store {

// A limit that is not set does not apply. Set values are positive.
struct RateLimits {
  std::optional<std::int64_t> rpm;              // requests per minute
  std::optional<std::int64_t> tpm;              // tokens (input + output) per minute
  std::optional<std::int64_t> max_concurrency;  // requests in flight at once

  bool any() const noexcept { return rpm.has_value() || tpm.has_value() || max_concurrency.has_value(); }
  friend bool operator==(const RateLimits&, const RateLimits&) = default;
};

// A change: an absent field keeps the limit, a present nullopt removes it,
// a present value sets it.
struct RateLimitsPatch {
  std::optional<std::optional<std::int64_t>> rpm;
  std::optional<std::optional<std::int64_t>> tpm;
  std::optional<std::optional<std::int64_t>> max_concurrency;

  bool empty() const noexcept { return !rpm && !tpm && !max_concurrency; }
};

enum class LimitScope { team, key };

class RateLimitStore {
 public:
  virtual ~RateLimitStore() = default;
  // The limits of a team (by name) or a key (by id); all unset when none were
  // ever set (whether or not the team or key exists).
  virtual Result<RateLimits> get_rate_limits(LimitScope scope, const std::string& name) = 0;
  // Every team's or key's limits that has at least one set.
  virtual Result<std::map<std::string, RateLimits>> list_rate_limits(LimitScope scope) = 0;
  // not_found when the team or key does not exist; invalid_request for a
  // value that is not positive. Returns the limits after the change.
  virtual Result<RateLimits> update_rate_limits(LimitScope scope, const std::string& name,
                                                const RateLimitsPatch& patch) = 0;
};

// Token buckets shared by the replicas of one database (PostgreSQL): each
// bucket's level lives in the database and refills continuously at
// `capacity` tokens a minute up to `capacity`; a replica takes tokens from it
// in slices and admits against them in memory (ratelimit/rate_limiter.hpp).
struct RateTake {
  std::int64_t granted = 0;  // whole tokens taken
  std::int64_t left = 0;     // whole tokens left in the shared bucket after the take
};

class RatePool {
 public:
  virtual ~RatePool() = default;
  // Refills `bucket` to `now_ms` and takes up to `want` whole tokens from it
  // (fewer when fewer are left). unavailable (503) when the database cannot
  // be reached.
  virtual Result<RateTake> take(std::string_view bucket, std::int64_t capacity, std::int64_t want,
                                std::int64_t now_ms) = 0;
  // Replicas sharing the pool now, this one included (at least 1).
  virtual std::int64_t replicas() = 0;
};

}  // namespace aegis::store
