#include "rag/postgres/postgres_rag_store.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "store/postgres/migrations.hpp"
#include "store/postgres/pg.hpp"
#include "telemetry/log.hpp"

namespace aegis::rag {

namespace pg = store::pg;

namespace {

constexpr std::string_view kStore = "retrieval storage";
// Rows per multi-row INSERT (PostgreSQL allows 65,535 parameters a statement).
constexpr std::size_t kChunksPerInsert = 500;
constexpr std::size_t kVectorsPerInsert = 100;

// Retrieval's own ledger: the database may be shared with the other stores
// (their schema_migrations) or be a pgvector instance of its own.
constexpr store::postgres::MigrationLedger kLedger{"rag_schema_migrations", "4703388017512853"};

constexpr store::postgres::Migration kMigrations[] = {
    {1, "documents, chunks, vectors (pgvector), per-model-and-level HNSW indexes", R"sql(
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE rag_documents (
  id TEXT PRIMARY KEY,
  team TEXT NOT NULL,
  collection TEXT NOT NULL,
  source TEXT NOT NULL,
  metadata TEXT NOT NULL,
  level SMALLINT NOT NULL CHECK (level BETWEEN 0 AND 3),
  created_at_ms BIGINT NOT NULL
);
CREATE INDEX rag_documents_by_collection ON rag_documents (team, collection, created_at_ms DESC, id);
CREATE TABLE rag_chunks (
  id TEXT PRIMARY KEY,
  document_id TEXT NOT NULL REFERENCES rag_documents (id) ON DELETE CASCADE,
  chunk_index INTEGER NOT NULL,
  text TEXT NOT NULL,
  level SMALLINT NOT NULL CHECK (level BETWEEN 0 AND 3)
);
CREATE INDEX rag_chunks_by_document ON rag_chunks (document_id, chunk_index);
-- team, collection, document and level repeated from the chunk, so that the
-- nearest-neighbour scan filters without a join.
CREATE TABLE rag_vectors (
  chunk_id TEXT NOT NULL REFERENCES rag_chunks (id) ON DELETE CASCADE,
  model TEXT NOT NULL,
  team TEXT NOT NULL,
  collection TEXT NOT NULL,
  document_id TEXT NOT NULL,
  level SMALLINT NOT NULL CHECK (level BETWEEN 0 AND 3),
  embedding vector NOT NULL,
  PRIMARY KEY (chunk_id, model)
);
CREATE INDEX rag_vectors_scope ON rag_vectors (team, collection, model, level);
-- One HNSW index per model and level, created with the first such vector:
-- pgvector indexes only fixed dimensions, and a model has one.
CREATE TABLE rag_indexes (
  model TEXT NOT NULL,
  level SMALLINT NOT NULL,
  dims INTEGER NOT NULL,
  name TEXT NOT NULL,
  PRIMARY KEY (model, level)
);
)sql"},
};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// pgvector's text form; %.9g round-trips a float.
std::string vector_text(const std::vector<float>& v) {
  std::string out = "[";
  char buf[32];
  for (std::size_t i = 0; i < v.size(); ++i) {
    const int n = std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v[i]));
    if (i) out += ',';
    out.append(buf, static_cast<std::size_t>(n));
  }
  out += ']';
  return out;
}

std::string index_name(const std::string& model, int level) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (const unsigned char c : model) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "rag_hnsw_%016llx_%d", static_cast<unsigned long long>(h), level);
  return buf;
}

std::string text_array(const std::vector<std::string>& values) {
  // PostgreSQL array literal with every element quoted.
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (const char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace

struct PostgresRagStore::Impl {
  Impl(const std::string& dsn, PostgresRagOptions options_in)
      : pool(dsn, std::string(kStore),
             pg::PoolOptions{.max_connections = std::max<std::size_t>(options_in.connections, 1),
                             .dsn_setting = "rag.postgres_dsn"}),
        options(options_in) {}

  pg::Pool pool;
  PostgresRagOptions options;
  bool iterative_scan = false;  // pgvector 0.8+
  std::mutex mu;
  std::map<std::pair<std::string, int>, std::size_t> index_dims;  // (model, level) -> dimensions

  Error fail(std::string_view op, const pg::Session& session) const { return pool.error(op, session.last_failure()); }

  static Result<Level> level_of(const pg::Rows& rows, int row, int column) {
    const auto v = rows.int64(row, column);
    if (!v || *v < 0 || *v > 3) {
      return make_error(ErrorCode::internal, std::string(kStore) + ": a stored level is not one this version writes");
    }
    return static_cast<Level>(*v);
  }

  // The dimensions of (model, level)'s index, from the cache or the database; 0: none yet.
  Result<std::size_t> dims_of(pg::Session& session, const std::string& model, int level) {
    {
      std::lock_guard lock(mu);
      if (auto it = index_dims.find({model, level}); it != index_dims.end()) return it->second;
    }
    auto rows = session.exec("SELECT dims FROM rag_indexes WHERE model = $1 AND level = $2",
                             pg::Params().add(model).add(level));
    if (!rows.ok()) return fail("index_dims", session);
    if (rows->empty()) return std::size_t{0};
    const auto dims = rows->int64(0, 0);
    if (!dims || *dims <= 0) return make_error(ErrorCode::internal, std::string(kStore) + ": bad index dimensions");
    std::lock_guard lock(mu);
    index_dims[{model, level}] = static_cast<std::size_t>(*dims);
    return static_cast<std::size_t>(*dims);
  }

  Result<DocumentRecord> read_document(pg::Session& session, std::string_view op, const std::string& team,
                                       const std::string& id) {
    auto rows = session.exec(
        "SELECT id, team, collection, source, metadata, level, created_at_ms FROM rag_documents WHERE id = $1 AND "
        "team = $2",
        pg::Params().add(id).add(team));
    if (!rows.ok()) return fail(op, session);
    if (rows->empty()) return make_error(ErrorCode::not_found, "no such document");
    DocumentRecord doc;
    doc.id = rows->text(0, 0);
    doc.team = rows->text(0, 1);
    doc.collection = rows->text(0, 2);
    doc.source = rows->text(0, 3);
    doc.metadata_json = rows->text(0, 4);
    AEGIS_TRY(level, level_of(*rows, 0, 5));
    doc.level = level;
    doc.created_at_ms = rows->int64(0, 6).value_or(0);
    auto chunks =
        session.exec("SELECT id, chunk_index, level FROM rag_chunks WHERE document_id = $1 ORDER BY chunk_index",
                     pg::Params().add(id));
    if (!chunks.ok()) return fail(op, session);
    for (int i = 0; i < chunks->size(); ++i) {
      ChunkRecord chunk;
      chunk.id = chunks->text(i, 0);
      chunk.index = static_cast<int>(chunks->int64(i, 1).value_or(0));
      AEGIS_TRY(chunk_level, level_of(*chunks, i, 2));
      chunk.level = chunk_level;
      doc.chunks.push_back(std::move(chunk));
    }
    return doc;
  }

  // A vector's dimensions must be its (model, level) index's; a pair without
  // an index yet is noted in `fresh` with the dimensions its first vector gives.
  Result<void> check_dims(pg::Session& session, const std::string& model, Level chunk_level,
                          const std::vector<float>& vector, std::map<std::pair<std::string, int>, std::size_t>& fresh) {
    if (vector.empty()) return make_error(ErrorCode::invalid_request, "an embedding has no dimensions");
    const int level = static_cast<int>(chunk_level);
    AEGIS_TRY(dims, dims_of(session, model, level));
    if (dims == 0) dims = fresh.emplace(std::make_pair(model, level), vector.size()).first->second;
    if (dims == vector.size()) return {};
    return make_error(ErrorCode::invalid_request, "embedding model '" + model + "' returned " +
                                                      std::to_string(vector.size()) +
                                                      " dimensions where its index holds " + std::to_string(dims));
  }

  // What creates the index of each new (model, level) with its dimensions.
  Result<void> index_statements(pg::Session& session, const std::map<std::pair<std::string, int>, std::size_t>& fresh,
                                std::vector<pg::Statement>& statements) const {
    for (const auto& [key, dims] : fresh) {
      const std::string name = index_name(key.first, key.second);
      std::unique_ptr<char, decltype(&PQfreemem)> literal(
          PQescapeLiteral(session.raw(), key.first.c_str(), key.first.size()), &PQfreemem);
      if (!literal) return fail("create_index", session);
      statements.push_back(
          {"INSERT INTO rag_indexes(model, level, dims, name) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
           pg::Params().add(key.first).add(key.second).add(static_cast<std::int64_t>(dims)).add(name)});
      statements.push_back({"CREATE INDEX IF NOT EXISTS " + name + " ON rag_vectors USING hnsw ((embedding::vector(" +
                                std::to_string(dims) + ")) vector_cosine_ops) WHERE model = " + literal.get() +
                                " AND level = " + std::to_string(key.second),
                            {}});
    }
    return {};
  }

  // The statements that put the transaction in exact mode (index scans off:
  // every visible row scored) or in HNSW mode.
  std::vector<pg::Statement> search_settings(bool exact, std::size_t top_k) const {
    std::vector<pg::Statement> out;
    out.push_back({"BEGIN", {}});
    if (exact) {
      out.push_back({"SET LOCAL enable_indexscan = off", {}});
      return out;
    }
    out.push_back({"SET LOCAL hnsw.ef_search = " +
                       std::to_string(std::clamp<std::size_t>(std::max(options.ef_search, top_k), 1, 1000)),
                   {}});
    if (iterative_scan) out.push_back({"SET LOCAL hnsw.iterative_scan = strict_order", {}});
    // An ordered index scan, never a sort: with statistics from before a
    // bulk ingest the planner takes the scope btree for a few rows and sorts
    // all of them (100k chunks: 269 ms against 15 ms through the HNSW index).
    out.push_back({"SET LOCAL enable_sort = off", {}});
    return out;
  }

  // Up to top_k nearest chunks of one level, with their text and source.
  static pg::Statement nearest_statement(const SearchRequest& request, int level, std::size_t dims,
                                         const std::string& query, const std::optional<std::string>& documents) {
    const std::string cast = "::vector(" + std::to_string(dims) + ")";
    pg::Statement s;
    s.sql = "WITH nearest AS (SELECT chunk_id, document_id, embedding" + cast + " <=> $1" + cast +
            " AS distance FROM rag_vectors WHERE model = $2 AND level = $3 AND team = $4 AND collection = $5";
    s.params.add(query).add(request.model).add(level).add(request.team).add(request.collection);
    s.params.add(static_cast<std::int64_t>(request.top_k));
    if (documents) {
      s.sql += " AND document_id = ANY($7::text[])";
      s.params.add(*documents);
    }
    s.sql +=
        " ORDER BY distance LIMIT $6) SELECT n.chunk_id, n.document_id, c.chunk_index, c.text, d.source, "
        "1 - n.distance FROM nearest n JOIN rag_chunks c ON c.id = n.chunk_id JOIN rag_documents d ON d.id = "
        "n.document_id";
    return s;
  }

  static std::vector<SearchHit> hits_of(const pg::Rows& rows, int level) {
    std::vector<SearchHit> out;
    for (int i = 0; i < rows.size(); ++i) {
      SearchHit hit;
      hit.chunk_id = rows.text(i, 0);
      hit.document_id = rows.text(i, 1);
      hit.index = static_cast<int>(rows.int64(i, 2).value_or(0));
      hit.text = rows.text(i, 3);
      hit.source = rows.text(i, 4);
      hit.level = static_cast<Level>(level);
      hit.score = std::strtod(rows.text(i, 5).c_str(), nullptr);
      out.push_back(std::move(hit));
    }
    return out;
  }

  // Each (level, dims) searched in one transaction and one round trip:
  // the settings, one SELECT per level, COMMIT. Hits per level, in order.
  Result<std::vector<std::vector<SearchHit>>> nearest(pg::Session& session, const SearchRequest& request,
                                                      const std::vector<std::pair<int, std::size_t>>& levels,
                                                      const std::string& query,
                                                      const std::optional<std::string>& documents, bool exact) {
    auto statements = search_settings(exact, request.top_k);
    const std::size_t first = statements.size();
    for (const auto& [level, dims] : levels) {
      statements.push_back(nearest_statement(request, level, dims, query, documents));
    }
    statements.push_back({"COMMIT", {}});
    std::vector<pg::Rows> results;
    if (!session.pipeline(statements, &results).ok()) {
      const Error e = fail("search", session);
      session.rollback();
      return e;
    }
    std::vector<std::vector<SearchHit>> out;
    for (std::size_t i = 0; i < levels.size(); ++i) out.push_back(hits_of(results.at(first + i), levels[i].first));
    return out;
  }
};

PostgresRagStore::PostgresRagStore(const std::string& dsn, PostgresRagOptions options)
    : impl_(std::make_unique<Impl>(dsn, options)) {
  auto conn = impl_->pool.connect_or_throw();
  std::unique_ptr<PGresult, pg::ResultClearer> available(
      PQexec(conn.get(), "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"));
  if (!available || PQresultStatus(available.get()) != PGRES_TUPLES_OK || PQntuples(available.get()) != 1) {
    throw PgvectorMissing(
        "retrieval storage: the PostgreSQL server has no pgvector extension (package "
        "postgresql-15-pgvector or equivalent)");
  }
  try {
    store::postgres::apply_migrations(conn.get(), kMigrations, now_ms(), kLedger);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("retrieval storage (rag.postgres_dsn): ") + e.what() +
                             " (the database needs the pgvector extension)");
  }
  std::unique_ptr<PGresult, pg::ResultClearer> version(
      PQexec(conn.get(), "SELECT extversion FROM pg_extension WHERE extname = 'vector'"));
  if (!version || PQresultStatus(version.get()) != PGRES_TUPLES_OK || PQntuples(version.get()) != 1) {
    throw std::runtime_error("retrieval storage: the pgvector extension is not installed");
  }
  unsigned major = 0;
  unsigned minor = 0;
  if (std::sscanf(PQgetvalue(version.get(), 0, 0), "%u.%u", &major, &minor) == 2) {
    impl_->iterative_scan = major > 0 || minor >= 8;
  }
}

PostgresRagStore::~PostgresRagStore() = default;

Result<void> PostgresRagStore::add_document(const DocumentRecord& document) {
  constexpr std::string_view op = "add_document";
  AEGIS_TRY(session, impl_->pool.acquire());
  // Every vector's dimensions must be its (model, level) index's; a new pair gets its index.
  std::map<std::pair<std::string, int>, std::size_t> fresh;
  for (const auto& chunk : document.chunks) {
    for (const auto& [model, vector] : chunk.vectors) {
      AEGIS_TRY_VOID(impl_->check_dims(session, model, chunk.level, vector, fresh));
    }
  }
  std::vector<pg::Statement> statements;
  statements.push_back({"BEGIN", {}});
  AEGIS_TRY_VOID(impl_->index_statements(session, fresh, statements));
  statements.push_back(
      {"INSERT INTO rag_documents(id, team, collection, source, metadata, level, created_at_ms) "
       "VALUES ($1, $2, $3, $4, $5, $6, $7)",
       pg::Params()
           .add(document.id)
           .add(document.team)
           .add(document.collection)
           .add(document.source)
           .add(document.metadata_json)
           .add(static_cast<int>(document.level))
           .add(document.created_at_ms)});
  for (std::size_t i = 0; i < document.chunks.size(); i += kChunksPerInsert) {
    const std::size_t n = std::min(kChunksPerInsert, document.chunks.size() - i);
    pg::Statement& s = statements.emplace_back();
    s.sql = "INSERT INTO rag_chunks(id, document_id, chunk_index, text, level) VALUES ";
    for (std::size_t j = 0; j < n; ++j) {
      const auto& chunk = document.chunks[i + j];
      const int base = static_cast<int>(j) * 5;
      s.sql += (j ? ", ($" : "($") + std::to_string(base + 1) + ", $" + std::to_string(base + 2) + ", $" +
               std::to_string(base + 3) + ", $" + std::to_string(base + 4) + ", $" + std::to_string(base + 5) + ")";
      s.params.add(chunk.id).add(document.id).add(chunk.index).add(chunk.text).add(static_cast<int>(chunk.level));
    }
  }
  struct VectorRow {
    const ChunkRecord* chunk;
    const std::string* model;
    const std::vector<float>* vector;
  };
  std::vector<VectorRow> vector_rows;
  for (const auto& chunk : document.chunks) {
    for (const auto& [model, vector] : chunk.vectors) vector_rows.push_back(VectorRow{&chunk, &model, &vector});
  }
  for (std::size_t i = 0; i < vector_rows.size(); i += kVectorsPerInsert) {
    const std::size_t n = std::min(kVectorsPerInsert, vector_rows.size() - i);
    pg::Statement& s = statements.emplace_back();
    s.sql = "INSERT INTO rag_vectors(chunk_id, model, team, collection, document_id, level, embedding) VALUES ";
    for (std::size_t j = 0; j < n; ++j) {
      const auto& row = vector_rows[i + j];
      const int base = static_cast<int>(j) * 7;
      s.sql += j ? ", (" : "(";
      for (int c = 1; c <= 7; ++c) s.sql += (c > 1 ? ", $" : "$") + std::to_string(base + c);
      s.sql += "::vector)";
      s.params.add(row.chunk->id)
          .add(*row.model)
          .add(document.team)
          .add(document.collection)
          .add(document.id)
          .add(static_cast<int>(row.chunk->level))
          .add(vector_text(*row.vector));
    }
  }
  statements.push_back({"COMMIT", {}});
  if (!session.pipeline(statements).ok()) {
    const Error e = impl_->fail(op, session);
    session.rollback();
    if (session.last_failure().sqlstate == pg::kUniqueViolation) {
      return make_error(ErrorCode::conflict, "a document or chunk with this id exists");
    }
    return e;
  }
  std::lock_guard lock(impl_->mu);
  for (const auto& [key, dims] : fresh) impl_->index_dims.emplace(key, dims);
  return {};
}

Result<std::vector<DocumentRecord>> PostgresRagStore::list_documents(const std::string& team,
                                                                     const std::string& collection) {
  constexpr std::string_view op = "list_documents";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto ids =
      session.exec("SELECT id FROM rag_documents WHERE team = $1 AND collection = $2 ORDER BY created_at_ms DESC, id",
                   pg::Params().add(team).add(collection));
  if (!ids.ok()) return impl_->fail(op, session);
  std::vector<DocumentRecord> out;
  out.reserve(static_cast<std::size_t>(ids->size()));
  for (int i = 0; i < ids->size(); ++i) {
    AEGIS_TRY(doc, impl_->read_document(session, op, team, ids->text(i, 0)));
    out.push_back(std::move(doc));
  }
  return out;
}

Result<DocumentRecord> PostgresRagStore::get_document(const std::string& team, const std::string& id) {
  AEGIS_TRY(session, impl_->pool.acquire());
  return impl_->read_document(session, "get_document", team, id);
}

Result<DocumentRecord> PostgresRagStore::erase_document(const std::string& team, const std::string& id) {
  constexpr std::string_view op = "erase_document";
  AEGIS_TRY(session, impl_->pool.acquire());
  AEGIS_TRY(doc, impl_->read_document(session, op, team, id));
  // Chunks and vectors go with the document (ON DELETE CASCADE).
  auto deleted = session.exec("DELETE FROM rag_documents WHERE id = $1 AND team = $2", pg::Params().add(id).add(team));
  if (!deleted.ok()) return impl_->fail(op, session);
  // A DELETE leaves dead tuples and index entries until a vacuum; the right to
  // erasure does not wait for autovacuum.
  for (const char* sql : {"VACUUM rag_vectors", "VACUUM rag_chunks", "VACUUM rag_documents"}) {
    if (!session.exec(sql).ok()) {
      telemetry::log(telemetry::LogLevel::warn, "rag_erase_vacuum_failed",
                     {{"sqlstate", session.last_failure().sqlstate},
                      {"note", "the rows are deleted; autovacuum will remove what is left of them"}});
      break;
    }
  }
  return doc;
}

Result<SearchResult> PostgresRagStore::search(const SearchRequest& request) {
  constexpr std::string_view op = "search";
  SearchResult result;
  if (request.top_k == 0 || request.query.empty()) return result;
  AEGIS_TRY(session, impl_->pool.acquire());
  std::optional<std::string> documents;
  if (!request.filter.empty()) {
    auto rows = session.exec("SELECT id, metadata FROM rag_documents WHERE team = $1 AND collection = $2",
                             pg::Params().add(request.team).add(request.collection));
    if (!rows.ok()) return impl_->fail(op, session);
    std::vector<std::string> matching;
    for (int i = 0; i < rows->size(); ++i) {
      if (request.filter.matches(rows->text(i, 1))) matching.push_back(rows->text(i, 0));
    }
    if (matching.empty()) return result;
    documents = text_array(matching);
  }
  const std::string query = vector_text(request.query);
  // Only the levels the caller may see are read: nothing above the clearance is scored.
  std::vector<std::pair<int, std::size_t>> levels;
  for (int level = static_cast<int>(request.min_level); level <= static_cast<int>(request.clearance); ++level) {
    AEGIS_TRY(dims, impl_->dims_of(session, request.model, level));
    if (dims != 0 && dims == request.query.size()) levels.emplace_back(level, dims);
  }
  std::vector<SearchHit> merged;
  if (levels.empty()) return result;
  // A metadata filter is searched exactly: its few documents would starve an index scan.
  const bool exact = documents.has_value();
  AEGIS_TRY(found, impl_->nearest(session, request, levels, query, documents, exact));
  for (std::size_t i = 0; i < levels.size(); ++i) {
    auto& hits = found[i];
    if (!exact && hits.size() < request.top_k) {
      // Fewer than asked: either that is all there is, or the index scan
      // stopped short (no iterative scan, or its bound). Count to know.
      const int level = levels[i].first;
      auto counted = session.exec(
          "SELECT count(*) FROM rag_vectors WHERE model = $1 AND level = $2 AND team = $3 AND collection = $4",
          pg::Params().add(request.model).add(level).add(request.team).add(request.collection));
      if (!counted.ok()) return impl_->fail(op, session);
      if (counted->int64(0, 0).value_or(0) > static_cast<std::int64_t>(hits.size())) {
        const std::vector<std::pair<int, std::size_t>> one{levels[i]};
        AEGIS_TRY(again, impl_->nearest(session, request, one, query, documents, true));
        hits = std::move(again.front());
      }
    }
    for (auto& hit : hits) merged.push_back(std::move(hit));
  }
  std::sort(merged.begin(), merged.end(), [](const SearchHit& a, const SearchHit& b) {
    return a.score != b.score ? a.score > b.score : a.chunk_id < b.chunk_id;
  });
  if (merged.size() > request.top_k) merged.resize(request.top_k);
  result.hits = std::move(merged);
  return result;
}

Result<std::map<Level, std::int64_t>> PostgresRagStore::chunk_levels(const std::string& team,
                                                                     const std::string& collection) {
  constexpr std::string_view op = "chunk_levels";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec(
      "SELECT c.level, count(*) FROM rag_chunks c JOIN rag_documents d ON d.id = c.document_id WHERE d.team = $1 AND "
      "d.collection = $2 GROUP BY c.level",
      pg::Params().add(team).add(collection));
  if (!rows.ok()) return impl_->fail(op, session);
  std::map<Level, std::int64_t> out;
  for (int i = 0; i < rows->size(); ++i) {
    AEGIS_TRY(level, Impl::level_of(*rows, i, 0));
    out[level] = rows->int64(i, 1).value_or(0);
  }
  return out;
}

Result<std::vector<CollectionSummary>> PostgresRagStore::list_collections() {
  constexpr std::string_view op = "list_collections";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec(
      "SELECT team, collection, level, count(*) FROM rag_documents GROUP BY team, collection, level "
      "ORDER BY team COLLATE \"C\", collection COLLATE \"C\"");
  if (!rows.ok()) return impl_->fail(op, session);
  std::vector<CollectionSummary> out;
  for (int i = 0; i < rows->size(); ++i) {
    std::string team = rows->text(i, 0);
    std::string collection = rows->text(i, 1);
    if (out.empty() || out.back().team != team || out.back().collection != collection) {
      out.push_back(CollectionSummary{std::move(team), std::move(collection), {}});
    }
    AEGIS_TRY(level, Impl::level_of(*rows, i, 2));
    out.back().documents_by_level[level] = rows->int64(i, 3).value_or(0);
  }
  return out;
}

Result<std::optional<std::string>> PostgresRagStore::document_team(const std::string& id) {
  constexpr std::string_view op = "document_team";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec("SELECT team FROM rag_documents WHERE id = $1", pg::Params().add(id));
  if (!rows.ok()) return impl_->fail(op, session);
  if (rows->empty()) return std::optional<std::string>();
  return std::optional<std::string>(rows->text(0, 0));
}

Result<std::vector<ChunkToEmbed>> PostgresRagStore::chunks_without(const std::string& team, const std::string& model,
                                                                   Level max_level, std::size_t limit) {
  constexpr std::string_view op = "chunks_without";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec(
      "SELECT c.id, c.document_id, d.team, d.collection, c.level, c.text FROM rag_chunks c JOIN rag_documents d ON "
      "d.id = c.document_id WHERE d.team = $4 AND c.level <= $2 AND NOT EXISTS (SELECT 1 FROM rag_vectors v WHERE "
      "v.chunk_id = c.id "
      "AND v.model = $1) ORDER BY d.created_at_ms, c.document_id, c.chunk_index LIMIT $3",
      pg::Params().add(model).add(static_cast<int>(max_level)).add(static_cast<std::int64_t>(limit)).add(team));
  if (!rows.ok()) return impl_->fail(op, session);
  std::vector<ChunkToEmbed> out;
  for (int i = 0; i < rows->size(); ++i) {
    AEGIS_TRY(level, Impl::level_of(*rows, i, 4));
    out.push_back(
        ChunkToEmbed{rows->text(i, 0), rows->text(i, 1), rows->text(i, 2), rows->text(i, 3), level, rows->text(i, 5)});
  }
  return out;
}

Result<std::size_t> PostgresRagStore::add_vectors(
    const std::string& model, const std::vector<std::pair<ChunkToEmbed, std::vector<float>>>& vectors) {
  constexpr std::string_view op = "add_vectors";
  if (vectors.empty()) return std::size_t{0};
  AEGIS_TRY(session, impl_->pool.acquire());
  // The same path as a new document's vectors: dimensions checked, an index per new (model, level).
  std::map<std::pair<std::string, int>, std::size_t> fresh;
  for (const auto& [chunk, vector] : vectors) {
    AEGIS_TRY_VOID(impl_->check_dims(session, model, chunk.level, vector, fresh));
  }
  std::vector<pg::Statement> statements;
  statements.push_back({"BEGIN", {}});
  AEGIS_TRY_VOID(impl_->index_statements(session, fresh, statements));
  for (const auto& [chunk, vector] : vectors) {
    // A chunk erased while it was being embedded is skipped (no row to copy from).
    statements.push_back(
        {"INSERT INTO rag_vectors(chunk_id, model, team, collection, document_id, level, embedding) "
         "SELECT c.id, $2, d.team, d.collection, d.id, c.level, $3::vector FROM rag_chunks c JOIN "
         "rag_documents d ON d.id = c.document_id WHERE c.id = $1 ON CONFLICT DO NOTHING",
         pg::Params().add(chunk.chunk_id).add(model).add(vector_text(vector))});
  }
  statements.push_back({"COMMIT", {}});
  if (!session.pipeline(statements).ok()) {
    const Error e = impl_->fail(op, session);
    session.rollback();
    return e;
  }
  {
    std::lock_guard lock(impl_->mu);
    for (const auto& [key, dims] : fresh) impl_->index_dims.emplace(key, dims);
  }
  std::vector<std::string> ids;
  ids.reserve(vectors.size());
  for (const auto& entry : vectors) ids.push_back(entry.first.chunk_id);
  auto counted = session.exec("SELECT count(*) FROM rag_vectors WHERE model = $1 AND chunk_id = ANY($2::text[])",
                              pg::Params().add(model).add(text_array(ids)));
  if (!counted.ok()) return impl_->fail(op, session);
  return static_cast<std::size_t>(counted->int64(0, 0).value_or(0));
}

Result<std::int64_t> PostgresRagStore::chunk_count() {
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec("SELECT count(*) FROM rag_chunks");
  if (!rows.ok()) return impl_->fail("chunk_count", session);
  return rows->int64(0, 0).value_or(0);
}

std::int64_t PostgresRagStore::indexed_vectors() const {
  auto session = impl_->pool.acquire();
  if (!session.ok()) return -1;
  auto rows = session->exec("SELECT count(*) FROM rag_vectors");
  return rows.ok() ? rows->int64(0, 0).value_or(-1) : -1;
}

}  // namespace aegis::rag
