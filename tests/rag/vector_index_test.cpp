// The embedded store's index: partitions per level so the clearance filter is
// applied before any vector is compared, exact search below the threshold and
// HNSW above with the same scores, erasure that leaves no vector searchable.
#include "rag/vector_index.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace aegis::rag {
namespace {

constexpr std::size_t kDims = 48;

std::vector<float> unit(std::vector<float> v) {
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
  return v;
}

std::vector<float> random_unit(std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> v(kDims);
  for (float& x : v) x = normal(rng);
  return unit(std::move(v));
}

const IndexScope& scope() {
  static const IndexScope value{"team", "handbook", "local/embed"};
  return value;
}

std::string chunk_id(std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "chk_%06zu", i);
  return buf;
}

struct Corpus {
  std::vector<std::vector<float>> vectors;
  std::vector<Level> levels;
};

Corpus fill(VectorIndex& index, std::size_t n, std::mt19937& rng, bool mixed_levels) {
  Corpus corpus;
  for (std::size_t i = 0; i < n; ++i) {
    const Level level = mixed_levels ? static_cast<Level>(i % 4) : Level::INTERNAL;
    corpus.vectors.push_back(random_unit(rng));
    corpus.levels.push_back(level);
    // Ten chunks per document.
    EXPECT_TRUE(
        index.add(scope(), IndexedChunk{chunk_id(i), "doc_" + std::to_string(i / 10), level}, corpus.vectors.back())
            .ok());
  }
  return corpus;
}

// The exact answer, by brute force here rather than through the index.
std::vector<std::string> brute_force(const Corpus& corpus, const std::vector<float>& query, std::size_t k,
                                     Level clearance, const std::set<std::size_t>& erased = {}) {
  std::vector<std::pair<double, std::string>> all;
  for (std::size_t i = 0; i < corpus.vectors.size(); ++i) {
    if (corpus.levels[i] > clearance || erased.contains(i / 10)) continue;
    double dot = 0;
    for (std::size_t d = 0; d < kDims; ++d) dot += static_cast<double>(corpus.vectors[i][d]) * query[d];
    all.emplace_back(-dot, chunk_id(i));
  }
  std::sort(all.begin(), all.end());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < std::min(k, all.size()); ++i) out.push_back(all[i].second);
  return out;
}

double recall(const std::vector<ScoredChunk>& got, const std::vector<std::string>& want) {
  std::set<std::string> wanted(want.begin(), want.end());
  std::size_t hit = 0;
  for (const auto& g : got) hit += wanted.contains(g.chunk.chunk_id) ? 1 : 0;
  return want.empty() ? 1.0 : static_cast<double>(hit) / static_cast<double>(want.size());
}

TEST(VectorIndex, BelowTheThresholdSearchIsExact) {
  std::mt19937 rng(7);
  VectorIndex index(VectorIndexOptions{.hnsw_threshold = 100'000});
  const auto corpus = fill(index, 2'000, rng, false);
  EXPECT_EQ(index.graphs(), 0U);
  for (int q = 0; q < 20; ++q) {
    const auto query = random_unit(rng);
    const auto got = index.search(scope(), Level::PUBLIC, Level::RESTRICTED, query, 10);
    std::vector<std::string> ids;
    ids.reserve(got.size());
    for (const auto& g : got) ids.push_back(g.chunk.chunk_id);
    EXPECT_EQ(ids, brute_force(corpus, query, 10, Level::RESTRICTED));
    for (std::size_t i = 1; i < got.size(); ++i) EXPECT_GE(got[i - 1].score, got[i].score);
  }
}

TEST(VectorIndex, AboveTheThresholdTheGraphFindsWhatExactSearchFinds) {
  std::mt19937 rng(11);
  VectorIndex index(VectorIndexOptions{.hnsw_threshold = 500, .hnsw_ef_search = 64});
  const auto corpus = fill(index, 4'000, rng, false);
  EXPECT_EQ(index.graphs(), 1U);
  double total = 0;
  constexpr int kQueries = 50;
  for (int q = 0; q < kQueries; ++q) {
    const auto query = random_unit(rng);
    const auto got = index.search(scope(), Level::PUBLIC, Level::RESTRICTED, query, 10);
    ASSERT_EQ(got.size(), 10U);
    total += recall(got, brute_force(corpus, query, 10, Level::RESTRICTED));
    // The graph's score is the same cosine exact search gives.
    const auto& best = got.front();
    const std::size_t i = std::stoul(best.chunk.chunk_id.substr(4));
    double dot = 0;
    for (std::size_t d = 0; d < kDims; ++d) dot += static_cast<double>(corpus.vectors[i][d]) * query[d];
    EXPECT_NEAR(best.score, dot, 1e-5);
  }
  EXPECT_GE(total / kQueries, 0.95);
}

TEST(VectorIndex, OnlyLevelsWithinTheClearanceAreSearchedAndMinTopKVisibleComeBack) {
  for (const std::size_t threshold : {std::size_t{100'000}, std::size_t{50}}) {
    std::mt19937 rng(3);
    VectorIndex index(VectorIndexOptions{.hnsw_threshold = threshold});
    const auto corpus = fill(index, 800, rng, true);  // 200 per level
    EXPECT_EQ(index.graphs(), threshold == 50 ? 4U : 0U);
    for (const Level clearance : {Level::PUBLIC, Level::INTERNAL, Level::CONFIDENTIAL, Level::RESTRICTED}) {
      const auto query = random_unit(rng);
      const auto got = index.search(scope(), Level::PUBLIC, clearance, query, 25);
      EXPECT_EQ(got.size(), 25U);
      for (const auto& g : got) EXPECT_LE(g.chunk.level, clearance);
      // More than is visible: every visible chunk, and only those.
      const auto all = index.search(scope(), Level::PUBLIC, clearance, query, 1'000);
      EXPECT_EQ(all.size(), 200U * (static_cast<std::size_t>(clearance) + 1));
    }
    // min_level leaves out the levels another index covers.
    const auto upper = index.search(scope(), Level::CONFIDENTIAL, Level::RESTRICTED, random_unit(rng), 1'000);
    EXPECT_EQ(upper.size(), 400U);
    for (const auto& g : upper) EXPECT_GE(g.chunk.level, Level::CONFIDENTIAL);
  }
}

TEST(VectorIndex, AnErasedDocumentIsNeverFoundAndAQuarterErasedGraphIsRebuilt) {
  std::mt19937 rng(5);
  VectorIndex index(VectorIndexOptions{.hnsw_threshold = 400});
  const auto corpus = fill(index, 1'000, rng, false);  // 100 documents of 10 chunks
  ASSERT_EQ(index.graphs(), 1U);
  std::set<std::size_t> erased;
  for (std::size_t doc = 0; doc < 20; ++doc) {
    index.erase_document(scope().team, scope().collection, "doc_" + std::to_string(doc));
    erased.insert(doc);
  }
  EXPECT_EQ(index.vectors(), 800);
  EXPECT_EQ(index.graphs(), 1U);  // 20 % deleted: marked and zeroed, not rebuilt yet
  for (int q = 0; q < 20; ++q) {
    const auto query = random_unit(rng);
    const auto got = index.search(scope(), Level::PUBLIC, Level::RESTRICTED, query, 1'000);
    EXPECT_EQ(got.size(), 800U);
    for (const auto& g : got) EXPECT_GE(std::stoul(g.chunk.document_id.substr(4)), 20U);
    EXPECT_GE(recall(index.search(scope(), Level::PUBLIC, Level::RESTRICTED, query, 10),
                     brute_force(corpus, query, 10, Level::RESTRICTED, erased)),
              0.8);
  }
  // Past a quarter deleted the graph is rebuilt; below half the threshold it goes back to exact search.
  for (std::size_t doc = 20; doc < 85; ++doc) {
    index.erase_document(scope().team, scope().collection, "doc_" + std::to_string(doc));
    erased.insert(doc);
  }
  EXPECT_EQ(index.vectors(), 150);
  EXPECT_EQ(index.graphs(), 0U);
  const auto query = random_unit(rng);
  std::vector<std::string> ids;
  for (const auto& g : index.search(scope(), Level::PUBLIC, Level::RESTRICTED, query, 10))
    ids.push_back(g.chunk.chunk_id);
  EXPECT_EQ(ids, brute_force(corpus, query, 10, Level::RESTRICTED, erased));
  for (std::size_t doc = 85; doc < 100; ++doc) {
    index.erase_document(scope().team, scope().collection, "doc_" + std::to_string(doc));
  }
  EXPECT_EQ(index.vectors(), 0);
  EXPECT_TRUE(index.search(scope(), Level::PUBLIC, Level::RESTRICTED, query, 10).empty());
}

// An erased vector's floats are overwritten in the graph, not only marked:
// the saved graph (what a clean stop writes to disk) no longer holds them.
TEST(VectorIndex, AnErasedVectorsFloatsAreGoneFromTheGraphItself) {
  std::mt19937 rng(9);
  VectorIndex index(VectorIndexOptions{.hnsw_threshold = 50});
  const auto corpus = fill(index, 200, rng, false);  // 20 documents of 10 chunks, one graph
  ASSERT_EQ(index.graphs(), 1U);
  index.erase_document(scope().team, scope().collection, "doc_3");  // 5 % deleted: kept in the graph, marked
  ASSERT_EQ(index.graphs(), 1U);
  const auto dir = testing::TempDir() + "/vector-index-" + std::to_string(::getpid());
  ASSERT_TRUE(index.save(dir, "fp").ok());
  std::string bytes;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    bytes.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::filesystem::remove_all(dir);
  auto holds = [&](std::size_t i) {
    const auto& v = corpus.vectors[i];
    return bytes.find(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float))) !=
           std::string::npos;
  };
  for (std::size_t i = 30; i < 40; ++i) EXPECT_FALSE(holds(i)) << "erased chunk " << i;
  EXPECT_TRUE(holds(29));
  EXPECT_TRUE(holds(40));
}

TEST(VectorIndex, AnotherModelsDimensionsAreRefusedAndNotSearched) {
  VectorIndex index;
  ASSERT_TRUE(index.add(scope(), IndexedChunk{"chk_1", "doc_1", Level::INTERNAL}, unit({1, 0, 0})).ok());
  auto r = index.add(scope(), IndexedChunk{"chk_2", "doc_1", Level::INTERNAL}, unit({1, 0, 0, 0}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::invalid_request);
  EXPECT_FALSE(index.add(scope(), IndexedChunk{"chk_3", "doc_1", Level::INTERNAL}, {}).ok());
  EXPECT_EQ(index.vectors(), 1);
  EXPECT_TRUE(index.search(scope(), Level::PUBLIC, Level::RESTRICTED, unit({1, 0, 0, 0}), 5).empty());
  EXPECT_EQ(index.search(scope(), Level::PUBLIC, Level::RESTRICTED, unit({1, 0, 0}), 5).size(), 1U);
  // Another team's or collection's partitions are never searched.
  EXPECT_TRUE(
      index.search(IndexScope{"other", "handbook", "local/embed"}, Level::PUBLIC, Level::RESTRICTED, unit({1, 0, 0}), 5)
          .empty());
}

TEST(VectorIndex, EqualScoresComeBackInChunkIdOrder) {
  VectorIndex index;
  for (const char* id : {"chk_c", "chk_a", "chk_b"}) {
    ASSERT_TRUE(index.add(scope(), IndexedChunk{id, "doc_1", Level::PUBLIC}, unit({1, 1})).ok());
  }
  const auto got = index.search(scope(), Level::PUBLIC, Level::RESTRICTED, unit({1, 1}), 3);
  ASSERT_EQ(got.size(), 3U);
  EXPECT_EQ(got[0].chunk.chunk_id, "chk_a");
  EXPECT_EQ(got[2].chunk.chunk_id, "chk_c");
}

}  // namespace
}  // namespace aegis::rag
