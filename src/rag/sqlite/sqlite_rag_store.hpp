#pragma once
// Retrieval on the embedded SQLite file: documents, chunks and vectors in
// tables of the same database (migration 7), searched in memory through a
// VectorIndex (a partition per level: exact below a size threshold, HNSW
// above) loaded from SQLite at start and kept in step with every write.
#include <memory>
#include <string>

#include "rag/rag_store.hpp"
#include "rag/vector_index.hpp"

namespace aegis::rag {

class SqliteRagStore final : public RagStore {
 public:
  // Start-up only (throws): opens `path` (":memory:" for tests) and applies migrations.
  explicit SqliteRagStore(const std::string& path, VectorIndexOptions index_options = {});
  ~SqliteRagStore() override;
  SqliteRagStore(const SqliteRagStore&) = delete;
  SqliteRagStore& operator=(const SqliteRagStore&) = delete;

  Result<void> add_document(const DocumentRecord& document) override;
  Result<std::vector<DocumentRecord>> list_documents(const std::string& team, const std::string& collection) override;
  Result<DocumentRecord> get_document(const std::string& team, const std::string& id) override;
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
  // Graphs taken back at start from the previous clean stop (0: rebuilt, or none).
  std::size_t loaded_graphs() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aegis::rag
