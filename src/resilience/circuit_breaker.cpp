#include "resilience/circuit_breaker.hpp"

#include <algorithm>
#include <utility>

namespace aegis {

// ---- Permit ---------------------------------------------------------------

CircuitBreaker::Permit::Permit(Permit&& other) noexcept
    : breaker_(std::exchange(other.breaker_, nullptr)), kind_(other.kind_), generation_(other.generation_) {}

CircuitBreaker::Permit& CircuitBreaker::Permit::operator=(Permit&& other) noexcept {
  if (this != &other) {
    release_unreported();
    breaker_ = std::exchange(other.breaker_, nullptr);
    kind_ = other.kind_;
    generation_ = other.generation_;
  }
  return *this;
}

CircuitBreaker::Permit::~Permit() { release_unreported(); }

void CircuitBreaker::Permit::release_unreported() noexcept {
  if (breaker_ == nullptr) return;
  // An abandoned probe counts as a failure so the breaker cannot stay wedged in
  // half-open; an abandoned ordinary permit says nothing about the provider.
  auto* breaker = std::exchange(breaker_, nullptr);
  breaker->report(kind_, generation_, kind_ == PermitKind::probe ? Outcome::failure : Outcome::neutral, 0);
}

void CircuitBreaker::Permit::record_success() {
  if (breaker_ == nullptr) return;
  std::exchange(breaker_, nullptr)->report(kind_, generation_, Outcome::success, 0);
}

void CircuitBreaker::Permit::record_failure(const Error& error) {
  if (breaker_ == nullptr) return;
  const Outcome outcome = counts_as_failure(error) ? Outcome::failure : Outcome::neutral;
  std::exchange(breaker_, nullptr)->report(kind_, generation_, outcome, error.retry_after_seconds);
}

void CircuitBreaker::Permit::record_neutral() {
  if (breaker_ == nullptr) return;
  std::exchange(breaker_, nullptr)->report(kind_, generation_, Outcome::neutral, 0);
}

// ---- CircuitBreaker -------------------------------------------------------

CircuitBreaker::CircuitBreaker(std::string provider, const Clock& clock, CircuitBreakerOptions options)
    : provider_(std::move(provider)), clock_(clock), options_(options) {
  if (options_.failure_threshold < 1) options_.failure_threshold = 1;
  if (options_.cool_down < std::chrono::steady_clock::duration::zero()) options_.cool_down = {};
}

bool CircuitBreaker::counts_as_failure(const Error& error) noexcept {
  switch (error.code) {
    case ErrorCode::upstream_error:    // connect errors, 5xx, provider rejected our credentials
    case ErrorCode::upstream_timeout:  // connect/read timeouts, 408, 504
    case ErrorCode::unavailable:       // 502, 503, 529 overloaded
    case ErrorCode::rate_limited:      // 429
      return true;
    default:
      return false;
  }
}

void CircuitBreaker::refresh_locked(std::chrono::steady_clock::time_point now) const {
  if (state_ == CircuitState::open && now >= open_until_) {
    state_ = CircuitState::half_open;
    probe_in_flight_ = false;
    ++generation_;
  }
}

std::chrono::steady_clock::duration CircuitBreaker::retry_after_duration(int seconds) const {
  if (seconds <= 0) return {};
  return std::min<std::chrono::steady_clock::duration>(std::chrono::seconds(seconds), options_.max_retry_after);
}

void CircuitBreaker::open_locked(std::chrono::steady_clock::time_point now,
                                 std::chrono::steady_clock::duration retry_after) {
  state_ = CircuitState::open;
  probe_in_flight_ = false;
  open_until_ = now + std::max(options_.cool_down, retry_after);
  streak_retry_after_ = {};
  ++generation_;
  ++times_opened_;
}

CircuitBreaker::Permit CircuitBreaker::try_acquire() {
  std::lock_guard lock(mutex_);
  refresh_locked(clock_.steady_now());
  switch (state_) {
    case CircuitState::closed:
      return Permit(this, PermitKind::allowed, generation_);
    case CircuitState::half_open:
      if (probe_in_flight_) return Permit{};
      probe_in_flight_ = true;
      ++generation_;  // only this probe's report may move the breaker
      return Permit(this, PermitKind::probe, generation_);
    case CircuitState::open:
      break;
  }
  return Permit{};
}

void CircuitBreaker::report(PermitKind kind, std::uint64_t generation, Outcome outcome,
                            int retry_after_seconds) noexcept {
  std::lock_guard lock(mutex_);
  const auto now = clock_.steady_now();
  refresh_locked(now);
  if (generation != generation_) return;  // issued in an earlier state: stale
  if (kind == PermitKind::allowed && state_ == CircuitState::closed) {
    switch (outcome) {
      case Outcome::success:
        consecutive_failures_ = 0;
        streak_retry_after_ = {};
        break;
      case Outcome::failure:
        ++consecutive_failures_;
        streak_retry_after_ = std::max(streak_retry_after_, retry_after_duration(retry_after_seconds));
        if (consecutive_failures_ >= options_.failure_threshold) open_locked(now, streak_retry_after_);
        break;
      case Outcome::neutral:
        break;
    }
    return;
  }
  if (kind == PermitKind::probe && state_ == CircuitState::half_open && probe_in_flight_) {
    switch (outcome) {
      case Outcome::success:
        state_ = CircuitState::closed;
        probe_in_flight_ = false;
        consecutive_failures_ = 0;
        streak_retry_after_ = {};
        ++generation_;
        break;
      case Outcome::failure:
        open_locked(now, retry_after_duration(retry_after_seconds));
        break;
      case Outcome::neutral:
        probe_in_flight_ = false;  // no verdict: the next caller probes
        ++generation_;
        break;
    }
  }
}

CircuitState CircuitBreaker::state() const {
  std::lock_guard lock(mutex_);
  refresh_locked(clock_.steady_now());
  return state_;
}

int CircuitBreaker::consecutive_failures() const {
  std::lock_guard lock(mutex_);
  return consecutive_failures_;
}

std::uint64_t CircuitBreaker::times_opened() const {
  std::lock_guard lock(mutex_);
  return times_opened_;
}

std::chrono::steady_clock::duration CircuitBreaker::time_until_probe() const {
  std::lock_guard lock(mutex_);
  const auto now = clock_.steady_now();
  refresh_locked(now);
  if (state_ != CircuitState::open) return {};
  return open_until_ - now;
}

}  // namespace aegis
