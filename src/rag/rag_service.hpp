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

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/record.hpp"
#include "classify/classifier.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/money.hpp"
#include "core/result.hpp"
#include "gateway/gateway.hpp"
#include "identity/principal.hpp"
#include "providers/provider.hpp"
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

// Where an ingest stands (an async job shows it while it runs): reported
// once the document is chunked, then after each embedding call.
struct IngestProgress {
  std::size_t chunks = 0;
  // Vectors to make: one per chunk from the local embedder, plus one per
  // PUBLIC or INTERNAL chunk from rag.cloud_embedding_model when set.
  std::size_t embeddings_total = 0;
  std::size_t embeddings_done = 0;
  std::int64_t input_tokens = 0;  // of the embedding calls so far
  Money cost;                     // what those calls booked
};
using IngestProgressFn = std::function<void(const IngestProgress&)>;

// Receives a streamed answer: the chunk ids once retrieval is done, before
// the model is asked, then the governed stream's events (providers::DeltaSink).
class AnswerSink : public providers::DeltaSink {
 public:
  virtual void on_retrieved(const std::vector<std::string>& chunk_ids) = 0;
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

// 503: the storage backend has no retrieval store (the routes and async jobs refuse with this).
Error retrieval_unavailable();

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
  boost::asio::awaitable<Result<DocumentRecord>> ingest(RagCaller caller, IngestRequest request,
                                                        IngestProgressFn on_progress = {});
  // What ingest() checks before it embeds anything (400, 413), and the level
  // the document would get: an async job's answer at submit. CPU only.
  Result<Level> check_ingest(const IngestRequest& request) const;
  boost::asio::awaitable<Result<std::vector<DocumentRecord>>> list(RagCaller caller, std::string collection);
  boost::asio::awaitable<Result<DocumentRecord>> get(RagCaller caller, std::string id);
  // The right to erasure: the document, its chunks and their vectors are gone when this returns.
  boost::asio::awaitable<Result<DocumentRecord>> erase(RagCaller caller, std::string id);
  boost::asio::awaitable<Result<QueryResult>> query(RagCaller caller, QueryRequest request);
  // Retrieves, then asks the model through the pipeline with the chunks as
  // context; `context` carries the call's classification and route for headers.
  boost::asio::awaitable<Result<AnswerResult>> answer(RagCaller caller, AnswerRequest request,
                                                      gateway::CallContext& context);
  // The same answer streamed through Gateway::stream: the same retrieval and
  // prompt, so every stage of the pipeline applies as to answer(); `sink`
  // hears the chunk ids, then the stream. An error before the first event
  // reached `sink` left nothing sent.
  boost::asio::awaitable<Result<void>> stream_answer(RagCaller caller, AnswerRequest request,
                                                     gateway::CallContext& context, AnswerSink& sink);
  // What answer() checks before it retrieves (400): an async job's check at submit.
  Result<void> check_answer(const AnswerRequest& request) const;
  // The request an async rag job's budget is reserved for at submit, before
  // anything is retrieved: the answer's prompt without its context, whose
  // output allowance also covers top_k chunks of rag.chunk_tokens (counted
  // as output tokens, priced at least as high as input ones).
  ChatRequest admission_request(const AnswerRequest& request) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aegis::rag
