#include "resilience/circuit_breaker.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "core/system_clock.hpp"

namespace aegis {
namespace {

using namespace std::chrono_literals;

Error upstream_failure() { return make_error(ErrorCode::upstream_error, "connect failed"); }

void fail_once(CircuitBreaker& breaker, Error error = upstream_failure()) {
  auto permit = breaker.try_acquire();
  ASSERT_TRUE(permit);
  permit.record_failure(error);
}

void succeed_once(CircuitBreaker& breaker) {
  auto permit = breaker.try_acquire();
  ASSERT_TRUE(permit);
  permit.record_success();
}

void open_breaker(CircuitBreaker& breaker) {
  for (int i = 0; i < breaker.options().failure_threshold; ++i) fail_once(breaker);
  ASSERT_EQ(breaker.state(), CircuitState::open);
}

TEST(CircuitBreaker, StartsClosedAndAllows) {
  ManualClock clock;
  CircuitBreaker breaker("anthropic", clock);
  EXPECT_EQ(breaker.state(), CircuitState::closed);
  EXPECT_EQ(breaker.state_code(), 0);
  EXPECT_EQ(breaker.provider(), "anthropic");
  auto permit = breaker.try_acquire();
  EXPECT_EQ(permit.kind(), PermitKind::allowed);
  permit.record_success();
}

TEST(CircuitBreaker, OpensAfterThreeConsecutiveFailures) {
  ManualClock clock;
  CircuitBreaker breaker("p", clock);
  fail_once(breaker);
  fail_once(breaker);
  EXPECT_EQ(breaker.state(), CircuitState::closed);
  fail_once(breaker);
  EXPECT_EQ(breaker.state(), CircuitState::open);
  EXPECT_EQ(breaker.state_code(), 1);
  EXPECT_EQ(breaker.times_opened(), 1u);
  EXPECT_EQ(breaker.try_acquire().kind(), PermitKind::rejected);
}

TEST(CircuitBreaker, SuccessInBetweenResetsTheStreak) {
  ManualClock clock;
  CircuitBreaker breaker("p", clock);
  fail_once(breaker);
  fail_once(breaker);
  succeed_once(breaker);
  EXPECT_EQ(breaker.consecutive_failures(), 0);
  fail_once(breaker);
  fail_once(breaker);
  EXPECT_EQ(breaker.state(), CircuitState::closed);
  EXPECT_EQ(breaker.consecutive_failures(), 2);
}

TEST(CircuitBreaker, ThresholdAndCoolDownAreConfigurable) {
  ManualClock clock;
  CircuitBreaker breaker("p", clock, CircuitBreakerOptions{.failure_threshold = 5, .cool_down = 10s});
  for (int i = 0; i < 4; ++i) fail_once(breaker);
  EXPECT_EQ(breaker.state(), CircuitState::closed);
  fail_once(breaker);
  EXPECT_EQ(breaker.state(), CircuitState::open);
  clock.advance(9s);
  EXPECT_EQ(breaker.state(), CircuitState::open);
  clock.advance(1s);
  EXPECT_EQ(breaker.state(), CircuitState::half_open);
}

TEST(CircuitBreakerClassification, CountsProviderHealthErrorsOnly) {
  for (auto code : {ErrorCode::upstream_error, ErrorCode::upstream_timeout, ErrorCode::unavailable,
                    ErrorCode::rate_limited}) {
    EXPECT_TRUE(CircuitBreaker::counts_as_failure(make_error(code, "x"))) << error_type(code);
  }
  for (auto code : {ErrorCode::invalid_request, ErrorCode::invalid_json, ErrorCode::unauthorized,
                    ErrorCode::forbidden, ErrorCode::budget_exceeded, ErrorCode::not_found,
                    ErrorCode::payload_too_large, ErrorCode::pii_blocked, ErrorCode::egress_blocked,
                    ErrorCode::no_local_provider, ErrorCode::internal}) {
    EXPECT_FALSE(CircuitBreaker::counts_as_failure(make_error(code, "x"))) << error_type(code);
  }
}

TEST(CircuitBreaker, ClientErrorsNeitherCountNorReset) {
  ManualClock clock;
  CircuitBreaker breaker("p", clock);
  fail_once(breaker);
  fail_once(breaker);
  for (auto code : {ErrorCode::invalid_request, ErrorCode::pii_blocked, ErrorCode::budget_exceeded,
                    ErrorCode::unauthorized}) {
    fail_once(breaker, make_error(code, "client"));
  }
  EXPECT_EQ(breaker.state(), CircuitState::closed);
  EXPECT_EQ(breaker.consecutive_failures(), 2);  // not reset either
  fail_once(breaker, make_error(ErrorCode::rate_limited, "429"));
  EXPECT_EQ(breaker.state(), CircuitState::open);
}

TEST(CircuitBreaker, OpenRejectsUntilCoolDownPasses) {
  ManualClock clock;
  CircuitBreaker breaker("p", clock);
  open_breaker(breaker);
  EXPECT_EQ(breaker.time_until_probe(), std::chrono::steady_clock::duration(60s));
  clock.advance(59s);
  EXPECT_EQ(breaker.try_acquire().kind(), PermitKind::rejected);
  EXPECT_EQ(breaker.time_until_probe(), std::chrono::steady_clock::duration(1s));
  clock.advance(1s);
  EXPECT_EQ(breaker.state(), CircuitState::half_open);
  EXPECT_EQ(breaker.state_code(), 2);
  EXPECT_EQ(breaker.time_until_probe(), std::chrono::steady_clock::duration::zero());
  auto probe = breaker.try_acquire();
  EXPECT_EQ(probe.kind(), PermitKind::probe);
  EXPECT_TRUE(probe.is_probe());
  probe.record_success();
}

TEST(CircuitBreaker, ExactlyOneProbeInHalfOpen) {
  ManualClock clock;
  CircuitBreaker breaker("p", clock);
  open_breaker(breaker);
  clock.advance(60s);
  auto probe = breaker.try_acquire();
  ASSERT_EQ(probe.kind(), PermitKind::probe);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(breaker.try_acquire().kind(), PermitKind::rejected);
  clock.advance(1h);  // time alone does not hand out a second probe
  EXPECT_EQ(breaker.try_acquire().kind(), PermitKind::rejected);
  EXPECT_EQ(breaker.state(), CircuitState::half_open);
  probe.record_success();
}

TEST(CircuitBreaker, ExactlyOneProbeAcrossThreads) {
  ManualClock clock;
  CircuitBreaker breaker("p", clock);
  open_breaker(breaker);
  clock.advance(60s);
  std::atomic<int> probes{0}, rejected{0};
  std::vector<CircuitBreaker::Permit> held(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      held[t] = breaker.try_acquire();
      (held[t].is_probe() ? probes : rejected)++;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(probes.load(), 1);
  EXPECT_EQ(rejected.load(), 7);
  for (auto& p : held) p.record_success();
  EXPECT_EQ(breaker.state(), CircuitState::closed);
}

TEST(CircuitBreaker, ProbeSuccessCloses) {
  ManualClock clock;
  CircuitBreaker breaker("p", clock);
  open_breaker(breaker);
  clock.advance(60s);
  auto probe = breaker.try_acquire();
  probe.record_success();
  EXPECT_EQ(breaker.state(), CircuitState::closed);
  EXPECT_EQ(breaker.consecutive_failures(), 0);
  EXPECT_EQ(breaker.try_acquire().kind(), PermitKind::allowed);
  // A fresh streak is needed to open it again.
  fail_once(breaker);
  fail_once(breaker);
  EXPECT_EQ(breaker.state(), CircuitState::closed);
  fail_once(breaker);
  EXPECT_EQ(breaker.state(), CircuitState::open);
}

TEST(CircuitBreaker, ProbeFailureReopensFromTheFailureTime) {
  ManualClock clock;
  CircuitBreaker breaker("p", clock);
  open_breaker(breaker);
  clock.advance(60s);
  auto probe = breaker.try_acquire();
  ASSERT_TRUE(probe.is_probe());
  clock.advance(5s);  // the probe takes a while before failing
  probe.record_failure(make_error(ErrorCode::upstream_timeout, "timeout"));
  EXPECT_EQ(breaker.state(), CircuitState::open);
  EXPECT_EQ(breaker.times_opened(), 2u);
  clock.advance(59s);
  EXPECT_EQ(breaker.try_acquire().kind(), PermitKind::rejected);
  clock.advance(1s);  // 60 s after the probe failed, not after it started
  EXPECT_EQ(breaker.try_acquire().kind(), PermitKind::probe);
}

TEST(CircuitBreaker, ProbeWithClientErrorFreesTheProbeSlot) {
  ManualClock clock;
  CircuitBreaker breaker("p", clock);
  open_breaker(breaker);
  clock.advance(60s);
  auto probe = breaker.try_acquire();
  probe.record_failure(make_error(ErrorCode::invalid_request, "bad request"));
  EXPECT_EQ(breaker.state(), CircuitState::half_open);
  auto next = breaker.try_acquire();
  EXPECT_EQ(next.kind(), PermitKind::probe);
  next.record_success();
  EXPECT_EQ(breaker.state(), CircuitState::closed);
}

TEST(CircuitBreaker, RetryAfterExtendsTheOpenPeriod) {
  ManualClock clock;
  CircuitBreaker breaker("p", clock);
  Error limited = make_error(ErrorCode::rate_limited, "429");
  limited.retry_after_seconds = 120;
  fail_once(breaker, limited);
  fail_once(breaker);
  fail_once(breaker);
  ASSERT_EQ(breaker.state(), CircuitState::open);
  EXPECT_EQ(breaker.time_until_probe(), std::chrono::steady_clock::duration(120s));
  clock.advance(60s);
  EXPECT_EQ(breaker.try_acquire().kind(), PermitKind::rejected);
  clock.advance(60s);
  EXPECT_EQ(breaker.try_acquire().kind(), PermitKind::probe);
}

TEST(CircuitBreaker, ShorterRetryAfterKeepsTheCoolDown) {
  ManualClock clock;
  CircuitBreaker breaker("p", clock);
  Error limited = make_error(ErrorCode::rate_limited, "429");
  limited.retry_after_seconds = 5;
  for (int i = 0; i < 3; ++i) fail_once(breaker, limited);
  EXPECT_EQ(breaker.time_until_probe(), std::chrono::steady_clock::duration(60s));
}

TEST(CircuitBreaker, RetryAfterOnAFailedProbeAndIsCapped) {
  ManualClock clock;
  CircuitBreaker breaker("p", clock, CircuitBreakerOptions{.max_retry_after = 10min});
  open_breaker(breaker);
  clock.advance(60s);
  auto probe = breaker.try_acquire();
  Error overloaded = make_error(ErrorCode::unavailable, "529");
  overloaded.retry_after_seconds = 86400;
  probe.record_failure(overloaded);
  EXPECT_EQ(breaker.time_until_probe(), std::chrono::steady_clock::duration(10min));
}

TEST(CircuitBreaker, AbandonedProbeCountsAsFailureAndDoesNotWedge) {
  ManualClock clock;
  CircuitBreaker breaker("p", clock);
  open_breaker(breaker);
  clock.advance(60s);
  {
    auto probe = breaker.try_acquire();
    ASSERT_TRUE(probe.is_probe());
    EXPECT_EQ(breaker.try_acquire().kind(), PermitKind::rejected);
  }  // destroyed without a report
  EXPECT_EQ(breaker.state(), CircuitState::open);
  clock.advance(60s);
  auto next = breaker.try_acquire();
  EXPECT_EQ(next.kind(), PermitKind::probe);
  next.record_success();
  EXPECT_EQ(breaker.state(), CircuitState::closed);
}

TEST(CircuitBreaker, AbandonedOrdinaryPermitIsNeutral) {
  ManualClock clock;
  CircuitBreaker breaker("p", clock);
  fail_once(breaker);
  fail_once(breaker);
  for (int i = 0; i < 5; ++i) {
    auto permit = breaker.try_acquire();
    ASSERT_EQ(permit.kind(), PermitKind::allowed);
  }
  EXPECT_EQ(breaker.state(), CircuitState::closed);
  EXPECT_EQ(breaker.consecutive_failures(), 2);
}

TEST(CircuitBreaker, MovedPermitReportsOnce) {
  ManualClock clock;
  CircuitBreaker breaker("p", clock);
  open_breaker(breaker);
  clock.advance(60s);
  auto probe = breaker.try_acquire();
  CircuitBreaker::Permit moved = std::move(probe);
  EXPECT_TRUE(moved.is_probe());
  moved.record_success();
  moved.record_failure(upstream_failure());  // ignored: already reported
  EXPECT_EQ(breaker.state(), CircuitState::closed);
}

TEST(CircuitBreaker, StaleReportsFromAnEarlierStateAreIgnored) {
  ManualClock clock;
  CircuitBreaker breaker("p", clock);
  auto slow = breaker.try_acquire();  // allowed while closed, finishes much later
  open_breaker(breaker);
  clock.advance(60s);
  auto probe = breaker.try_acquire();
  ASSERT_TRUE(probe.is_probe());
  slow.record_success();  // must not close the breaker behind the probe's back
  EXPECT_EQ(breaker.state(), CircuitState::half_open);
  probe.record_failure(upstream_failure());
  EXPECT_EQ(breaker.state(), CircuitState::open);
}

TEST(CircuitBreaker, StateCodes) {
  ManualClock clock;
  CircuitBreaker breaker("p", clock);
  EXPECT_EQ(breaker.state_code(), 0);
  open_breaker(breaker);
  EXPECT_EQ(breaker.state_code(), 1);
  clock.advance(60s);
  EXPECT_EQ(breaker.state_code(), 2);
  auto probe = breaker.try_acquire();
  EXPECT_EQ(breaker.state_code(), 2);
  probe.record_success();
  EXPECT_EQ(breaker.state_code(), 0);
}

TEST(CircuitBreakerConcurrency, FourThreadsKeepConsistentCounts) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  {
    // Never opens: every failure is counted exactly once.
    ManualClock clock;
    CircuitBreaker breaker("p", clock, CircuitBreakerOptions{.failure_threshold = 1'000'000});
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < kPerThread; ++i) breaker.try_acquire().record_failure(upstream_failure());
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(breaker.consecutive_failures(), kThreads * kPerThread);
    EXPECT_EQ(breaker.state(), CircuitState::closed);
  }
  {
    // Opens once; the clock is frozen so it stays open.
    ManualClock clock;
    CircuitBreaker breaker("p", clock);
    std::atomic<int> allowed{0}, probes{0}, rejected{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < kPerThread; ++i) {
          auto permit = breaker.try_acquire();
          switch (permit.kind()) {
            case PermitKind::allowed: ++allowed; break;
            case PermitKind::probe: ++probes; break;
            case PermitKind::rejected: ++rejected; break;
          }
          permit.record_failure(upstream_failure());
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(allowed + probes + rejected, kThreads * kPerThread);
    EXPECT_EQ(probes.load(), 0);
    // 3 failures open it; at most one in-flight permit per other thread was
    // issued before that and is then ignored as stale.
    EXPECT_GE(allowed.load(), 3);
    EXPECT_LE(allowed.load(), 3 + kThreads - 1);
    EXPECT_EQ(breaker.times_opened(), 1u);
    EXPECT_EQ(breaker.state(), CircuitState::open);
  }
  {
    // Cycles through all states with the clock moving: at most one probe in flight at any time.
    ManualClock clock;
    CircuitBreaker breaker("p", clock, CircuitBreakerOptions{.cool_down = 1s});
    std::atomic<int> in_flight_probes{0}, max_in_flight{0}, total{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          auto permit = breaker.try_acquire();
          ++total;
          if (permit.is_probe()) {
            int now = ++in_flight_probes;
            int seen = max_in_flight.load();
            while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {}
            --in_flight_probes;
          }
          if ((i + t) % 3 == 0) permit.record_success(); else permit.record_failure(upstream_failure());
          if (t == 0 && i % 10 == 0) clock.advance(500ms);
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(total.load(), kThreads * kPerThread);
    EXPECT_LE(max_in_flight.load(), 1);
    const int code = breaker.state_code();
    EXPECT_TRUE(code >= 0 && code <= 2);
  }
}

}  // namespace
}  // namespace aegis
