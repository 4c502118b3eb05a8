#include "ratelimit/token_bucket.hpp"

#include <gtest/gtest.h>

namespace aegis::ratelimit {
namespace {

using namespace std::chrono_literals;
using time_point = std::chrono::steady_clock::time_point;

TEST(TokenBucket, StartsFullAndRefusesPastItsCapacity) {
  const time_point t0{};
  TokenBucket bucket(5, t0);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(bucket.can_take(1, t0)) << i;
    bucket.add(-1, t0);
  }
  EXPECT_FALSE(bucket.can_take(1, t0));
  EXPECT_EQ(bucket.remaining(t0), 0);
}

TEST(TokenBucket, RefillsContinuouslyAtItsCapacityPerMinute) {
  const time_point t0{};
  TokenBucket bucket(60, t0);  // one token a second
  bucket.add(-60, t0);
  EXPECT_EQ(bucket.time_until(1, t0), 1s);
  EXPECT_FALSE(bucket.can_take(1, t0 + 999ms));
  EXPECT_TRUE(bucket.can_take(1, t0 + 1s));
  EXPECT_EQ(bucket.remaining(t0 + 30s), 30);
  EXPECT_EQ(bucket.remaining(t0 + 10min), 60);  // never above the capacity
  EXPECT_EQ(bucket.time_until_full(t0 + 10min), 0ns);
}

TEST(TokenBucket, FractionalRefillIsExact) {
  const time_point t0{};
  TokenBucket bucket(7, t0);  // a token every 60/7 s
  bucket.add(-7, t0);
  const auto one = bucket.time_until(1, t0);
  EXPECT_EQ(one.count(), (60'000'000'000 + 6) / 7);  // rounded up to the nanosecond
  EXPECT_FALSE(bucket.can_take(1, t0 + one - 1ns));
  EXPECT_TRUE(bucket.can_take(1, t0 + one));
  // Seven refills of 60/7 s each are exactly one minute.
  EXPECT_EQ(bucket.remaining(t0 + 1min), 7);
}

TEST(TokenBucket, DebtIsPaidByLaterRefills) {
  const time_point t0{};
  TokenBucket bucket(60, t0);
  bucket.add(-90, t0);  // a correction above the estimate: 30 tokens of debt
  EXPECT_EQ(bucket.remaining(t0), 0);
  EXPECT_EQ(bucket.time_until(1, t0), 31s);
  EXPECT_EQ(bucket.remaining(t0 + 40s), 10);
}

TEST(TokenBucket, RefundsStopAtTheCapacity) {
  const time_point t0{};
  TokenBucket bucket(10, t0);
  bucket.add(-4, t0);
  bucket.add(100, t0);
  EXPECT_EQ(bucket.remaining(t0), 10);
}

TEST(TokenBucket, ANewCapacityKeepsTheLevelWithinIt) {
  const time_point t0{};
  TokenBucket bucket(100, t0);
  bucket.set_capacity(10, t0);
  EXPECT_EQ(bucket.remaining(t0), 10);
  bucket.add(-10, t0);
  bucket.set_capacity(1000, t0);
  EXPECT_EQ(bucket.remaining(t0), 0);
  EXPECT_EQ(bucket.remaining(t0 + 6s), 100);  // refills at the new rate
}

TEST(TokenBucket, AStaleTimeAddsNothing) {
  const time_point t0 = time_point{} + 1h;
  TokenBucket bucket(60, t0);
  bucket.add(-60, t0);
  EXPECT_EQ(bucket.remaining(t0 - 30s), 0);
  EXPECT_EQ(bucket.remaining(t0 + 1s), 1);
}

}  // namespace
}  // namespace aegis::ratelimit
