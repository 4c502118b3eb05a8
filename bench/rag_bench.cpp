// Retrieval on the embedded store (issue 17): ingestion chunks/s into
// SqliteRagStore (SQLite rows + the in-memory index; embedding excluded, it is
// the provider's time) and query latency at 10k and 100k chunks, exact and
// HNSW (rag.hnsw_threshold), 768-dimension vectors, four levels in equal
// shares, a RESTRICTED caller (every partition searched), top_k 5.
//
// Query latency is timed per query: the p50_ms / p99_ms counters are over
// the run's queries; recall_at_5 compares each HNSW answer with the exact
// answer for the same query (1.0 for the exact rows). Vectors cluster around
// 500 topics, as embeddings of text do (uniformly random vectors, with no
// structure at all, are the worst case for a graph: recall@5 0.25 at 100k).
// The database goes to $AEGIS_BENCH_DIR (default: the system temp directory).
//
// BM_RagPgvector* do the same on PostgreSQL with pgvector at
// $AEGIS_BENCH_PGVECTOR_DSN (skipped without it; e.g. `scripts/pglite start
// DIR` and DIR/dsn: PGlite is PostgreSQL compiled to WebAssembly, so its
// numbers say what the code path costs there, not what a native pgvector
// server would do). Recall is against the embedded store's exact answer on
// the same vectors.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/process_env.hpp"
#include "rag/postgres/postgres_rag_store.hpp"
#include "rag/sqlite/sqlite_rag_store.hpp"
#include "rag/vector_index.hpp"

namespace {

namespace fs = std::filesystem;
using aegis::Level;
using namespace aegis::rag;

constexpr std::size_t kDims = 768;
constexpr std::size_t kChunksPerDocument = 10;
const char* const kModel = "ollama/nomic-embed-text";

std::string bench_path(const std::string& name) {
  static std::atomic<int> counter{0};
  const char* base = aegis::core::env_value("AEGIS_BENCH_DIR");
  const fs::path dir = fs::path(base && *base ? base : fs::temp_directory_path().string()) /
                       ("aegis-rag-bench-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return (dir / name).string();
}

std::vector<float> normalized(std::vector<float> v) {
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
  return v;
}

std::vector<float> random_unit(std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> v(kDims);
  for (float& x : v) x = normal(rng);
  return normalized(std::move(v));
}

// Embeddings of real text cluster by topic: each chunk is one of 500 topic
// directions plus its own noise (cosine ~0.6 to its topic), and a query is a
// stored chunk's vector plus as much noise again (a paraphrase, not a copy).
std::vector<float> near(const std::vector<float>& centre, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0F, 1.3F / std::sqrt(static_cast<float>(kDims)));
  std::vector<float> v = centre;
  for (float& x : v) x += normal(rng);
  return normalized(std::move(v));
}

const std::vector<std::vector<float>>& topics() {
  static const auto value = [] {
    std::mt19937 rng(99);
    std::vector<std::vector<float>> out;
    out.reserve(500);
    for (int i = 0; i < 500; ++i) out.push_back(random_unit(rng));
    return out;
  }();
  return value;
}

std::vector<float> chunk_vector(std::mt19937& rng) {
  std::uniform_int_distribution<std::size_t> pick(0, topics().size() - 1);
  return near(topics()[pick(rng)], rng);
}

DocumentRecord make_document(std::size_t n, std::mt19937& rng) {
  DocumentRecord doc;
  doc.id = "doc_" + std::to_string(n);
  doc.team = "bench";
  doc.collection = "handbook";
  doc.source = "handbook.txt";
  doc.metadata_json = "{}";
  doc.level = Level::RESTRICTED;
  for (std::size_t i = 0; i < kChunksPerDocument; ++i) {
    ChunkRecord chunk;
    chunk.id = "chk_" + std::to_string(n) + "_" + std::to_string(i);
    chunk.index = static_cast<int>(i);
    chunk.text = std::string(900, 'x');  // ~a 256-token chunk
    chunk.level = static_cast<Level>((n * kChunksPerDocument + i) % 4);
    chunk.vectors[kModel] = chunk_vector(rng);
    doc.chunks.push_back(std::move(chunk));
  }
  return doc;
}

std::unique_ptr<SqliteRagStore> open_store(std::size_t threshold) {
  VectorIndexOptions options;
  options.hnsw_threshold = threshold;
  return std::make_unique<SqliteRagStore>(bench_path("aegis.db"), options);
}

// One store per (chunks, threshold), filled once and shared by the runs.
SqliteRagStore& filled_store(std::size_t chunks, std::size_t threshold) {
  static std::map<std::pair<std::size_t, std::size_t>, std::unique_ptr<SqliteRagStore>> stores;
  auto& store = stores[{chunks, threshold}];
  if (!store) {
    store = open_store(threshold);
    std::mt19937 rng(42);  // the same corpus for every threshold
    for (std::size_t d = 0; d < chunks / kChunksPerDocument; ++d) {
      if (!store->add_document(make_document(d, rng)).ok()) std::abort();
    }
  }
  return *store;
}

void BM_RagIngest(benchmark::State& state) {
  auto store = open_store(static_cast<std::size_t>(state.range(0)));
  std::mt19937 rng(1);
  std::size_t n = 0;
  for (auto _ : state) {
    (void)_;
    state.PauseTiming();
    auto doc = make_document(n++, rng);
    state.ResumeTiming();
    if (!store->add_document(doc).ok()) state.SkipWithError("add_document failed");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(n * kChunksPerDocument));
}
// Into a store that searches exactly, and into one past the HNSW threshold (graph inserts).
BENCHMARK(BM_RagIngest)->Arg(1'000'000'000)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(500);

// Times one search per iteration (a paraphrase of a stored chunk, top_k 5, a
// RESTRICTED caller): p50_ms, p99_ms, and recall_at_5 against `exact`'s answer.
void time_queries(benchmark::State& state, RagStore& store, RagStore& exact, const std::string& team) {
  std::mt19937 rng(7);
  std::vector<double> ms;
  double recall = 0;
  for (auto _ : state) {
    (void)_;
    SearchRequest request;
    request.team = team;
    request.collection = "handbook";
    request.model = kModel;
    request.clearance = Level::RESTRICTED;
    request.query = near(chunk_vector(rng), rng);
    request.top_k = 5;
    const auto start = std::chrono::steady_clock::now();
    auto result = store.search(request);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (!result.ok() || result->hits.size() != 5) {
      state.SkipWithError("search failed");
      break;
    }
    state.PauseTiming();
    std::set<std::string> want;
    const auto exact_result = exact.search(request);
    if (exact_result.ok()) {
      for (const auto& hit : exact_result->hits) want.insert(hit.chunk_id);
    }
    std::size_t found = 0;
    for (const auto& hit : result->hits) found += want.contains(hit.chunk_id) ? 1 : 0;
    recall += static_cast<double>(found) / 5.0;
    state.ResumeTiming();
  }
  if (ms.empty()) return;
  std::sort(ms.begin(), ms.end());
  state.counters["p50_ms"] = ms[ms.size() / 2];
  state.counters["p99_ms"] = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  state.counters["recall_at_5"] = recall / static_cast<double>(ms.size());
}

void BM_RagQuery(benchmark::State& state) {
  const auto chunks = static_cast<std::size_t>(state.range(0));
  const auto threshold = static_cast<std::size_t>(state.range(1));
  auto& store = filled_store(chunks, threshold);
  auto& exact = filled_store(chunks, 1'000'000'000);
  time_queries(state, store, exact, "bench");
  state.counters["chunks"] = static_cast<double>(store.indexed_vectors());
}
// {chunks, hnsw_threshold}: exact everywhere, then a graph per level (the default threshold, 20,000,
// puts 100k chunks in four graphs of 25k; 2,000 does the same for 10k).
BENCHMARK(BM_RagQuery)
    ->Args({10'000, 1'000'000'000})
    ->Args({10'000, 2'000})
    ->Args({100'000, 1'000'000'000})
    ->Args({100'000, 20'000})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(400);

const char* pgvector_dsn() { return aegis::core::env_value("AEGIS_BENCH_PGVECTOR_DSN"); }

// One team per (process, size), so reruns on the same server do not mix;
// $AEGIS_BENCH_PGVECTOR_REUSE=PID queries the corpus an earlier run (that
// process) left on the server instead of ingesting again (the vectors are
// the same: a fixed seed), and reports no ingestion rate.
const char* reuse_pid() { return aegis::core::env_value("AEGIS_BENCH_PGVECTOR_REUSE"); }
std::string pg_team(std::size_t chunks) {
  const std::string pid = reuse_pid() && *reuse_pid() ? std::string(reuse_pid()) : std::to_string(::getpid());
  return "bench-" + pid + "-" + std::to_string(chunks);
}

struct PgCorpus {
  std::unique_ptr<PostgresRagStore> store;
  std::unique_ptr<SqliteRagStore> exact;
  double ingest_seconds = 0;
};

PgCorpus& pg_corpus(std::size_t chunks) {
  static std::map<std::size_t, PgCorpus> corpora;
  auto& corpus = corpora[chunks];
  if (!corpus.store) {
    corpus.store = std::make_unique<PostgresRagStore>(pgvector_dsn(), PostgresRagOptions{.connections = 1});
    corpus.exact = open_store(1'000'000'000);
    std::mt19937 rng(42);
    std::chrono::steady_clock::duration spent{};
    for (std::size_t d = 0; d < chunks / kChunksPerDocument; ++d) {
      auto doc = make_document(d, rng);
      doc.id = pg_team(chunks) + "-" + doc.id;
      doc.team = pg_team(chunks);
      for (auto& chunk : doc.chunks) chunk.id = doc.id + "-" + chunk.id;
      const auto start = std::chrono::steady_clock::now();
      if (!(reuse_pid() && *reuse_pid()) && !corpus.store->add_document(doc).ok()) std::abort();
      spent += std::chrono::steady_clock::now() - start;
      if (!corpus.exact->add_document(doc).ok()) std::abort();
    }
    corpus.ingest_seconds = std::chrono::duration<double>(spent).count();
  }
  return corpus;
}

void BM_RagPgvectorQuery(benchmark::State& state) {
  if (pgvector_dsn() == nullptr || *pgvector_dsn() == '\0') {
    state.SkipWithError("set AEGIS_BENCH_PGVECTOR_DSN");
    return;
  }
  const auto chunks = static_cast<std::size_t>(state.range(0));
  auto& corpus = pg_corpus(chunks);
  time_queries(state, *corpus.store, *corpus.exact, pg_team(chunks));
  if (!(reuse_pid() && *reuse_pid())) {
    state.counters["ingest_chunks_per_s"] = static_cast<double>(chunks) / corpus.ingest_seconds;
  }
}
BENCHMARK(BM_RagPgvectorQuery)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond)->Iterations(200);

}  // namespace
