#pragma once
// A circuit breaker per provider (docs/ARCHITECTURE.md, stage 6).
//
//   closed    --N consecutive counted failures-->  open
//   open      --cool-down elapsed (lazy)-------->  half_open
//   half_open --the single probe succeeds------->  closed   (failure count reset)
//   half_open --the single probe fails---------->  open     (new cool-down from now)
//
// Time comes only from the injected Clock (steady_now), so tests never sleep.
//
// Callers ask try_acquire() before a send and report the outcome on the Permit
// they get back. In half_open exactly one caller gets a probe permit; everyone
// else is rejected until the probe reports.
//
// Abandoned permits (chosen policy: RAII, no probe timeout): a Permit destroyed
// without a report
//   * for a probe, reports a failure, so the breaker re-opens for a cool-down
//     and a later caller probes again -- an abandoned probe never wedges it;
//   * for an ordinary permit, reports nothing: a cancelled request (client
//     disconnect, shutdown) is not evidence about the provider.
// Reports from permits issued in an earlier state (e.g. a slow request that was
// allowed while closed and finishes after the breaker opened) are ignored.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace aegis {

struct CircuitBreakerOptions {
  int failure_threshold = 3;                                     // consecutive counted failures that open it
  std::chrono::steady_clock::duration cool_down = std::chrono::seconds(60);
  // A provider's retry-after longer than the cool-down extends the open period,
  // but never beyond this cap (a hostile or buggy header cannot park a provider).
  std::chrono::steady_clock::duration max_retry_after = std::chrono::hours(1);
};

enum class CircuitState { closed = 0, open = 1, half_open = 2 };

enum class PermitKind { allowed, probe, rejected };

class CircuitBreaker {
 public:
  // Move-only outcome handle. Report exactly once; later reports are ignored.
  class Permit {
   public:
    Permit() = default;
    Permit(Permit&& other) noexcept;
    Permit& operator=(Permit&& other) noexcept;
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit();

    PermitKind kind() const noexcept { return kind_; }
    bool is_probe() const noexcept { return kind_ == PermitKind::probe; }
    // True when the caller may send (allowed or probe).
    explicit operator bool() const noexcept { return kind_ != PermitKind::rejected; }

    void record_success();
    // Counted only when counts_as_failure(error); a client error is neutral:
    // it neither counts nor resets the streak (a neutral probe frees the probe
    // slot and leaves the breaker half-open for the next caller).
    void record_failure(const Error& error);
    // Explicitly neutral (e.g. cancelled by the client): nothing is counted.
    void record_neutral();

   private:
    friend class CircuitBreaker;
    Permit(CircuitBreaker* breaker, PermitKind kind, std::uint64_t generation) noexcept
        : breaker_(breaker), kind_(kind), generation_(generation) {}
    void release_unreported() noexcept;

    CircuitBreaker* breaker_ = nullptr;  // null once reported, or when rejected
    PermitKind kind_ = PermitKind::rejected;
    std::uint64_t generation_ = 0;
  };

  CircuitBreaker(std::string provider, const Clock& clock, CircuitBreakerOptions options = {});
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  // The breaker must outlive every Permit it hands out.
  Permit try_acquire();

  CircuitState state() const;
  // For aegis_circuit_state{provider}: 0 closed, 1 open, 2 half-open.
  int state_code() const { return static_cast<int>(state()); }
  int consecutive_failures() const;
  std::uint64_t times_opened() const;
  // While open: time until a probe may be attempted (for a 503's retry-after); 0 otherwise.
  std::chrono::steady_clock::duration time_until_probe() const;

  const std::string& provider() const noexcept { return provider_; }
  const CircuitBreakerOptions& options() const noexcept { return options_; }

  // Provider-health failures: upstream_error (connect errors, 5xx, rejected
  // credentials), upstream_timeout, unavailable (502/503/529), rate_limited
  // (429). Everything else (invalid_request, pii_blocked, budget_exceeded,
  // unauthorized, ...) is the client's or the gateway's business.
  static bool counts_as_failure(const Error& error) noexcept;

 private:
  enum class Outcome { success, failure, neutral };
  void report(PermitKind kind, std::uint64_t generation, Outcome outcome, int retry_after_seconds) noexcept;
  // Open -> half_open once the cool-down has elapsed. Caller holds mutex_.
  void refresh_locked(std::chrono::steady_clock::time_point now) const;
  void open_locked(std::chrono::steady_clock::time_point now, std::chrono::steady_clock::duration extra);
  std::chrono::steady_clock::duration retry_after_duration(int seconds) const;

  const std::string provider_;
  const Clock& clock_;
  CircuitBreakerOptions options_;

  mutable std::mutex mutex_;
  mutable CircuitState state_ = CircuitState::closed;
  mutable std::uint64_t generation_ = 0;  // bumped on every state change
  mutable bool probe_in_flight_ = false;
  int consecutive_failures_ = 0;
  std::chrono::steady_clock::duration streak_retry_after_{0};  // longest retry-after in the current streak
  std::chrono::steady_clock::time_point open_until_{};
  std::uint64_t times_opened_ = 0;
};

}  // namespace aegis
