#include "rag/sqlite/sqlite_rag_store.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace aegis::rag {
namespace {

constexpr const char* kModel = "ollama/nomic-embed-text";

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

TEST(SqliteRagStore, AFilteredSearchReturnsMinOfTopKAndVisibleAndNothingAboveTheClearance) {
  SqliteRagStore store(":memory:");
  ASSERT_TRUE(store.add_document(document("d1", "team", mixed())).ok());
  const std::pair<Level, std::size_t> visible[] = {
      {Level::PUBLIC, 2}, {Level::INTERNAL, 4}, {Level::CONFIDENTIAL, 6}, {Level::RESTRICTED, 8}};
  for (const auto& [clearance, count] : visible) {
    for (std::size_t top_k : {1u, 3u, 5u, 20u}) {
      for (int axis = 0; axis < 8; ++axis) {
        auto found = store.search(search("team", clearance, top_k, axis));
        ASSERT_TRUE(found.ok()) << found.error().message;
        EXPECT_EQ(found->hits.size(), std::min(top_k, count)) << to_string(clearance) << " top_k " << top_k;
        for (const auto& hit : found->hits) EXPECT_LE(hit.level, clearance);
        for (std::size_t i = 1; i < found->hits.size(); ++i) EXPECT_GE(found->hits[i - 1].score, found->hits[i].score);
      }
    }
  }
  // The best hit is the chunk along the query's axis when visible.
  auto best = store.search(search("team", Level::RESTRICTED, 1, 3));
  ASSERT_TRUE(best.ok());
  EXPECT_EQ(best->hits.at(0).chunk_id, "d1-c3");
  EXPECT_EQ(best->hits.at(0).text, "text of d1-c3");
  EXPECT_EQ(best->hits.at(0).source, "d1.txt");
  auto hidden = store.search(search("team", Level::INTERNAL, 1, 3));
  ASSERT_TRUE(hidden.ok());
  EXPECT_NE(hidden->hits.at(0).chunk_id, "d1-c3");
}

TEST(SqliteRagStore, MinLevelLeavesLowerChunksToAnotherIndex) {
  SqliteRagStore store(":memory:");
  ASSERT_TRUE(store.add_document(document("d1", "team", mixed())).ok());
  auto request = search("team", Level::RESTRICTED, 20);
  request.min_level = Level::CONFIDENTIAL;
  auto found = store.search(request);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->hits.size(), 4u);
  for (const auto& hit : found->hits) EXPECT_GE(hit.level, Level::CONFIDENTIAL);
}

TEST(SqliteRagStore, AnotherTeamsDocumentsDoNotExist) {
  SqliteRagStore store(":memory:");
  ASSERT_TRUE(store.add_document(document("d1", "alpha", mixed())).ok());
  EXPECT_EQ(store.get_document("beta", "d1").error().code, ErrorCode::not_found);
  EXPECT_EQ(store.erase_document("beta", "d1").error().code, ErrorCode::not_found);
  EXPECT_TRUE(store.search(search("beta", Level::RESTRICTED, 5))->hits.empty());
  EXPECT_TRUE(store.list_documents("beta", "kb")->empty());
  EXPECT_TRUE(store.chunk_levels("beta", "kb")->empty());
  auto mine = store.get_document("alpha", "d1");
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(mine->chunks.size(), 8u);
  EXPECT_EQ(mine->level, Level::RESTRICTED);
}

TEST(SqliteRagStore, ErasureRemovesRowsAndVectorsAndTheIndexIsRebuiltFromTheFile) {
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
  auto erased = reopened.erase_document("team", "d1");
  ASSERT_TRUE(erased.ok());
  EXPECT_EQ(erased->chunks.size(), 8u);
  EXPECT_EQ(*reopened.chunk_count(), 2);
  EXPECT_EQ(reopened.indexed_vectors(), 2);
  auto left = reopened.search(search("team", Level::RESTRICTED, 20));
  ASSERT_EQ(left->hits.size(), 2u);
  for (const auto& hit : left->hits) EXPECT_EQ(hit.document_id, "d2");
  const auto levels = reopened.chunk_levels("team", "kb");
  ASSERT_TRUE(levels.ok());
  EXPECT_EQ(*levels, (std::map<Level, std::int64_t>{{Level::PUBLIC, 1}, {Level::INTERNAL, 1}}));
  std::remove(path.c_str());
}

TEST(SqliteRagStore, AMetadataFilterScoresOnlyMatchingDocumentsInBothIndexModes) {
  for (const std::size_t threshold : {std::size_t{1'000}, std::size_t{2}}) {
    SqliteRagStore store(":memory:", VectorIndexOptions{.hnsw_threshold = threshold});
    auto hr = document("hr", "team", mixed());
    hr.metadata_json = R"({"dept":"hr","year":2026,"public":true})";
    auto eng = document("eng", "team", mixed());
    eng.metadata_json = R"({"dept":"eng","year":2025})";
    ASSERT_TRUE(store.add_document(hr).ok());
    ASSERT_TRUE(store.add_document(eng).ok());
    auto only = [&](MetadataFilter filter, Level clearance, std::size_t top_k) {
      auto request = search("team", clearance, top_k, 2);
      request.filter = std::move(filter);
      auto found = store.search(request);
      EXPECT_TRUE(found.ok());
      std::set<std::string> docs;
      for (const auto& hit : found->hits) {
        docs.insert(hit.document_id);
        EXPECT_LE(hit.level, clearance);
      }
      return std::make_pair(found->hits.size(), docs);
    };
    // min(top_k, visible and matching): hr alone has 8 chunks, 4 of them at or below INTERNAL.
    EXPECT_EQ(only(MetadataFilter{{{"dept", {"\"hr\""}}}}, Level::RESTRICTED, 20),
              std::make_pair(std::size_t{8}, std::set<std::string>{"hr"}));
    EXPECT_EQ(only(MetadataFilter{{{"dept", {"\"hr\""}}}}, Level::INTERNAL, 20).first, 4U);
    EXPECT_EQ(only(MetadataFilter{{{"dept", {"\"hr\""}}}}, Level::RESTRICTED, 3).first, 3U);
    // Any of several values; every key must match; JSON types are not mixed up.
    EXPECT_EQ(only(MetadataFilter{{{"dept", {"\"hr\"", "\"eng\""}}}}, Level::RESTRICTED, 20).second,
              (std::set<std::string>{"eng", "hr"}));
    EXPECT_EQ(only(MetadataFilter{{{"dept", {"\"eng\""}}, {"year", {"2025"}}}}, Level::RESTRICTED, 20).second,
              std::set<std::string>{"eng"});
    EXPECT_EQ(only(MetadataFilter{{{"year", {"\"2025\""}}}}, Level::RESTRICTED, 20).first, 0U);
    EXPECT_EQ(only(MetadataFilter{{{"public", {"true"}}}}, Level::RESTRICTED, 20).second, std::set<std::string>{"hr"});
    EXPECT_EQ(only(MetadataFilter{{{"missing", {"1"}}}}, Level::RESTRICTED, 20).first, 0U);
  }
}

}  // namespace
}  // namespace aegis::rag
