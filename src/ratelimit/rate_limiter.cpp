#include "ratelimit/rate_limiter.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "ratelimit/token_bucket.hpp"

namespace aegis::ratelimit {

namespace {

using time_point = std::chrono::steady_clock::time_point;
using std::chrono::nanoseconds;

constexpr std::int64_t kNanosPerMinute = 60'000'000'000;
// Scopes kept before idle ones are dropped (an idle bucket refills to full,
// which is what a new one starts as, so dropping it changes nothing).
constexpr std::size_t kMaxScopes = 100'000;

// One limit's bucket: in memory (one replica), or a balance of tokens taken
// from the bucket the replicas share (store::RatePool).
class Bucket {
 public:
  Bucket(std::int64_t capacity, time_point now, bool shared) : local_(capacity, now), shared_(shared) {}

  std::int64_t capacity() const { return local_.capacity(); }
  bool shared() const { return shared_; }

  void set_capacity(std::int64_t capacity, time_point now) {
    if (capacity != local_.capacity()) local_.set_capacity(capacity, now);
  }

  bool has(std::int64_t n, time_point now) {
    if (!shared_) return local_.can_take(n, now);
    lapse(now);
    return balance_ >= n;
  }
  // Takes n (a negative n gives back); a shared balance may go below zero.
  void add(std::int64_t n, time_point now) {
    if (!shared_) {
      local_.add(n, now);
      return;
    }
    lapse(now);
    balance_ = std::min(balance_ + n, local_.capacity());
  }
  std::int64_t remaining(time_point now) {
    if (!shared_) return local_.remaining(now);
    lapse(now);
    return std::max<std::int64_t>(balance_, 0) + shared_left_;
  }
  nanoseconds time_until(std::int64_t n, time_point now) {
    if (!shared_) return local_.time_until(n, now);
    lapse(now);
    const std::int64_t missing = std::min(n, local_.capacity()) - balance_ - shared_left_;
    return missing <= 0 ? nanoseconds::zero() : nanoseconds((missing * kNanosPerMinute) / local_.capacity());
  }
  nanoseconds time_until_full(time_point now) {
    if (!shared_) return local_.time_until_full(now);
    return time_until(local_.capacity(), now);
  }
  // A slice taken from the shared bucket; it lapses unused after `ttl`.
  void grant(const store::RateTake& take, time_point now, std::chrono::milliseconds ttl) {
    lapse(now);
    balance_ += take.granted;
    shared_left_ = take.left;
    lapses_at_ = now + ttl;
  }
  std::int64_t balance(time_point now) {
    lapse(now);
    return balance_;
  }

 private:
  void lapse(time_point now) {
    if (now >= lapses_at_ && balance_ > 0) balance_ = 0;  // a debt stays until slices pay it
  }

  TokenBucket local_;  // one replica: the bucket; shared: only its capacity
  bool shared_;
  std::int64_t balance_ = 0;
  std::int64_t shared_left_ = 0;  // what the shared bucket held at the last take
  time_point lapses_at_{};
};

struct Scope {
  std::optional<Bucket> requests;
  std::optional<Bucket> tokens;
  std::int64_t in_flight = 0;
  time_point used{};
};

void sync(std::optional<Bucket>& bucket, const std::optional<std::int64_t>& limit, time_point now, bool shared) {
  if (!limit) {
    bucket.reset();
  } else if (!bucket) {
    bucket.emplace(*limit, now, shared);
  } else {
    bucket->set_capacity(*limit, now);
  }
}

int ceil_seconds(nanoseconds wait) {
  const auto s = (wait.count() + 999'999'999) / 1'000'000'000;
  return static_cast<int>(std::clamp<std::int64_t>(s, 1, 3600));
}

// The more constraining of two windows: the fewer remaining, then the later reset.
void tighten(std::optional<Window>& current, const Window& candidate) {
  if (!current || candidate.remaining < current->remaining ||
      (candidate.remaining == current->remaining && candidate.reset > current->reset)) {
    current = candidate;
  }
}

std::string scope_key(std::string_view kind, std::string_view name) {
  std::string key;
  key.reserve(kind.size() + 1 + name.size());
  key.append(kind).append(1, ':').append(name);
  return key;
}

struct Named {
  std::string_view label;  // "key" or "team", for messages
  std::string key;         // "k:<id>" / "t:<team>"
  const store::RateLimits* limits;
};

}  // namespace

struct RateLimiter::State {
  std::unordered_map<std::string, Scope> scopes;

  Scope& scope(const std::string& key, const store::RateLimits& limits, time_point now, bool shared) {
    if (scopes.size() >= kMaxScopes && !scopes.contains(key)) {
      std::erase_if(scopes, [&](const auto& kv) {
        const Scope& s = kv.second;
        return s.in_flight == 0 && now - s.used > std::chrono::minutes(1);
      });
    }
    Scope& s = scopes[key];
    sync(s.requests, limits.rpm, now, shared);
    sync(s.tokens, limits.tpm, now, shared);
    s.used = now;
    return s;
  }
};

// --- Admission

Admission::Admission(Admission&& other) noexcept
    : limiter_(std::exchange(other.limiter_, nullptr)),
      team_(std::move(other.team_)),
      key_id_(std::move(other.key_id_)),
      team_slot_(other.team_slot_),
      key_slot_(other.key_slot_),
      charged_tokens_(other.charged_tokens_),
      team_tokens_(other.team_tokens_),
      key_tokens_(other.key_tokens_),
      settled_(other.settled_) {}

Admission& Admission::operator=(Admission&& other) noexcept {
  if (this != &other) {
    release();
    limiter_ = std::exchange(other.limiter_, nullptr);
    team_ = std::move(other.team_);
    key_id_ = std::move(other.key_id_);
    team_slot_ = other.team_slot_;
    key_slot_ = other.key_slot_;
    charged_tokens_ = other.charged_tokens_;
    team_tokens_ = other.team_tokens_;
    key_tokens_ = other.key_tokens_;
    settled_ = other.settled_;
  }
  return *this;
}

Admission::~Admission() { release(); }

void Admission::release() noexcept {
  if (limiter_ != nullptr) limiter_->release(*this);
  limiter_ = nullptr;
}

void Admission::settle(std::int64_t actual_tokens) {
  if (limiter_ == nullptr || settled_) return;
  settled_ = true;
  limiter_->settle(*this, actual_tokens);
}

Snapshot Admission::snapshot() const {
  if (limiter_ == nullptr) return {};
  return limiter_->snapshot_of(*this);
}

// --- RateLimiter

RateLimiter::RateLimiter(const Clock& clock, telemetry::Registry& metrics, store::RatePool* pool, store::DbExecutor* db,
                         Options options)
    : clock_(clock),
      pool_(pool != nullptr && db != nullptr ? pool : nullptr),
      db_(db),
      options_(options),
      limited_(metrics.counter("aegis_rate_limited_total",
                               "Requests refused with 429 by a rate limit, by team and kind (requests, tokens, "
                               "concurrency, auth)",
                               {"team", "kind"})),
      state_(std::make_unique<State>()) {}

RateLimiter::~RateLimiter() = default;

std::size_t RateLimiter::bucket_count() const {
  std::lock_guard lock(mu_);
  return state_->scopes.size();
}

RateLimiter::Outcome RateLimiter::try_admit(const identity::Principal& principal, std::int64_t estimated_tokens,
                                            Admission& out, Error& error,
                                            std::vector<std::pair<std::string, std::int64_t>>* shortfalls) {
  // The common case of a caller without limits: nothing to look up or lock.
  if (!principal.key_limits.any() && !principal.team_limits.any()) return Outcome::admitted;
  const time_point now = clock_.steady_now();
  const bool shared = pool_ != nullptr;
  const std::array<Named, 2> named{Named{"key", scope_key("k", principal.key_id), &principal.key_limits},
                                   Named{"team", scope_key("t", principal.team), &principal.team_limits}};
  std::lock_guard lock(mu_);
  std::array<Scope*, 2> scopes{nullptr, nullptr};
  std::optional<std::pair<std::string_view, nanoseconds>> refusal;  // kind, wait
  std::string refused_scope;
  std::int64_t refused_limit = 0;
  for (std::size_t i = 0; i < named.size(); ++i) {
    const auto& limits = *named[i].limits;
    if (!limits.any()) continue;
    Scope& s = state_->scope(named[i].key, limits, now, shared);
    scopes[i] = &s;
    if (refusal) continue;
    if (limits.max_concurrency && s.in_flight >= *limits.max_concurrency) {
      refusal.emplace("concurrency", std::chrono::seconds(1));
      refused_scope = named[i].label;
      refused_limit = *limits.max_concurrency;
      continue;
    }
    if (s.requests && !s.requests->has(1, now)) {
      if (shared && shortfalls) {
        shortfalls->emplace_back(named[i].key + ":requests", 1 - s.requests->balance(now));
      } else {
        refusal.emplace("requests", s.requests->time_until(1, now));
        refused_scope = named[i].label;
        refused_limit = s.requests->capacity();
      }
    }
    if (!refusal && s.tokens) {
      const std::int64_t need = std::min(estimated_tokens, s.tokens->capacity());
      if (!s.tokens->has(need, now)) {
        if (shared && shortfalls) {
          shortfalls->emplace_back(named[i].key + ":tokens", need - s.tokens->balance(now));
        } else {
          refusal.emplace("tokens", s.tokens->time_until(need, now));
          refused_scope = named[i].label;
          refused_limit = s.tokens->capacity();
        }
      }
    }
  }
  if (scopes[0] == nullptr && scopes[1] == nullptr) return Outcome::admitted;  // no limits: inactive admission
  if (refusal) {
    const std::string kind(refusal->first);
    limited_.with({principal.team, kind}).inc();
    const std::string what = kind == "concurrency" ? "concurrent requests"
                             : kind == "requests"  ? "requests per minute"
                                                   : "tokens per minute";
    error = make_error(ErrorCode::rate_limited, "rate limit exceeded: the " + refused_scope + "'s limit of " +
                                                    std::to_string(refused_limit) + " " + what + " is reached");
    error.retry_after_seconds = ceil_seconds(refusal->second);
    return Outcome::refused;
  }
  if (shortfalls && !shortfalls->empty()) return Outcome::short_of_slices;

  out.limiter_ = this;
  out.team_ = principal.team;
  out.key_id_ = principal.key_id;
  for (std::size_t i = 0; i < scopes.size(); ++i) {
    Scope* s = scopes[i];
    if (s == nullptr) continue;
    const bool is_key = i == 0;
    if (s->requests) s->requests->add(-1, now);
    if (s->tokens) {
      s->tokens->add(-std::min(estimated_tokens, s->tokens->capacity()), now);
      (is_key ? out.key_tokens_ : out.team_tokens_) = true;
    }
    if (named[i].limits->max_concurrency) {
      ++s->in_flight;
      (is_key ? out.key_slot_ : out.team_slot_) = true;
    }
  }
  // Each token bucket was charged min(estimate, its capacity): settle corrects each from there.
  out.charged_tokens_ = estimated_tokens;
  return Outcome::admitted;
}

Result<Admission> RateLimiter::admit_now(const identity::Principal& principal, std::int64_t estimated_tokens) {
  Admission admission;
  Error error;
  if (try_admit(principal, estimated_tokens, admission, error, nullptr) == Outcome::refused) return error;
  return admission;
}

boost::asio::awaitable<Result<Admission>> RateLimiter::admit(const identity::Principal& principal,
                                                             std::int64_t estimated_tokens) {
  if (pool_ == nullptr) co_return admit_now(principal, estimated_tokens);
  Admission admission;
  Error error;
  std::vector<std::pair<std::string, std::int64_t>> shortfalls;
  const Outcome first = try_admit(principal, estimated_tokens, admission, error, &shortfalls);
  if (first == Outcome::refused) co_return error;
  if (first == Outcome::admitted) co_return admission;

  // Short of slices: take them from the shared buckets on the database
  // thread, then decide with what was granted.
  const std::int64_t replicas = std::max<std::int64_t>(pool_->replicas(), 1);
  struct Want {
    std::string bucket;
    std::int64_t capacity = 0;
    std::int64_t want = 0;
  };
  std::vector<Want> wants;
  {
    std::lock_guard lock(mu_);
    for (const auto& [bucket, need] : shortfalls) {
      const auto colon = bucket.rfind(':');
      const std::string scope = bucket.substr(0, colon);
      const bool tokens = bucket.compare(colon + 1, std::string::npos, "tokens") == 0;
      auto it = state_->scopes.find(scope);
      if (it == state_->scopes.end()) continue;
      auto& b = tokens ? it->second.tokens : it->second.requests;
      if (!b) continue;
      const std::int64_t slice = std::max<std::int64_t>(1, b->capacity() / (options_.slice_divisor * replicas));
      wants.push_back(Want{bucket, b->capacity(), std::min(std::max(need, slice), b->capacity())});
    }
  }
  const std::int64_t now_ms = clock_.wall_ms();
  auto take_all = [this, &wants, now_ms]() -> Result<std::vector<store::RateTake>> {
    std::vector<store::RateTake> out;
    for (const auto& w : wants) {
      auto taken = pool_->take(w.bucket, w.capacity, w.want, now_ms);
      if (!taken.ok()) return std::move(taken).error();
      out.push_back(*taken);
    }
    return out;
  };
  auto taken = co_await db_->run(take_all);
  if (!taken.ok()) co_return std::move(taken).error();
  {
    std::lock_guard lock(mu_);
    const time_point now = clock_.steady_now();
    for (std::size_t i = 0; i < wants.size(); ++i) {
      const auto colon = wants[i].bucket.rfind(':');
      auto it = state_->scopes.find(wants[i].bucket.substr(0, colon));
      if (it == state_->scopes.end()) continue;
      const bool tokens = wants[i].bucket.compare(colon + 1, std::string::npos, "tokens") == 0;
      auto& b = tokens ? it->second.tokens : it->second.requests;
      if (b) b->grant((*taken)[i], now, options_.slice_ttl);
    }
  }
  if (try_admit(principal, estimated_tokens, admission, error, nullptr) == Outcome::refused) co_return error;
  co_return admission;
}

void RateLimiter::release(Admission& admission) noexcept {
  if (!admission.team_slot_ && !admission.key_slot_) return;
  std::lock_guard lock(mu_);
  auto drop = [&](const std::string& key) {
    auto it = state_->scopes.find(key);
    if (it != state_->scopes.end() && it->second.in_flight > 0) --it->second.in_flight;
  };
  if (admission.key_slot_) drop(scope_key("k", admission.key_id_));
  if (admission.team_slot_) drop(scope_key("t", admission.team_));
  admission.key_slot_ = admission.team_slot_ = false;
}

void RateLimiter::settle(Admission& admission, std::int64_t actual_tokens) {
  if (!admission.team_tokens_ && !admission.key_tokens_) return;
  const time_point now = clock_.steady_now();
  std::lock_guard lock(mu_);
  auto correct = [&](const std::string& key) {
    auto it = state_->scopes.find(key);
    if (it == state_->scopes.end() || !it->second.tokens) return;
    Bucket& b = *it->second.tokens;
    const std::int64_t charged = std::min(admission.charged_tokens_, b.capacity());
    b.add(charged - std::max<std::int64_t>(actual_tokens, 0), now);
  };
  if (admission.key_tokens_) correct(scope_key("k", admission.key_id_));
  if (admission.team_tokens_) correct(scope_key("t", admission.team_));
}

Snapshot RateLimiter::snapshot_of(const Admission& admission) {
  const time_point now = clock_.steady_now();
  std::lock_guard lock(mu_);
  Snapshot out;
  for (const std::string& key : {scope_key("k", admission.key_id_), scope_key("t", admission.team_)}) {
    auto it = state_->scopes.find(key);
    if (it == state_->scopes.end()) continue;
    Scope& s = it->second;
    if (s.requests) {
      tighten(out.requests,
              Window{s.requests->capacity(), s.requests->remaining(now), s.requests->time_until_full(now)});
    }
    if (s.tokens) {
      tighten(out.tokens, Window{s.tokens->capacity(), s.tokens->remaining(now), s.tokens->time_until_full(now)});
    }
  }
  return out;
}

Snapshot RateLimiter::peek(const identity::Principal& principal) {
  if (!principal.key_limits.any() && !principal.team_limits.any()) return {};
  const time_point now = clock_.steady_now();
  const bool shared = pool_ != nullptr;
  std::lock_guard lock(mu_);
  Snapshot out;
  const std::array<std::pair<std::string, const store::RateLimits*>, 2> named{
      std::pair{scope_key("k", principal.key_id), &principal.key_limits},
      std::pair{scope_key("t", principal.team), &principal.team_limits}};
  for (const auto& [key, limits] : named) {
    if (!limits->any()) continue;
    Scope& s = state_->scope(key, *limits, now, shared);
    if (s.requests) {
      tighten(out.requests,
              Window{s.requests->capacity(), s.requests->remaining(now), s.requests->time_until_full(now)});
    }
    if (s.tokens) {
      tighten(out.tokens, Window{s.tokens->capacity(), s.tokens->remaining(now), s.tokens->time_until_full(now)});
    }
  }
  return out;
}

}  // namespace aegis::ratelimit
