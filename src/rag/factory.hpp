#pragma once
// The retrieval store for the configured backend, keyed like the other stores
// by storage: (docs/CONFIG.md). Start-up only (throws).
#include <memory>

#include "config/config.hpp"
#include "rag/rag_store.hpp"

namespace aegis::rag {

// PostgreSQL with pgvector when rag.postgres_dsn or storage.postgres_dsn is
// set, else the embedded SQLite store. Null (the routes answer 503) only when
// storage.postgres_dsn's server has no pgvector and rag.postgres_dsn is unset.
std::unique_ptr<RagStore> open_rag_store(const config::StorageConfig& storage, const config::RagConfig& rag);

}  // namespace aegis::rag
