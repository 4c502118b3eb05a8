// Restoring committed spend after a restart, and booking spend without a reservation.
#include "budget/ledger_restore.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "budget/memory_ledger.hpp"
#include "core/system_clock.hpp"

namespace aegis::budget {
namespace {

using namespace std::chrono;

constexpr auto kTtl = minutes{5};

Money micros(std::int64_t m) { return Money::from_micros(m); }

system_clock::time_point at(year_month_day d, hours h = hours{0}) { return system_clock::time_point{sys_days{d}} + h; }

// Only load_spend matters here; it records the periods it was asked for.
class FakeAuditStore final : public audit::AuditStore {
 public:
  std::vector<audit::TeamSpend> rows;
  std::optional<Error> fail;
  bool ignore_period = false;  // a store that returns every row it has
  std::vector<std::string> asked;

  Result<void> append_audit(const std::vector<audit::AuditRecord>&) override {
    return make_error(ErrorCode::internal, "not used");
  }
  Result<std::vector<audit::AuditRecord>> query_audit(const audit::AuditQuery&) override {
    return make_error(ErrorCode::internal, "not used");
  }
  Result<std::int64_t> count_pipeda_violations() override { return make_error(ErrorCode::internal, "not used"); }
  Result<std::int64_t> recover_pending() override { return std::int64_t{0}; }
  Result<void> scan_audit(const audit::AuditScan&, const std::function<bool(const audit::StoredAuditRow&)>&) override {
    return make_error(ErrorCode::internal, "not used");
  }
  Result<std::vector<audit::ChainSummary>> list_chains() override {
    return make_error(ErrorCode::internal, "not used");
  }
  Result<std::optional<audit::ChainLink>> chain_head(const std::string&) override {
    return make_error(ErrorCode::internal, "not used");
  }
  Result<audit::Checkpoint> append_checkpoint(const audit::Checkpoint&) override {
    return make_error(ErrorCode::internal, "not used");
  }
  Result<std::vector<audit::Checkpoint>> list_checkpoints(const std::optional<std::string>&) override {
    return make_error(ErrorCode::internal, "not used");
  }
  Result<std::vector<audit::TeamSpend>> load_spend(const std::string& period) override {
    asked.push_back(period);
    if (fail) return *fail;
    std::vector<audit::TeamSpend> out;
    for (const auto& r : rows) {
      if (ignore_period || r.period == period) out.push_back(r);
    }
    return out;
  }
};

TEST(BudgetLedgerSeed, SeededSpendCountsAgainstTheCap) {
  ManualClock clock(at(2026y / November / 10));
  MemoryLedger ledger(clock);
  const Money cap = micros(1000);
  ledger.seed("t", "2026-11", micros(700), 12);
  auto s = ledger.spend("t");
  EXPECT_EQ(s.spent, micros(700));
  EXPECT_EQ(s.requests, 12);
  EXPECT_EQ(s.reserved, Money{});

  EXPECT_EQ(ledger.reserve("t", cap, micros(301), kTtl).error().code, ErrorCode::budget_exceeded);
  auto r = ledger.reserve("t", cap, micros(300), kTtl);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ledger.spend("t").remaining, Money{});

  // Seeding replaces the committed totals (not adds) and leaves reservations alone.
  ledger.seed("t", "2026-11", micros(100), 2);
  s = ledger.spend("t");
  EXPECT_EQ(s.spent, micros(100));
  EXPECT_EQ(s.requests, 2);
  EXPECT_EQ(s.reserved, micros(300));
  auto period = ledger.commit(*r, micros(250));
  ASSERT_TRUE(period.ok());
  EXPECT_EQ(*period, "2026-11");
  s = ledger.spend("t");
  EXPECT_EQ(s.spent, micros(350));
  EXPECT_EQ(s.requests, 3);

  // Another month's seed does not touch this one; negative values count as 0.
  ledger.seed("t", "2026-10", micros(999), 9);
  EXPECT_EQ(ledger.spend("t").spent, micros(350));
  EXPECT_EQ(ledger.spend("t", "2026-10").spent, micros(999));
  ledger.seed("u", "2026-11", micros(-5), -1);
  EXPECT_EQ(ledger.spend("u").spent, Money{});
  EXPECT_EQ(ledger.spend("u").requests, 0);
}

TEST(BudgetLedgerSeed, RecordSpendBooksWithoutAReservationOrCapCheck) {
  ManualClock clock(at(2026y / November / 10));
  MemoryLedger ledger(clock);
  const Money cap = micros(100);
  ASSERT_TRUE(ledger.reserve("t", cap, micros(100), kTtl).ok());
  // Already spent money is booked even past the cap.
  ASSERT_TRUE(ledger.record_spend("t", "2026-11", micros(40)).ok());
  auto s = ledger.spend("t");
  EXPECT_EQ(s.spent, micros(40));
  EXPECT_EQ(s.reserved, micros(100));
  EXPECT_EQ(s.requests, 1);
  EXPECT_EQ(s.remaining, Money{});
  EXPECT_EQ(ledger.record_spend("t", "2026-11", micros(-1)).error().code, ErrorCode::invalid_request);
  EXPECT_EQ(ledger.spend("t").spent, micros(40));
  ASSERT_TRUE(ledger.record_spend("t", "2026-10", micros(5)).ok());
  EXPECT_EQ(ledger.spend("t", "2026-10").spent, micros(5));
  EXPECT_EQ(ledger.spend("t").spent, micros(40));
}

TEST(BudgetLedgerSeed, CommitReturnsTheReservationsPeriodAcrossARollover) {
  ManualClock clock(at(2026y / October / 31, 23h));
  MemoryLedger ledger(clock);
  auto r = ledger.reserve("t", micros(1000), micros(10), hours{2});
  ASSERT_TRUE(r.ok());
  clock.advance(hours{1} + minutes{1});
  ASSERT_EQ(ledger.current_period(), "2026-11");
  auto period = ledger.commit(*r, micros(10));
  ASSERT_TRUE(period.ok());
  EXPECT_EQ(*period, "2026-10");
  EXPECT_EQ(ledger.commit(*r, micros(10)).error().code, ErrorCode::not_found);
}

TEST(BudgetLedgerRestore, SeedsTheCurrentPeriodFromTheStore) {
  ManualClock clock(at(2026y / November / 10));
  MemoryLedger ledger(clock);
  FakeAuditStore store;
  store.rows = {{"payments", "2026-11", micros(4'500'000), 30},
                {"search", "2026-11", micros(1), 1},
                {"payments", "2026-10", micros(9'000'000), 99}};
  ASSERT_TRUE(restore_spend(store, ledger).ok());
  EXPECT_EQ(store.asked, std::vector<std::string>{"2026-11"});
  auto p = ledger.spend("payments");
  EXPECT_EQ(p.spent, micros(4'500'000));
  EXPECT_EQ(p.requests, 30);
  EXPECT_EQ(ledger.spend("search").spent, micros(1));
  EXPECT_EQ(ledger.spend("payments", "2026-10").spent, Money{});  // only the current month is restored
  // The restored spend is enforced: $5 cap, $4.50 spent, $0.50 left.
  EXPECT_FALSE(ledger.reserve("payments", Money::from_dollars(5), micros(500'001), kTtl).ok());
  EXPECT_TRUE(ledger.reserve("payments", Money::from_dollars(5), micros(500'000), kTtl).ok());
}

TEST(BudgetLedgerRestore, UsesTheLedgersZoneAndIgnoresOtherPeriods) {
  // 2026-11-01T03:00Z is still October in Toronto (EDT, UTC-4).
  ManualClock clock(at(2026y / November / 1, 3h));
  MemoryLedger ledger(clock, *BudgetZone::parse("America/Toronto"));
  FakeAuditStore store;
  store.rows = {{"t", "2026-10", micros(77), 7}, {"t", "2026-11", micros(5), 1}};
  store.ignore_period = true;
  ASSERT_TRUE(restore_spend(store, ledger).ok());
  EXPECT_EQ(store.asked, std::vector<std::string>{"2026-10"});
  EXPECT_EQ(ledger.spend("t").period, "2026-10");
  EXPECT_EQ(ledger.spend("t").spent, micros(77));
  EXPECT_EQ(ledger.spend("t", "2026-11").spent, Money{});
}

TEST(BudgetLedgerRestore, StoreErrorsAreReturned) {
  ManualClock clock(at(2026y / November / 10));
  MemoryLedger ledger(clock);
  FakeAuditStore store;
  store.fail = make_error(ErrorCode::unavailable, "database is locked");
  auto r = restore_spend(store, ledger);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::unavailable);
  EXPECT_EQ(r.error().message, "database is locked");
  EXPECT_EQ(ledger.spend("t").spent, Money{});
}

}  // namespace
}  // namespace aegis::budget
