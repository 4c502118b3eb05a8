#pragma once
// A token bucket of `capacity` tokens that refills continuously at
// `capacity` tokens a minute. Integer arithmetic, exact: the level is kept in
// units of 1/60e9 token, so a bucket of N tokens a minute gains N units a
// nanosecond. Time is passed in (the caller's injectable clock); not
// thread-safe (ratelimit::RateLimiter locks around it).
#include <chrono>
#include <cstdint>

namespace aegis::ratelimit {

class TokenBucket {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  // Starts full.
  TokenBucket(std::int64_t capacity, time_point now);

  std::int64_t capacity() const noexcept { return capacity_; }
  // A new capacity (and refill rate) from now on; the level is kept, at most the new capacity.
  void set_capacity(std::int64_t capacity, time_point now);

  // Whether n tokens are there now (after refilling).
  bool can_take(std::int64_t n, time_point now);
  // Adds n tokens (a refund), at most up to the capacity; a negative n takes
  // them even when that leaves the level below zero (a debt later refills pay).
  void add(std::int64_t n, time_point now);
  // Whole tokens there now (0 when in debt).
  std::int64_t remaining(time_point now);
  // Until n tokens are there (zero when they are); n above the capacity: until full.
  std::chrono::nanoseconds time_until(std::int64_t n, time_point now);
  // Until the bucket is full again.
  std::chrono::nanoseconds time_until_full(time_point now);

 private:
  void refill(time_point now);

  std::int64_t capacity_;
  __int128 level_;  // in units of 1/60e9 token
  time_point last_;
};

}  // namespace aegis::ratelimit
