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

TEST_F(SqliteStoreTest, FactoryOpensSqlite) {
  config::StorageConfig cfg;
  cfg.sqlite_path = (dir_.path() / "factory" / "aegis.db").string();
  auto store = open_store(cfg);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->ping().ok());
  EXPECT_EQ(store->schema_version(), sqlite::latest_schema_version());
}

// Retention drops whole monthly partitions, which only PostgreSQL has: on
// SQLite the setting is refused at start-up rather than silently ignored.
TEST_F(SqliteStoreTest, AuditRetentionIsRefusedOnSqlite) {
  config::StorageConfig cfg;
  cfg.sqlite_path = (dir_.path() / "retention" / "aegis.db").string();
  cfg.audit_retention_months = 6;
  try {
    open_store(cfg);
    FAIL() << "a retention SQLite cannot honour must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("needs storage.postgres_dsn"), std::string::npos) << e.what();
  }
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
  EXPECT_THROW(raw.exec("INSERT INTO teams VALUES ('x', 1, 'SECRET', 0, NULL)"), std::runtime_error);
  EXPECT_THROW(raw.exec("INSERT INTO teams VALUES ('x', -1, 'PUBLIC', 0, NULL)"), std::runtime_error);
  EXPECT_THROW(raw.exec("INSERT INTO teams VALUES ('x', 0, 'PUBLIC', 0, -1)"),
               std::runtime_error);  // response cache TTL
  raw.exec("INSERT INTO teams VALUES ('x', 0, 'PUBLIC', 0, NULL)");
  raw.exec("INSERT INTO teams VALUES ('y', 0, 'PUBLIC', 0, 300)");
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
