#include "store/factory.hpp"

#include "store/sqlite/sqlite_store.hpp"

namespace aegis::store {

std::unique_ptr<Database> open_store(const config::StorageConfig& cfg) {
  return std::make_unique<SqliteStore>(cfg.sqlite_path);
}

}  // namespace aegis::store
