// ProviderHealth (resilience/provider_health.hpp): one breaker per provider,
// the aegis_circuit_state / aegis_provider_up gauges, and the background
// health-check loop on an io_context.
#include "resilience/provider_health.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/system_clock.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::resilience {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class FakeProvider final : public providers::LLMProvider {
 public:
  explicit FakeProvider(std::string name) {
    info_.name = std::move(name);
    info_.type = "fake";
  }
  asio::awaitable<Result<Completion>> complete(const ChatRequest&) override {
    co_return make_error(ErrorCode::internal, "not used");
  }
  asio::awaitable<Result<void>> stream(const ChatRequest&, providers::DeltaSink&) override {
    co_return make_error(ErrorCode::internal, "not used");
  }
  asio::awaitable<Result<Embeddings>> embed(const EmbedRequest&) override {
    co_return make_error(ErrorCode::internal, "not used");
  }
  asio::awaitable<bool> health_check() override {
    checks.fetch_add(1);
    if (gate != nullptr) {
      // Stays in flight until the test cancels the gate.
      co_await gate->async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (before_answer) before_answer();
    co_return healthy.load();
  }
  const providers::ProviderInfo& info() const override { return info_; }

  std::atomic<bool> healthy{true};
  std::atomic<int> checks{0};
  asio::steady_timer* gate = nullptr;
  std::function<void()> before_answer;  // runs inside the check, on the loop's strand

 private:
  providers::ProviderInfo info_;
};

// A value of `series` in the exposition; -1 when absent.
double metric(const telemetry::Registry& registry, const std::string& series) {
  const std::string text = registry.expose();
  const std::string needle = "\n" + series + " ";
  const auto at = text.find(needle);
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + needle.size()));
}
std::string state_of(std::string_view provider) {
  return "aegis_circuit_state{provider=\"" + std::string(provider) + "\"}";
}
std::string up_of(std::string_view provider) { return "aegis_provider_up{provider=\"" + std::string(provider) + "\"}"; }

config::ResilienceConfig resilience_config(std::chrono::seconds interval) {
  config::ResilienceConfig config;
  config.failure_threshold = 2;
  config.open_duration = 10s;
  config.health_check_interval = interval;
  return config;
}

void fail(CircuitBreaker& breaker) {
  auto permit = breaker.try_acquire();
  ASSERT_TRUE(permit);
  permit.record_failure(make_error(ErrorCode::upstream_error, "connect failed"));
}

// Polls on the io_context until `done()` holds, then runs `then`. Bounded, so
// a broken loop fails the test instead of hanging it; nothing is asserted
// about how long it took.
asio::awaitable<void> when(std::function<bool()> done, std::function<void()> then) {
  asio::steady_timer tick(co_await asio::this_coro::executor);
  for (int i = 0; i < 30'000 && !done(); ++i) {
    tick.expires_after(1ms);
    co_await tick.async_wait(asio::use_awaitable);
  }
  EXPECT_TRUE(done()) << "the condition never held";
  then();
}

// Runs `io` until it has no work left; false when it still had work after `limit`
// (a loop that did not end). A bound against hanging, not a timing assertion.
bool run_until_idle(asio::io_context& io, std::chrono::seconds limit = 30s) {
  io.run_for(limit);
  return io.stopped();
}

class ProviderHealthTest : public ::testing::Test {
 protected:
  std::vector<providers::LLMProvider*> both() { return {&a_, &b_}; }

  ManualClock clock_;
  telemetry::Registry metrics_;
  FakeProvider a_{"anthropic"};
  FakeProvider b_{"ollama"};
};

TEST_F(ProviderHealthTest, OneBreakerPerProviderWithTheConfiguredOptions) {
  ProviderHealth health(resilience_config(0s), clock_, metrics_, both());
  CircuitBreaker* a = health.breaker("anthropic");
  CircuitBreaker* b = health.breaker("ollama");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  EXPECT_EQ(health.breaker("anthropic"), a);  // the same breaker every time
  EXPECT_EQ(health.breaker("nobody"), nullptr);
  EXPECT_EQ(a->provider(), "anthropic");
  EXPECT_EQ(a->options().failure_threshold, 2);
  EXPECT_EQ(a->options().cool_down, std::chrono::steady_clock::duration(10s));

  fail(*a);
  fail(*a);
  EXPECT_EQ(a->state(), CircuitState::open);
  EXPECT_EQ(b->state(), CircuitState::closed);  // independent
  clock_.advance(10s);
  EXPECT_EQ(a->state(), CircuitState::half_open);  // time comes from the injected clock
}

TEST_F(ProviderHealthTest, DuplicateProviderNamesAreRefused) {
  FakeProvider again{"anthropic"};
  EXPECT_THROW(ProviderHealth(resilience_config(0s), clock_, metrics_, {&a_, &again}), std::invalid_argument);
}

TEST_F(ProviderHealthTest, GaugesFollowTheBreakersOnPublish) {
  ProviderHealth health(resilience_config(0s), clock_, metrics_, both());
  EXPECT_EQ(metric(metrics_, state_of("anthropic")), 0);
  EXPECT_EQ(metric(metrics_, state_of("ollama")), 0);

  CircuitBreaker& a = *health.breaker("anthropic");
  fail(a);
  fail(a);
  health.publish();
  EXPECT_EQ(metric(metrics_, state_of("anthropic")), 1);  // open
  EXPECT_EQ(metric(metrics_, state_of("ollama")), 0);

  clock_.advance(9s);
  health.publish();
  EXPECT_EQ(metric(metrics_, state_of("anthropic")), 1);  // still cooling down
  clock_.advance(1s);
  health.publish();
  EXPECT_EQ(metric(metrics_, state_of("anthropic")), 2);  // half-open: the cool-down elapsed

  auto probe = a.try_acquire();
  ASSERT_TRUE(probe.is_probe());
  probe.record_success();
  health.publish();
  EXPECT_EQ(metric(metrics_, state_of("anthropic")), 0);  // closed again

  // Looking a breaker up refreshes its gauge too.
  fail(a);
  fail(a);
  EXPECT_EQ(metric(metrics_, state_of("anthropic")), 0);
  health.breaker("anthropic");
  EXPECT_EQ(metric(metrics_, state_of("anthropic")), 1);
}

TEST_F(ProviderHealthTest, UpIsTrueUntilACheckSaysOtherwise) {
  ProviderHealth health(resilience_config(0s), clock_, metrics_, both());
  EXPECT_TRUE(health.up("anthropic"));
  EXPECT_TRUE(health.up("ollama"));
  EXPECT_FALSE(health.up("nobody"));
  // With checks off there is nothing to report: no aegis_provider_up series at all.
  EXPECT_EQ(metric(metrics_, up_of("anthropic")), -1);
}

TEST_F(ProviderHealthTest, CheckNowUpdatesUpAndBothGauges) {
  ProviderHealth health(resilience_config(15s), clock_, metrics_, both());
  EXPECT_EQ(metric(metrics_, up_of("anthropic")), 1);
  EXPECT_EQ(metric(metrics_, up_of("ollama")), 1);
  b_.healthy = false;
  CircuitBreaker& a = *health.breaker("anthropic");
  fail(a);
  fail(a);
  clock_.advance(10s);

  asio::io_context io;
  asio::co_spawn(io, health.check_now(), asio::detached);
  ASSERT_TRUE(run_until_idle(io));
  EXPECT_EQ(a_.checks.load(), 1);
  EXPECT_EQ(b_.checks.load(), 1);
  EXPECT_TRUE(health.up("anthropic"));
  EXPECT_FALSE(health.up("ollama"));
  EXPECT_EQ(metric(metrics_, up_of("anthropic")), 1);
  EXPECT_EQ(metric(metrics_, up_of("ollama")), 0);
  EXPECT_EQ(metric(metrics_, state_of("anthropic")), 2);  // a round publishes the breaker states as well

  b_.healthy = true;
  io.restart();
  asio::co_spawn(io, health.check_now(), asio::detached);
  ASSERT_TRUE(run_until_idle(io));
  EXPECT_TRUE(health.up("ollama"));
  EXPECT_EQ(metric(metrics_, up_of("ollama")), 1);
}

TEST_F(ProviderHealthTest, IntervalZeroStartsNoLoop) {
  ProviderHealth health(resilience_config(0s), clock_, metrics_, both());
  asio::io_context io;
  health.start(io);
  ASSERT_TRUE(run_until_idle(io));
  EXPECT_EQ(a_.checks.load(), 0);
  EXPECT_EQ(b_.checks.load(), 0);
}

TEST_F(ProviderHealthTest, LoopChecksAtOnceAndStopEndsItWithoutWaitingForTheInterval) {
  // An hour: a second round, or a stop() that fails to cancel the wait, would
  // leave work on the io_context and fail run_until_idle.
  ProviderHealth health(resilience_config(3600s), clock_, metrics_, both());
  b_.healthy = false;
  asio::io_context io;
  health.start(io);
  health.start(io);  // a second start is a no-op: still one loop per provider
  auto first_round = [this, &health] { return a_.checks.load() == 1 && b_.checks.load() == 1 && !health.up("ollama"); };
  auto stop = [&health] {
    health.stop();
    health.stop();  // safe twice
  };
  asio::co_spawn(io, when(first_round, stop), asio::detached);
  ASSERT_TRUE(run_until_idle(io)) << "the health loop kept running after stop()";
  EXPECT_EQ(a_.checks.load(), 1);
  EXPECT_EQ(b_.checks.load(), 1);
  EXPECT_TRUE(health.up("anthropic"));
  EXPECT_FALSE(health.up("ollama"));
  EXPECT_EQ(metric(metrics_, up_of("ollama")), 0);

  health.start(io);  // after stop(): stays stopped
  io.restart();
  ASSERT_TRUE(run_until_idle(io));
  EXPECT_EQ(a_.checks.load(), 1);
}

TEST_F(ProviderHealthTest, LoopRepeatsEveryIntervalAndSeesRecovery) {
  // The one test that waits for a real interval (the smallest, 1 s): it is
  // about the repetition itself. It asserts what happened, never how long it took.
  ProviderHealth health(resilience_config(1s), clock_, metrics_, {&b_});
  b_.healthy = false;
  b_.before_answer = [this] {
    if (b_.checks.load() == 2) b_.healthy = true;  // down on the first check, up from the second
  };
  asio::io_context io;
  health.start(io);
  bool was_down = false;
  auto recovered = [&] {
    if (!health.up("ollama")) was_down = true;
    return was_down && health.up("ollama");
  };
  auto stop = [&health] { health.stop(); };
  asio::co_spawn(io, when(recovered, stop), asio::detached);
  ASSERT_TRUE(run_until_idle(io));
  EXPECT_TRUE(was_down);
  EXPECT_TRUE(health.up("ollama"));
  EXPECT_GE(b_.checks.load(), 2);
  EXPECT_EQ(metric(metrics_, up_of("ollama")), 1);
}

TEST_F(ProviderHealthTest, StopDuringACheckDropsItsResultAndEndsTheLoop) {
  ProviderHealth health(resilience_config(3600s), clock_, metrics_, {&b_});
  asio::io_context io;
  asio::steady_timer gate(io, asio::steady_timer::time_point::max());
  b_.gate = &gate;
  b_.healthy = false;
  health.start(io);
  auto in_flight = [this] { return b_.checks.load() == 1; };
  auto stop_then_release = [&] {
    health.stop();
    gate.cancel();  // the check now completes, with "down"
  };
  asio::co_spawn(io, when(in_flight, stop_then_release), asio::detached);
  ASSERT_TRUE(run_until_idle(io)) << "the health loop kept running after stop()";
  EXPECT_EQ(b_.checks.load(), 1);
  EXPECT_TRUE(health.up("ollama")) << "a result that arrived after stop() was applied";
  EXPECT_EQ(metric(metrics_, up_of("ollama")), 1);
}

TEST_F(ProviderHealthTest, MayBeDestroyedAfterRunReturnsWithoutStop) {
  // The io_context is stopped with the loops still waiting on their timers;
  // the ProviderHealth goes first, the io_context (holding the suspended
  // loops) after it. Under ASan this catches a loop that points back at it.
  asio::io_context io;
  auto health = std::make_unique<ProviderHealth>(resilience_config(3600s), clock_, metrics_, both());
  health->start(io);
  auto first_round = [this] { return a_.checks.load() == 1 && b_.checks.load() == 1; };
  auto stop_io = [&io] { io.stop(); };
  asio::co_spawn(io, when(first_round, stop_io), asio::detached);
  io.run_for(30s);
  EXPECT_EQ(a_.checks.load(), 1);
  health.reset();
  io.restart();
  ASSERT_TRUE(run_until_idle(io)) << "the destructor did not end the loops";
  EXPECT_EQ(a_.checks.load(), 1);
}

TEST_F(ProviderHealthTest, StatsCountAttemptsFailuresFallbacksAndRecentLatency) {
  ProviderHealth health(resilience_config(0s), clock_, metrics_, both());
  EXPECT_EQ(health.stats("anthropic").requests, 0);
  EXPECT_EQ(health.stats("anthropic").p99_ms, 0);
  for (int ms = 1; ms <= 100; ++ms) health.record_attempt("anthropic", ms % 10 != 0, std::chrono::milliseconds(ms));
  health.record_fallback("anthropic");
  health.record_attempt("nobody", false, 1s);  // unknown names change nothing
  const auto a = health.stats("anthropic");
  EXPECT_EQ(a.requests, 100);
  EXPECT_EQ(a.errors, 10);
  EXPECT_EQ(a.fallbacks, 1);
  EXPECT_DOUBLE_EQ(a.p50_ms, 50);
  EXPECT_DOUBLE_EQ(a.p99_ms, 99);
  EXPECT_EQ(health.stats("ollama").requests, 0);
  EXPECT_EQ(health.stats("nobody").requests, 0);
  // Only the last kLatencySample attempts make the percentiles.
  for (std::size_t i = 0; i < ProviderHealth::kLatencySample; ++i) health.record_attempt("anthropic", true, 500ms);
  EXPECT_DOUBLE_EQ(health.stats("anthropic").p50_ms, 500);
  EXPECT_EQ(health.stats("anthropic").requests, 100 + static_cast<std::int64_t>(ProviderHealth::kLatencySample));
}

}  // namespace
}  // namespace aegis::resilience
