#include "rag/factory.hpp"

#include "rag/postgres/postgres_rag_store.hpp"
#include "rag/sqlite/sqlite_rag_store.hpp"
#include "telemetry/log.hpp"

namespace aegis::rag {

std::unique_ptr<RagStore> open_rag_store(const config::StorageConfig& storage, const config::RagConfig& rag) {
  if (!rag.postgres_dsn.empty() || !storage.postgres_dsn.empty()) {
    PostgresRagOptions options;
    options.connections = static_cast<std::size_t>(rag.postgres_connections);
    options.ef_search = static_cast<std::size_t>(rag.hnsw_ef_search);
    if (!rag.postgres_dsn.empty()) return std::make_unique<PostgresRagStore>(rag.postgres_dsn, options);
    try {
      return std::make_unique<PostgresRagStore>(storage.postgres_dsn, options);
    } catch (const PgvectorMissing&) {
      // Retrieval was not asked for by name: the gateway serves everything
      // else, and the retrieval routes answer 503 until pgvector is there.
      telemetry::log(telemetry::LogLevel::warn, "rag_unavailable",
                     {{"reason", "storage.postgres_dsn's server has no pgvector extension"},
                      {"fix", "install pgvector there, or point rag.postgres_dsn at a server that has it"}});
      return nullptr;
    }
  }
  VectorIndexOptions index;
  index.hnsw_threshold = static_cast<std::size_t>(rag.hnsw_threshold);
  index.hnsw_m = static_cast<std::size_t>(rag.hnsw_m);
  index.hnsw_ef_construction = static_cast<std::size_t>(rag.hnsw_ef_construction);
  index.hnsw_ef_search = static_cast<std::size_t>(rag.hnsw_ef_search);
  return std::make_unique<SqliteRagStore>(storage.sqlite_path, index);
}

}  // namespace aegis::rag
