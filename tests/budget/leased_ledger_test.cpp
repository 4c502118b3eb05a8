// Budgets shared by replicas (budget/leased_ledger.hpp over the PostgreSQL
// budget pool): several ledgers on one database, each a replica, never
// reserve more than the cap between them; unused slices go back; a month
// rolls over; a dead replica's slice comes back less what it spent; and every
// replica reports the same spend.
#include "budget/leased_ledger.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/system_clock.hpp"
#include "store/postgres/postgres_store.hpp"
#include "support/store_backends.hpp"

namespace aegis::budget {
namespace {

using namespace std::chrono_literals;

constexpr auto kTtl = std::chrono::nanoseconds(10min);

class LeasedLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dsn = test_support::postgres_test_dsn();
    if (dsn.empty()) GTEST_SKIP() << "no PostgreSQL test server in this run (ctest's postgres.start provides one)";
    db_ = std::make_unique<test_support::PostgresDb>(dsn);
  }

  struct Replica {
    std::unique_ptr<store::PostgresStore> store;
    std::unique_ptr<LeasedLedger> ledger;
  };

  Replica replica(std::chrono::milliseconds owner_stale_after = 30s) {
    store::PostgresOptions options;
    options.heartbeat_interval = 0ms;  // the test says when time passes
    options.owner_stale_after = owner_stale_after;
    Replica r;
    r.store = std::make_unique<store::PostgresStore>(db_->dsn(), clock_, options);
    LeasedLedger::Options ledger_options;
    ledger_options.maintain_every = 0ms;
    ledger_options.give_back_idle_after = 2s;
    r.ledger = std::make_unique<LeasedLedger>(clock_, BudgetZone::utc(), *r.store->budget_pool(), ledger_options);
    return r;
  }

  // Reserve as the gateway does: locally, and once more after a top-up.
  static Result<ReservationId> reserve(LeasedLedger& ledger, const std::string& team, Money cap, Money amount) {
    auto r = ledger.reserve(team, cap, amount, kTtl);
    if (r.ok() || r.error().code != ErrorCode::budget_exceeded) return r;
    auto more = ledger.top_up(team, cap, amount);
    if (!more.ok()) return more.error();
    if (!*more) return r;
    return ledger.reserve(team, cap, amount, kTtl);
  }

  std::int64_t pool_granted(const std::string& team, const std::string& period) {
    const std::string v =
        db_->scalar("SELECT granted_micros FROM budget_pool WHERE team = '" + team + "' AND period = '" + period + "'");
    return v.empty() ? 0 : std::stoll(v);
  }

  audit::AuditRecord spend_row(const std::string& team, Money cost, std::string period) {
    audit::AuditRecord r;
    r.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall_now().time_since_epoch()).count();
    r.request_id = "req-" + std::to_string(++rows_);
    r.team = team;
    r.key_id = "4f9c0a1b2c3d4e5f";
    r.surface = "openai.chat";
    r.level = Level::INTERNAL;
    r.locality = "local";
    r.status = 200;
    r.cost = cost;
    r.budget_period = std::move(period);
    return r;
  }

  // 2026-12-04T00:00:00Z
  ManualClock clock_{std::chrono::system_clock::time_point(1'796'342'400'000ms)};
  std::unique_ptr<test_support::PostgresDb> db_;
  int rows_ = 0;
};

TEST_F(LeasedLedgerTest, ThreeReplicasReservingAtOnceNeverPassTheCap) {
  std::vector<Replica> replicas;
  replicas.reserve(3);
  for (int i = 0; i < 3; ++i) replicas.push_back(replica());
  const Money cap = Money::from_micros(1'000'000);
  const Money each = Money::from_micros(7'000);
  std::atomic<std::int64_t> committed{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  threads.reserve(12);
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&, t] {
      auto& ledger = *replicas[t % 3].ledger;
      for (int i = 0; i < 40; ++i) {
        auto r = reserve(ledger, "payments", cap, each);
        if (!r.ok()) {
          ASSERT_EQ(r.error().code, ErrorCode::budget_exceeded) << r.error().message;
          ++refused;
          continue;
        }
        ASSERT_TRUE(ledger.commit(*r, each).ok());
        committed += each.micros;
      }
    });
  }
  for (auto& t : threads) t.join();
  // 480 requests of 0.007 want 3.36: the cap holds, and nearly all of it was usable.
  EXPECT_LE(committed.load(), cap.micros);
  EXPECT_GE(committed.load(), cap.micros - 3 * each.micros) << "slices left idle in other replicas at the end";
  EXPECT_GT(refused.load(), 0);
  const std::string period = replicas[0].ledger->current_period();
  EXPECT_LE(pool_granted("payments", period), cap.micros);

  // Idle slices go back: the pool then holds exactly what was spent.
  clock_.advance(3s);
  for (auto& r : replicas) r.ledger->maintain();
  EXPECT_EQ(pool_granted("payments", period), committed.load());
  for (auto& r : replicas) EXPECT_EQ(r.ledger->held("payments").micros, 0);
}

TEST_F(LeasedLedgerTest, AnIdleReplicasSliceGoesBackForAnotherToUse) {
  auto a = replica();
  auto b = replica();
  const Money cap = Money::from_micros(100'000);
  auto first = reserve(*a.ledger, "payments", cap, Money::from_micros(10'000));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(a.ledger->release(*first).ok());
  const Money a_holds = a.ledger->held("payments");
  EXPECT_GT(a_holds.micros, 10'000) << "a slice is more than one request, so the next needs no database";

  // B wants all that is left beyond A's slice and one cent more: refused while A holds it.
  const Money too_much = Money::from_micros(cap.micros - a_holds.micros + 1);
  auto refused = reserve(*b.ledger, "payments", cap, too_much);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::budget_exceeded);

  // Not idle long enough: A keeps its slice. Then it is, and gives it back.
  clock_.advance(1s);
  a.ledger->maintain();
  EXPECT_EQ(a.ledger->held("payments"), a_holds);
  clock_.advance(2s);
  a.ledger->maintain();
  EXPECT_EQ(a.ledger->held("payments").micros, 0);
  EXPECT_TRUE(reserve(*b.ledger, "payments", cap, too_much).ok());
}

TEST_F(LeasedLedgerTest, EveryReplicaReportsTheSameSpend) {
  auto a = replica();
  auto b = replica();
  const Money cap = Money::from_micros(500'000);
  auto r = reserve(*a.ledger, "payments", cap, Money::from_micros(40'000));
  ASSERT_TRUE(r.ok());
  const auto period = a.ledger->commit(*r, Money::from_micros(25'000));
  ASSERT_TRUE(period.ok());
  ASSERT_TRUE(a.store->append_audit({spend_row("payments", Money::from_micros(25'000), *period)}).ok());
  for (auto* ledger : {a.ledger.get(), b.ledger.get()}) {
    const auto s = ledger->spend("payments");
    EXPECT_EQ(s.spent.micros, 25'000);
    EXPECT_EQ(s.requests, 1);
    EXPECT_EQ(s.cap, cap);
    // A's unused slice counts as reserved until it goes back.
    EXPECT_EQ(s.reserved, a.ledger->held("payments"));
    EXPECT_EQ(s.remaining.micros, cap.micros - 25'000 - s.reserved.micros);
  }
  clock_.advance(3s);
  a.ledger->maintain();
  for (auto* ledger : {a.ledger.get(), b.ledger.get()}) {
    EXPECT_EQ(ledger->spend("payments").reserved.micros, 0);
    EXPECT_EQ(ledger->spend("payments").remaining.micros, cap.micros - 25'000);
  }
}

TEST_F(LeasedLedgerTest, SpendBeyondAReservationIsBookedAgainstThePool) {
  auto a = replica();
  const Money cap = Money::from_micros(100'000);
  auto r = reserve(*a.ledger, "payments", cap, Money::from_micros(95'000));
  ASSERT_TRUE(r.ok());
  // The provider billed more than the worst case the gateway priced.
  ASSERT_TRUE(a.ledger->commit(*r, Money::from_micros(120'000)).ok());
  a.ledger->maintain();  // debt is booked at once, idle or not
  const std::string period = a.ledger->current_period();
  EXPECT_EQ(pool_granted("payments", period), 120'000);
  auto b = replica();
  EXPECT_FALSE(reserve(*b.ledger, "payments", cap, Money::from_micros(1)).ok()) << "the cap is spent";
}

TEST_F(LeasedLedgerTest, AMonthRollsOverAcrossReplicas) {
  // 2026-12-31T23:59:59Z
  clock_.advance(std::chrono::hours(24 * 27) + 23h + 59min + 59s);
  auto a = replica();
  const Money cap = Money::from_micros(100'000);
  auto december = reserve(*a.ledger, "payments", cap, Money::from_micros(60'000));
  ASSERT_TRUE(december.ok());
  clock_.advance(2s);  // 2027-01-01: a new month, a new cap's worth
  auto b = replica();
  auto january = reserve(*b.ledger, "payments", cap, Money::from_micros(90'000));
  ASSERT_TRUE(january.ok()) << january.error().message;
  // The December reservation settles in December.
  EXPECT_EQ(a.ledger->commit(*december, Money::from_micros(50'000)).value(), "2026-12");
  a.ledger->maintain();  // a past month's slices go back as soon as nothing is reserved in them
  EXPECT_EQ(pool_granted("payments", "2026-12"), 50'000);
  EXPECT_LE(pool_granted("payments", "2027-01"), cap.micros);
}

TEST_F(LeasedLedgerTest, ADeadReplicasSliceComesBackLessWhatItSpent) {
  auto survivor = replica(10s);
  auto dying = replica(10s);
  const Money cap = Money::from_micros(200'000);
  auto r = reserve(*dying.ledger, "payments", cap, Money::from_micros(30'000));
  ASSERT_TRUE(r.ok());
  const Money slice = dying.ledger->held("payments");
  const std::string period = *dying.ledger->commit(*r, Money::from_micros(20'000));
  ASSERT_TRUE(dying.store->append_audit({spend_row("payments", Money::from_micros(20'000), period)}).ok());
  const std::int64_t granted_before = pool_granted("payments", period);
  EXPECT_EQ(granted_before, slice.micros + 30'000);

  // It stops beating (killed: no give-back, no goodbye); the survivor's recovery reclaims its slice.
  db_->exec("UPDATE store_owners SET heartbeat_ms = 0 WHERE owner = '" + dying.store->owner() + "'");
  clock_.advance(11s);
  (void)survivor.store->recover_pending();
  EXPECT_EQ(pool_granted("payments", period), 20'000);
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM budget_leases WHERE owner = '" + dying.store->owner() + "'"), "0");
  // The dead replica's object is torn down without touching the pool again.
  dying.ledger.reset();
  EXPECT_EQ(pool_granted("payments", period), 20'000);
}

}  // namespace
}  // namespace aegis::budget
