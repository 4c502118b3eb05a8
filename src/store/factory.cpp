#include "store/factory.hpp"

#include <stdexcept>

#include "store/sqlite/sqlite_store.hpp"

namespace aegis::store {

std::unique_ptr<Store> open_store(const config::StorageConfig& cfg) {
  switch (cfg.backend) {
    case config::StorageBackend::sqlite:
      return std::make_unique<SqliteStore>(cfg.sqlite_path);
    case config::StorageBackend::postgres:
      throw std::runtime_error("postgres storage backend is not available in this build yet");
  }
  throw std::runtime_error("unknown storage backend");
}

}  // namespace aegis::store
