#pragma once
// Classification-aware retrieval: documents are chunked, every chunk is
// classified, CONFIDENTIAL and RESTRICTED chunks are embedded only by a local
// provider, and a caller only ever retrieves chunks at or below its
// clearance. Embedding and answering go through the one gateway pipeline
// (gateway/gateway.hpp), so routing, masking, the egress guard, budgets and
// audit apply to them as to any request; this service adds the chunking,
// the levels, the store and its own audit rows (ids, levels and counts,
// never text).
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/record.hpp"
#include "classify/classifier.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "gateway/gateway.hpp"
#include "identity/principal.hpp"
#include "rag/rag_store.hpp"
#include "store/db_executor.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::compliance {
class EgressDetector;
}

namespace aegis::rag {

struct IngestRequest {
  std::string collection;
  std::optional<std::string> text;  // chunked here ...
  std::vector<std::string> chunks;  // ... or chunked by the caller
  std::string source;
  std::string metadata_json = "{}";
  std::optional<Level> declared;  // the caller's level: a floor, never lowers what is found
};

struct QueryRequest {
  std::string collection;
  std::string query;
  std::size_t top_k = 5;
  MetadataFilter filter;  // empty: every document of the collection
};

struct QueryResult {
  std::vector<SearchHit> hits;  // best first, all at or below the caller's clearance
  Level query_level = Level::INTERNAL;
};

struct AnswerRequest {
  std::string collection;
  std::string question;
  std::size_t top_k = 5;
  std::optional<std::int64_t> max_tokens;
};

struct AnswerResult {
  Completion completion;
  std::vector<std::string> chunk_ids;  // the chunks given to the model as context, best first
};

// Who asks and under which request id; the gateway context of every call made for it.
struct RagCaller {
  const identity::Principal* principal = nullptr;
  std::string request_id;
};

struct RagServiceDeps {
  const config::RagConfig& config;
  gateway::Gateway& gateway;
  const classify::Classifier& classifier;
  RagStore& store;
  store::DbExecutor& db;
  audit::AuditSink& audit;
  telemetry::Registry& metrics;
  const Clock& clock;
};

class RagService {
 public:
  explicit RagService(RagServiceDeps deps);
  ~RagService();
  RagService(const RagService&) = delete;
  RagService& operator=(const RagService&) = delete;

  // 201's document: its id and each chunk's index and level. 400 for a bad
  // request, 413 past rag.max_document_bytes, the gateway's error when an
  // embedding call fails (e.g. 503 no_local_provider for a RESTRICTED chunk
  // with no local embedder): then nothing is stored.
  boost::asio::awaitable<Result<DocumentRecord>> ingest(RagCaller caller, IngestRequest request);
  boost::asio::awaitable<Result<std::vector<DocumentRecord>>> list(RagCaller caller, std::string collection);
  boost::asio::awaitable<Result<DocumentRecord>> get(RagCaller caller, std::string id);
  // The right to erasure: the document, its chunks and their vectors are gone when this returns.
  boost::asio::awaitable<Result<DocumentRecord>> erase(RagCaller caller, std::string id);
  boost::asio::awaitable<Result<QueryResult>> query(RagCaller caller, QueryRequest request);
  // Retrieves, then asks the model through the pipeline with the chunks as
  // context; `context` carries the call's classification and route for headers.
  boost::asio::awaitable<Result<AnswerResult>> answer(RagCaller caller, AnswerRequest request,
                                                      gateway::CallContext& context);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aegis::rag
