#include "store/sqlite/migrations.hpp"

#include <sqlite3.h>

#include <array>
#include <stdexcept>
#include <string>

namespace aegis::store::sqlite {

namespace {

// Append new steps at the end; never edit a step that has shipped.
constexpr std::array kMigrations = {
    Migration{1, "teams and api_keys", R"sql(
CREATE TABLE teams (
  name                  TEXT PRIMARY KEY NOT NULL,
  monthly_budget_micros INTEGER NOT NULL CHECK (monthly_budget_micros >= 0),
  clearance             TEXT NOT NULL CHECK (clearance IN ('PUBLIC', 'INTERNAL', 'CONFIDENTIAL', 'RESTRICTED')),
  created_at_ms         INTEGER NOT NULL
);
CREATE TABLE api_keys (
  id            TEXT PRIMARY KEY NOT NULL,
  team          TEXT NOT NULL REFERENCES teams(name),
  prefix        TEXT NOT NULL,
  secret_hash   TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER
);
CREATE INDEX api_keys_team ON api_keys(team);
)sql"},
};

std::string errmsg(sqlite3* db) {
  const char* m = sqlite3_errmsg(db);
  return m ? m : "unknown error";
}

void exec(sqlite3* db, const char* sql, const char* what) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = std::string("SQLite migration failed (") + what + "): " + (err ? err : errmsg(db));
    sqlite3_free(err);
    throw std::runtime_error(msg);
  }
}

int read_version(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1, &st, nullptr) != SQLITE_OK) {
    throw std::runtime_error("cannot read the schema version: " + errmsg(db));
  }
  const int rc = sqlite3_step(st);
  const int version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  sqlite3_finalize(st);
  if (version < 0) throw std::runtime_error("cannot read the schema version: " + errmsg(db));
  return version;
}

void record_version(sqlite3* db, int version, std::int64_t now_ms) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO schema_migrations(version, applied_at_ms) VALUES (?1, ?2)", -1, &st,
                         nullptr) != SQLITE_OK) {
    throw std::runtime_error("cannot record the schema version: " + errmsg(db));
  }
  sqlite3_bind_int(st, 1, version);
  sqlite3_bind_int64(st, 2, now_ms);
  const int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) throw std::runtime_error("cannot record the schema version: " + errmsg(db));
}

[[noreturn]] void refuse_newer(int found, int known) {
  throw std::runtime_error("the database schema is version " + std::to_string(found) +
                           ", newer than this aegis binary supports (" + std::to_string(known) +
                           "); run a newer aegis or restore a matching backup");
}

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

int latest_schema_version() { return kMigrations.back().version; }

int current_schema_version(sqlite3* db) {
  exec(db, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms INTEGER)",
       "schema_migrations");
  return read_version(db);
}

int apply_migrations(sqlite3* db, std::span<const Migration> steps, std::int64_t now_ms) {
  int previous = 0;
  for (const auto& step : steps) {
    if (step.version <= previous) throw std::logic_error("migration versions must be strictly increasing");
    previous = step.version;
  }
  const int known = steps.empty() ? 0 : steps.back().version;

  int current = current_schema_version(db);
  if (current > known) refuse_newer(current, known);

  for (const auto& step : steps) {
    if (step.version <= current) continue;
    exec(db, "BEGIN IMMEDIATE", "begin");
    try {
      // Another process may have applied it while we waited for the write lock.
      current = read_version(db);
      if (current > known) refuse_newer(current, known);
      if (step.version > current) {
        const std::string sql(step.sql);
        const std::string what = "step " + std::to_string(step.version) + " '" + std::string(step.name) + "'";
        exec(db, sql.c_str(), what.c_str());
        record_version(db, step.version, now_ms);
        current = step.version;
      }
      exec(db, "COMMIT", "commit");
    } catch (...) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
  return current;
}

}  // namespace aegis::store::sqlite
