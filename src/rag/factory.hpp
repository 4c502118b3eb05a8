#pragma once
// The retrieval store for the configured backend, keyed like the other stores
// by storage: (docs/CONFIG.md). Start-up only (throws).
#include <memory>

#include "config/config.hpp"
#include "rag/rag_store.hpp"

namespace aegis::rag {

// Null when the backend has no retrieval store yet (PostgreSQL: its pgvector store is to come).
std::unique_ptr<RagStore> open_rag_store(const config::StorageConfig& storage, const config::RagConfig& rag);

}  // namespace aegis::rag
