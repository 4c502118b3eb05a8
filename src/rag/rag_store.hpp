#pragma once
// Where retrieval keeps documents, their chunks and the chunks' vectors.
// Interface and value types only; one implementation per backend beside it.
//
// Every call names the team: a document or chunk of another team does not
// exist for it (not_found, never forbidden). search() applies the clearance
// inside the nearest-neighbour search, so a caller gets min(top_k, visible)
// chunks and nothing above its clearance takes part in scores or counts.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/classification.hpp"
#include "core/result.hpp"

namespace aegis::rag {

struct ChunkRecord {
  std::string id;  // "chk_..."
  int index = 0;   // position in its document
  std::string text;
  Level level = Level::INTERNAL;
  // Embedding model ("provider/model") -> unit-length vector; empty when read back.
  std::map<std::string, std::vector<float>> vectors;
};

struct DocumentRecord {
  std::string id;  // "doc_..."
  std::string team;
  std::string collection;
  std::string source;             // caller's label ("handbook.pdf"); may be empty
  std::string metadata_json;      // caller's object, as sent ("{}" when none)
  Level level = Level::INTERNAL;  // the most restrictive of its chunks
  std::int64_t created_at_ms = 0;
  std::vector<ChunkRecord> chunks;  // by index (text and vectors only when asked for)
};

// Conditions on a document's metadata (the object given at ingestion): every
// key must be present with one of its values. Values are JSON scalars, kept
// as their serialized text and compared as JSON ("1" matches 1, not "1").
struct MetadataFilter {
  std::map<std::string, std::vector<std::string>> any_of;

  bool empty() const noexcept { return any_of.empty(); }
  // False for metadata that is not a JSON object.
  bool matches(const std::string& metadata_json) const;
};

struct SearchRequest {
  std::string team;
  std::string collection;
  std::string model;                  // vectors from another model are not comparable: only this index is searched
  Level clearance = Level::INTERNAL;  // chunks above it are never scored
  Level min_level = Level::PUBLIC;    // nor those below this (another index covers them)
  std::vector<float> query;           // unit length
  std::size_t top_k = 5;
  // Only chunks of matching documents are scored (so still min(top_k, visible and matching)).
  MetadataFilter filter;
};

struct SearchHit {
  std::string chunk_id;
  std::string document_id;
  int index = 0;
  std::string text;
  std::string source;
  Level level = Level::INTERNAL;
  double score = 0;  // cosine similarity
};

struct SearchResult {
  std::vector<SearchHit> hits;  // best first
};

// A stored chunk without a vector from some model, for re-embedding.
struct ChunkToEmbed {
  std::string chunk_id;
  std::string document_id;
  std::string team;
  std::string collection;
  Level level = Level::INTERNAL;
  std::string text;
};

// One team's collection as the admin console lists it: its documents by
// their level (a document's level is its most restrictive chunk's).
struct CollectionSummary {
  std::string team;
  std::string collection;
  std::map<Level, std::int64_t> documents_by_level;
};

class RagStore {
 public:
  virtual ~RagStore() = default;

  // Stores the document and all of its chunks (with vectors) at once, or nothing.
  virtual Result<void> add_document(const DocumentRecord& document) = 0;
  // The team's documents in a collection, newest first, chunks without text or vectors.
  virtual Result<std::vector<DocumentRecord>> list_documents(const std::string& team,
                                                             const std::string& collection) = 0;
  // One document with its chunks' index and level (no text, no vectors).
  virtual Result<DocumentRecord> get_document(const std::string& team, const std::string& id) = 0;
  // Removes the document, every chunk and every vector (also from any index in memory); returns the
  // erased document as it was (chunks without text).
  virtual Result<DocumentRecord> erase_document(const std::string& team, const std::string& id) = 0;
  virtual Result<SearchResult> search(const SearchRequest& request) = 0;
  // The collection's chunks by level: what aegis_rag_chunks_filtered_total
  // counts above a caller's clearance. Never shown to a caller.
  virtual Result<std::map<Level, std::int64_t>> chunk_levels(const std::string& team,
                                                             const std::string& collection) = 0;
  // Up to `limit` of the team's chunks at or below `max_level` that have no
  // vector from `model`, oldest document first: what a changed embedding
  // model re-embeds (on the team's budget, so per team).
  virtual Result<std::vector<ChunkToEmbed>> chunks_without(const std::string& team, const std::string& model,
                                                           Level max_level, std::size_t limit) = 0;
  // Stores `model`'s vector of each chunk (and indexes it); a chunk erased in
  // the meantime is skipped. Returns the vectors stored.
  virtual Result<std::size_t> add_vectors(const std::string& model,
                                          const std::vector<std::pair<ChunkToEmbed, std::vector<float>>>& vectors) = 0;
  // Every team's collections, by team then collection (the admin console).
  virtual Result<std::vector<CollectionSummary>> list_collections() = 0;
  // The team a document belongs to, or nothing for an unknown id: what lets
  // an administrator erase a document by id alone.
  virtual Result<std::optional<std::string>> document_team(const std::string& id) = 0;
  // Chunks stored (all teams), and vectors held by the in-memory indexes: what erasure must bring down.
  virtual Result<std::int64_t> chunk_count() = 0;
  virtual std::int64_t indexed_vectors() const = 0;
};

}  // namespace aegis::rag
