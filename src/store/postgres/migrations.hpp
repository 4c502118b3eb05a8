#pragma once
// Versioned schema migrations for the PostgreSQL store.
//
// schema_migrations(version, name, applied_at_ms) records every step applied.
// Several replicas may start at once: the steps run under a session advisory
// lock, so one replica applies them and the others find them applied. Each
// step runs in its own transaction. A database whose version is newer than
// this binary knows is refused (an older replica must not write a newer schema).
#include <libpq-fe.h>

#include <cstdint>
#include <span>
#include <string_view>

namespace aegis::store::postgres {

struct Migration {
  int version;            // 1, 2, 3, ... strictly increasing
  std::string_view name;  // for diagnostics
  std::string_view sql;   // one or more statements
};

// The migrations this binary knows, in order.
std::span<const Migration> migrations();
int latest_schema_version();

// Where a set of migrations records itself: the store's own, or another
// component's that may live in a database of its own (retrieval's, rag/postgres).
struct MigrationLedger {
  std::string_view table = "schema_migrations";
  std::string_view lock_key = "4703388017512849";  // arbitrary, fixed: "AEGIS" schema lock
};

// Applies every pending step of `steps` on `conn`; returns the resulting
// version. Throws std::runtime_error when a step fails (that step is rolled
// back) or the database is newer than the last step.
int apply_migrations(PGconn* conn, std::span<const Migration> steps, std::int64_t now_ms,
                     const MigrationLedger& ledger = {});
inline int apply_migrations(PGconn* conn, std::int64_t now_ms) { return apply_migrations(conn, migrations(), now_ms); }

// The applied version (0 for a database without the ledger's table).
int current_schema_version(PGconn* conn, const MigrationLedger& ledger = {});

}  // namespace aegis::store::postgres
