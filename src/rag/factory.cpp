#include "rag/factory.hpp"

#include "rag/sqlite/sqlite_rag_store.hpp"

namespace aegis::rag {

std::unique_ptr<RagStore> open_rag_store(const config::StorageConfig& storage, const config::RagConfig& rag) {
  if (!storage.postgres_dsn.empty()) return nullptr;
  VectorIndexOptions index;
  index.hnsw_threshold = static_cast<std::size_t>(rag.hnsw_threshold);
  index.hnsw_m = static_cast<std::size_t>(rag.hnsw_m);
  index.hnsw_ef_construction = static_cast<std::size_t>(rag.hnsw_ef_construction);
  index.hnsw_ef_search = static_cast<std::size_t>(rag.hnsw_ef_search);
  return std::make_unique<SqliteRagStore>(storage.sqlite_path, index);
}

}  // namespace aegis::rag
