#include "store/factory.hpp"

#include <stdexcept>

#include "core/system_clock.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/statement.hpp"

namespace aegis::store {

std::unique_ptr<Database> open_store(const config::StorageConfig& cfg, std::string_view chain_writer) {
  if (!cfg.postgres_dsn.empty()) {
    PostgresOptions options;
    options.audit_retention_months = cfg.audit_retention_months;
    options.chain_writer = chain_writer;
    return std::make_unique<PostgresStore>(cfg.postgres_dsn, SystemClock::instance(), options);
  }
  if (cfg.audit_retention_months > 0) {
    // One append-only table: no whole month to drop without deleting rows.
    throw std::runtime_error(
        "storage.audit_retention_months needs storage.postgres_dsn: the SQLite audit trail keeps every row");
  }
  SqliteOptions options;
  options.chain_writer = chain_writer;
  return std::make_unique<SqliteStore>(cfg.sqlite_path, SystemClock::instance(), options);
}

std::string audit_key_path(const config::StorageConfig& cfg) {
  if (sqlite::is_memory_path(cfg.sqlite_path)) return {};
  return cfg.sqlite_path + ".audit-key";
}

}  // namespace aegis::store
