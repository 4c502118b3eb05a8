#include "store/factory.hpp"

#include "core/system_clock.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace aegis::store {

std::unique_ptr<Database> open_store(const config::StorageConfig& cfg) {
  if (!cfg.postgres_dsn.empty()) return std::make_unique<PostgresStore>(cfg.postgres_dsn, SystemClock::instance());
  return std::make_unique<SqliteStore>(cfg.sqlite_path);
}

}  // namespace aegis::store
