#pragma once
// Per-key and per-team rate and concurrency limits (issue 19): requests per
// minute, tokens per minute (input + output: estimated at admission,
// corrected with the provider's usage when the call settles) and requests in
// flight. One token bucket per key or team and kind (ratelimit/token_bucket.hpp),
// in memory and exact on one replica. A request is admitted only when every
// limit of its key and of its team has room; then all are charged at once.
//
// Replicas of one database (store::RatePool, PostgreSQL) share each bucket
// through the database: a replica admits against tokens it took from the
// shared bucket in slices, so the database sees one take per slice, not one
// write per request. Docs: ARCHITECTURE.md ("Rate limits") gives the bound.
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "identity/principal.hpp"
#include "store/db_executor.hpp"
#include "store/rate_limits.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::ratelimit {

// One trio of response headers (x-ratelimit-*-requests, x-ratelimit-*-tokens).
struct Window {
  std::int64_t limit = 0;
  std::int64_t remaining = 0;
  std::chrono::nanoseconds reset{0};  // until the bucket is full again
};

// What the response headers say: the most constraining of the key's and the
// team's limits, per kind; empty when no such limit applies.
struct Snapshot {
  std::optional<Window> requests;
  std::optional<Window> tokens;
  bool any() const noexcept { return requests.has_value() || tokens.has_value(); }
};

class RateLimiter;

// An admitted request: holds its concurrency slots until it is destroyed
// (however the request ends, a client that went away included) and corrects
// the tokens charged at admission once the usage is known (settle).
class Admission {
 public:
  Admission() = default;
  Admission(Admission&& other) noexcept;
  Admission& operator=(Admission&& other) noexcept;
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  ~Admission();

  // The tokens actually used (input + output); the difference to the
  // estimate charged at admission goes back to (or is taken from) the
  // buckets. Once; later calls do nothing.
  void settle(std::int64_t actual_tokens);
  // The buckets as they are now.
  Snapshot snapshot() const;
  bool active() const noexcept { return limiter_ != nullptr; }

 private:
  friend class RateLimiter;
  void release() noexcept;

  RateLimiter* limiter_ = nullptr;
  std::string team_;
  std::string key_id_;
  bool team_slot_ = false;  // a concurrency slot of the team is held
  bool key_slot_ = false;
  std::int64_t charged_tokens_ = 0;  // charged to each token bucket at admission
  bool team_tokens_ = false;         // the team's token bucket was charged
  bool key_tokens_ = false;
  bool settled_ = false;
};

struct RateLimiterOptions {
  // Shared buckets: a slice is at least the shortfall and else
  // capacity / (slice_divisor * replicas), at least 1 token.
  std::int64_t slice_divisor = 10;
  // Tokens taken from the shared bucket and not used within this lapse.
  std::chrono::milliseconds slice_ttl{2'000};
};

class RateLimiter {
 public:
  using Options = RateLimiterOptions;
  // `pool` and `db` (both or neither): buckets shared with other replicas.
  // Everything passed must outlive the limiter.
  RateLimiter(const Clock& clock, telemetry::Registry& metrics, store::RatePool* pool = nullptr,
              store::DbExecutor* db = nullptr, Options options = {});
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Admits a request of `estimated_tokens` (input estimate + output ceiling)
  // or refuses it: rate_limited (429) with retry_after_seconds, counted in
  // aegis_rate_limited_total{team,kind}. An estimate above a tokens-per-minute
  // limit is charged as the whole limit (such a request waits for a full
  // bucket rather than never passing); settle() books what it really used.
  // Without limits it admits at once (an inactive Admission). With shared
  // buckets it may take a slice from the database (on `db`'s thread).
  boost::asio::awaitable<Result<Admission>> admit(const identity::Principal& principal, std::int64_t estimated_tokens);
  // The same without shared buckets, never suspending (tests, benchmarks).
  Result<Admission> admit_now(const identity::Principal& principal, std::int64_t estimated_tokens);

  // The buckets as they are, nothing charged: for the headers of a response
  // refused before admission.
  Snapshot peek(const identity::Principal& principal);

  // Buckets currently kept (for tests).
  std::size_t bucket_count() const;

  struct State;

 private:
  friend class Admission;
  enum class Outcome { admitted, refused, short_of_slices };
  Outcome try_admit(const identity::Principal& principal, std::int64_t estimated_tokens, Admission& out, Error& error,
                    std::vector<std::pair<std::string, std::int64_t>>* shortfalls);
  void release(Admission& admission) noexcept;
  void settle(Admission& admission, std::int64_t actual_tokens);
  Snapshot snapshot_of(const Admission& admission);

  const Clock& clock_;
  store::RatePool* pool_;
  store::DbExecutor* db_;
  Options options_;
  telemetry::CounterFamily& limited_;
  mutable std::mutex mu_;
  std::unique_ptr<State> state_;
};

}  // namespace aegis::ratelimit
