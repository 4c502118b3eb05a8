#include "rag/rag_service.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <tuple>

#include "compliance/egress_detector.hpp"
#include "core/encoding.hpp"
#include "rag/chunker.hpp"
#include "telemetry/log.hpp"

namespace aegis::rag {

namespace {

std::string new_id(std::string_view prefix) {
  std::array<unsigned char, 12> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // Never a predictable id: a collision would merge two documents.
    throw std::runtime_error("the random number generator failed");
  }
  return std::string(prefix) + hex_encode(bytes);
}

bool valid_collection(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  return std::ranges::all_of(name, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

Result<void> check_collection(std::string_view name) {
  if (valid_collection(name)) return {};
  return make_error(ErrorCode::invalid_request,
                    "collection must be 1 to 128 characters of letters, digits, '_', '-' and '.'");
}

void normalise(std::vector<float>& v) {
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * static_cast<double>(x);
  norm = std::sqrt(norm);
  if (norm == 0) return;
  for (float& x : v) x = static_cast<float>(x / norm);
}

std::string model_key(const gateway::Route& route) { return route.provider + "/" + route.model; }

// Chunks per embedding call: an ingest reports its progress after each.
constexpr std::size_t kEmbedBatch = 32;
// The output ceiling the gateway's preflight assumes for a request without max_tokens.
constexpr std::int64_t kDefaultMaxTokens = 4096;

// The answer's prompt: the context passages tagged with their ids, then the question.
ChatRequest answer_chat(const std::string& context, const AnswerRequest& request) {
  ChatRequest chat;
  chat.model = "auto";
  chat.system =
      "Answer the question from the context only, and cite the ids in square brackets of the context passages you "
      "used. If the context does not hold the answer, say so.";
  chat.messages.push_back(
      Message{Role::user, "Context:\n" + context + "\nQuestion: " + request.question, {}, {}, false, {}, nullptr, {}});
  chat.max_tokens = request.max_tokens;
  return chat;
}

using Embedded = std::pair<std::vector<std::vector<float>>, std::string>;

// Embeds `texts` through the pipeline at no less than `floor`: by a local
// provider (`model` empty), or by the configured cloud embedder. The vectors
// and the "provider/model" that made them.
boost::asio::awaitable<Result<Embedded>> embed_through(gateway::Gateway& gateway, const RagCaller& caller,
                                                       std::string surface, std::vector<std::string> texts, Level floor,
                                                       std::string model, IngestProgress* spent) {
  gateway::CallContext context;
  context.principal = caller.principal;
  context.request_id = caller.request_id;
  context.surface = std::move(surface);
  context.task = "embedding";
  context.minimum_level = floor;
  context.local_only = model.empty();
  // Retrieval's own calls: the request that needs them (an answer) is what
  // the rate limits count.
  context.rate_limit = false;
  EmbedRequest request;
  request.model = model.empty() ? "auto" : std::move(model);
  request.inputs = std::move(texts);
  const std::size_t expected = request.inputs.size();
  auto outcome = co_await gateway.embed(context, std::move(request));
  if (!outcome.ok()) co_return std::move(outcome).error();
  if (spent != nullptr) {
    spent->input_tokens += outcome->embeddings.usage.input_tokens;
    spent->cost = spent->cost + context.cost;
  }
  auto& vectors = outcome->embeddings.vectors;
  if (vectors.size() != expected) {
    co_return make_error(ErrorCode::upstream_error, "the embedding provider returned a different number of vectors");
  }
  for (auto& v : vectors) normalise(v);
  co_return Embedded{std::move(vectors), model_key(outcome->route)};
}

// What the service shares with its background catch-up work: the work checks
// in before each touch of the store and leaves the service itself alone, and
// the service, when destroyed, closes the gate and waits for what checked in.
struct CatchUpState {
  std::mutex mu;
  std::condition_variable left;
  bool closed = false;
  int inside = 0;
  // (team, model, cloud) caught up, or being caught up, by this process.
  std::set<std::tuple<std::string, std::string, bool>> started;

  bool enter() {
    std::lock_guard lock(mu);
    if (closed) return false;
    ++inside;
    return true;
  }
  void leave() {
    std::lock_guard lock(mu);
    --inside;
    left.notify_all();
  }
  bool is_closed() {
    std::lock_guard lock(mu);
    return closed;
  }
  void close() {
    std::unique_lock lock(mu);
    closed = true;
    left.wait(lock, [this] { return inside == 0; });
  }
};

// Chunks of `principal`'s team with no vector from `model`, embedded and
// stored in batches until none is left. Touches only what outlives the
// service (store, database executor, gateway, metrics), the store only
// through the gate.
boost::asio::awaitable<void> reembed(std::shared_ptr<CatchUpState> state, RagStore& store, store::DbExecutor& db,
                                     gateway::Gateway& gateway, telemetry::CounterFamily& counter,
                                     identity::Principal principal, std::string model, bool cloud) {
  RagCaller caller;
  caller.principal = &principal;
  caller.request_id = "rag_reembed_" + new_id("").substr(0, 12);
  const Level max_level = cloud ? Level::INTERNAL : Level::RESTRICTED;
  const Error stopped = make_error(ErrorCode::unavailable, "the gateway is stopping");
  std::size_t done = 0;
  std::string failure;
  for (;;) {
    auto list = [&]() -> Result<std::vector<ChunkToEmbed>> {
      if (!state->enter()) return stopped;
      auto r = store.chunks_without(principal.team, model, max_level, kEmbedBatch);
      state->leave();
      return r;
    };
    auto batch = co_await db.run(list);
    if (state->is_closed()) co_return;
    if (!batch.ok()) {
      failure = batch.error().message;
      break;
    }
    if (batch->empty()) break;
    std::vector<std::string> texts;
    Level floor = Level::PUBLIC;
    for (const auto& chunk : *batch) {
      texts.push_back(chunk.text);
      floor = std::max(floor, chunk.level);
    }
    std::string surface = "rag.reembed";
    std::string which = cloud ? model : std::string();  // empty: a local provider
    auto embedded =
        co_await embed_through(gateway, caller, std::move(surface), std::move(texts), floor, std::move(which), nullptr);
    if (state->is_closed()) co_return;
    if (!embedded.ok()) {
      failure = embedded.error().message;
      break;
    }
    // The model moved on again (or another local provider answered): the next use catches up with that one.
    if (embedded->second != model) break;
    std::vector<std::pair<ChunkToEmbed, std::vector<float>>> vectors;
    for (std::size_t i = 0; i < batch->size(); ++i) {
      vectors.emplace_back(std::move((*batch)[i]), std::move(embedded->first[i]));
    }
    auto add = [&]() -> Result<std::size_t> {
      if (!state->enter()) return stopped;
      auto r = store.add_vectors(model, vectors);
      state->leave();
      return r;
    };
    auto stored = co_await db.run(add);
    if (state->is_closed()) co_return;
    if (!stored.ok()) {
      failure = stored.error().message;
      break;
    }
    done += *stored;
    counter.with({model}).inc(static_cast<double>(*stored));
    if (*stored == 0) break;  // nothing could be stored: do not loop on the same chunks
  }
  if (!failure.empty()) {
    // The next use of the model by this team tries again.
    std::lock_guard lock(state->mu);
    state->started.erase({principal.team, model, cloud});
  }
  if (done > 0 || !failure.empty()) {
    boost::json::object fields;
    fields["team"] = principal.team;
    fields["model"] = model;
    fields["chunks"] = done;
    if (!failure.empty()) fields["error"] = failure;
    telemetry::log(failure.empty() ? telemetry::LogLevel::info : telemetry::LogLevel::warn, "rag_reembedded",
                   std::move(fields));
  }
}

}  // namespace

Error retrieval_unavailable() {
  return make_error(ErrorCode::unavailable,
                    "retrieval is not available: the database has no vector support (see rag.postgres_dsn)");
}

struct RagService::Impl {
  explicit Impl(RagServiceDeps d)
      : deps(d),
        egress(compliance::make_egress_detector()),
        ingested(deps.metrics.counter("aegis_rag_chunks_ingested_total", "Chunks stored for retrieval, by level",
                                      {"level"})),
        filtered(deps.metrics.counter(
            "aegis_rag_chunks_filtered_total",
            "Chunks a retrieval query left out because they were above the caller's clearance, by level", {"level"})),
        query_seconds(deps.metrics.histogram("aegis_rag_query_seconds",
                                             "Retrieval queries: classify, embed the query, search (seconds)", {},
                                             {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5})),
        reembedded(deps.metrics.counter(
            "aegis_rag_chunks_reembedded_total",
            "Stored chunks embedded again in the background for an embedding model they had no vector from",
            {"model"})) {}

  RagServiceDeps deps;
  std::unique_ptr<compliance::EgressDetector> egress;
  telemetry::CounterFamily& ingested;
  telemetry::CounterFamily& filtered;
  telemetry::HistogramFamily& query_seconds;
  telemetry::CounterFamily& reembedded;

  std::shared_ptr<CatchUpState> catch_up_state = std::make_shared<CatchUpState>();

  // After `model` embedded something for the caller's team: chunks of the
  // team with no vector from it (the model changed since they were stored)
  // are embedded in the background, locally for a local model, and only up to
  // INTERNAL for the cloud embedder, each call at its most restrictive chunk.
  // Once per team and model in a process: what is ingested later carries its vectors.
  boost::asio::awaitable<void> catch_up(const RagCaller& caller, const std::string& model, bool cloud) {
    {
      std::lock_guard lock(catch_up_state->mu);
      if (!catch_up_state->started.emplace(caller.principal->team, model, cloud).second) co_return;
    }
    auto executor = co_await boost::asio::this_coro::executor;
    // The frame owns what it uses: the request that noticed the model ends first.
    boost::asio::co_spawn(
        executor,
        reembed(catch_up_state, deps.store, deps.db, deps.gateway, reembedded, *caller.principal, model, cloud),
        boost::asio::detached);
  }

  std::int64_t now_ms() const { return deps.clock.wall_ms(); }

  // A chunk's level: the most restrictive of the declared level, the classifier's and the egress detector's.
  Level level_of(std::string_view text, std::optional<Level> declared, std::map<std::string, int>& entities) const {
    classify::Marking marking;
    marking.explicit_public = declared == Level::PUBLIC;
    const auto classification = deps.classifier.classify(text, marking);
    for (const auto& finding : classification.findings) ++entities[finding.entity_type];
    Level level = std::max(classification.level, declared.value_or(Level::PUBLIC));
    if (egress->scan(text)) level = Level::RESTRICTED;
    return level;
  }

  audit::AuditRecord row(const RagCaller& caller, std::string surface, std::string task) const {
    audit::AuditRecord r;
    r.time_ms = now_ms();
    r.request_id = caller.request_id;
    if (caller.principal != nullptr) {
      r.team = caller.principal->team;
      r.key_id = caller.principal->key_id;
    }
    r.surface = std::move(surface);
    r.task = std::move(task);
    return r;
  }

  // Embeds `texts` through the pipeline at no less than `floor`: by a local
  // provider (`model` empty), or by the configured cloud embedder. The vectors
  // and the "provider/model" that made them.
  boost::asio::awaitable<Result<std::pair<std::vector<std::vector<float>>, std::string>>> embed(
      const RagCaller& caller, std::string surface, std::vector<std::string> texts, Level floor, std::string model,
      IngestProgress* spent = nullptr) {
    return embed_through(deps.gateway, caller, std::move(surface), std::move(texts), floor, std::move(model), spent);
  }

  // Checks an ingest request, cuts the text into chunks and gives each its
  // level: the document as it will be stored, without ids of its own or vectors.
  Result<DocumentRecord> prepare_document(IngestRequest request, std::map<std::string, int>& entities) const {
    AEGIS_TRY_VOID(check_collection(request.collection));
    if (request.text.has_value() == !request.chunks.empty()) {
      return make_error(ErrorCode::invalid_request, "exactly one of text and chunks is required");
    }
    std::size_t bytes = request.text ? request.text->size() : 0;
    for (const auto& chunk : request.chunks) bytes += chunk.size();
    if (bytes > static_cast<std::size_t>(deps.config.max_document_bytes)) {
      return make_error(ErrorCode::payload_too_large, "the document is larger than rag.max_document_bytes (" +
                                                          std::to_string(deps.config.max_document_bytes) + " bytes)");
    }
    std::vector<std::string> texts = std::move(request.chunks);
    if (request.text) {
      texts = chunk_text(*request.text, ChunkingOptions{static_cast<std::size_t>(deps.config.chunk_tokens),
                                                        static_cast<std::size_t>(deps.config.chunk_overlap_tokens)});
    }
    std::erase_if(texts, [](const std::string& t) { return t.find_first_not_of(" \t\r\n") == std::string::npos; });
    if (texts.empty()) return make_error(ErrorCode::invalid_request, "the document has no text");

    DocumentRecord doc;
    doc.collection = std::move(request.collection);
    doc.source = std::move(request.source);
    doc.metadata_json = std::move(request.metadata_json);
    doc.level = Level::PUBLIC;
    for (std::size_t i = 0; i < texts.size(); ++i) {
      ChunkRecord chunk;
      chunk.id = new_id("chk_");
      chunk.index = static_cast<int>(i);
      chunk.level = level_of(texts[i], request.declared, entities);
      chunk.text = std::move(texts[i]);
      doc.level = std::max(doc.level, chunk.level);
      doc.chunks.push_back(std::move(chunk));
    }
    return doc;
  }

  Result<void> check_query(const QueryRequest& request) const {
    AEGIS_TRY_VOID(check_collection(request.collection));
    if (request.query.empty()) return make_error(ErrorCode::invalid_request, "query must not be empty");
    if (request.top_k < 1 || request.top_k > static_cast<std::size_t>(deps.config.max_top_k)) {
      return make_error(ErrorCode::invalid_request,
                        "top_k must be between 1 and " + std::to_string(deps.config.max_top_k));
    }
    return {};
  }

  boost::asio::awaitable<Result<QueryResult>> retrieve(const RagCaller& caller, const QueryRequest& request,
                                                       std::string surface) {
    const auto started = deps.clock.steady_now();
    AEGIS_CO_TRY_VOID(check_query(request));
    const identity::Principal& principal = *caller.principal;
    std::map<std::string, int> entities;
    QueryResult result;
    result.query_level = level_of(request.query, std::nullopt, entities);

    // Every chunk has a local vector; PUBLIC and INTERNAL chunks also have the
    // cloud embedder's when one is configured. A query at or below INTERNAL
    // searches those in the cloud index and the rest in the local one; a
    // query above INTERNAL is embedded locally and searches the local index.
    const std::string& cloud_model = deps.config.cloud_embedding_model;
    const bool use_cloud = !cloud_model.empty() && result.query_level <= Level::INTERNAL;
    std::vector<SearchHit> merged;
    struct Pass {
      std::string model;  // "" = local
      Level min_level;
      Level max_level;
    };
    std::vector<Pass> passes;
    if (use_cloud) {
      passes.push_back(Pass{cloud_model, Level::PUBLIC, std::min(principal.clearance, Level::INTERNAL)});
      if (principal.clearance >= Level::CONFIDENTIAL) {
        passes.push_back(Pass{"", Level::CONFIDENTIAL, principal.clearance});
      }
    } else {
      passes.push_back(Pass{"", Level::PUBLIC, principal.clearance});
    }
    for (auto& pass : passes) {
      std::vector<std::string> inputs(1, request.query);
      AEGIS_CO_TRY(embedded, co_await embed(caller, surface, std::move(inputs), result.query_level, pass.model));
      if (!pass.model.empty() && embedded.second != pass.model) {
        co_return make_error(ErrorCode::internal, "the query was not embedded by rag.cloud_embedding_model");
      }
      SearchRequest search;
      search.team = principal.team;
      search.collection = request.collection;
      search.model = embedded.second;
      search.clearance = pass.max_level;
      search.min_level = pass.min_level;
      search.query = std::move(embedded.first.front());
      search.top_k = request.top_k;
      search.filter = request.filter;
      co_await catch_up(caller, embedded.second, !pass.model.empty());
      auto run_search = [&] { return deps.store.search(search); };
      AEGIS_CO_TRY(found, co_await deps.db.run(run_search));
      for (auto& hit : found.hits) merged.push_back(std::move(hit));
    }
    // Only a caller below RESTRICTED can have chunks left out: the count (a
    // scan of the collection's chunks) is not paid on every query.
    if (principal.clearance < Level::RESTRICTED) {
      auto count_levels = [&] { return deps.store.chunk_levels(principal.team, request.collection); };
      AEGIS_CO_TRY(levels, co_await deps.db.run(count_levels));
      for (const auto& counted : levels) {
        if (counted.first > principal.clearance)
          filtered.with({to_string(counted.first)}).inc(static_cast<double>(counted.second));
      }
    }
    std::ranges::stable_sort(merged, [](const SearchHit& a, const SearchHit& b) { return a.score > b.score; });
    if (merged.size() > request.top_k) merged.resize(request.top_k);
    result.hits = std::move(merged);
    query_seconds.with({}).observe(std::chrono::duration<double>(deps.clock.steady_now() - started).count());

    auto r = row(caller, surface, "rag_query");
    r.level = result.query_level;
    r.entities = entities;
    r.status = 200;
    r.reason = "collection=" + request.collection + " hits=" + std::to_string(result.hits.size());
    deps.audit.record(std::move(r));
    co_return result;
  }

  struct PreparedAnswer {
    ChatRequest chat;
    std::vector<std::string> chunk_ids;  // best first
  };

  // Retrieval and the answer's prompt, shared by answer() and stream_answer();
  // fills in the caller's part of the context.
  boost::asio::awaitable<Result<PreparedAnswer>> prepare_answer(const RagCaller& caller, const AnswerRequest& request,
                                                                gateway::CallContext& context) {
    if (request.question.empty()) co_return make_error(ErrorCode::invalid_request, "question must not be empty");
    QueryRequest query{request.collection, request.question, request.top_k, {}};
    AEGIS_CO_TRY(retrieved, co_await retrieve(caller, query, "rag.answer"));
    PreparedAnswer prepared;
    std::string passages;
    for (const auto& hit : retrieved.hits) {
      prepared.chunk_ids.push_back(hit.chunk_id);
      passages += "[" + hit.chunk_id + "] " + hit.text + "\n";
    }
    prepared.chat = answer_chat(passages, request);
    context.principal = caller.principal;
    context.request_id = caller.request_id;
    context.surface = "rag.answer";
    context.task = "rag";
    co_return prepared;
  }
};

RagService::RagService(RagServiceDeps deps) : impl_(std::make_unique<Impl>(deps)) {}
RagService::~RagService() { impl_->catch_up_state->close(); }

boost::asio::awaitable<Result<DocumentRecord>> RagService::ingest(RagCaller caller, IngestRequest request,
                                                                  IngestProgressFn on_progress) {
  auto& s = *impl_;
  std::map<std::string, int> entities;
  AEGIS_CO_TRY(doc, s.prepare_document(std::move(request), entities));
  doc.id = new_id("doc_");
  doc.team = caller.principal->team;
  doc.created_at_ms = s.now_ms();

  // Every chunk is embedded locally; PUBLIC and INTERNAL chunks also by the
  // cloud embedder when one is configured. CONFIDENTIAL and RESTRICTED text
  // never goes to the cloud call, and each call's floor is its most
  // restrictive chunk, so the gateway could not route it lower anyway.
  const std::string& cloud_model = s.deps.config.cloud_embedding_model;
  IngestProgress progress;
  progress.chunks = doc.chunks.size();
  for (const auto& chunk : doc.chunks) {
    progress.embeddings_total += (!cloud_model.empty() && chunk.level <= Level::INTERNAL) ? 2 : 1;
  }
  if (on_progress) on_progress(progress);
  for (const bool cloud : {false, true}) {
    if (cloud && cloud_model.empty()) continue;
    std::vector<ChunkRecord*> owners;
    for (auto& chunk : doc.chunks) {
      if (cloud && chunk.level > Level::INTERNAL) continue;
      owners.push_back(&chunk);
    }
    for (std::size_t first = 0; first < owners.size(); first += kEmbedBatch) {
      const std::size_t count = std::min(kEmbedBatch, owners.size() - first);
      std::vector<std::string> batch;
      Level floor = Level::PUBLIC;
      for (std::size_t i = first; i < first + count; ++i) {
        batch.push_back(owners[i]->text);
        floor = std::max(floor, owners[i]->level);
      }
      std::string surface = "rag.ingest";
      std::string model = cloud ? cloud_model : std::string();
      AEGIS_CO_TRY(embedded,
                   co_await s.embed(caller, std::move(surface), std::move(batch), floor, std::move(model), &progress));
      if (cloud && embedded.second != cloud_model) {
        co_return make_error(ErrorCode::internal, "the chunks were not embedded by rag.cloud_embedding_model");
      }
      for (std::size_t i = 0; i < count; ++i)
        owners[first + i]->vectors[embedded.second] = std::move(embedded.first[i]);
      progress.embeddings_done += count;
      if (on_progress) on_progress(progress);
    }
  }

  auto add = [&] { return s.deps.store.add_document(doc); };
  AEGIS_CO_TRY_VOID(co_await s.deps.db.run(add));
  std::set<std::string> models;
  for (const auto& chunk : doc.chunks) {
    for (const auto& vector : chunk.vectors) models.insert(vector.first);
  }
  for (const auto& model : models) co_await s.catch_up(caller, model, model == cloud_model);
  for (const auto& chunk : doc.chunks) s.ingested.with({to_string(chunk.level)}).inc();

  auto r = s.row(caller, "rag.ingest", "rag_ingest");
  r.level = doc.level;
  r.entities = std::move(entities);
  r.status = 201;
  r.reason = "document=" + doc.id + " collection=" + doc.collection + " chunks=" + std::to_string(doc.chunks.size());
  s.deps.audit.record(std::move(r));
  for (auto& chunk : doc.chunks) {
    chunk.text.clear();
    chunk.vectors.clear();
  }
  co_return doc;
}

Result<Level> RagService::check_ingest(const IngestRequest& request) const {
  std::map<std::string, int> entities;
  AEGIS_TRY(doc, impl_->prepare_document(request, entities));
  return doc.level;
}

boost::asio::awaitable<Result<std::vector<DocumentRecord>>> RagService::list(RagCaller caller, std::string collection) {
  AEGIS_CO_TRY_VOID(check_collection(collection));
  auto read = [&] { return impl_->deps.store.list_documents(caller.principal->team, collection); };
  co_return co_await impl_->deps.db.run(read);
}

boost::asio::awaitable<Result<DocumentRecord>> RagService::get(RagCaller caller, std::string id) {
  auto read = [&] { return impl_->deps.store.get_document(caller.principal->team, id); };
  co_return co_await impl_->deps.db.run(read);
}

boost::asio::awaitable<Result<DocumentRecord>> RagService::erase(RagCaller caller, std::string id) {
  auto& s = *impl_;
  auto remove = [&] { return s.deps.store.erase_document(caller.principal->team, id); };
  AEGIS_CO_TRY(doc, co_await s.deps.db.run(remove));
  auto r = s.row(caller, "rag.erase", "rag_erase");
  r.level = doc.level;
  r.status = 200;
  r.reason = "document=" + doc.id + " collection=" + doc.collection + " chunks=" + std::to_string(doc.chunks.size());
  s.deps.audit.record(std::move(r));
  co_return doc;
}

boost::asio::awaitable<Result<QueryResult>> RagService::query(RagCaller caller, QueryRequest request) {
  std::string surface = "rag.query";
  co_return co_await impl_->retrieve(caller, request, std::move(surface));
}

Result<void> RagService::check_answer(const AnswerRequest& request) const {
  if (request.question.empty()) return make_error(ErrorCode::invalid_request, "question must not be empty");
  return impl_->check_query(QueryRequest{request.collection, request.question, request.top_k, {}});
}

ChatRequest RagService::admission_request(const AnswerRequest& request) const {
  ChatRequest chat = answer_chat(std::string(), request);
  // A passage is "[chk_<24 hex>] ", up to rag.chunk_tokens tokens of 4
  // bytes and a newline; the preflight counts a token for every 3 bytes.
  const std::int64_t passage_bytes = 32 + 4 * impl_->deps.config.chunk_tokens;
  const std::int64_t per_passage = (passage_bytes + 2) / 3;
  chat.max_tokens =
      request.max_tokens.value_or(kDefaultMaxTokens) + static_cast<std::int64_t>(request.top_k) * per_passage;
  return chat;
}

boost::asio::awaitable<Result<AnswerResult>> RagService::answer(RagCaller caller, AnswerRequest request,
                                                                gateway::CallContext& context) {
  AEGIS_CO_TRY(prepared, co_await impl_->prepare_answer(caller, request, context));
  AnswerResult result;
  result.chunk_ids = std::move(prepared.chunk_ids);
  // The assembled prompt is classified as a whole: a RESTRICTED chunk in it keeps the call local.
  AEGIS_CO_TRY(outcome, co_await impl_->deps.gateway.complete(context, std::move(prepared.chat)));
  result.completion = std::move(outcome.completion);
  co_return result;
}

boost::asio::awaitable<Result<void>> RagService::stream_answer(RagCaller caller, AnswerRequest request,
                                                               gateway::CallContext& context, AnswerSink& sink) {
  AEGIS_CO_TRY(prepared, co_await impl_->prepare_answer(caller, request, context));
  sink.on_retrieved(prepared.chunk_ids);
  co_return co_await impl_->deps.gateway.stream(context, std::move(prepared.chat), sink);
}

}  // namespace aegis::rag
