// The retrieval store's contract, on the embedded SQLite store and on
// PostgreSQL with pgvector (PGlite in the tests: ctest's pglite.start fixture,
// scripts/pglite). PGlite serves one database to every test process, so each
// test works under teams and document ids of its own.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>

#include "rag/postgres/postgres_rag_store.hpp"
#include "rag/sqlite/sqlite_rag_store.hpp"

namespace aegis::rag {
namespace {

// Eight dimensions: a model name of the tests own, since a model has one index (and size) per database.
constexpr const char* kModel = "test/embed-8d";

std::vector<float> unit(std::vector<float> v) {
  double n = 0;
  for (float x : v) n += x * x;
  for (float& x : v) x = static_cast<float>(x / std::sqrt(n));
  return v;
}

// Chunk i of level levels[i] with a vector pointing mostly along axis i.
DocumentRecord document(const std::string& id, const std::string& team, const std::vector<Level>& levels) {
  DocumentRecord doc;
  doc.id = id;
  doc.team = team;
  doc.collection = "kb";
  doc.source = id + ".txt";
  doc.metadata_json = "{}";
  doc.created_at_ms = 1;
  for (std::size_t i = 0; i < levels.size(); ++i) {
    ChunkRecord chunk;
    chunk.id = id + "-c" + std::to_string(i);
    chunk.index = static_cast<int>(i);
    chunk.text = "text of " + chunk.id;
    chunk.level = levels[i];
    std::vector<float> v(8, 0.1F);
    v[i % 8] = 1.0F;
    chunk.vectors[kModel] = unit(v);
    doc.level = std::max(doc.level, chunk.level);
    doc.chunks.push_back(std::move(chunk));
  }
  return doc;
}

SearchRequest search(const std::string& team, Level clearance, std::size_t top_k, int axis = 0) {
  std::vector<float> q(8, 0.0F);
  q[axis] = 1.0F;
  return SearchRequest{team, "kb", kModel, clearance, Level::PUBLIC, q, top_k, {}};
}

// Two chunks of each level.
std::vector<Level> mixed() {
  return {Level::PUBLIC, Level::INTERNAL, Level::CONFIDENTIAL, Level::RESTRICTED,
          Level::PUBLIC, Level::INTERNAL, Level::CONFIDENTIAL, Level::RESTRICTED};
}

// $AEGIS_TEST_PGLITE_DSN_FILE, else where ctest's pglite.start writes it; empty when no server runs.
std::string pglite_dsn() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read before any test starts a thread; nothing sets it
  const char* file = std::getenv("AEGIS_TEST_PGLITE_DSN_FILE");
  std::ifstream in(file != nullptr ? std::string(file) : std::string(AEGIS_BINARY_DIR) + "/test-pglite/dsn");
  std::string dsn;
  std::getline(in, dsn);
  return dsn;
}

class RagStoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "pgvector") {
      dsn_ = pglite_dsn();
      if (dsn_.empty()) GTEST_SKIP() << "no pgvector test server in this run (ctest's pglite.start provides one)";
    }
    store_ = open();
    static std::atomic<int> counter{0};
    prefix_ = "p" + std::to_string(::getpid()) + "x" + std::to_string(counter++) + "-";
  }
  std::unique_ptr<RagStore> open(VectorIndexOptions index = {}) const {
    if (GetParam() == "sqlite") return std::make_unique<SqliteRagStore>(":memory:", index);
    return std::make_unique<PostgresRagStore>(dsn_, PostgresRagOptions{.connections = 1});
  }
  // Names of this test's own.
  std::string team(const std::string& name) const { return prefix_ + name; }
  DocumentRecord doc(const std::string& id, const std::string& team_name, const std::vector<Level>& levels) const {
    return document(prefix_ + id, team(team_name), levels);
  }
  std::string id(const std::string& name) const { return prefix_ + name; }
  // Rows of the document left in PostgreSQL's tables (0 for SQLite, which its own test checks).
  std::int64_t rows_left(const std::string& document_id) const {
    if (GetParam() != "pgvector") return 0;
    PGconn* conn = PQconnectdb(dsn_.c_str());
    std::int64_t n = -1;
    const char* params[] = {document_id.c_str()};
    PGresult* r = PQexecParams(conn,
                               "SELECT (SELECT count(*) FROM rag_vectors WHERE document_id = $1) + (SELECT count(*) "
                               "FROM rag_chunks WHERE document_id = $1) + (SELECT count(*) FROM rag_documents WHERE "
                               "id = $1)",
                               1, nullptr, params, nullptr, nullptr, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) n = std::atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(conn);
    return n;
  }

  std::string dsn_;
  std::string prefix_;
  std::unique_ptr<RagStore> store_;
};

TEST_P(RagStoreContract, CollectionsAreCountedByDocumentLevelAndADocumentNamesItsTeam) {
  DocumentRecord other = doc("d3", "team", {Level::PUBLIC});
  other.collection = "policies";
  ASSERT_TRUE(store_->add_document(doc("d1", "team", {Level::PUBLIC, Level::RESTRICTED})).ok());
  ASSERT_TRUE(store_->add_document(doc("d2", "team", {Level::INTERNAL})).ok());
  ASSERT_TRUE(store_->add_document(other).ok());
  ASSERT_TRUE(store_->add_document(doc("d4", "else", {Level::INTERNAL})).ok());
  auto all = store_->list_collections();
  ASSERT_TRUE(all.ok()) << all.error().message;
  std::vector<CollectionSummary> mine;
  for (const auto& c : *all) {
    if (c.team.starts_with(prefix_)) mine.push_back(c);  // a shared database holds other tests' teams
  }
  ASSERT_EQ(mine.size(), 3u);
  EXPECT_EQ(mine[0].team, team("else"));
  EXPECT_EQ(mine[1].team, team("team"));
  EXPECT_EQ(mine[1].collection, "kb");
  const std::map<Level, std::int64_t> kb{{Level::INTERNAL, 1}, {Level::RESTRICTED, 1}};
  EXPECT_EQ(mine[1].documents_by_level, kb);
  EXPECT_EQ(mine[2].collection, "policies");

  EXPECT_EQ(*store_->document_team(id("d2")), team("team"));
  EXPECT_EQ(*store_->document_team(id("d4")), team("else"));
  EXPECT_FALSE(store_->document_team(id("nope"))->has_value());
  ASSERT_TRUE(store_->erase_document(team("team"), id("d2")).ok());
  EXPECT_FALSE(store_->document_team(id("d2"))->has_value());
}

TEST_P(RagStoreContract, AFilteredSearchReturnsMinOfTopKAndVisibleAndNothingAboveTheClearance) {
  ASSERT_TRUE(store_->add_document(doc("d1", "team", mixed())).ok());
  const std::pair<Level, std::size_t> visible[] = {
      {Level::PUBLIC, 2}, {Level::INTERNAL, 4}, {Level::CONFIDENTIAL, 6}, {Level::RESTRICTED, 8}};
  for (const auto& [clearance, count] : visible) {
    for (std::size_t top_k : {1u, 3u, 5u, 20u}) {
      for (int axis = 0; axis < 8; axis += 3) {
        auto found = store_->search(search(team("team"), clearance, top_k, axis));
        ASSERT_TRUE(found.ok()) << found.error().message;
        EXPECT_EQ(found->hits.size(), std::min(top_k, count)) << to_string(clearance) << " top_k " << top_k;
        for (const auto& hit : found->hits) EXPECT_LE(hit.level, clearance);
        for (std::size_t i = 1; i < found->hits.size(); ++i) EXPECT_GE(found->hits[i - 1].score, found->hits[i].score);
      }
    }
  }
  // The best hit is the chunk along the query's axis when visible.
  auto best = store_->search(search(team("team"), Level::RESTRICTED, 1, 3));
  ASSERT_TRUE(best.ok());
  EXPECT_EQ(best->hits.at(0).chunk_id, id("d1-c3"));
  EXPECT_EQ(best->hits.at(0).text, "text of " + id("d1-c3"));
  EXPECT_EQ(best->hits.at(0).source, id("d1") + ".txt");
  EXPECT_EQ(best->hits.at(0).index, 3);
  EXPECT_EQ(best->hits.at(0).level, Level::RESTRICTED);
  auto hidden = store_->search(search(team("team"), Level::INTERNAL, 1, 3));
  ASSERT_TRUE(hidden.ok());
  EXPECT_NE(hidden->hits.at(0).chunk_id, id("d1-c3"));
}

TEST_P(RagStoreContract, MinLevelLeavesLowerChunksToAnotherIndex) {
  ASSERT_TRUE(store_->add_document(doc("d1", "team", mixed())).ok());
  auto request = search(team("team"), Level::RESTRICTED, 20);
  request.min_level = Level::CONFIDENTIAL;
  auto found = store_->search(request);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->hits.size(), 4u);
  for (const auto& hit : found->hits) EXPECT_GE(hit.level, Level::CONFIDENTIAL);
}

TEST_P(RagStoreContract, AnotherTeamsDocumentsDoNotExist) {
  ASSERT_TRUE(store_->add_document(doc("d1", "alpha", mixed())).ok());
  EXPECT_EQ(store_->get_document(team("beta"), id("d1")).error().code, ErrorCode::not_found);
  EXPECT_EQ(store_->erase_document(team("beta"), id("d1")).error().code, ErrorCode::not_found);
  EXPECT_TRUE(store_->search(search(team("beta"), Level::RESTRICTED, 5))->hits.empty());
  EXPECT_TRUE(store_->list_documents(team("beta"), "kb")->empty());
  EXPECT_TRUE(store_->chunk_levels(team("beta"), "kb")->empty());
  auto mine = store_->get_document(team("alpha"), id("d1"));
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(mine->chunks.size(), 8u);
  EXPECT_EQ(mine->level, Level::RESTRICTED);
  EXPECT_EQ(mine->chunks.at(3).level, Level::RESTRICTED);
  auto listed = store_->list_documents(team("alpha"), "kb");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().id, id("d1"));
}

TEST_P(RagStoreContract, ErasureLeavesNoChunkOrVectorAndSearchNeverFindsIt) {
  ASSERT_TRUE(store_->add_document(doc("d1", "team", mixed())).ok());
  ASSERT_TRUE(store_->add_document(doc("d2", "team", {Level::PUBLIC, Level::INTERNAL})).ok());
  EXPECT_EQ(store_->search(search(team("team"), Level::RESTRICTED, 20))->hits.size(), 10u);
  auto erased = store_->erase_document(team("team"), id("d1"));
  ASSERT_TRUE(erased.ok());
  EXPECT_EQ(erased->chunks.size(), 8u);
  EXPECT_EQ(rows_left(id("d1")), 0);
  EXPECT_EQ(store_->get_document(team("team"), id("d1")).error().code, ErrorCode::not_found);
  auto left = store_->search(search(team("team"), Level::RESTRICTED, 20));
  ASSERT_EQ(left->hits.size(), 2u);
  for (const auto& hit : left->hits) EXPECT_EQ(hit.document_id, id("d2"));
  EXPECT_EQ(*store_->chunk_levels(team("team"), "kb"),
            (std::map<Level, std::int64_t>{{Level::PUBLIC, 1}, {Level::INTERNAL, 1}}));
}

// Another team's many close vectors in the same index must not starve a
// caller's LIMIT: pgvector filters after the index scan.
TEST_P(RagStoreContract, OtherTeamsVectorsNeverCrowdOutACallersOwn) {
  for (int d = 0; d < 20; ++d) {
    ASSERT_TRUE(
        store_->add_document(doc("crowd" + std::to_string(d), "crowd", std::vector<Level>(8, Level::INTERNAL))).ok());
  }
  ASSERT_TRUE(store_->add_document(doc("mine", "mine", {Level::INTERNAL, Level::INTERNAL, Level::INTERNAL})).ok());
  for (int axis = 0; axis < 8; ++axis) {
    auto found = store_->search(search(team("mine"), Level::RESTRICTED, 5, axis));
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(found->hits.size(), 3u) << "axis " << axis;
    for (const auto& hit : found->hits) EXPECT_EQ(hit.document_id, id("mine"));
  }
}

TEST_P(RagStoreContract, AMetadataFilterScoresOnlyMatchingDocuments) {
  auto hr = doc("hr", "team", mixed());
  hr.metadata_json = R"({"dept":"hr","year":2026,"public":true})";
  auto eng = doc("eng", "team", mixed());
  eng.metadata_json = R"({"dept":"eng","year":2025})";
  ASSERT_TRUE(store_->add_document(hr).ok());
  ASSERT_TRUE(store_->add_document(eng).ok());
  auto only = [&](MetadataFilter filter, Level clearance, std::size_t top_k) {
    auto request = search(team("team"), clearance, top_k, 2);
    request.filter = std::move(filter);
    auto found = store_->search(request);
    EXPECT_TRUE(found.ok());
    std::set<std::string> docs;
    for (const auto& hit : found->hits) {
      docs.insert(hit.document_id);
      EXPECT_LE(hit.level, clearance);
    }
    return std::make_pair(found->hits.size(), docs);
  };
  EXPECT_EQ(only(MetadataFilter{{{"dept", {"\"hr\""}}}}, Level::RESTRICTED, 20),
            std::make_pair(std::size_t{8}, std::set<std::string>{id("hr")}));
  EXPECT_EQ(only(MetadataFilter{{{"dept", {"\"hr\""}}}}, Level::INTERNAL, 20).first, 4U);
  EXPECT_EQ(only(MetadataFilter{{{"dept", {"\"hr\""}}}}, Level::RESTRICTED, 3).first, 3U);
  EXPECT_EQ(only(MetadataFilter{{{"dept", {"\"hr\"", "\"eng\""}}}}, Level::RESTRICTED, 20).second,
            (std::set<std::string>{id("eng"), id("hr")}));
  EXPECT_EQ(only(MetadataFilter{{{"dept", {"\"eng\""}}, {"year", {"2025"}}}}, Level::RESTRICTED, 20).second,
            std::set<std::string>{id("eng")});
  EXPECT_EQ(only(MetadataFilter{{{"year", {"\"2025\""}}}}, Level::RESTRICTED, 20).first, 0U);
  EXPECT_EQ(only(MetadataFilter{{{"public", {"true"}}}}, Level::RESTRICTED, 20).second,
            std::set<std::string>{id("hr")});
  EXPECT_EQ(only(MetadataFilter{{{"missing", {"1"}}}}, Level::RESTRICTED, 20).first, 0U);
}

TEST_P(RagStoreContract, AnotherDimensionForAModelIsRefusedAndNothingIsStored) {
  auto first = doc("dims1", "team", {Level::INTERNAL});
  const std::string model = "dims-model-" + prefix_;
  first.chunks[0].vectors = {{model, unit({1, 0, 0, 0})}};
  ASSERT_TRUE(store_->add_document(first).ok());
  auto second = doc("dims2", "team", {Level::INTERNAL});
  second.chunks[0].vectors = {{model, unit({1, 0, 0})}};
  auto r = store_->add_document(second);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::invalid_request);
  EXPECT_EQ(store_->get_document(team("team"), id("dims2")).error().code, ErrorCode::not_found);
}

// The same documents and queries give the same chunks in the same order on both backends.
TEST_P(RagStoreContract, ResultsAgreeWithTheEmbeddedStore) {
  if (GetParam() == "sqlite") GTEST_SKIP() << "compares pgvector with the embedded store";
  SqliteRagStore reference(":memory:");
  for (int d = 0; d < 6; ++d) {
    auto record = doc("agree" + std::to_string(d), "team", mixed());
    for (std::size_t c = 0; c < record.chunks.size(); ++c) {
      std::vector<float> v(8, 0.05F * static_cast<float>(d + 1));
      v[(c + static_cast<std::size_t>(d)) % 8] = 1.0F;
      v[(c * 3 + 1) % 8] += 0.3F * static_cast<float>(c);
      record.chunks[c].vectors[kModel] = unit(v);
    }
    ASSERT_TRUE(store_->add_document(record).ok());
    ASSERT_TRUE(reference.add_document(record).ok());
  }
  for (const Level clearance : {Level::PUBLIC, Level::CONFIDENTIAL, Level::RESTRICTED}) {
    for (int axis = 0; axis < 8; ++axis) {
      const auto request = search(team("team"), clearance, 7, axis);
      auto a = store_->search(request);
      auto b = reference.search(request);
      ASSERT_TRUE(a.ok() && b.ok());
      ASSERT_EQ(a->hits.size(), b->hits.size());
      for (std::size_t i = 0; i < a->hits.size(); ++i) {
        EXPECT_EQ(a->hits[i].chunk_id, b->hits[i].chunk_id) << to_string(clearance) << " axis " << axis;
        EXPECT_NEAR(a->hits[i].score, b->hits[i].score, 1e-5);
      }
    }
  }
}

// A changed embedding model: chunks without its vectors are found, embedded and indexed.
TEST_P(RagStoreContract, ChunksWithoutAModelsVectorsAreFoundAndTheirVectorsIndexed) {
  ASSERT_TRUE(store_->add_document(doc("re1", "team", mixed())).ok());
  ASSERT_TRUE(store_->add_document(doc("re2", "team", {Level::PUBLIC})).ok());
  ASSERT_TRUE(store_->add_document(doc("other", "other", {Level::PUBLIC})).ok());  // another team's: never listed
  EXPECT_EQ(store_->chunks_without(team("team"), "test/new-8d", Level::RESTRICTED, 3)->size(), 3u);
  const std::string model = "test/new-8d";
  auto mine = [&](Level max_level) {
    auto all = store_->chunks_without(team("team"), model, max_level, 100);
    EXPECT_TRUE(all.ok());
    for (const auto& c : *all) EXPECT_EQ(c.team, team("team"));
    return *all;
  };
  auto missing = mine(Level::RESTRICTED);
  ASSERT_EQ(missing.size(), 9u);
  EXPECT_EQ(missing.front().chunk_id, id("re1-c0"));  // oldest document first, by index
  EXPECT_EQ(missing.front().text, "text of " + id("re1-c0"));
  EXPECT_EQ(missing.front().collection, "kb");
  const auto internal = mine(Level::INTERNAL);
  EXPECT_EQ(internal.size(), 5u);  // re1's PUBLIC and INTERNAL chunks (2 + 2) and re2's one
  for (const auto& c : internal) EXPECT_LE(c.level, Level::INTERNAL);

  // re2 is erased while it is being embedded: its vector is not stored.
  ASSERT_TRUE(store_->erase_document(team("team"), id("re2")).ok());
  std::vector<std::pair<ChunkToEmbed, std::vector<float>>> vectors;
  for (const auto& c : internal) {
    std::vector<float> v(8, 0.1F);
    v[static_cast<std::size_t>(c.chunk_id.back() - '0') % 8] = 1.0F;
    vectors.emplace_back(c, unit(v));
  }
  auto stored = store_->add_vectors(model, vectors);
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  EXPECT_EQ(*stored, 4u);
  EXPECT_EQ(mine(Level::INTERNAL).size(), 0u);
  EXPECT_EQ(mine(Level::RESTRICTED).size(), 4u);  // re1's CONFIDENTIAL and RESTRICTED chunks
  auto request = search(team("team"), Level::RESTRICTED, 20, 1);
  request.model = model;
  auto found = store_->search(request);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->hits.size(), 4u);
  EXPECT_EQ(found->hits.front().chunk_id, id("re1-c1"));
  EXPECT_EQ(rows_left(id("re2")), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, RagStoreContract, ::testing::Values("sqlite", "pgvector"),
                         [](const auto& info) { return info.param; });

TEST(SqliteRagStore, TheIndexIsRebuiltFromTheFileAndErasureReachesIt) {
  const auto path =
      testing::TempDir() + "/rag-store-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + ".db";
  std::remove(path.c_str());
  {
    SqliteRagStore store(path);
    ASSERT_TRUE(store.add_document(document("d1", "team", mixed())).ok());
    ASSERT_TRUE(store.add_document(document("d2", "team", {Level::PUBLIC, Level::INTERNAL})).ok());
    EXPECT_EQ(*store.chunk_count(), 10);
    EXPECT_EQ(store.indexed_vectors(), 10);
  }
  SqliteRagStore reopened(path);
  EXPECT_EQ(reopened.indexed_vectors(), 10);  // loaded from the file
  EXPECT_EQ(reopened.search(search("team", Level::RESTRICTED, 20))->hits.size(), 10u);
  ASSERT_TRUE(reopened.erase_document("team", "d1").ok());
  EXPECT_EQ(*reopened.chunk_count(), 2);
  EXPECT_EQ(reopened.indexed_vectors(), 2);
  std::remove(path.c_str());
}

std::vector<std::string> hit_ids(RagStore& store, const SearchRequest& request) {
  std::vector<std::string> out;
  auto found = store.search(request);
  EXPECT_TRUE(found.ok());
  if (!found.ok()) return out;
  for (const auto& hit : found->hits) out.push_back(hit.chunk_id);
  return out;
}

TEST(SqliteRagStore, GraphsSavedAtACleanStopComeBackOnlyWhileTheDatabaseIsUnchanged) {
  const auto path =
      testing::TempDir() + "/rag-graphs-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + ".db";
  std::remove(path.c_str());
  const VectorIndexOptions graphs{.hnsw_threshold = 2};  // every level of d1 has two chunks: four graphs
  std::vector<std::string> before;
  {
    SqliteRagStore store(path, graphs);
    ASSERT_TRUE(store.add_document(document("d1", "team", mixed())).ok());
    before = hit_ids(store, search("team", Level::RESTRICTED, 8, 5));
  }
  ASSERT_TRUE(std::filesystem::exists(path + ".rag-index/manifest.json"));
  {
    SqliteRagStore reopened(path, graphs);
    EXPECT_EQ(reopened.loaded_graphs(), 4u);
    EXPECT_FALSE(std::filesystem::exists(path + ".rag-index")) << "consumed at start";
    EXPECT_EQ(reopened.indexed_vectors(), 8);
    EXPECT_EQ(hit_ids(reopened, search("team", Level::RESTRICTED, 8, 5)), before);
    ASSERT_TRUE(reopened.erase_document("team", "d1").ok());
    EXPECT_EQ(reopened.indexed_vectors(), 0);
    EXPECT_TRUE(hit_ids(reopened, search("team", Level::RESTRICTED, 8, 5)).empty());
    ASSERT_TRUE(reopened.add_document(document("d2", "team", mixed())).ok());
  }
  // The database changes while the gateway is stopped: the saved graphs no longer match and are rebuilt.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "DELETE FROM rag_vectors WHERE chunk_id = 'd2-c0'", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  SqliteRagStore rebuilt(path, graphs);
  EXPECT_EQ(rebuilt.loaded_graphs(), 0u);
  EXPECT_EQ(rebuilt.indexed_vectors(), 7);
  const auto left = hit_ids(rebuilt, search("team", Level::RESTRICTED, 8, 0));
  EXPECT_EQ(left.size(), 7u);
  for (const auto& chunk : left) EXPECT_TRUE(chunk != "d2-c0" && chunk.starts_with("d2-c")) << chunk;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace aegis::rag
