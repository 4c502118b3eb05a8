#pragma once
// The in-process nearest-neighbour index of the embedded retrieval store: one
// partition per (team, collection, embedding model, level), so the clearance
// filter is a choice of partitions made before any vector is compared: a
// search visits only the levels a caller may see, each partition returns its
// min(top_k, size) best, and the merge returns min(top_k, visible) chunks.
// A partition is searched exactly (every vector scored) until it holds
// `hnsw_threshold` vectors, then through an HNSW graph (Debian's hnswlib,
// inner product over unit vectors = cosine).
//
// Erasure: a chunk's vector leaves the exact list at once; in a graph it is
// marked deleted and its stored floats are overwritten with zeros, and the
// graph is rebuilt from its live vectors once a quarter of it is deleted.
// Not thread-safe: the store serialises calls.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "core/classification.hpp"
#include "core/result.hpp"

namespace aegis::rag {

struct VectorIndexOptions {
  std::size_t hnsw_threshold = 20'000;  // vectors in a partition before it gets a graph
  std::size_t hnsw_m = 16;
  std::size_t hnsw_ef_construction = 128;
  std::size_t hnsw_ef_search = 96;  // at least top_k
};

struct IndexedChunk {
  std::string chunk_id;
  std::string document_id;
  Level level = Level::INTERNAL;
};

struct ScoredChunk {
  IndexedChunk chunk;
  double score = 0;  // cosine similarity
};

struct IndexScope {
  std::string team;
  std::string collection;
  std::string model;
};

class VectorIndex {
 public:
  explicit VectorIndex(VectorIndexOptions options = {});
  ~VectorIndex();
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  // invalid_request when `vector`'s dimensions differ from the partition's
  // (another model's vectors are not comparable); check() says so before a write.
  Result<void> check(const IndexScope& scope, Level level, const std::vector<float>& vector) const;
  Result<void> add(const IndexScope& scope, const IndexedChunk& chunk, const std::vector<float>& vector);
  // Every vector of the document, in every partition of the scope's team and collection.
  void erase_document(const std::string& team, const std::string& collection, const std::string& document_id);

  // The best min(top_k, visible) chunks at levels min_level..clearance, best
  // first, ties broken by chunk id. A partition whose dimensions differ from
  // the query's is not searched. With `documents`, only their chunks are
  // visible, and they are scored exactly (a graph is walked for its members,
  // not searched and then filtered, which could return fewer than top_k).
  std::vector<ScoredChunk> search(const IndexScope& scope, Level min_level, Level clearance,
                                  const std::vector<float>& query, std::size_t top_k,
                                  const std::set<std::string>* documents = nullptr) const;

  // Persistence of the graphs (exact partitions are rebuilt from the store,
  // which is cheap): save() writes each graph and a manifest naming its chunks
  // under `dir`, stamped with `fingerprint` (the store's state); load() takes
  // them back only under the same fingerprint, then deletes the files, so a
  // file can never outlive a later write. Returns the partitions loaded.
  Result<void> save(const std::string& dir, const std::string& fingerprint) const;
  std::size_t load(const std::string& dir, const std::string& fingerprint);
  // Whether a row of this partition is already indexed by load() (the store skips it).
  bool loaded(const IndexScope& scope, Level level) const;

  std::int64_t vectors() const noexcept { return vectors_; }
  // Partitions searched through a graph (for tests and metrics).
  std::size_t graphs() const;

 private:
  struct Partition;
  using Key = std::tuple<std::string, std::string, std::string, Level>;
  VectorIndexOptions options_;
  std::map<Key, std::unique_ptr<Partition>> partitions_;
  std::set<Key> loaded_;
  std::int64_t vectors_ = 0;
};

}  // namespace aegis::rag
