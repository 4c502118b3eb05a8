#pragma once
// Retrieval on the embedded SQLite file: documents, chunks and vectors in
// tables of the same database (migration 7), searched in memory by exact
// cosine similarity over an index loaded from SQLite at start and kept in step
// with every write. Exact search is what lets the clearance filter run inside
// the search: every visible chunk is scored, nothing above the clearance is.
#include <memory>
#include <string>

#include "rag/rag_store.hpp"

namespace aegis::rag {

class SqliteRagStore final : public RagStore {
 public:
  // Start-up only (throws): opens `path` (":memory:" for tests) and applies migrations.
  explicit SqliteRagStore(const std::string& path);
  ~SqliteRagStore() override;
  SqliteRagStore(const SqliteRagStore&) = delete;
  SqliteRagStore& operator=(const SqliteRagStore&) = delete;

  Result<void> add_document(const DocumentRecord& document) override;
  Result<std::vector<DocumentRecord>> list_documents(const std::string& team, const std::string& collection) override;
  Result<DocumentRecord> get_document(const std::string& team, const std::string& id) override;
  Result<DocumentRecord> erase_document(const std::string& team, const std::string& id) override;
  Result<SearchResult> search(const SearchRequest& request) override;
  Result<std::map<Level, std::int64_t>> chunk_levels(const std::string& team, const std::string& collection) override;
  Result<std::int64_t> chunk_count() override;
  std::int64_t indexed_vectors() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aegis::rag
