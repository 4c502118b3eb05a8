#pragma once
// The store backends one parameterised suite runs against: the embedded
// SQLite file and PostgreSQL. Each test gets a database of its own (a temp
// file, or a fresh schema in the test server that ctest's `postgres.start`
// fixture runs: scripts/postgres), a way to open stores on it (each one is
// another process's view, for restarts and replicas) and raw SQL access to
// look under the interface.
//
// PostgreSQL: ctest passes AEGIS_TEST_POSTGRES_DSN_FILE; a test run without
// it (the unit binary started by hand) skips the PostgreSQL cases and says so.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/system_clock.hpp"
#include "jobs/postgres/postgres_job_store.hpp"
#include "jobs/sqlite/sqlite_job_store.hpp"
#include "store/database.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "support/sqlite_files.hpp"

namespace aegis::test_support {

class BackendDb {
 public:
  virtual ~BackendDb() = default;
  // A new store on this test's database.
  virtual std::unique_ptr<store::Database> open(const Clock& clock) = 0;
  // A job store on this test's database (the SQLite options carry what both take).
  virtual std::unique_ptr<jobs::JobStore> open_jobs(const jobs::SqliteJobStoreOptions& options) = 0;
  // Raw SQL; throws std::runtime_error with the database's message.
  virtual void exec(const std::string& sql) = 0;
  // The first column of the first row as text ("" when there is none).
  virtual std::string scalar(const std::string& sql) = 0;
  // SQL that makes every INSERT into `table` whose `column` equals `value` fail.
  virtual std::string failing_insert_sql(const std::string& table, const std::string& column,
                                         const std::string& value) = 0;
  // Undoes failing_insert_sql.
  virtual std::string drop_failing_insert_sql(const std::string& table) = 0;
};

class SqliteDb final : public BackendDb {
 public:
  std::unique_ptr<store::Database> open(const Clock& clock) override {
    return std::make_unique<store::SqliteStore>(path(), clock);
  }
  std::unique_ptr<jobs::JobStore> open_jobs(const jobs::SqliteJobStoreOptions& options) override {
    return std::make_unique<jobs::SqliteJobStore>(path(), options);
  }
  void exec(const std::string& sql) override { RawDb(path()).exec(sql); }
  std::string scalar(const std::string& sql) override { return RawDb(path()).scalar(sql); }
  std::string failing_insert_sql(const std::string& table, const std::string& column,
                                 const std::string& value) override {
    return "CREATE TRIGGER fail_" + table + " BEFORE INSERT ON " + table + " WHEN NEW." + column + " = '" + value +
           "' BEGIN SELECT RAISE(ABORT, 'injected'); END";
  }
  std::string drop_failing_insert_sql(const std::string& table) override { return "DROP TRIGGER fail_" + table; }

 private:
  std::string path() const { return (dir_.path() / "aegis.db").string(); }
  TempDir dir_{"aegis-store-backend"};
};

// The test server's DSN, or "" when this run has none.
inline std::string postgres_test_dsn() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read before any test starts a thread; nothing sets it
  const char* file = std::getenv("AEGIS_TEST_POSTGRES_DSN_FILE");
  if (file == nullptr) return "";
  std::ifstream in(file);
  std::string dsn;
  std::getline(in, dsn);
  if (dsn.empty()) throw std::runtime_error(std::string("no PostgreSQL DSN in ") + file + " (did postgres.start run?)");
  return dsn;
}

class PostgresDb final : public BackendDb {
 public:
  explicit PostgresDb(const std::string& base_dsn) : base_dsn_(base_dsn) {
    static std::atomic<int> counter{0};
    schema_ = "t_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    exec_on(base_dsn_, "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE; CREATE SCHEMA " + schema_);
  }
  ~PostgresDb() override {
    try {
      exec_on(base_dsn_, "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    } catch (...) {  // NOLINT(bugprone-empty-catch): a leftover schema only costs disk in a throwaway server
    }
  }
  // The DSN a store on this test's schema uses.
  std::string dsn() const { return base_dsn_ + " options='-c search_path=" + schema_ + "'"; }
  const std::string& schema() const { return schema_; }
  std::unique_ptr<store::Database> open(const Clock& clock) override {
    store::PostgresOptions options;
    options.heartbeat_interval = std::chrono::milliseconds(0);  // tests drive recovery themselves
    return std::make_unique<store::PostgresStore>(dsn(), clock, options);
  }
  std::unique_ptr<jobs::JobStore> open_jobs(const jobs::SqliteJobStoreOptions& options) override {
    jobs::PostgresJobStoreOptions pg;
    pg.max_queue_depth = options.max_queue_depth;
    pg.cipher = options.cipher;
    pg.keep_requests = options.keep_requests;
    pg.keep_requests_teams = options.keep_requests_teams;
    return std::make_unique<jobs::PostgresJobStore>(dsn(), pg);
  }
  void exec(const std::string& sql) override { exec_on(dsn(), sql); }
  std::string scalar(const std::string& sql) override { return exec_on(dsn(), sql); }
  std::string failing_insert_sql(const std::string& table, const std::string& column,
                                 const std::string& value) override {
    return "CREATE FUNCTION fail_" + table + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW." + column +
           " = '" + value + "' THEN RAISE EXCEPTION 'injected'; END IF; RETURN NEW; END $$; CREATE TRIGGER fail_" +
           table + " BEFORE INSERT ON " + table + " FOR EACH ROW EXECUTE FUNCTION fail_" + table + "()";
  }
  std::string drop_failing_insert_sql(const std::string& table) override {
    return "DROP TRIGGER fail_" + table + " ON " + table;
  }

 private:
  static std::string exec_on(const std::string& dsn, const std::string& sql) {
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(dsn.c_str()), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn.get()));
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
    const auto status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      throw std::runtime_error(PQresultErrorMessage(result.get()));
    }
    if (status == PGRES_TUPLES_OK && PQntuples(result.get()) > 0) return PQgetvalue(result.get(), 0, 0);
    return "";
  }
  std::string base_dsn_;
  std::string schema_;
};

// "sqlite" or "postgres"; nullptr (and the test skipped) for PostgreSQL when
// the run has no test server.
inline std::unique_ptr<BackendDb> make_backend_db(const std::string& backend) {
  if (backend == "sqlite") return std::make_unique<SqliteDb>();
  const std::string dsn = postgres_test_dsn();
  if (dsn.empty()) return nullptr;
  return std::make_unique<PostgresDb>(dsn);
}

inline std::string backend_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

// A contract test run on each backend (the parameter): open() gives another
// process's view of the same database, all on one manual clock at `start_ms`.
template <std::int64_t start_ms>
class BackendContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = make_backend_db(GetParam());
    if (db_ == nullptr) GTEST_SKIP() << "no PostgreSQL test server in this run (ctest's postgres.start provides one)";
  }
  store::Database& open() {
    stores_.push_back(db_->open(clock_));
    return *stores_.back();
  }

  ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::milliseconds(start_ms))};
  std::unique_ptr<BackendDb> db_;
  std::vector<std::unique_ptr<store::Database>> stores_;
};

}  // namespace aegis::test_support
