#pragma once
// Retrieval on PostgreSQL with pgvector (rag.postgres_dsn, else
// storage.postgres_dsn): documents, chunks and vectors in tables of their own
// (migrations recorded in rag_schema_migrations, so the database may be
// shared with the other stores or be a pgvector instance of its own), an
// HNSW index (cosine) per embedding model and level, partial on both.
//
// The clearance filter is inside the search: each level the caller may see is
// searched through its own partial index (levels above the clearance are never
// read), with pgvector's iterative scan (0.8+) so that the team and collection
// condition does not starve the LIMIT; should a level still give fewer rows
// than top_k while more are visible, it is searched exactly. A filter on
// metadata is always searched exactly over the matching documents. Either way
// a caller gets min(top_k, visible) chunks.
#include <memory>
#include <stdexcept>
#include <string>

#include "rag/rag_store.hpp"

namespace aegis::rag {

// The server cannot load pgvector at all (start-up only).
class PgvectorMissing : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PostgresRagOptions {
  std::size_t connections = 4;
  std::size_t ef_search = 96;  // hnsw.ef_search, never below top_k
};

class PostgresRagStore final : public RagStore {
 public:
  // Start-up only (throws): connects, checks pgvector and applies migrations.
  PostgresRagStore(const std::string& dsn, PostgresRagOptions options);
  ~PostgresRagStore() override;
  PostgresRagStore(const PostgresRagStore&) = delete;
  PostgresRagStore& operator=(const PostgresRagStore&) = delete;

  Result<void> add_document(const DocumentRecord& document) override;
  Result<std::vector<DocumentRecord>> list_documents(const std::string& team, const std::string& collection) override;
  Result<DocumentRecord> get_document(const std::string& team, const std::string& id) override;
  // Deletes the rows, then VACUUMs the three tables so that no dead tuple or
  // index entry of the document outlives the call.
  Result<DocumentRecord> erase_document(const std::string& team, const std::string& id) override;
  Result<SearchResult> search(const SearchRequest& request) override;
  Result<std::map<Level, std::int64_t>> chunk_levels(const std::string& team, const std::string& collection) override;
  Result<std::vector<ChunkToEmbed>> chunks_without(const std::string& team, const std::string& model, Level max_level,
                                                   std::size_t limit) override;
  Result<std::size_t> add_vectors(const std::string& model,
                                  const std::vector<std::pair<ChunkToEmbed, std::vector<float>>>& vectors) override;
  Result<std::vector<CollectionSummary>> list_collections() override;
  Result<std::optional<std::string>> document_team(const std::string& id) override;
  Result<std::int64_t> chunk_count() override;
  std::int64_t indexed_vectors() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aegis::rag
