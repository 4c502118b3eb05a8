#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <thread>
#include <vector>

#include "budget/memory_ledger.hpp"
#include "core/system_clock.hpp"

namespace aegis::budget {
namespace {

using namespace std::chrono;

constexpr auto kTtl = minutes{5};

Money usd_micros(std::int64_t m) { return Money::from_micros(m); }

system_clock::time_point at(year_month_day d, hours h = hours{0}, minutes m = minutes{0}) {
  return system_clock::time_point{sys_days{d}} + h + m;
}

TEST(BudgetLedger, ReserveCommitReleaseArithmetic) {
  ManualClock clock(at(2026y / November / 10));
  MemoryLedger ledger(clock);
  const Money cap = Money::from_dollars(10);

  auto r1 = ledger.reserve("team-a", cap, Money::from_dollars(3), kTtl);
  ASSERT_TRUE(r1.ok());
  auto s = ledger.spend("team-a");
  EXPECT_EQ(s.period, "2026-11");
  EXPECT_EQ(s.cap, cap);
  EXPECT_EQ(s.spent, Money{});
  EXPECT_EQ(s.reserved, Money::from_dollars(3));
  EXPECT_EQ(s.remaining, Money::from_dollars(7));
  EXPECT_EQ(s.requests, 0);

  ASSERT_TRUE(ledger.commit(*r1, Money::from_dollars(2)).ok());  // the unused $1 is released
  s = ledger.spend("team-a");
  EXPECT_EQ(s.spent, Money::from_dollars(2));
  EXPECT_EQ(s.reserved, Money{});
  EXPECT_EQ(s.remaining, Money::from_dollars(8));
  EXPECT_EQ(s.requests, 1);

  auto r2 = ledger.reserve("team-a", cap, Money::from_dollars(4), kTtl);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(ledger.spend("team-a").reserved, Money::from_dollars(4));
  ASSERT_TRUE(ledger.release(*r2).ok());
  s = ledger.spend("team-a");
  EXPECT_EQ(s.reserved, Money{});
  EXPECT_EQ(s.spent, Money::from_dollars(2));
  EXPECT_EQ(s.requests, 1);  // a released (failed) request is not counted

  // Settling twice, or an unknown id, is not_found and changes nothing.
  EXPECT_EQ(ledger.commit(*r1, Money::from_dollars(1)).error().code, ErrorCode::not_found);
  EXPECT_EQ(ledger.release(*r2).error().code, ErrorCode::not_found);
  EXPECT_EQ(ledger.release(ReservationId{999}).error().code, ErrorCode::not_found);
  EXPECT_EQ(ledger.spend("team-a").spent, Money::from_dollars(2));

  // Teams are independent.
  EXPECT_EQ(ledger.spend("team-b").spent, Money{});
  EXPECT_EQ(ledger.spend("team-b").cap, Money{});
  EXPECT_EQ(ledger.live_reservations(), 0u);
}

TEST(BudgetLedger, RejectsExactlyPastTheCap) {
  ManualClock clock(at(2026y / November / 10));
  MemoryLedger ledger(clock);
  const Money cap = usd_micros(1000);
  auto a = ledger.reserve("t", cap, usd_micros(600), kTtl);
  ASSERT_TRUE(a.ok());
  auto b = ledger.reserve("t", cap, usd_micros(400), kTtl);  // spent+reserved == cap: allowed
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(ledger.spend("t").remaining, Money{});
  auto c = ledger.reserve("t", cap, usd_micros(1), kTtl);  // one micro-dollar over
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::budget_exceeded);
  EXPECT_EQ(http_status(c.error().code), 402);
  EXPECT_EQ(ledger.reserve("t", cap, Money{}, kTtl).ok(), true);  // zero still fits at the cap

  // Spent counts the same as reserved: commit b at its full amount, release a.
  ASSERT_TRUE(ledger.commit(*b, usd_micros(400)).ok());
  ASSERT_TRUE(ledger.release(*a).ok());
  EXPECT_TRUE(ledger.reserve("t", cap, usd_micros(600), kTtl).ok());
  EXPECT_FALSE(ledger.reserve("t", cap, usd_micros(1), kTtl).ok());

  // A single request larger than the whole cap is rejected up front.
  EXPECT_EQ(ledger.reserve("u", usd_micros(10), usd_micros(11), kTtl).error().code, ErrorCode::budget_exceeded);
  EXPECT_EQ(ledger.reserve("u", usd_micros(10), usd_micros(-1), kTtl).error().code, ErrorCode::invalid_request);
  EXPECT_EQ(ledger.reserve("u", usd_micros(10), usd_micros(1), seconds{0}).error().code, ErrorCode::invalid_request);
}

TEST(BudgetLedger, CommitAboveReservationIsRecorded) {
  ManualClock clock(at(2026y / November / 10));
  MemoryLedger ledger(clock);
  const Money cap = usd_micros(1000);
  auto r = ledger.reserve("t", cap, usd_micros(100), kTtl);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(ledger.commit(*r, usd_micros(1200)).ok());  // the provider billed more than estimated
  auto s = ledger.spend("t");
  EXPECT_EQ(s.spent, usd_micros(1200));
  EXPECT_EQ(s.remaining, Money{});  // clamped, never negative
  EXPECT_EQ(ledger.reserve("t", cap, Money{}, kTtl).error().code, ErrorCode::budget_exceeded);
  EXPECT_EQ(ledger.commit(ReservationId{12345}, usd_micros(1)).error().code, ErrorCode::not_found);
}

TEST(BudgetLedger, OrphanedReservationsExpireAfterTtl) {
  ManualClock clock(at(2026y / November / 10));
  MemoryLedger ledger(clock);
  const Money cap = usd_micros(1000);
  auto orphan = ledger.reserve("t", cap, usd_micros(900), seconds{30});
  ASSERT_TRUE(orphan.ok());
  auto live = ledger.reserve("t", cap, usd_micros(50), minutes{10});
  ASSERT_TRUE(live.ok());
  EXPECT_FALSE(ledger.reserve("t", cap, usd_micros(100), kTtl).ok());

  clock.advance(seconds{29});
  EXPECT_EQ(ledger.spend("t").reserved, usd_micros(950));
  EXPECT_FALSE(ledger.reserve("t", cap, usd_micros(100), kTtl).ok());

  clock.advance(seconds{1});  // TTL reached: the orphan is released lazily on the next call
  auto s = ledger.spend("t");
  EXPECT_EQ(s.reserved, usd_micros(50));
  EXPECT_EQ(s.spent, Money{});
  EXPECT_EQ(ledger.expired_total(), 1u);
  EXPECT_EQ(ledger.live_reservations(), 1u);
  EXPECT_EQ(ledger.commit(*orphan, usd_micros(900)).error().code, ErrorCode::not_found);
  EXPECT_TRUE(ledger.reserve("t", cap, usd_micros(100), kTtl).ok());

  // The live one is untouched and can still be committed.
  ASSERT_TRUE(ledger.commit(*live, usd_micros(40)).ok());
  EXPECT_EQ(ledger.spend("t").spent, usd_micros(40));

  // An absurd TTL saturates instead of overflowing into the past.
  auto forever = ledger.reserve("v", cap, usd_micros(1), nanoseconds::max());
  ASSERT_TRUE(forever.ok());
  clock.advance(hours{24 * 365});
  EXPECT_EQ(ledger.spend("v", "2026-11").reserved, usd_micros(1));  // still held, in its own month
  EXPECT_EQ(ledger.live_reservations(), 1u);
}

TEST(BudgetLedger, MonthRolloverResetsSpend) {
  ManualClock clock(at(2026y / October / 31, 23h, 59min));
  MemoryLedger ledger(clock);
  const Money cap = usd_micros(1000);
  auto spent_in_oct = ledger.reserve("t", cap, usd_micros(300), hours{1});
  ASSERT_TRUE(spent_in_oct.ok());
  ASSERT_TRUE(ledger.commit(*spent_in_oct, usd_micros(300)).ok());
  auto pending = ledger.reserve("t", cap, usd_micros(700), hours{1});  // reserved in October
  ASSERT_TRUE(pending.ok());
  EXPECT_FALSE(ledger.reserve("t", cap, usd_micros(1), hours{1}).ok());
  EXPECT_EQ(ledger.current_period(), "2026-10");

  clock.advance(minutes{2});  // 2026-11-01T00:01Z
  EXPECT_EQ(ledger.current_period(), "2026-11");
  auto nov = ledger.spend("t");
  EXPECT_EQ(nov.period, "2026-11");
  EXPECT_EQ(nov.spent, Money{});
  EXPECT_EQ(nov.reserved, Money{});
  EXPECT_EQ(nov.remaining, cap);
  auto fresh = ledger.reserve("t", cap, cap, hours{1});  // the whole November cap is available
  ASSERT_TRUE(fresh.ok());

  // The October reservation settles into October.
  ASSERT_TRUE(ledger.commit(*pending, usd_micros(650)).ok());
  auto oct = ledger.spend("t", "2026-10");
  EXPECT_EQ(oct.spent, usd_micros(950));
  EXPECT_EQ(oct.reserved, Money{});
  EXPECT_EQ(oct.requests, 2);
  EXPECT_EQ(ledger.spend("t").spent, Money{});
  EXPECT_EQ(ledger.spend("t").reserved, cap);
}

TEST(BudgetLedger, RolloverFollowsTheConfiguredZone) {
  // 2026-10-31T20:00Z is already November in +05:30.
  ManualClock clock(at(2026y / October / 31, 20h));
  MemoryLedger ist(clock, *BudgetZone::parse("+05:30"));
  MemoryLedger utc(clock);
  EXPECT_EQ(ist.current_period(), "2026-11");
  EXPECT_EQ(utc.current_period(), "2026-10");
}

TEST(BudgetLedger, ConcurrentReserversNeverPassTheCap) {
  ManualClock clock(at(2026y / November / 10));
  MemoryLedger ledger(clock);
  const Money cap = usd_micros(1000);
  const Money amount = usd_micros(7);
  constexpr int kThreads = 200;
  std::atomic<int> ok{0}, rejected{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      auto r = ledger.reserve("t", cap, amount, kTtl);
      if (r.ok()) {
        ++ok;
      } else {
        EXPECT_EQ(r.error().code, ErrorCode::budget_exceeded);
        ++rejected;
      }
      auto s = ledger.spend("t");
      EXPECT_LE((s.spent + s.reserved).micros, cap.micros);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1000 / 7);  // floor(cap / amount) = 142
  EXPECT_EQ(rejected.load(), kThreads - 1000 / 7);
  auto s = ledger.spend("t");
  EXPECT_EQ(s.reserved.micros, (1000 / 7) * 7);
  EXPECT_LE((s.spent + s.reserved).micros, cap.micros);
}

TEST(BudgetLedger, ConcurrentReserveCommitTasksOnEightThreads) {
  ManualClock clock(at(2026y / November / 10));
  MemoryLedger ledger(clock);
  const Money cap = usd_micros(500);
  const Money amount = usd_micros(3);
  constexpr int kTasks = 200;
  constexpr int kWorkers = 8;
  std::atomic<int> next{0}, ok{0};
  std::latch start(kWorkers);
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      start.arrive_and_wait();
      while (next.fetch_add(1) < kTasks) {
        auto r = ledger.reserve("t", cap, amount, kTtl);
        if (!r.ok()) continue;
        ++ok;
        auto s = ledger.spend("t");
        EXPECT_LE((s.spent + s.reserved).micros, cap.micros);
        EXPECT_TRUE(ledger.commit(*r, amount).ok());  // actual == estimate
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(ok.load(), 500 / 3);  // 166
  auto s = ledger.spend("t");
  EXPECT_EQ(s.spent.micros, (500 / 3) * 3);
  EXPECT_EQ(s.reserved, Money{});
  EXPECT_EQ(s.requests, 500 / 3);
  EXPECT_EQ(ledger.live_reservations(), 0u);
}

}  // namespace
}  // namespace aegis::budget
