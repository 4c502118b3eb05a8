#include "resilience/provider_health.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <exception>
#include <stdexcept>

#include "core/percentile.hpp"

namespace aegis::resilience {

namespace asio = boost::asio;

struct ProviderHealth::Entry {
  Entry(providers::LLMProvider& p, const Clock& clock, CircuitBreakerOptions options, telemetry::Gauge& state,
        telemetry::Gauge* up_series)
      : provider(p), breaker(p.info().name, clock, options), state_gauge(state), up_gauge(up_series) {}

  void publish_state() { state_gauge.set(breaker.state_code()); }
  void set_up(bool ok) {
    up.store(ok, std::memory_order_relaxed);
    if (up_gauge != nullptr) up_gauge->set(ok ? 1 : 0);
  }

  providers::LLMProvider& provider;
  CircuitBreaker breaker;
  telemetry::Gauge& state_gauge;
  telemetry::Gauge* up_gauge;  // null when health checks are off: no series rather than a made-up "up"
  std::atomic<bool> up{true};

  std::atomic<std::int64_t> requests{0};
  std::atomic<std::int64_t> errors{0};
  std::atomic<std::int64_t> fallbacks{0};
  mutable std::mutex latency_mutex;
  std::vector<std::int64_t> latencies_us;  // a ring of the last kLatencySample attempts
  std::size_t next_latency = 0;
};

struct ProviderHealth::Loop {
  explicit Loop(const asio::any_io_executor& executor) : strand(asio::make_strand(executor)), timer(strand) {}
  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer timer;  // only touched on `strand`
};

namespace {

// A check that throws (it should not) counts as failed rather than ending the loop.
asio::awaitable<bool> checked(providers::LLMProvider& provider) {
  try {
    co_return co_await provider.health_check();
  } catch (const std::exception&) {
    co_return false;
  }
}

}  // namespace

ProviderHealth::ProviderHealth(const config::ResilienceConfig& config, const Clock& clock, telemetry::Registry& metrics,
                               const std::vector<providers::LLMProvider*>& providers)
    : config_(config),
      state_gauge_(metrics.gauge("aegis_circuit_state",
                                 "Circuit breaker state per provider: 0 closed, 1 open, 2 half-open", {"provider"})),
      up_gauge_(metrics.gauge("aegis_provider_up", "1 when the provider's last background health check passed",
                              {"provider"})),
      info_gauge_(metrics.gauge("aegis_provider_info",
                                "1 per configured provider, with its declared locality (local or cloud): joined with "
                                "aegis_provider_up and aegis_circuit_state to tell whether RESTRICTED traffic has "
                                "somewhere to go",
                                {"provider", "locality"})) {
  CircuitBreakerOptions options;
  options.failure_threshold = config.failure_threshold;
  options.cool_down = config.open_duration;
  const bool checks_on = config.health_check_interval.count() > 0;
  for (auto* provider : providers) {
    if (provider == nullptr) throw std::invalid_argument("ProviderHealth: null provider");
    const std::string& name = provider->info().name;
    if (entries_.contains(name)) throw std::invalid_argument("ProviderHealth: duplicate provider name '" + name + "'");
    telemetry::Gauge* up = checks_on ? &up_gauge_.with({name}) : nullptr;
    info_gauge_.with({name, provider->info().locality == config::Locality::local ? "local" : "cloud"}).set(1);
    auto entry = std::make_shared<Entry>(*provider, clock, options, state_gauge_.with({name}), up);
    entry->publish_state();
    entry->set_up(true);
    entries_.emplace(name, std::move(entry));
  }
}

ProviderHealth::~ProviderHealth() { stop(); }

CircuitBreaker* ProviderHealth::breaker(std::string_view provider) {
  const auto it = entries_.find(provider);
  if (it == entries_.end()) return nullptr;
  it->second->publish_state();
  return &it->second->breaker;
}

void ProviderHealth::publish() {
  for (const auto& item : entries_) item.second->publish_state();
}

void ProviderHealth::publish(std::string_view provider) {
  if (const auto it = entries_.find(provider); it != entries_.end()) it->second->publish_state();
}

bool ProviderHealth::up(std::string_view provider) const {
  const auto it = entries_.find(provider);
  return it != entries_.end() && it->second->up.load(std::memory_order_relaxed);
}

void ProviderHealth::record_attempt(std::string_view provider, bool ok, std::chrono::nanoseconds latency) {
  const auto it = entries_.find(provider);
  if (it == entries_.end()) return;
  Entry& e = *it->second;
  e.requests.fetch_add(1, std::memory_order_relaxed);
  if (!ok) e.errors.fetch_add(1, std::memory_order_relaxed);
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(latency).count();
  // The ring is a sample for the console's percentiles: when another request
  // holds it, this one's latency is left out rather than waited for, so the
  // request path never queues on it.
  std::unique_lock lock(e.latency_mutex, std::try_to_lock);
  if (!lock.owns_lock()) return;
  if (e.latencies_us.size() < kLatencySample) {
    e.latencies_us.push_back(us);
  } else {
    e.latencies_us[e.next_latency] = us;
    e.next_latency = (e.next_latency + 1) % kLatencySample;
  }
}

void ProviderHealth::record_fallback(std::string_view provider) {
  const auto it = entries_.find(provider);
  if (it != entries_.end()) it->second->fallbacks.fetch_add(1, std::memory_order_relaxed);
}

ProviderStats ProviderHealth::stats(std::string_view provider) const {
  const auto it = entries_.find(provider);
  if (it == entries_.end()) return {};
  const Entry& e = *it->second;
  ProviderStats out;
  out.requests = e.requests.load(std::memory_order_relaxed);
  out.errors = e.errors.load(std::memory_order_relaxed);
  out.fallbacks = e.fallbacks.load(std::memory_order_relaxed);
  std::vector<std::int64_t> sorted;
  {
    std::lock_guard lock(e.latency_mutex);
    sorted = e.latencies_us;
  }
  std::sort(sorted.begin(), sorted.end());
  out.p50_ms = static_cast<double>(nearest_rank(sorted, 0.50)) / 1000.0;
  out.p99_ms = static_cast<double>(nearest_rank(sorted, 0.99)) / 1000.0;
  return out;
}

void ProviderHealth::start(asio::io_context& io) {
  if (config_.health_check_interval.count() <= 0) return;
  std::lock_guard lock(loops_mutex_);
  if (started_ || stopped_->load()) return;
  started_ = true;
  for (const auto& item : entries_) {
    auto loop = std::make_shared<Loop>(io.get_executor());
    loops_.push_back(loop);
    auto strand = loop->strand;
    asio::co_spawn(strand, run_loop(item.second, std::move(loop), stopped_, config_.health_check_interval),
                   asio::detached);
  }
}

void ProviderHealth::stop() {
  stopped_->store(true);
  std::vector<std::shared_ptr<Loop>> alive;
  {
    std::lock_guard lock(loops_mutex_);
    for (const auto& weak : loops_) {
      if (auto loop = weak.lock()) alive.push_back(std::move(loop));
    }
    loops_.clear();
  }
  // The timer belongs to the loop's strand. The flag is set first, and the
  // loop reads it on that strand right before each wait, so a cancel that
  // lands while a check is in flight is not lost.
  for (auto& loop : alive) {
    auto strand = loop->strand;
    asio::post(strand, [loop = std::move(loop)] { loop->timer.cancel(); });
  }
}

asio::awaitable<void> ProviderHealth::run_loop(std::shared_ptr<Entry> entry, std::shared_ptr<Loop> loop,
                                               std::shared_ptr<std::atomic<bool>> stopped,
                                               std::chrono::steady_clock::duration interval) {
  while (!stopped->load()) {
    const bool ok = co_await checked(entry->provider);
    if (stopped->load()) co_return;  // the owner may be gone: touch nothing else
    entry->set_up(ok);
    entry->publish_state();
    loop->timer.expires_after(interval);
    co_await loop->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> ProviderHealth::check_now() {
  std::vector<std::shared_ptr<Entry>> entries;
  entries.reserve(entries_.size());
  for (const auto& item : entries_) entries.push_back(item.second);
  for (const auto& entry : entries) {
    const bool ok = co_await checked(entry->provider);
    entry->set_up(ok);
    entry->publish_state();
  }
}

}  // namespace aegis::resilience
