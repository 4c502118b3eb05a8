// The audit trail in the embedded store: append, query, spend, the
// compliance view and append-only enforcement.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/system_clock.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "support/sqlite_files.hpp"

namespace aegis::store {
namespace {

namespace fs = std::filesystem;
using aegis::test_support::RawDb;
using aegis::test_support::TempDir;
using namespace std::chrono_literals;
using audit::AuditQuery;
using audit::AuditRecord;

AuditRecord row(std::string request_id, std::string team, std::int64_t time_ms) {
  AuditRecord r;
  r.time_ms = time_ms;
  r.request_id = std::move(request_id);
  r.team = std::move(team);
  r.key_id = "4f9c0a1b2c3d4e5f";
  r.surface = "openai.chat";
  r.level = Level::INTERNAL;
  r.locality = "local";
  r.status = 200;
  return r;
}

AuditRecord full_row() {
  AuditRecord r;
  r.time_ms = 1'795'000'000'123;
  r.request_id = "req_0123456789abcdef";
  r.team = "payments";
  r.key_id = "4f9c0a1b2c3d4e5f";
  r.surface = "anthropic.messages";
  r.task = "code_review";
  r.level = Level::CONFIDENTIAL;
  r.entities = {{"EMAIL", 2}, {"PERSON", 1}};
  r.placeholders = 3;
  r.tier = "sonnet";
  r.provider = "azure";
  r.model = "gpt-4o";
  r.locality = "cloud";
  r.reason = "task code_review -> sonnet; CONFIDENTIAL masked";
  r.fallback_path = {"anthropic:unavailable", "azure:ok"};
  r.status = 200;
  r.error_type = "";
  r.input_tokens = 1234;
  r.output_tokens = 567;
  r.cost = Money::from_micros(12'345);
  r.budget_period = "2026-11";
  r.latency_us = 812'345;
  r.overhead_us = 345;
  r.invented_pii = true;
  r.egress_blocked = false;
  return r;
}

void expect_same(const AuditRecord& a, const AuditRecord& b) {
  EXPECT_EQ(a.time_ms, b.time_ms);
  EXPECT_EQ(a.request_id, b.request_id);
  EXPECT_EQ(a.team, b.team);
  EXPECT_EQ(a.key_id, b.key_id);
  EXPECT_EQ(a.surface, b.surface);
  EXPECT_EQ(a.task, b.task);
  EXPECT_EQ(a.level, b.level);
  EXPECT_EQ(a.entities, b.entities);
  EXPECT_EQ(a.placeholders, b.placeholders);
  EXPECT_EQ(a.tier, b.tier);
  EXPECT_EQ(a.provider, b.provider);
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.locality, b.locality);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.fallback_path, b.fallback_path);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.error_type, b.error_type);
  EXPECT_EQ(a.input_tokens, b.input_tokens);
  EXPECT_EQ(a.output_tokens, b.output_tokens);
  EXPECT_EQ(a.cost, b.cost);
  EXPECT_EQ(a.budget_period, b.budget_period);
  EXPECT_EQ(a.latency_us, b.latency_us);
  EXPECT_EQ(a.overhead_us, b.overhead_us);
  EXPECT_EQ(a.invented_pii, b.invented_pii);
  EXPECT_EQ(a.egress_blocked, b.egress_blocked);
}

std::vector<std::string> ids(const std::vector<AuditRecord>& rows) {
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(r.request_id);
  return out;
}

class SqliteAuditTest : public ::testing::Test {
 protected:
  fs::path db_path() const { return dir_.path() / "aegis.db"; }
  SqliteStore& store() { return store_; }

  TempDir dir_{"aegis-audit-test"};
  ManualClock clock_{std::chrono::system_clock::time_point(1'700'000'000'000ms)};
  SqliteStore store_{db_path().string(), clock_};
};

TEST_F(SqliteAuditTest, EveryFieldRoundTrips) {
  const AuditRecord written = full_row();
  AuditRecord bare = row("req_bare", "search", 5);
  bare.locality = "";
  bare.status = 503;
  bare.error_type = "no_local_provider";
  bare.egress_blocked = true;
  ASSERT_TRUE(store().append_audit({written, bare}).ok());

  auto rows = store().query_audit({});
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);
  expect_same((*rows)[0], written);
  expect_same((*rows)[1], bare);
}

TEST_F(SqliteAuditTest, StoresLevelAsTextCostAsMicrosAndListsAsJson) {
  ASSERT_TRUE(store().append_audit({full_row()}).ok());
  RawDb raw(db_path());
  EXPECT_EQ(raw.scalar("SELECT level FROM audit"), "CONFIDENTIAL");
  EXPECT_EQ(raw.scalar("SELECT cost_micros FROM audit"), "12345");
  EXPECT_EQ(raw.scalar("SELECT json_extract(entities, '$.EMAIL') FROM audit"), "2");
  EXPECT_EQ(raw.scalar("SELECT json_extract(fallback_path, '$[1]') FROM audit"), "azure:ok");
  EXPECT_EQ(raw.scalar("SELECT invented_pii || egress_blocked FROM audit"), "10");
}

TEST_F(SqliteAuditTest, AppendingNothingIsFine) {
  ASSERT_TRUE(store().append_audit({}).ok());
  EXPECT_TRUE(store().query_audit({})->empty());
}

TEST_F(SqliteAuditTest, QueryIsNewestFirstAndFiltersByTeamAndSince) {
  ASSERT_TRUE(store()
                  .append_audit({row("a1", "alpha", 1'000), row("b1", "beta", 2'000), row("a2", "alpha", 3'000),
                                 row("a3", "alpha", 3'000), row("b2", "beta", 4'000)})
                  .ok());
  // Equal times: the row appended later comes first.
  EXPECT_EQ(ids(*store().query_audit({})), (std::vector<std::string>{"b2", "a3", "a2", "b1", "a1"}));

  AuditQuery team;
  team.team = "alpha";
  EXPECT_EQ(ids(*store().query_audit(team)), (std::vector<std::string>{"a3", "a2", "a1"}));

  AuditQuery since;
  since.since_ms = 2'000;  // inclusive
  EXPECT_EQ(ids(*store().query_audit(since)), (std::vector<std::string>{"b2", "a3", "a2", "b1"}));

  AuditQuery both;
  both.team = "beta";
  both.since_ms = 2'001;
  EXPECT_EQ(ids(*store().query_audit(both)), (std::vector<std::string>{"b2"}));

  AuditQuery nobody;
  nobody.team = "gamma";
  EXPECT_TRUE(store().query_audit(nobody)->empty());

  AuditQuery limited;
  limited.limit = 2;
  EXPECT_EQ(ids(*store().query_audit(limited)), (std::vector<std::string>{"b2", "a3"}));
}

TEST_F(SqliteAuditTest, LimitIsClampedToOneThroughOneThousand) {
  std::vector<AuditRecord> rows;
  rows.reserve(1'005);
  for (int i = 0; i < 1'005; ++i) rows.push_back(row("r" + std::to_string(i), "t", i));
  ASSERT_TRUE(store().append_audit(rows).ok());
  for (const auto& [asked, got] : std::vector<std::pair<int, std::size_t>>{
           {0, 1}, {-7, 1}, {1, 1}, {999, 999}, {1'000, 1'000}, {1'001, 1'000}, {1'000'000, 1'000}}) {
    AuditQuery q;
    q.limit = asked;
    auto result = store().query_audit(q);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result->size(), got) << "limit " << asked;
    EXPECT_EQ(result->front().request_id, "r1004");
  }
}

TEST_F(SqliteAuditTest, SpendAccumulatesPerTeamAndPeriod) {
  auto booked = [](std::string id, std::string team, std::string period, std::int64_t micros) {
    AuditRecord r = row(std::move(id), std::move(team), 1);
    r.budget_period = std::move(period);
    r.cost = Money::from_micros(micros);
    return r;
  };
  ASSERT_TRUE(store()
                  .append_audit({booked("1", "alpha", "2026-11", 1'500), booked("2", "alpha", "2026-11", 250),
                                 booked("3", "beta", "2026-11", 7), booked("4", "alpha", "2026-12", 99),
                                 booked("5", "alpha", "", 1'000'000)})  // nothing booked: not counted
                  .ok());
  ASSERT_TRUE(store().append_audit({booked("6", "alpha", "2026-11", 0)}).ok());

  auto nov = store().load_spend("2026-11");
  ASSERT_TRUE(nov.ok()) << nov.error().message;
  ASSERT_EQ(nov->size(), 2u);
  EXPECT_EQ((*nov)[0].team, "alpha");
  EXPECT_EQ((*nov)[0].period, "2026-11");
  EXPECT_EQ((*nov)[0].spent, Money::from_micros(1'750));
  EXPECT_EQ((*nov)[0].requests, 3);
  EXPECT_EQ((*nov)[1].team, "beta");
  EXPECT_EQ((*nov)[1].spent, Money::from_micros(7));
  EXPECT_EQ((*nov)[1].requests, 1);

  auto dec = store().load_spend("2026-12");
  ASSERT_EQ(dec->size(), 1u);
  EXPECT_EQ((*dec)[0].spent, Money::from_micros(99));
  EXPECT_TRUE(store().load_spend("2027-01")->empty());
}

TEST_F(SqliteAuditTest, AFailedRowRollsBackTheWholeBatchAndItsSpend) {
  {
    RawDb raw(db_path());
    raw.exec(
        "CREATE TRIGGER poison BEFORE INSERT ON audit WHEN NEW.request_id = 'poison' "
        "BEGIN SELECT RAISE(ABORT, 'injected'); END");
  }
  AuditRecord good = row("good", "alpha", 1);
  good.budget_period = "2026-11";
  good.cost = Money::from_micros(500);
  auto result = store().append_audit({good, row("poison", "alpha", 2)});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::internal);
  EXPECT_TRUE(store().query_audit({})->empty());
  EXPECT_TRUE(store().load_spend("2026-11")->empty());

  // The store is usable afterwards (no transaction left open).
  ASSERT_TRUE(store().append_audit({good}).ok());
  EXPECT_EQ(store().load_spend("2026-11")->at(0).spent, Money::from_micros(500));
}

TEST_F(SqliteAuditTest, AFailedSpendUpdateRollsBackTheAuditRows) {
  {
    RawDb raw(db_path());
    raw.exec(
        "CREATE TRIGGER spend_fails BEFORE INSERT ON budget_spend WHEN NEW.team = 'beta' "
        "BEGIN SELECT RAISE(ABORT, 'injected'); END");
  }
  AuditRecord a = row("a", "alpha", 1);
  a.budget_period = "2026-11";
  a.cost = Money::from_micros(10);
  AuditRecord b = row("b", "beta", 2);
  b.budget_period = "2026-11";
  b.cost = Money::from_micros(20);
  ASSERT_FALSE(store().append_audit({a, b}).ok());
  EXPECT_TRUE(store().query_audit({})->empty());
  EXPECT_TRUE(store().load_spend("2026-11")->empty());
}

TEST_F(SqliteAuditTest, PipedaViolationsCountsOnlyRestrictedRowsSentOffTheLocalNetwork) {
  EXPECT_EQ(*store().count_pipeda_violations(), 0);
  auto at = [](std::string id, Level level, std::string locality) {
    AuditRecord r = row(std::move(id), "t", 1);
    r.level = level;
    r.locality = std::move(locality);
    return r;
  };
  ASSERT_TRUE(store()
                  .append_audit({at("restricted-local", Level::RESTRICTED, "local"),
                                 at("restricted-unsent", Level::RESTRICTED, ""),
                                 at("confidential-cloud", Level::CONFIDENTIAL, "cloud"),
                                 at("public-cloud", Level::PUBLIC, "cloud")})
                  .ok());
  EXPECT_EQ(*store().count_pipeda_violations(), 0);

  ASSERT_TRUE(store().append_audit({at("restricted-cloud", Level::RESTRICTED, "cloud")}).ok());
  EXPECT_EQ(*store().count_pipeda_violations(), 1);
  RawDb raw(db_path());
  EXPECT_EQ(raw.scalar("SELECT request_id FROM pipeda_violations"), "restricted-cloud");
}

TEST_F(SqliteAuditTest, AuditRowsCannotBeUpdatedOrDeleted) {
  ASSERT_TRUE(store().append_audit({full_row()}).ok());
  RawDb raw(db_path());
  try {
    raw.exec("UPDATE audit SET level = 'PUBLIC'");
    FAIL() << "UPDATE must be rejected";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("append-only"), std::string::npos) << e.what();
  }
  EXPECT_THROW(raw.exec("DELETE FROM audit"), std::runtime_error);
  EXPECT_THROW(raw.exec("DELETE FROM audit WHERE request_id = 'req_0123456789abcdef'"), std::runtime_error);
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM audit"), "1");
  EXPECT_EQ(raw.scalar("SELECT level FROM audit"), "CONFIDENTIAL");
}

TEST_F(SqliteAuditTest, StorageErrorsCarryNoRowValues) {
  {
    RawDb raw(db_path());
    raw.exec("DROP VIEW pipeda_violations");
    raw.exec("DROP TABLE audit");
  }
  AuditRecord r = full_row();
  r.request_id = "req_secretish_probe";
  auto appended = store().append_audit({r});
  ASSERT_FALSE(appended.ok());
  EXPECT_EQ(appended.error().code, ErrorCode::internal);
  EXPECT_EQ(appended.error().message.find("probe"), std::string::npos) << appended.error().message;
  EXPECT_FALSE(store().query_audit({}).ok());
  EXPECT_FALSE(store().count_pipeda_violations().ok());
}

TEST_F(SqliteAuditTest, ConcurrentAppendsAllLand) {
  constexpr int kThreads = 4;
  constexpr int kBatches = 25;
  constexpr int kRows = 10;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<AuditRecord> batch;
        for (int i = 0; i < kRows; ++i) {
          AuditRecord r = row("t" + std::to_string(t) + "-" + std::to_string(b) + "-" + std::to_string(i), "t", 1);
          r.budget_period = "2026-11";
          r.cost = Money::from_micros(1);
          batch.push_back(std::move(r));
        }
        if (!store().append_audit(batch).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto spend = store().load_spend("2026-11");
  ASSERT_EQ(spend->size(), 1u);
  EXPECT_EQ((*spend)[0].requests, kThreads * kBatches * kRows);
  EXPECT_EQ((*spend)[0].spent, Money::from_micros(static_cast<std::int64_t>(kThreads) * kBatches * kRows));
  RawDb raw(db_path());
  EXPECT_EQ(raw.scalar("SELECT COUNT(DISTINCT request_id) FROM audit"), std::to_string(kThreads * kBatches * kRows));
}

TEST_F(SqliteAuditTest, RowsSurviveReopen) {
  ASSERT_TRUE(store().append_audit({full_row()}).ok());
  SqliteStore reopened(db_path().string(), clock_);
  auto rows = reopened.query_audit({});
  ASSERT_EQ(rows->size(), 1u);
  expect_same(rows->front(), full_row());
}

// --- Intents: a request's row as routed, committed while the provider answers. ---

AuditRecord intent_of(AuditRecord r, std::int64_t seq, std::int64_t reserved_micros) {
  r.intent = true;
  r.intent_seq = seq;
  r.status = 0;
  r.cost = Money::from_micros(reserved_micros);
  r.budget_period = "2026-11";
  return r;
}

TEST_F(SqliteAuditTest, AnIntentIsNeitherAnAuditRowNorSpendAndItsFinalRowReplacesIt) {
  ASSERT_TRUE(store().append_audit({intent_of(full_row(), 41, 90'000)}).ok());
  RawDb raw(db_path());
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM audit_pending"), "1");
  EXPECT_EQ(raw.scalar("SELECT cost_micros FROM audit_pending WHERE seq = 41"), "90000");
  EXPECT_TRUE(store().query_audit({})->empty());
  EXPECT_TRUE(store().load_spend("2026-11")->empty());

  AuditRecord final_row = full_row();
  final_row.intent_seq = 41;
  ASSERT_TRUE(store().append_audit({final_row}).ok());
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM audit_pending"), "0");
  auto rows = store().query_audit({});
  ASSERT_EQ(rows->size(), 1u);
  expect_same(rows->front(), full_row());
  EXPECT_EQ(store().load_spend("2026-11")->at(0).spent, Money::from_micros(12'345));  // the actual, not the reservation
  EXPECT_EQ(store().recover_pending().value(), 0);
  EXPECT_EQ(store().query_audit({})->size(), 1u);
}

TEST_F(SqliteAuditTest, AnIntentAndItsFinalRowInOneBatchLeaveNothingPending) {
  AuditRecord final_row = full_row();
  final_row.intent_seq = 7;
  ASSERT_TRUE(store().append_audit({intent_of(full_row(), 7, 90'000), final_row}).ok());
  RawDb raw(db_path());
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM audit_pending"), "0");
  EXPECT_EQ(store().query_audit({})->size(), 1u);
}

TEST_F(SqliteAuditTest, RecoveryBooksOrphanedIntentsAsRowsOfUnknownOutcome) {
  AuditRecord other = row("req_other", "beta", 9);
  other.provider = "ollama";
  ASSERT_TRUE(store().append_audit({intent_of(full_row(), 1, 90'000), intent_of(other, 2, 5)}).ok());
  AuditRecord finished = row("req_done", "beta", 10);
  finished.intent_seq = 3;  // its intent was committed and replaced in an earlier batch
  ASSERT_TRUE(store().append_audit({intent_of(finished, 3, 70), finished}).ok());

  SqliteStore restarted(db_path().string(), clock_);  // the process died with two calls in flight
  auto recovered = restarted.recover_pending();
  ASSERT_TRUE(recovered.ok()) << recovered.error().message;
  EXPECT_EQ(*recovered, 2);

  auto rows = restarted.query_audit({});
  ASSERT_EQ(rows->size(), 3u);
  std::map<std::string, AuditRecord> by_id;
  for (const auto& r : *rows) by_id[r.request_id] = r;
  const AuditRecord& orphan = by_id.at("req_0123456789abcdef");
  EXPECT_EQ(orphan.status, 0);
  EXPECT_EQ(orphan.error_type, "outcome_unknown");
  EXPECT_EQ(orphan.cost, Money::from_micros(90'000));  // the reservation is booked
  EXPECT_EQ(orphan.level, Level::CONFIDENTIAL);
  EXPECT_EQ(orphan.locality, "cloud");
  EXPECT_EQ(orphan.fallback_path.back(), "azure:unknown");
  EXPECT_EQ(by_id.at("req_other").team, "beta");
  EXPECT_EQ(by_id.at("req_done").status, 200);

  auto spend = restarted.load_spend("2026-11");
  ASSERT_EQ(spend->size(), 2u);
  EXPECT_EQ((*spend)[0].team, "beta");  // ordered by team
  EXPECT_EQ((*spend)[0].spent, Money::from_micros(5));
  EXPECT_EQ((*spend)[1].team, "payments");
  EXPECT_EQ((*spend)[1].spent, Money::from_micros(90'000));

  RawDb raw(db_path());
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM audit_pending"), "0");
  EXPECT_EQ(restarted.recover_pending().value(), 0);  // idempotent: nothing is booked twice
  EXPECT_EQ(restarted.query_audit({})->size(), 3u);
}

// One commit per row (a durable record each) must not leave the WAL growing
// forever, nor checkpoint inside the commit: a thread of the store's own does it.
TEST_F(SqliteAuditTest, TheWalIsCheckpointedInTheBackground) {
  const auto main_file = fs::file_size(db_path());
  for (int i = 0; i < 1500; ++i) {
    ASSERT_TRUE(store().append_audit({row("req_" + std::to_string(i), "t", 1)}).ok());
  }
  bool grew = false;
  for (int i = 0; i < 500 && !grew; ++i) {
    grew = fs::file_size(db_path()) > main_file;  // pages copied back from the WAL
    if (!grew) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(grew);
  AuditQuery query;
  query.limit = 1000;
  EXPECT_EQ(store().query_audit(query)->size(), 1000u);
}

}  // namespace
}  // namespace aegis::store
