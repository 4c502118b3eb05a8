#include "ratelimit/rate_limiter.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <map>

#include "core/system_clock.hpp"
#include "ratelimit/auth_throttle.hpp"

namespace aegis::ratelimit {
namespace {

using namespace std::chrono_literals;

identity::Principal principal(const std::string& team, const std::string& key, store::RateLimits team_limits,
                              store::RateLimits key_limits = {}) {
  identity::Principal p;
  p.team = team;
  p.key_id = key;
  p.team_limits = team_limits;
  p.key_limits = key_limits;
  return p;
}

double counter(telemetry::Registry& metrics, const std::string& team, const std::string& kind) {
  const std::string text = metrics.expose();
  const std::string series = "aegis_rate_limited_total{team=\"" + team + "\",kind=\"" + kind + "\"} ";
  const auto at = text.find(series);
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + series.size()));
}

class RateLimiterTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  telemetry::Registry metrics_;
  RateLimiter limiter_{clock_, metrics_};
};

TEST_F(RateLimiterTest, WithoutLimitsEveryRequestPassesAndNothingIsKept) {
  const auto p = principal("t", "k", {});
  for (int i = 0; i < 1000; ++i) {
    auto a = limiter_.admit_now(p, 1'000'000);
    ASSERT_TRUE(a.ok());
    EXPECT_FALSE(a->active());
  }
  EXPECT_EQ(limiter_.bucket_count(), 0u);
  EXPECT_FALSE(limiter_.peek(p).any());
}

TEST_F(RateLimiterTest, RequestsPerMinuteAreExactAndRefill) {
  const auto p = principal("t", "k", store::RateLimits{3, std::nullopt, std::nullopt});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(limiter_.admit_now(p, 10).ok()) << i;
  auto refused = limiter_.admit_now(p, 10);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::rate_limited);
  EXPECT_EQ(refused.error().retry_after_seconds, 20);  // one request every 20 s
  EXPECT_NE(refused.error().message.find("team's limit of 3 requests per minute"), std::string::npos);
  EXPECT_EQ(counter(metrics_, "t", "requests"), 1);
  clock_.advance(19s);
  EXPECT_FALSE(limiter_.admit_now(p, 10).ok());
  clock_.advance(1s);
  EXPECT_TRUE(limiter_.admit_now(p, 10).ok());
}

TEST_F(RateLimiterTest, TheMostConstrainingOfKeyAndTeamDecidesAndBothAreCharged) {
  const auto a = principal("team", "key-a", store::RateLimits{5, std::nullopt, std::nullopt},
                           store::RateLimits{2, std::nullopt, std::nullopt});
  const auto b = principal("team", "key-b", store::RateLimits{5, std::nullopt, std::nullopt});
  ASSERT_TRUE(limiter_.admit_now(a, 1).ok());
  ASSERT_TRUE(limiter_.admit_now(a, 1).ok());
  auto refused = limiter_.admit_now(a, 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("key's limit of 2"), std::string::npos);
  // The key's refusal charged nothing: the team still has 3.
  auto snapshot = limiter_.peek(b);
  ASSERT_TRUE(snapshot.requests);
  EXPECT_EQ(snapshot.requests->remaining, 3);
  EXPECT_EQ(snapshot.requests->limit, 5);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(limiter_.admit_now(b, 1).ok());
  auto team_refused = limiter_.admit_now(b, 1);
  ASSERT_FALSE(team_refused.ok());
  EXPECT_NE(team_refused.error().message.find("team's limit of 5"), std::string::npos);
  // Headers show the more constraining window: key a's 0 left.
  auto shown = limiter_.peek(a);
  ASSERT_TRUE(shown.requests);
  EXPECT_EQ(shown.requests->remaining, 0);
}

TEST_F(RateLimiterTest, TokensAreEstimatedThenCorrectedWithTheUsage) {
  const auto p = principal("t", "k", store::RateLimits{std::nullopt, 1000, std::nullopt});
  auto first = limiter_.admit_now(p, 600);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->snapshot().tokens->remaining, 400);
  auto refused = limiter_.admit_now(p, 600);  // 600 more do not fit before the correction
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(counter(metrics_, "t", "tokens"), 1);
  EXPECT_EQ(refused.error().retry_after_seconds, 12);  // 200 tokens at 1000 a minute
  first->settle(100);                                  // the call used 100: 500 go back
  EXPECT_EQ(first->snapshot().tokens->remaining, 900);
  first->settle(0);  // once only
  EXPECT_EQ(limiter_.peek(p).tokens->remaining, 900);
  auto second = limiter_.admit_now(p, 600);
  ASSERT_TRUE(second.ok());
  second->settle(1500);  // more than estimated: the rest is taken, into debt
  EXPECT_EQ(limiter_.peek(p).tokens->remaining, 0);
  clock_.advance(30s);  // +500: still 100 in debt... (900 - 600 - 900 = -600, +500 = -100)
  EXPECT_EQ(limiter_.peek(p).tokens->remaining, 0);
  clock_.advance(12s);  // +200
  EXPECT_EQ(limiter_.peek(p).tokens->remaining, 100);
}

TEST_F(RateLimiterTest, AnEstimateAboveTheLimitWaitsForAFullBucket) {
  const auto p = principal("t", "k", store::RateLimits{std::nullopt, 100, std::nullopt});
  auto big = limiter_.admit_now(p, 5000);
  ASSERT_TRUE(big.ok());  // charged as the whole bucket
  EXPECT_EQ(big->snapshot().tokens->remaining, 0);
  big->settle(40);
  EXPECT_EQ(limiter_.peek(p).tokens->remaining, 60);
  auto again = limiter_.admit_now(p, 5000);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().retry_after_seconds, 24);  // 40 more tokens at 100 a minute
}

TEST_F(RateLimiterTest, ConcurrencySlotsAreHeldUntilTheAdmissionGoes) {
  const auto p = principal("t", "k", store::RateLimits{std::nullopt, std::nullopt, 2});
  std::optional<Admission> one(limiter_.admit_now(p, 1).value());
  auto two = limiter_.admit_now(p, 1);
  ASSERT_TRUE(two.ok());
  auto three = limiter_.admit_now(p, 1);
  ASSERT_FALSE(three.ok());
  EXPECT_EQ(three.error().code, ErrorCode::rate_limited);
  EXPECT_EQ(three.error().retry_after_seconds, 1);
  EXPECT_EQ(counter(metrics_, "t", "concurrency"), 1);
  one.reset();  // the request ended
  auto four = limiter_.admit_now(p, 1);
  ASSERT_TRUE(four.ok());
  // Moving an admission moves its slot: still two held.
  Admission moved = std::move(four).value();
  EXPECT_FALSE(limiter_.admit_now(p, 1).ok());
}

TEST_F(RateLimiterTest, ALimitChangedOrRemovedAppliesAtOnce) {
  auto p = principal("t", "k", store::RateLimits{2, std::nullopt, std::nullopt});
  ASSERT_TRUE(limiter_.admit_now(p, 1).ok());
  ASSERT_TRUE(limiter_.admit_now(p, 1).ok());
  ASSERT_FALSE(limiter_.admit_now(p, 1).ok());
  p.team_limits.rpm = 600;  // raised: the level stays, and refills at the new rate from now on
  EXPECT_FALSE(limiter_.admit_now(p, 1).ok());
  clock_.advance(100ms);  // a tenth of a second of 600 a minute
  EXPECT_TRUE(limiter_.admit_now(p, 1).ok());
  EXPECT_FALSE(limiter_.admit_now(p, 1).ok());
  p.team_limits.rpm.reset();  // removed
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(limiter_.admit_now(p, 1).ok());
  EXPECT_FALSE(limiter_.peek(p).any());
}

TEST_F(RateLimiterTest, TeamsAndKeysDoNotShareBuckets) {
  const store::RateLimits one_rpm{1, std::nullopt, std::nullopt};
  ASSERT_TRUE(limiter_.admit_now(principal("a", "k1", one_rpm), 1).ok());
  EXPECT_FALSE(limiter_.admit_now(principal("a", "k2", one_rpm), 1).ok());  // same team
  EXPECT_TRUE(limiter_.admit_now(principal("b", "k3", one_rpm), 1).ok());   // another team
}

// Shared buckets: a fake pool with the database's arithmetic.
class FakePool final : public store::RatePool {
 public:
  Result<store::RateTake> take(std::string_view bucket, std::int64_t capacity, std::int64_t want,
                               std::int64_t now_ms) override {
    ++takes;
    auto& b = buckets[std::string(bucket)];
    if (!b.seen) {
      b = Level{capacity * 1000, now_ms, true};
    } else {
      b.milli =
          std::min(capacity * 1000,
                   b.milli + std::min<std::int64_t>(std::max<std::int64_t>(0, now_ms - b.ms), 60'000) * capacity / 60);
      b.ms = std::max(b.ms, now_ms);
    }
    const std::int64_t granted = std::min(want, std::max<std::int64_t>(0, b.milli) / 1000);
    b.milli -= granted * 1000;
    return store::RateTake{granted, b.milli / 1000};
  }
  std::int64_t replicas() override { return 3; }

  struct Level {
    std::int64_t milli = 0;
    std::int64_t ms = 0;
    bool seen = false;
  };
  std::map<std::string, Level> buckets;
  int takes = 0;
};

TEST(SharedRateLimiter, ThreeReplicasTogetherStayWithinTheBound) {
  ManualClock clock;
  telemetry::Registry metrics;
  FakePool pool;
  store::DbExecutor db{1};
  boost::asio::io_context io;
  RateLimiter::Options options;
  options.slice_ttl = 2s;
  std::vector<std::unique_ptr<RateLimiter>> replicas;
  replicas.reserve(3);
  for (int i = 0; i < 3; ++i) replicas.push_back(std::make_unique<RateLimiter>(clock, metrics, &pool, &db, options));
  const auto p = principal("t", "k", store::RateLimits{60, std::nullopt, std::nullopt});
  int admitted = 0;
  // The database thread's hops leave the io_context without work of its own meanwhile.
  auto guard = boost::asio::make_work_guard(io);
  auto run = [&]() -> boost::asio::awaitable<void> {
    // Two minutes of 3 requests every 100 ms, one to each replica in turn.
    for (int step = 0; step < 1200; ++step) {
      for (auto& r : replicas) {
        auto a = co_await r->admit(p, 1);
        if (a.ok()) ++admitted;
      }
      clock.advance(100ms);
    }
    guard.reset();
  };
  auto done = boost::asio::co_spawn(io, run(), boost::asio::use_future);
  io.run();
  done.get();
  // One bucket would admit 60 + 2 minutes x 60 = 180; the slices outstanding
  // (at most one per replica, of max(1, 60 / (10 x 3)) = 2) add at most 6.
  EXPECT_GE(admitted, 170);
  EXPECT_LE(admitted, 180 + 3 * 2);
  EXPECT_LT(pool.takes, 3 * 1200);  // not one database write per request
}

TEST(AuthThrottle, AnAddressIsThrottledAfterItsFailuresAndOthersAreNot) {
  ManualClock clock;
  telemetry::Registry metrics;
  AuthThrottle throttle(clock, metrics, 3);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(throttle.check("10.0.0.1").ok()) << i;
    throttle.failed("10.0.0.1");
  }
  auto refused = throttle.check("10.0.0.1");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::rate_limited);
  EXPECT_EQ(refused.error().retry_after_seconds, 20);
  EXPECT_TRUE(throttle.check("10.0.0.2").ok());
  EXPECT_EQ(counter(metrics, "-", "auth"), 1);
  clock.advance(20s);
  EXPECT_TRUE(throttle.check("10.0.0.1").ok());
}

TEST(AuthThrottle, ZeroTurnsItOff) {
  ManualClock clock;
  telemetry::Registry metrics;
  AuthThrottle throttle(clock, metrics, 0);
  for (int i = 0; i < 100; ++i) throttle.failed("10.0.0.1");
  EXPECT_TRUE(throttle.check("10.0.0.1").ok());
  EXPECT_EQ(throttle.tracked(), 0u);
}

}  // namespace
}  // namespace aegis::ratelimit
