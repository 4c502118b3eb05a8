#pragma once
// Versioned schema migrations for the embedded SQLite store.
//
// schema_migrations(version, applied_at_ms) records every step applied. At
// open, each pending step runs in its own transaction (BEGIN IMMEDIATE, so two
// processes opening the same file at once cannot both apply it). A database
// whose version is newer than this binary knows is refused.
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

struct sqlite3;

namespace aegis::store::sqlite {

struct Migration {
  int version;            // 1, 2, 3, ... strictly increasing
  std::string_view name;  // for diagnostics
  std::string_view sql;   // one or more statements
};

// The migrations this binary knows, in order.
std::span<const Migration> migrations();
// The highest version in migrations().
int latest_schema_version();

// The applied version (0 for a fresh database). Creates schema_migrations if missing.
int current_schema_version(sqlite3* db);

// Applies every pending step of `steps`; returns the resulting version.
// Throws std::runtime_error when a step fails (that step is rolled back) or the
// database is newer than the last step.
int apply_migrations(sqlite3* db, std::span<const Migration> steps, std::int64_t now_ms);
inline int apply_migrations(sqlite3* db, std::int64_t now_ms) { return apply_migrations(db, migrations(), now_ms); }

// Start-up of a store that opens its own connection to the shared file (jobs,
// retrieval): runs each of `pragmas`, then every pending migration stamped
// with the wall clock. Throws std::runtime_error naming `path` and `purpose`
// (e.g. " for jobs").
void configure_and_migrate(sqlite3* db, const std::string& path, std::string_view purpose,
                           std::initializer_list<std::string_view> pragmas);

}  // namespace aegis::store::sqlite
