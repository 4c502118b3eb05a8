#include "rag/factory.hpp"

#include "rag/sqlite/sqlite_rag_store.hpp"

namespace aegis::rag {

std::unique_ptr<RagStore> open_rag_store(const config::StorageConfig& storage) {
  if (!storage.postgres_dsn.empty()) return nullptr;
  return std::make_unique<SqliteRagStore>(storage.sqlite_path);
}

}  // namespace aegis::rag
