#pragma once
// One circuit breaker per provider plus periodic background health checks.
//
//   aegis_circuit_state{provider}  0 closed, 1 open, 2 half-open
//   aegis_provider_up{provider}    1 when the last health check passed (1 until the
//                                  first check; no series at all when checks are off)
//
// aegis_circuit_state is refreshed by publish(), for one provider whenever
// breaker() looks it up, and on every health-check round, so with checks on a
// scrape never shows a state older than one interval. A caller that wants the
// gauge exact right after reporting an outcome calls publish().
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "providers/provider.hpp"
#include "resilience/circuit_breaker.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::resilience {

// What one provider did since this process started (the admin console's
// GET /admin/v1/providers): attempts sent to it, those that failed, those
// whose failure moved the request on to the next provider of its chain, and
// the latency percentiles of its last kLatencySample attempts.
struct ProviderStats {
  std::int64_t requests = 0;
  std::int64_t errors = 0;
  std::int64_t fallbacks = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

class ProviderHealth {
 public:
  // Recent attempts kept per provider for its latency percentiles.
  static constexpr std::size_t kLatencySample = 1024;

  ProviderHealth(const config::ResilienceConfig& config, const Clock& clock, telemetry::Registry& metrics,
                 const std::vector<providers::LLMProvider*>& providers);
  ~ProviderHealth();

  // nullptr for an unknown provider name.
  CircuitBreaker* breaker(std::string_view provider);
  // Re-reads every breaker's state into aegis_circuit_state.
  void publish();
  // The same for one provider (the request path: only the breaker it used).
  void publish(std::string_view provider);
  // Whether the last health check of `provider` passed (true before the first check).
  bool up(std::string_view provider) const;

  // An attempt sent to `provider` (stage 6) and how long it took; a no-op
  // for an unknown name. Cheap: counters and one short lock.
  void record_attempt(std::string_view provider, bool ok, std::chrono::nanoseconds latency);
  // A failed attempt at `provider` after which the chain moved on.
  void record_fallback(std::string_view provider);
  // Zeros for an unknown name.
  ProviderStats stats(std::string_view provider) const;

  // Starts the health-check loop on `io` (no-op when the interval is 0);
  // stop() ends it and is safe to call twice.
  //
  // One loop per provider, so a provider whose check hangs until its timeout
  // delays nobody else: check, publish, wait one interval, repeat; the first
  // check runs at once. stop() cancels the waits; a check already in flight
  // finishes (bounded by the provider's probe timeout) and its result is
  // dropped. The loops hold no pointer to this object: it may be destroyed
  // once stop() was called or io.run() returned. The providers, the clock and
  // the registry must stay alive until then.
  void start(boost::asio::io_context& io);
  void stop();

  // One round of health checks over every provider, one after the other,
  // updating up() and both gauges. For callers that want a fresh answer now
  // (and tests); independent of start()/stop().
  boost::asio::awaitable<void> check_now();

 private:
  struct Entry;  // one provider: breaker, last check, gauges; shared with its check loop
  struct Loop;   // one provider's check loop: strand and timer
  static boost::asio::awaitable<void> run_loop(std::shared_ptr<Entry> entry, std::shared_ptr<Loop> loop,
                                               std::shared_ptr<std::atomic<bool>> stopped,
                                               std::chrono::steady_clock::duration interval);

  std::map<std::string, std::shared_ptr<Entry>, std::less<>> entries_;
  const config::ResilienceConfig config_;
  telemetry::GaugeFamily& state_gauge_;
  telemetry::GaugeFamily& up_gauge_;
  telemetry::GaugeFamily& info_gauge_;
  std::shared_ptr<std::atomic<bool>> stopped_ = std::make_shared<std::atomic<bool>>(false);
  std::mutex loops_mutex_;
  bool started_ = false;
  std::vector<std::weak_ptr<Loop>> loops_;  // weak: a loop's timer dies with its io_context
};

}  // namespace aegis::resilience
