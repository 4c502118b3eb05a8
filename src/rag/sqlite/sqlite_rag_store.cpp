#include "rag/sqlite/sqlite_rag_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>

#include "store/sqlite/migrations.hpp"
#include "store/sqlite/statement.hpp"
#include "telemetry/log.hpp"

namespace aegis::rag {

namespace {

using store::sqlite::StmtPtr;
using store::sqlite::Use;

constexpr std::string_view kStore = "retrieval storage";

// Vectors are stored as the machine's float32 bytes (little-endian on every
// platform Aegis builds for).
std::string encode_vector(const std::vector<float>& v) {
  std::string bytes(v.size() * sizeof(float), '\0');
  if (!v.empty()) std::memcpy(bytes.data(), v.data(), bytes.size());
  return bytes;
}

std::vector<float> decode_vector(const std::string& bytes) {
  std::vector<float> v(bytes.size() / sizeof(float));
  if (!v.empty()) std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

}  // namespace

struct SqliteRagStore::Impl {
  explicit Impl(VectorIndexOptions options) : index(options) {}

  std::mutex mu;  // one connection and the index, every call serialised
  store::sqlite::DbPtr db;
  VectorIndex index;

  Result<StmtPtr> prepare(std::string_view op, const char* sql) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v2(db.get(), sql, -1, &raw, nullptr);
    StmtPtr st(raw);
    if (rc != SQLITE_OK) return store::sqlite::db_error(kStore, op, rc);
    return st;
  }

  Result<void> exec(std::string_view op, const char* sql) {
    const int rc = sqlite3_exec(db.get(), sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return store::sqlite::db_error(kStore, op, rc);
    return {};
  }

  Result<Level> level_of(std::string_view op, const std::string& text) {
    auto level = parse_level(text);
    if (!level) return store::sqlite::corrupt_row(kStore, op);
    return *level;
  }

  // The document row of `team` (not_found for another team's), chunks with index and level.
  Result<DocumentRecord> read_document(std::string_view op, const std::string& team, const std::string& id) {
    AEGIS_TRY(doc_st, prepare(op,
                              "SELECT id, team, collection, source, metadata, level, created_at_ms FROM rag_documents "
                              "WHERE id = ?1 AND team = ?2"));
    DocumentRecord doc;
    {
      Use use(doc_st.get());
      use.bind(1, id);
      use.bind(2, team);
      const int rc = use.step();
      if (rc == SQLITE_DONE) return make_error(ErrorCode::not_found, "no such document");
      if (rc != SQLITE_ROW) return store::sqlite::db_error(kStore, op, rc);
      doc.id = use.text(0);
      doc.team = use.text(1);
      doc.collection = use.text(2);
      doc.source = use.text(3);
      doc.metadata_json = use.text(4);
      AEGIS_TRY(level, level_of(op, use.text(5)));
      doc.level = level;
      doc.created_at_ms = use.int64(6);
    }
    AEGIS_TRY(chunk_st,
              prepare(op, "SELECT id, chunk_index, level FROM rag_chunks WHERE document_id = ?1 ORDER BY chunk_index"));
    Use use(chunk_st.get());
    use.bind(1, id);
    int rc = 0;
    while ((rc = use.step()) == SQLITE_ROW) {
      ChunkRecord chunk;
      chunk.id = use.text(0);
      chunk.index = static_cast<int>(use.int64(1));
      AEGIS_TRY(level, level_of(op, use.text(2)));
      chunk.level = level;
      doc.chunks.push_back(std::move(chunk));
    }
    if (rc != SQLITE_DONE) return store::sqlite::db_error(kStore, op, rc);
    return doc;
  }

  void load_index() {
    auto st = prepare("load_index",
                      "SELECT c.id, c.document_id, c.level, v.model, v.vector, d.team, d.collection FROM rag_vectors v "
                      "JOIN rag_chunks c ON c.id = v.chunk_id JOIN rag_documents d ON d.id = c.document_id "
                      "ORDER BY v.rowid");
    if (!st.ok()) throw std::runtime_error(st.error().message);
    Use use(st->get());
    int rc = 0;
    while ((rc = use.step()) == SQLITE_ROW) {
      auto level = parse_level(use.text(2));
      if (!level) throw std::runtime_error("retrieval storage: a chunk has an unknown level");
      const IndexScope scope{use.text(5), use.text(6), use.text(3)};
      if (index.loaded(scope, *level)) continue;  // its graph came back from the index directory
      auto added = index.add(scope, IndexedChunk{use.text(0), use.text(1), *level}, decode_vector(use.blob(4)));
      if (!added.ok()) throw std::runtime_error("retrieval storage: " + added.error().message);
    }
    if (rc != SQLITE_DONE) throw std::runtime_error(store::sqlite::db_error(kStore, "load_index", rc).message);
  }

  // What the saved graphs must match: any vector added or removed since changes it
  // (the files exist only from a clean stop to the next start, when nothing writes).
  std::string fingerprint() {
    auto st = prepare("fingerprint", "SELECT count(*), coalesce(max(rowid), 0) FROM rag_vectors");
    if (!st.ok()) return "";
    Use use(st->get());
    if (use.step() != SQLITE_ROW) return "";
    return std::to_string(use.int64(0)) + ":" + std::to_string(use.int64(1));
  }

  std::string index_dir;  // empty: nothing persisted (":memory:")
  std::size_t loaded_graphs = 0;
};

SqliteRagStore::SqliteRagStore(const std::string& path, VectorIndexOptions index_options)
    : impl_(std::make_unique<Impl>(index_options)) {
  impl_->db =
      store::sqlite::open_database(path, SQLITE_OPEN_NOMUTEX, std::chrono::milliseconds(5000), " for retrieval");
  // secure_delete=ON, the right to erasure: deleted chunk text and vectors are overwritten, not left in free pages.
  store::sqlite::configure_and_migrate(impl_->db.get(), path, " for retrieval",
                                       {"PRAGMA journal_mode=WAL", "PRAGMA secure_delete=ON"});
  if (path != ":memory:") {
    // Graphs above rag.hnsw_threshold take a while to build; a clean stop
    // saves them beside the database, and this start takes them back.
    impl_->index_dir = path + ".rag-index";
    impl_->loaded_graphs = impl_->index.load(impl_->index_dir, impl_->fingerprint());
    if (impl_->loaded_graphs > 0) {
      telemetry::log(telemetry::LogLevel::info, "rag_index_loaded", {{"graphs", impl_->loaded_graphs}});
    }
  }
  impl_->load_index();
}

SqliteRagStore::~SqliteRagStore() {
  if (impl_->index_dir.empty()) return;
  std::lock_guard lock(impl_->mu);
  if (auto saved = impl_->index.save(impl_->index_dir, impl_->fingerprint()); !saved.ok()) {
    telemetry::log(telemetry::LogLevel::warn, "rag_index_not_saved",
                   {{"reason", saved.error().message}, {"note", "the next start rebuilds the graphs"}});
  }
}

Result<void> SqliteRagStore::add_document(const DocumentRecord& document) {
  constexpr std::string_view op = "add_document";
  std::lock_guard lock(impl_->mu);
  for (const auto& chunk : document.chunks) {
    for (const auto& [model, vector] : chunk.vectors) {
      AEGIS_TRY_VOID(impl_->index.check(IndexScope{document.team, document.collection, model}, chunk.level, vector));
    }
  }
  AEGIS_TRY_VOID(impl_->exec(op, "BEGIN IMMEDIATE"));
  auto rollback = [&](Error e) {
    (void)impl_->exec(op, "ROLLBACK");
    return e;
  };
  {
    auto st = impl_->prepare(op,
                             "INSERT INTO rag_documents(id, team, collection, source, metadata, level, created_at_ms) "
                             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!st.ok()) return rollback(std::move(st).error());
    Use use(st->get());
    use.bind(1, document.id);
    use.bind(2, document.team);
    use.bind(3, document.collection);
    use.bind(4, document.source);
    use.bind(5, document.metadata_json);
    use.bind(6, to_string(document.level));
    use.bind(7, document.created_at_ms);
    if (const int rc = use.step(); rc != SQLITE_DONE) return rollback(store::sqlite::db_error(kStore, op, rc));
  }
  auto chunk_st = impl_->prepare(
      op, "INSERT INTO rag_chunks(id, document_id, chunk_index, text, level) VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!chunk_st.ok()) return rollback(std::move(chunk_st).error());
  auto vector_st = impl_->prepare(op, "INSERT INTO rag_vectors(chunk_id, model, vector) VALUES (?1, ?2, ?3)");
  if (!vector_st.ok()) return rollback(std::move(vector_st).error());
  for (const auto& chunk : document.chunks) {
    {
      Use use(chunk_st->get());
      use.bind(1, chunk.id);
      use.bind(2, document.id);
      use.bind(3, static_cast<std::int64_t>(chunk.index));
      use.bind(4, chunk.text);
      use.bind(5, to_string(chunk.level));
      if (const int rc = use.step(); rc != SQLITE_DONE) return rollback(store::sqlite::db_error(kStore, op, rc));
    }
    for (const auto& [model, vector] : chunk.vectors) {
      Use use(vector_st->get());
      use.bind(1, chunk.id);
      use.bind(2, model);
      use.bind_blob(3, encode_vector(vector));
      if (const int rc = use.step(); rc != SQLITE_DONE) return rollback(store::sqlite::db_error(kStore, op, rc));
    }
  }
  if (auto committed = impl_->exec(op, "COMMIT"); !committed.ok()) return rollback(std::move(committed).error());
  for (const auto& chunk : document.chunks) {
    for (const auto& [model, vector] : chunk.vectors) {
      // Checked above, under the same lock.
      (void)impl_->index.add(IndexScope{document.team, document.collection, model},
                             IndexedChunk{chunk.id, document.id, chunk.level}, vector);
    }
  }
  return {};
}

Result<std::vector<DocumentRecord>> SqliteRagStore::list_documents(const std::string& team,
                                                                   const std::string& collection) {
  constexpr std::string_view op = "list_documents";
  std::lock_guard lock(impl_->mu);
  AEGIS_TRY(st, impl_->prepare(op,
                               "SELECT id FROM rag_documents WHERE team = ?1 AND collection = ?2 ORDER BY "
                               "created_at_ms DESC, id"));
  std::vector<std::string> ids;
  {
    Use use(st.get());
    use.bind(1, team);
    use.bind(2, collection);
    int rc = 0;
    while ((rc = use.step()) == SQLITE_ROW) ids.push_back(use.text(0));
    if (rc != SQLITE_DONE) return store::sqlite::db_error(kStore, op, rc);
  }
  std::vector<DocumentRecord> out;
  out.reserve(ids.size());
  for (const auto& id : ids) {
    AEGIS_TRY(doc, impl_->read_document(op, team, id));
    out.push_back(std::move(doc));
  }
  return out;
}

Result<DocumentRecord> SqliteRagStore::get_document(const std::string& team, const std::string& id) {
  std::lock_guard lock(impl_->mu);
  return impl_->read_document("get_document", team, id);
}

Result<DocumentRecord> SqliteRagStore::erase_document(const std::string& team, const std::string& id) {
  constexpr std::string_view op = "erase_document";
  std::lock_guard lock(impl_->mu);
  AEGIS_TRY(doc, impl_->read_document(op, team, id));
  AEGIS_TRY_VOID(impl_->exec(op, "BEGIN IMMEDIATE"));
  auto rollback = [&](Error e) {
    (void)impl_->exec(op, "ROLLBACK");
    return e;
  };
  for (const char* sql :
       {"DELETE FROM rag_vectors WHERE chunk_id IN (SELECT id FROM rag_chunks WHERE document_id = ?1)",
        "DELETE FROM rag_chunks WHERE document_id = ?1", "DELETE FROM rag_documents WHERE id = ?1"}) {
    auto st = impl_->prepare(op, sql);
    if (!st.ok()) return rollback(std::move(st).error());
    Use use(st->get());
    use.bind(1, id);
    if (const int rc = use.step(); rc != SQLITE_DONE) return rollback(store::sqlite::db_error(kStore, op, rc));
  }
  if (auto committed = impl_->exec(op, "COMMIT"); !committed.ok()) return rollback(std::move(committed).error());
  impl_->index.erase_document(doc.team, doc.collection, doc.id);
  return doc;
}

Result<SearchResult> SqliteRagStore::search(const SearchRequest& request) {
  constexpr std::string_view op = "search";
  std::lock_guard lock(impl_->mu);
  SearchResult result;
  std::optional<std::set<std::string>> documents;
  if (!request.filter.empty()) {
    AEGIS_TRY(filter_st,
              impl_->prepare(op, "SELECT id, metadata FROM rag_documents WHERE team = ?1 AND collection = ?2"));
    Use use(filter_st.get());
    use.bind(1, request.team);
    use.bind(2, request.collection);
    documents.emplace();
    int rc = 0;
    while ((rc = use.step()) == SQLITE_ROW) {
      if (request.filter.matches(use.text(1))) documents->insert(use.text(0));
    }
    if (rc != SQLITE_DONE) return store::sqlite::db_error(kStore, op, rc);
    if (documents->empty()) return result;
  }
  // Nothing above the clearance is scored: its partitions are not visited.
  const auto scored =
      impl_->index.search(IndexScope{request.team, request.collection, request.model}, request.min_level,
                          request.clearance, request.query, request.top_k, documents ? &*documents : nullptr);
  AEGIS_TRY(st, impl_->prepare(op,
                               "SELECT c.chunk_index, c.text, d.source FROM rag_chunks c JOIN rag_documents d ON d.id "
                               "= c.document_id WHERE c.id = ?1"));
  for (const auto& hit : scored) {
    Use use(st.get());
    use.bind(1, hit.chunk.chunk_id);
    const int rc = use.step();
    if (rc != SQLITE_ROW) return store::sqlite::db_error(kStore, op, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc);
    result.hits.push_back(SearchHit{hit.chunk.chunk_id, hit.chunk.document_id, static_cast<int>(use.int64(0)),
                                    use.text(1), use.text(2), hit.chunk.level, hit.score});
  }
  return result;
}

Result<std::map<Level, std::int64_t>> SqliteRagStore::chunk_levels(const std::string& team,
                                                                   const std::string& collection) {
  constexpr std::string_view op = "chunk_levels";
  std::lock_guard lock(impl_->mu);
  AEGIS_TRY(st,
            impl_->prepare(op,
                           "SELECT c.level, COUNT(*) FROM rag_chunks c JOIN rag_documents d ON d.id = c.document_id "
                           "WHERE d.team = ?1 AND d.collection = ?2 GROUP BY c.level"));
  Use use(st.get());
  use.bind(1, team);
  use.bind(2, collection);
  std::map<Level, std::int64_t> out;
  int rc = 0;
  while ((rc = use.step()) == SQLITE_ROW) {
    AEGIS_TRY(level, impl_->level_of(op, use.text(0)));
    out[level] = use.int64(1);
  }
  if (rc != SQLITE_DONE) return store::sqlite::db_error(kStore, op, rc);
  return out;
}

Result<std::vector<CollectionSummary>> SqliteRagStore::list_collections() {
  constexpr std::string_view op = "list_collections";
  std::lock_guard lock(impl_->mu);
  AEGIS_TRY(st, impl_->prepare(op,
                               "SELECT team, collection, level, COUNT(*) FROM rag_documents GROUP BY team, "
                               "collection, level ORDER BY team, collection"));
  Use use(st.get());
  std::vector<CollectionSummary> out;
  int rc = 0;
  while ((rc = use.step()) == SQLITE_ROW) {
    std::string team = use.text(0);
    std::string collection = use.text(1);
    if (out.empty() || out.back().team != team || out.back().collection != collection) {
      out.push_back(CollectionSummary{std::move(team), std::move(collection), {}});
    }
    AEGIS_TRY(level, impl_->level_of(op, use.text(2)));
    out.back().documents_by_level[level] = use.int64(3);
  }
  if (rc != SQLITE_DONE) return store::sqlite::db_error(kStore, op, rc);
  return out;
}

Result<std::optional<std::string>> SqliteRagStore::document_team(const std::string& id) {
  constexpr std::string_view op = "document_team";
  std::lock_guard lock(impl_->mu);
  AEGIS_TRY(st, impl_->prepare(op, "SELECT team FROM rag_documents WHERE id = ?1"));
  Use use(st.get());
  use.bind(1, id);
  const int rc = use.step();
  if (rc == SQLITE_ROW) return std::optional<std::string>(use.text(0));
  if (rc != SQLITE_DONE) return store::sqlite::db_error(kStore, op, rc);
  return std::optional<std::string>();
}

Result<std::vector<ChunkToEmbed>> SqliteRagStore::chunks_without(const std::string& team, const std::string& model,
                                                                 Level max_level, std::size_t limit) {
  constexpr std::string_view op = "chunks_without";
  std::lock_guard lock(impl_->mu);
  AEGIS_TRY(
      st, impl_->prepare(op,
                         "SELECT c.id, c.document_id, d.team, d.collection, c.level, c.text FROM rag_chunks c "
                         "JOIN rag_documents d ON d.id = c.document_id WHERE d.team = ?2 AND NOT EXISTS (SELECT 1 FROM "
                         "rag_vectors v WHERE v.chunk_id = c.id AND v.model = ?1) ORDER BY d.created_at_ms, "
                         "c.document_id, c.chunk_index"));
  Use use(st.get());
  use.bind(1, model);
  use.bind(2, team);
  std::vector<ChunkToEmbed> out;
  int rc = 0;
  while (out.size() < limit && (rc = use.step()) == SQLITE_ROW) {
    AEGIS_TRY(level, impl_->level_of(op, use.text(4)));
    if (level > max_level) continue;
    out.push_back(ChunkToEmbed{use.text(0), use.text(1), use.text(2), use.text(3), level, use.text(5)});
  }
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return store::sqlite::db_error(kStore, op, rc);
  return out;
}

Result<std::size_t> SqliteRagStore::add_vectors(
    const std::string& model, const std::vector<std::pair<ChunkToEmbed, std::vector<float>>>& vectors) {
  constexpr std::string_view op = "add_vectors";
  std::lock_guard lock(impl_->mu);
  for (const auto& [chunk, vector] : vectors) {
    AEGIS_TRY_VOID(impl_->index.check(IndexScope{chunk.team, chunk.collection, model}, chunk.level, vector));
  }
  AEGIS_TRY_VOID(impl_->exec(op, "BEGIN IMMEDIATE"));
  auto rollback = [&](Error e) {
    (void)impl_->exec(op, "ROLLBACK");
    return e;
  };
  // Only for a chunk that is still there (erased while it was being embedded: skipped).
  auto st = impl_->prepare(op,
                           "INSERT INTO rag_vectors(chunk_id, model, vector) SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 "
                           "FROM rag_chunks WHERE id = ?1) ON CONFLICT DO NOTHING");
  if (!st.ok()) return rollback(std::move(st).error());
  std::vector<std::size_t> stored;
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    Use use(st->get());
    use.bind(1, vectors[i].first.chunk_id);
    use.bind(2, model);
    use.bind_blob(3, encode_vector(vectors[i].second));
    if (const int rc = use.step(); rc != SQLITE_DONE) return rollback(store::sqlite::db_error(kStore, op, rc));
    if (sqlite3_changes(impl_->db.get()) > 0) stored.push_back(i);
  }
  if (auto committed = impl_->exec(op, "COMMIT"); !committed.ok()) return rollback(std::move(committed).error());
  for (const std::size_t i : stored) {
    const auto& chunk = vectors[i].first;
    (void)impl_->index.add(IndexScope{chunk.team, chunk.collection, model},
                           IndexedChunk{chunk.chunk_id, chunk.document_id, chunk.level}, vectors[i].second);
  }
  return stored.size();
}

Result<std::int64_t> SqliteRagStore::chunk_count() {
  std::lock_guard lock(impl_->mu);
  AEGIS_TRY(st, impl_->prepare("chunk_count", "SELECT COUNT(*) FROM rag_chunks"));
  Use use(st.get());
  if (const int rc = use.step(); rc != SQLITE_ROW) return store::sqlite::db_error(kStore, "chunk_count", rc);
  return use.int64(0);
}

std::int64_t SqliteRagStore::indexed_vectors() const {
  std::lock_guard lock(impl_->mu);
  return impl_->index.vectors();
}

std::size_t SqliteRagStore::loaded_graphs() const { return impl_->loaded_graphs; }

}  // namespace aegis::rag
