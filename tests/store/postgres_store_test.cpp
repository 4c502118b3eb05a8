// What only the shared PostgreSQL store does: migrations when several
// replicas start at once, refusing a newer schema, monthly audit partitions
// and retention by partition, intents per process, and a database that is
// unreachable. The behaviour both backends share is in store_contract_test.cpp.
#include "store/postgres/postgres_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "core/system_clock.hpp"
#include "store/factory.hpp"
#include "store/postgres/migrations.hpp"
#include "store/postgres/pg.hpp"
#include "support/store_backends.hpp"

namespace aegis::store {
namespace {

using namespace std::chrono_literals;
using audit::AuditRecord;

AuditRecord row(std::string request_id, std::int64_t time_ms) {
  AuditRecord r;
  r.time_ms = time_ms;
  r.request_id = std::move(request_id);
  r.team = "t";
  r.key_id = "4f9c0a1b2c3d4e5f";
  r.surface = "openai.chat";
  r.level = Level::INTERNAL;
  r.locality = "local";
  r.status = 200;
  return r;
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dsn = test_support::postgres_test_dsn();
    if (dsn.empty()) GTEST_SKIP() << "no PostgreSQL test server in this run (ctest's postgres.start provides one)";
    db_ = std::make_unique<test_support::PostgresDb>(dsn);
  }
  std::unique_ptr<PostgresStore> open(PostgresOptions options = quiet()) {
    return std::make_unique<PostgresStore>(db_->dsn(), clock_, options);
  }
  static PostgresOptions quiet() {
    PostgresOptions options;
    options.heartbeat_interval = 0ms;
    return options;
  }

  // 2026-12-04T00:00:00Z
  ManualClock clock_{std::chrono::system_clock::time_point(1'796'342'400'000ms)};
  std::unique_ptr<test_support::PostgresDb> db_;
};

TEST_F(PostgresStoreTest, ReplicasStartingTogetherApplyTheMigrationsOnce) {
  constexpr int kReplicas = 6;
  std::vector<std::unique_ptr<PostgresStore>> stores(kReplicas);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kReplicas);
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] {
      try {
        stores[i] = open();
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  for (auto& s : stores) EXPECT_EQ(s->schema_version(), postgres::latest_schema_version());
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM schema_migrations"), std::to_string(postgres::migrations().size()));
  // Every replica has an identity of its own.
  EXPECT_EQ(db_->scalar("SELECT COUNT(DISTINCT owner) FROM store_owners"), std::to_string(kReplicas));
}

TEST_F(PostgresStoreTest, ANewerSchemaIsRefused) {
  open().reset();
  db_->exec("INSERT INTO schema_migrations(version, name, applied_at_ms) VALUES (999, 'from the future', 0)");
  try {
    open();
    FAIL() << "a schema newer than this binary must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("newer than this binary knows"), std::string::npos) << e.what();
  }
}

TEST_F(PostgresStoreTest, AuditRowsLandInTheirMonthsPartitionAndRetentionDropsWholeMonths) {
  auto store = open();
  // Start-up made last month's, this month's and next month's partitions.
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM pg_inherits WHERE inhparent = 'audit'::regclass"), "4");  // + default
  const std::int64_t oct = 1'791'072'000'000;                                                           // 2026-10-04
  const std::int64_t dec = 1'796'342'400'000;
  ASSERT_TRUE(store->append_audit({row("october", oct), row("december", dec)}).ok());
  EXPECT_EQ(db_->scalar("SELECT tableoid::regclass::text FROM audit WHERE request_id = 'october'"), "audit_y2026m10");
  EXPECT_EQ(db_->scalar("SELECT tableoid::regclass::text FROM audit WHERE request_id = 'december'"), "audit_y2026m12");
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM audit_default"), "0");

  // Rows cannot be deleted, but a whole month can be retired.
  EXPECT_THROW(db_->exec("DELETE FROM audit WHERE request_id = 'october'"), std::runtime_error);
  db_->exec("ALTER TABLE audit DETACH PARTITION audit_y2026m10; DROP TABLE audit_y2026m10");
  EXPECT_EQ(db_->scalar("SELECT string_agg(request_id, ',') FROM audit"), "december");
}

TEST_F(PostgresStoreTest, RetentionDropsWholeMonthsOlderThanItKeeps) {
  PostgresOptions options = quiet();
  options.audit_retention_months = 1;  // November and December stay on 2026-12-04
  auto store = open(options);
  const std::int64_t sep = 1'788'480'000'000;  // 2026-09-04
  const std::int64_t oct = 1'791'072'000'000;  // 2026-10-04
  const std::int64_t nov = 1'793'750'400'000;  // 2026-11-04
  const std::int64_t dec = 1'796'342'400'000;
  ASSERT_TRUE(
      store->append_audit({row("september", sep), row("october", oct), row("november", nov), row("december", dec)})
          .ok());
  auto dropped = store->maintain_partitions();
  ASSERT_TRUE(dropped.ok()) << dropped.error().message;
  EXPECT_EQ(*dropped, (std::vector<std::string>{"audit_y2026m09", "audit_y2026m10"}));
  EXPECT_EQ(db_->scalar("SELECT string_agg(request_id, ',' ORDER BY time_ms) FROM audit"), "november,december");
  // Next month's partition exists before its first row; a second pass drops nothing.
  // In this test's schema only: other tests' gateways, running at the same time on the same server, create
  // next month's partition in theirs (and in December 2026 that is this one's name too).
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.relname = 'audit_y2027m01' AND n.nspname = current_schema()"),
            "1");
  EXPECT_TRUE(store->maintain_partitions()->empty());
  // Rows are still never deleted one by one.
  EXPECT_THROW(db_->exec("DELETE FROM audit WHERE request_id = 'november'"), std::runtime_error);
}

TEST_F(PostgresStoreTest, WithoutRetentionEveryMonthIsKept) {
  auto store = open();
  ASSERT_TRUE(store->append_audit({row("october", 1'791'072'000'000)}).ok());
  EXPECT_TRUE(store->maintain_partitions()->empty());
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM audit"), "1");
}

TEST_F(PostgresStoreTest, ALiveReplicasIntentsAreNotRecoveredByAnother) {
  auto replica1 = open();
  auto replica2 = open();
  AuditRecord intent = row("in_flight", 1'796'342'400'000);
  intent.intent = true;
  intent.intent_seq = 1;
  ASSERT_TRUE(replica1->append_audit({intent}).ok());
  // Replica 2 recovers while replica 1's heartbeat is fresh: nothing is taken.
  EXPECT_EQ(replica2->recover_pending().value(), 0);
  EXPECT_EQ(db_->scalar("SELECT COUNT(*) FROM audit_pending"), "1");
  // Replica 1 resolves its own intent; replica 2's sequence 1 is another request.
  AuditRecord other = intent;
  other.request_id = "replica2";
  ASSERT_TRUE(replica2->append_audit({other}).ok());
  AuditRecord final_row = row("in_flight", 1'796'342'400'000);
  final_row.intent_seq = 1;
  ASSERT_TRUE(replica1->append_audit({final_row}).ok());
  EXPECT_EQ(db_->scalar("SELECT request_id FROM audit_pending"), "replica2");
}

TEST_F(PostgresStoreTest, AGracefullyStoppedReplicasIntentsAreRecoveredAtOnce) {
  auto survivor = open();
  {
    auto leaving = open();
    AuditRecord intent = row("left_behind", 1'796'342'400'000);
    intent.intent = true;
    intent.intent_seq = 9;
    ASSERT_TRUE(leaving->append_audit({intent}).ok());
  }  // its owner row goes with it
  EXPECT_EQ(survivor->recover_pending().value(), 1);
  EXPECT_EQ(survivor->query_audit({})->at(0).error_type, "outcome_unknown");
}

// Start-up needs the database: the reason goes to the operator (libpq's
// message names the address it tried), never the DSN's password.
TEST_F(PostgresStoreTest, AnUnreachableDatabaseStopsStartUpWithoutItsPassword) {
  config::StorageConfig cfg;
  cfg.postgres_dsn = "host=127.0.0.1 port=1 dbname=nothing user=nobody password=hunter2 connect_timeout=2";
  try {
    open_store(cfg);
    FAIL() << "an unreachable database must stop start-up";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect to PostgreSQL"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
  }
}

TEST_F(PostgresStoreTest, ABrokenConnectionIsReplacedAndTheStoreRecoversByItself) {
  // A name of this test's own: parallel tests share the server, and only this
  // store's connections may be killed.
  const std::string name = "kill_" + db_->schema();
  auto store = std::make_unique<PostgresStore>(db_->dsn() + " application_name=" + name, clock_, quiet());
  ASSERT_TRUE(store->ping().ok());
  // Kill every connection the store holds, as a database restart does, and
  // wait until they are gone.
  db_->exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" + name + "'");
  for (int i = 0;
       i < 200 && db_->scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = '" + name + "'") != "0";
       ++i) {
    std::this_thread::sleep_for(10ms);
  }
  // The first call on the dead connection fails as unavailable (503), never internal...
  auto first = store->ping();
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code, ErrorCode::unavailable);
  EXPECT_GT(first.error().retry_after_seconds, 0);
  // ...and the next one runs on a fresh connection.
  EXPECT_TRUE(store->ping().ok());
  EXPECT_TRUE(store->create_team(Team{"after", Money::from_dollars(1), Level::INTERNAL, 0}).ok());
}

// A revocation or team change through one replica reaches the others' key
// caches at once (LISTEN/NOTIFY), not after the cache TTL.
TEST_F(PostgresStoreTest, ARevocationOnOneReplicaIsReportedToTheOthers) {
  auto replica1 = open();
  auto replica2 = open();
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> revoked;
  int team_changes = 0;
  replica2->watch_changes(
      [&](const std::string& id) {
        std::lock_guard lock(mu);
        revoked.push_back(id);
        cv.notify_all();
      },
      [&] {
        std::lock_guard lock(mu);
        ++team_changes;
        cv.notify_all();
      });
  {
    std::unique_lock lock(mu);  // connected and listening: it reports the possibly missed changes first
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return team_changes >= 1; }));
  }
  ASSERT_TRUE(replica1->create_team(Team{"ops", Money::from_dollars(5), Level::INTERNAL, 0}).ok());
  ApiKeyRecord key{"00000000000000aa", "ops",       "aeg_00000000000000aa_x", std::string(64, 'f'), 1,
                   std::nullopt,       std::nullopt};
  ASSERT_TRUE(replica1->create_key(key).ok());
  ASSERT_TRUE(replica1->revoke_key(key.id, 2).ok());
  ASSERT_TRUE(replica1->update_team("ops", TeamPatch{std::nullopt, Level::RESTRICTED}).ok());
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return !revoked.empty() && team_changes >= 2; }));
  EXPECT_EQ(revoked, std::vector<std::string>{key.id});
  lock.unlock();
  replica2->stop_watching();  // returns with no callback running; safe to let the captures go
}

TEST_F(PostgresStoreTest, FactoryOpensPostgresWhenADsnIsSet) {
  config::StorageConfig cfg;
  cfg.sqlite_path = "/nonexistent/never/used.db";
  cfg.postgres_dsn = db_->dsn();
  auto store = open_store(cfg);
  ASSERT_NE(dynamic_cast<PostgresStore*>(store.get()), nullptr);
  EXPECT_TRUE(store->ping().ok());
  EXPECT_EQ(store->schema_version(), postgres::latest_schema_version());
}

// Session::pipeline sends every statement before reading any answer; what it
// must keep from one-at-a-time execution is order, atomicity and errors.
class PgPipelineTest : public PostgresStoreTest {
 protected:
  void SetUp() override {
    PostgresStoreTest::SetUp();
    if (IsSkipped()) return;
    pool_ = std::make_unique<pg::Pool>(db_->dsn(), "test");
    auto session = pool_->acquire();
    ASSERT_TRUE(session.ok());
    ASSERT_TRUE(session->exec("CREATE TABLE p(id int PRIMARY KEY, v text)").ok());
  }
  std::vector<std::string> values() {
    auto session = pool_->acquire();
    auto rows = session->exec("SELECT v FROM p ORDER BY id");
    std::vector<std::string> out;
    out.reserve(static_cast<std::size_t>(rows->size()));
    for (int i = 0; i < rows->size(); ++i) out.push_back(rows->text(i, 0));
    return out;
  }
  static pg::Statement insert(int id, std::string v) {
    return {"INSERT INTO p(id, v) VALUES ($1, $2)", pg::Params().add(id).add(std::move(v))};
  }
  std::unique_ptr<pg::Pool> pool_;
};

TEST_F(PgPipelineTest, StatementsRunInOrderAndTheSessionIsReusable) {
  auto session = pool_->acquire();
  ASSERT_TRUE(session.ok());
  const std::vector<pg::Statement> statements{
      insert(1, "a"), insert(2, "b"), {"UPDATE p SET v = v || '!' WHERE id = $1", pg::Params().add(1)}};
  ASSERT_TRUE(session->pipeline(statements).ok());
  EXPECT_EQ(values(), (std::vector<std::string>{"a!", "b"}));
  // Out of pipeline mode: an ordinary statement works on the same connection.
  auto rows = session->exec("SELECT count(*) FROM p");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->text(0, 0), "2");
}

TEST_F(PgPipelineTest, EachStatementsAnswerComesBackInOrder) {
  auto session = pool_->acquire();
  ASSERT_TRUE(session.ok());
  const std::vector<pg::Statement> statements{{"BEGIN", {}},
                                              insert(1, "a"),
                                              {"SELECT v FROM p WHERE id = $1", pg::Params().add(1)},
                                              {"SELECT count(*) FROM p", {}},
                                              {"COMMIT", {}}};
  std::vector<pg::Rows> results;
  ASSERT_TRUE(session->pipeline(statements, &results).ok());
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[1].affected(), 1);
  ASSERT_EQ(results[2].size(), 1);
  EXPECT_EQ(results[2].text(0, 0), "a");  // the insert before it in the same transaction is seen
  EXPECT_EQ(results[3].text(0, 0), "1");
}

TEST_F(PgPipelineTest, AFailureAbortsTheRestAndUndoesTheImplicitTransaction) {
  auto session = pool_->acquire();
  ASSERT_TRUE(session.ok());
  const std::vector<pg::Statement> statements{insert(1, "a"), insert(1, "duplicate"), insert(3, "c")};
  auto r = session->pipeline(statements);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(session->last_failure().sqlstate, pg::kUniqueViolation);
  EXPECT_FALSE(session->last_failure().connection_lost);
  EXPECT_TRUE(values().empty()) << "the statement before the failure must roll back with it";
  ASSERT_TRUE(session->pipeline(std::vector<pg::Statement>{insert(4, "d")}).ok());
  EXPECT_EQ(values(), (std::vector<std::string>{"d"}));
}

TEST_F(PgPipelineTest, AnExplicitTransactionThatFailsIsLeftForRollback) {
  auto session = pool_->acquire();
  ASSERT_TRUE(session.ok());
  const std::vector<pg::Statement> statements{{"BEGIN", {}}, insert(1, "a"), insert(1, "b"), {"COMMIT", {}}};
  ASSERT_FALSE(session->pipeline(statements).ok());
  EXPECT_EQ(PQtransactionStatus(session->raw()), PQTRANS_INERROR);
  session->rollback();
  EXPECT_EQ(PQtransactionStatus(session->raw()), PQTRANS_IDLE);
  EXPECT_TRUE(values().empty());
}

}  // namespace
}  // namespace aegis::store
