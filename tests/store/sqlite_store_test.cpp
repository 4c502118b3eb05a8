#include "store/sqlite/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "core/system_clock.hpp"
#include "store/factory.hpp"
#include "store/sqlite/migrations.hpp"
#include "support/sqlite_files.hpp"

namespace aegis::store {
namespace {

namespace fs = std::filesystem;
using aegis::test_support::RawDb;
using aegis::test_support::TempDir;
using namespace std::chrono_literals;

Team make_team(std::string name, std::int64_t dollars = 100, Level clearance = Level::INTERNAL) {
  Team t;
  t.name = std::move(name);
  t.monthly_budget = Money::from_dollars(dollars);
  t.clearance = clearance;
  t.created_at_ms = 1'700'000'000'000;
  return t;
}

ApiKeyRecord make_key(std::string id, std::string team, std::int64_t created_at_ms) {
  ApiKeyRecord k;
  k.id = std::move(id);
  k.team = std::move(team);
  k.prefix = "aeg_" + k.id + "_abcd";
  k.secret_hash = std::string(64, 'f');
  k.created_at_ms = created_at_ms;
  return k;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  fs::path db_path() const { return dir_.path() / "data" / "aegis.db"; }
  TempDir dir_{"aegis-store-test"};
  ManualClock clock_{std::chrono::system_clock::time_point(1'700'000'000'000ms)};
};

TEST_F(SqliteStoreTest, CreatesParentDirectoryAndOpensInWalModeWithForeignKeys) {
  const fs::path nested = dir_.path() / "a" / "b" / "c" / "aegis.db";
  ASSERT_FALSE(fs::exists(nested.parent_path()));
  SqliteStore store(nested.string(), clock_);
  EXPECT_TRUE(fs::exists(nested));
  EXPECT_EQ(store.path(), nested.string());
  EXPECT_TRUE(store.ping().ok());
  EXPECT_EQ(store.schema_version(), sqlite::latest_schema_version());

  RawDb raw(nested);
  EXPECT_EQ(raw.scalar("PRAGMA journal_mode"), "wal");  // persistent property of the file
}

TEST_F(SqliteStoreTest, OpeningAnUnwritableLocationThrows) {
  const fs::path blocker = dir_.path() / "file";
  std::ofstream(blocker) << "x";
  EXPECT_THROW(SqliteStore((blocker / "sub" / "aegis.db").string(), clock_), std::runtime_error);
}

TEST_F(SqliteStoreTest, TeamsRoundTripAndListInNameOrder) {
  SqliteStore store(db_path().string(), clock_);
  auto created = store.create_team(make_team("zeta", 250, Level::RESTRICTED));
  ASSERT_TRUE(created.ok()) << created.error().message;
  ASSERT_TRUE(store.create_team(make_team("alpha", 0, Level::PUBLIC)).ok());

  auto got = store.get_team("zeta");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "zeta");
  EXPECT_EQ(got->monthly_budget, Money::from_dollars(250));
  EXPECT_EQ(got->clearance, Level::RESTRICTED);
  EXPECT_EQ(got->created_at_ms, 1'700'000'000'000);

  auto all = store.list_teams();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "alpha");
  EXPECT_EQ((*all)[0].clearance, Level::PUBLIC);
  EXPECT_EQ((*all)[1].name, "zeta");
}

TEST_F(SqliteStoreTest, CreatedAtDefaultsToTheClock) {
  SqliteStore store(db_path().string(), clock_);
  Team t = make_team("t");
  t.created_at_ms = 0;
  auto created = store.create_team(t);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->created_at_ms, 1'700'000'000'000);
  EXPECT_EQ(store.get_team("t")->created_at_ms, 1'700'000'000'000);
}

TEST_F(SqliteStoreTest, DuplicateTeamIsAConflict) {
  SqliteStore store(db_path().string(), clock_);
  ASSERT_TRUE(store.create_team(make_team("payments")).ok());
  auto again = store.create_team(make_team("payments", 5, Level::PUBLIC));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::conflict);
  EXPECT_EQ(again.error().message, "team 'payments' already exists");
  // The original is untouched.
  EXPECT_EQ(store.get_team("payments")->monthly_budget, Money::from_dollars(100));
}

TEST_F(SqliteStoreTest, NegativeBudgetIsRejected) {
  SqliteStore store(db_path().string(), clock_);
  Team t = make_team("t");
  t.monthly_budget = Money::from_micros(-1);
  auto r = store.create_team(t);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::invalid_request);
  EXPECT_FALSE(store.get_team("t").ok());
}

TEST_F(SqliteStoreTest, MissingTeamIsNotFound) {
  SqliteStore store(db_path().string(), clock_);
  auto r = store.get_team("ghost");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::not_found);
  auto u = store.update_team("ghost", TeamPatch{Money::from_dollars(1), std::nullopt});
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().code, ErrorCode::not_found);
}

TEST_F(SqliteStoreTest, UpdateTeamAppliesOnlyTheGivenFields) {
  SqliteStore store(db_path().string(), clock_);
  ASSERT_TRUE(store.create_team(make_team("t", 100, Level::INTERNAL)).ok());

  auto u1 = store.update_team("t", TeamPatch{Money::parse_usd("12.5"), std::nullopt});
  ASSERT_TRUE(u1.ok()) << u1.error().message;
  EXPECT_EQ(u1->monthly_budget.micros, 12'500'000);
  EXPECT_EQ(u1->clearance, Level::INTERNAL);

  auto u2 = store.update_team("t", TeamPatch{std::nullopt, Level::CONFIDENTIAL});
  ASSERT_TRUE(u2.ok());
  EXPECT_EQ(u2->monthly_budget.micros, 12'500'000);
  EXPECT_EQ(u2->clearance, Level::CONFIDENTIAL);
  EXPECT_EQ(u2->created_at_ms, 1'700'000'000'000);

  auto u3 = store.update_team("t", TeamPatch{});
  ASSERT_TRUE(u3.ok());
  EXPECT_EQ(u3->clearance, Level::CONFIDENTIAL);

  auto bad = store.update_team("t", TeamPatch{Money::from_micros(-5), std::nullopt});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::invalid_request);

  auto persisted = store.get_team("t");
  EXPECT_EQ(persisted->monthly_budget.micros, 12'500'000);
  EXPECT_EQ(persisted->clearance, Level::CONFIDENTIAL);
}

TEST_F(SqliteStoreTest, KeyForMissingTeamIsNotFound) {
  SqliteStore store(db_path().string(), clock_);
  auto r = store.create_key(make_key("0123456789abcdef", "ghost", 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::not_found);
  EXPECT_EQ(r.error().message, "team 'ghost' not found");
  EXPECT_FALSE(store.get_key("0123456789abcdef").ok());
}

TEST_F(SqliteStoreTest, DuplicateKeyIdIsAConflict) {
  SqliteStore store(db_path().string(), clock_);
  ASSERT_TRUE(store.create_team(make_team("t")).ok());
  ASSERT_TRUE(store.create_key(make_key("0123456789abcdef", "t", 1)).ok());
  auto again = store.create_key(make_key("0123456789abcdef", "t", 2));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::conflict);
}

TEST_F(SqliteStoreTest, KeyLifecycle) {
  SqliteStore store(db_path().string(), clock_);
  ASSERT_TRUE(store.create_team(make_team("a")).ok());
  ASSERT_TRUE(store.create_team(make_team("b")).ok());
  // Inserted out of creation order: listings are oldest first.
  ASSERT_TRUE(store.create_key(make_key("000000000000000c", "a", 300)).ok());
  ASSERT_TRUE(store.create_key(make_key("000000000000000a", "a", 100)).ok());
  ASSERT_TRUE(store.create_key(make_key("000000000000000b", "b", 200)).ok());

  auto got = store.get_key("000000000000000a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->team, "a");
  EXPECT_EQ(got->prefix, "aeg_000000000000000a_abcd");
  EXPECT_EQ(got->secret_hash, std::string(64, 'f'));
  EXPECT_EQ(got->created_at_ms, 100);
  EXPECT_FALSE(got->revoked_at_ms.has_value());

  auto all = store.list_keys(std::nullopt);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, "000000000000000a");
  EXPECT_EQ((*all)[1].id, "000000000000000b");
  EXPECT_EQ((*all)[2].id, "000000000000000c");

  auto of_a = store.list_keys(std::string("a"));
  ASSERT_TRUE(of_a.ok());
  ASSERT_EQ(of_a->size(), 2u);
  EXPECT_EQ((*of_a)[0].id, "000000000000000a");
  EXPECT_EQ((*of_a)[1].id, "000000000000000c");
  EXPECT_TRUE(store.list_keys(std::string("nobody"))->empty());

  ASSERT_TRUE(store.revoke_key("000000000000000a", 5'000).ok());
  EXPECT_EQ(store.get_key("000000000000000a")->revoked_at_ms, std::optional<std::int64_t>(5'000));
  // Revoking twice is fine and keeps the first time.
  ASSERT_TRUE(store.revoke_key("000000000000000a", 9'000).ok());
  EXPECT_EQ(store.get_key("000000000000000a")->revoked_at_ms, std::optional<std::int64_t>(5'000));
  // Other keys are untouched; revoked keys still list.
  EXPECT_FALSE(store.get_key("000000000000000c")->revoked_at_ms.has_value());
  EXPECT_EQ(store.list_keys(std::nullopt)->size(), 3u);

  auto missing = store.revoke_key("ffffffffffffffff", 1);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::not_found);
  auto missing_get = store.get_key("ffffffffffffffff");
  ASSERT_FALSE(missing_get.ok());
  EXPECT_EQ(missing_get.error().code, ErrorCode::not_found);
}

TEST_F(SqliteStoreTest, DataSurvivesReopen) {
  {
    SqliteStore store(db_path().string(), clock_);
    ASSERT_TRUE(store.create_team(make_team("t", 7, Level::CONFIDENTIAL)).ok());
    ASSERT_TRUE(store.create_key(make_key("0123456789abcdef", "t", 1)).ok());
  }
  SqliteStore store(db_path().string(), clock_);
  EXPECT_EQ(store.get_team("t")->clearance, Level::CONFIDENTIAL);
  EXPECT_EQ(store.get_key("0123456789abcdef")->team, "t");
}

TEST_F(SqliteStoreTest, IsSafeToUseFromManyThreads) {
  SqliteStore store(db_path().string(), clock_);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string name = "team-" + std::to_string(t) + "-" + std::to_string(i);
        if (!store.create_team(make_team(name)).ok()) ++failures;
        if (!store.get_team(name).ok()) ++failures;
        if (!store.list_teams().ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store.list_teams()->size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST_F(SqliteStoreTest, StorageErrorsAreInternalAndCarryNoDataValues) {
  SqliteStore store(db_path().string(), clock_);
  ASSERT_TRUE(store.create_team(make_team("t")).ok());
  {
    RawDb raw(db_path());
    raw.exec("DROP TABLE api_keys");
  }
  const std::string probe = "feedfacecafebeef";
  auto r = store.get_key(probe);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::internal);
  EXPECT_EQ(r.error().message.find(probe), std::string::npos) << r.error().message;
  auto c = store.create_key(make_key(probe, "t", 1));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::internal);
  EXPECT_EQ(c.error().message.find(probe), std::string::npos) << c.error().message;
  EXPECT_EQ(c.error().message.find("ffff"), std::string::npos) << c.error().message;
}

TEST_F(SqliteStoreTest, FactoryOpensSqlite) {
  config::StorageConfig cfg;
  cfg.sqlite_path = (dir_.path() / "factory" / "aegis.db").string();
  auto store = open_store(cfg);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->ping().ok());
  EXPECT_EQ(store->schema_version(), sqlite::latest_schema_version());
}

// --- migrations ------------------------------------------------------------

class SqliteMigrationsTest : public SqliteStoreTest {};

TEST_F(SqliteMigrationsTest, ReopeningAppliesNothingNew) {
  { SqliteStore store(db_path().string(), clock_); }
  clock_.advance(24h);
  {
    SqliteStore store(db_path().string(), clock_);
    EXPECT_EQ(store.schema_version(), sqlite::latest_schema_version());
  }
  RawDb raw(db_path());
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM schema_migrations"), std::to_string(sqlite::migrations().size()));
  // Still stamped with the first open's time.
  EXPECT_EQ(raw.scalar("SELECT MAX(applied_at_ms) FROM schema_migrations"), "1700000000000");
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'api_keys_team'"), "1");
}

TEST_F(SqliteMigrationsTest, KnownStepsAreStrictlyIncreasing) {
  int previous = 0;
  for (const auto& m : sqlite::migrations()) {
    EXPECT_GT(m.version, previous);
    previous = m.version;
  }
  EXPECT_EQ(previous, sqlite::latest_schema_version());
}

TEST_F(SqliteMigrationsTest, SchemaEnforcesClearanceAndBudgetChecks) {
  { SqliteStore store(db_path().string(), clock_); }
  RawDb raw(db_path());
  EXPECT_THROW(raw.exec("INSERT INTO teams VALUES ('x', 1, 'SECRET', 0)"), std::runtime_error);
  EXPECT_THROW(raw.exec("INSERT INTO teams VALUES ('x', -1, 'PUBLIC', 0)"), std::runtime_error);
  raw.exec("INSERT INTO teams VALUES ('x', 0, 'PUBLIC', 0)");
}

TEST_F(SqliteMigrationsTest, NewerSchemaIsRefusedAtStartUp) {
  { SqliteStore store(db_path().string(), clock_); }
  const int newer = sqlite::latest_schema_version() + 1;
  {
    RawDb raw(db_path());
    raw.exec("INSERT INTO schema_migrations(version, applied_at_ms) VALUES (" + std::to_string(newer) + ", 0)");
  }
  try {
    SqliteStore store(db_path().string(), clock_);
    FAIL() << "a newer schema must be refused";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("newer"), std::string::npos) << what;
    EXPECT_NE(what.find(std::to_string(newer)), std::string::npos) << what;
  }
}

TEST_F(SqliteMigrationsTest, EachStepRunsInItsOwnTransactionAndAFailureRollsBack) {
  RawDb raw(dir_.path() / "m.db");
  const sqlite::Migration steps[] = {
      {1, "one", "CREATE TABLE a(x INTEGER);"},
      {2, "two", "CREATE TABLE b(x INTEGER); INSERT INTO nope VALUES (1);"},
  };
  EXPECT_THROW(sqlite::apply_migrations(raw.get(), steps, 42), std::runtime_error);
  EXPECT_EQ(sqlite::current_schema_version(raw.get()), 1);
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'a'"), "1");
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'"), "0");  // rolled back

  const sqlite::Migration fixed[] = {
      {1, "one", "CREATE TABLE a(x INTEGER);"},
      {2, "two", "CREATE TABLE b(x INTEGER);"},
      {3, "three", "INSERT INTO b VALUES (3);"},
  };
  EXPECT_EQ(sqlite::apply_migrations(raw.get(), fixed, 43), 3);
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM b"), "1");
  // Idempotent: nothing runs again (step 3 would insert a second row).
  EXPECT_EQ(sqlite::apply_migrations(raw.get(), fixed, 44), 3);
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM b"), "1");
  EXPECT_EQ(raw.scalar("SELECT applied_at_ms FROM schema_migrations WHERE version = 1"), "42");
  EXPECT_EQ(raw.scalar("SELECT applied_at_ms FROM schema_migrations WHERE version = 3"), "43");

  // A binary that only knows steps 1..2 refuses this database.
  EXPECT_THROW(sqlite::apply_migrations(raw.get(), std::span(fixed, 2), 45), std::runtime_error);
}

TEST_F(SqliteMigrationsTest, OutOfOrderStepsAreAProgrammingError) {
  RawDb raw(dir_.path() / "m.db");
  const sqlite::Migration steps[] = {{2, "two", "SELECT 1;"}, {1, "one", "SELECT 1;"}};
  EXPECT_THROW(sqlite::apply_migrations(raw.get(), steps, 0), std::logic_error);
}

}  // namespace
}  // namespace aegis::store
