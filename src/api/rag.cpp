#include "api/rag.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <memory>

#include "api/access.hpp"
#include "api/chat_stream.hpp"
#include "http/json_response.hpp"
#include "rag/answer_events.hpp"
#include "rag/rag_json.hpp"

namespace aegis::api {

namespace json = boost::json;
using Awaitable = boost::asio::awaitable<http::HttpResponse>;

namespace {

http::HttpResponse fail(const Error& error, const http::HttpRequest& request) {
  return http::error_response(error, request.request_id);
}

rag::RagCaller caller_of(const http::HttpRequest& request, const http::Caller& caller) {
  return rag::RagCaller{principal_of(caller), request.request_id};
}

Error not_available() { return rag::retrieval_unavailable(); }

// A streamed answer (docs/ARCHITECTURE.md, "Retrieval"): status and headers
// go with the first event, so anything that fails before it (retrieval,
// classification, routing, budget, a provider before its first byte) is
// still a plain JSON error with its status.
class AnswerStream final : public rag::AnswerSink {
 public:
  AnswerStream(http::ResponseWriter& writer, const gateway::CallContext& context)
      : writer_(writer), context_(context) {}

  void on_retrieved(const std::vector<std::string>& chunk_ids) override { events_.set_chunks(chunk_ids); }

  boost::asio::awaitable<bool> on_event(const StreamEvent& event) override {
    if (!writer_.committed()) {
      writer_.set_status(200);
      writer_.set_header("content-type", "text/event-stream");
      writer_.set_header("cache-control", "no-cache");
      writer_.set_header("x-aegis-route", context_.route.header_value());
      writer_.set_header("x-aegis-classification", std::string(to_string(context_.level)));
      writer_.set_header("x-aegis-masked", std::to_string(context_.masked));
      add_rate_limit_headers(writer_, context_);
    }
    const std::string text = events_.encode(event, context_.route);
    if (text.empty()) co_return true;
    co_return co_await writer_.write(text);
  }

  // The call failed: a JSON error when nothing was sent yet, else the stream's error event.
  boost::asio::awaitable<void> fail(const Error& error, const std::string& request_id) {
    auto response = http::error_response(error, request_id);
    if (!writer_.committed()) {
      writer_.set_status(response.status);
      for (auto& h : response.headers) writer_.set_header(h.name, h.value);
      writer_.set_header("x-aegis-classification", std::string(to_string(context_.level)));
      if (!context_.route.provider.empty()) writer_.set_header("x-aegis-route", context_.route.header_value());
      add_rate_limit_headers(writer_, context_);
      writer_.set_body(std::move(response.body));
      co_return;
    }
    const std::string text = events_.error(response.body);
    if (!text.empty()) co_await writer_.write(text);
  }

 private:
  http::ResponseWriter& writer_;
  const gateway::CallContext& context_;
  rag::AnswerEvents events_;
};

struct AnswerAsk {
  rag::AnswerRequest request;
  bool stream = false;
};

Result<AnswerAsk> parse_answer(const json::object& body) {
  AnswerAsk ask;
  json::object fields = body;
  if (const auto* stream = body.if_contains("stream"); stream != nullptr && !stream->is_null()) {
    if (!stream->is_bool()) return make_error(ErrorCode::invalid_request, "stream must be a boolean");
    ask.stream = stream->get_bool();
  }
  fields.erase("stream");
  AEGIS_TRY(request, rag::parse_answer_request(fields));
  ask.request = std::move(request);
  return ask;
}

// The streamed answer: the body runs after the handler has returned, so it keeps its own copy of the caller.
http::HttpResponse streamed_answer(rag::RagService& service, const http::HttpRequest& request,
                                   const identity::Principal& principal, rag::AnswerRequest ask) {
  struct State {
    identity::Principal principal;
    rag::AnswerRequest ask;
    gateway::CallContext context;
    std::string request_id;
  };
  auto state = std::make_shared<State>();
  state->principal = principal;
  state->ask = std::move(ask);
  state->request_id = request.request_id;
  http::HttpResponse response;
  response.stream_body = [&service, state](http::ResponseWriter& writer) -> boost::asio::awaitable<void> {
    AnswerStream sink(writer, state->context);
    rag::RagCaller caller;
    caller.principal = &state->principal;
    caller.request_id = state->request_id;
    auto outcome = co_await service.stream_answer(std::move(caller), std::move(state->ask), state->context, sink);
    if (outcome.ok()) co_return;
    const Error error = for_client(outcome.error());
    co_await sink.fail(error, state->request_id);
  };
  return response;
}

}  // namespace

void register_rag_routes(http::Router& router, rag::RagService* service) {
  router.add("POST", "/v1/rag/documents", http::Credential::api_key,
             [service](http::HttpRequest& request, const http::Caller& caller) -> Awaitable {
               if (service == nullptr) co_return fail(not_available(), request);
               AEGIS_CO_TRY(ingest, http::decode_json_object(request, rag::parse_ingest_request), fail, request);
               AEGIS_CO_TRY(doc, co_await service->ingest(caller_of(request, caller), std::move(ingest)), fail,
                            request);
               auto response = http::json_response(201, rag::document_json(doc, true));
               response.set_header("x-aegis-classification", std::string(to_string(doc.level)));
               co_return response;
             });

  router.add("GET", "/v1/rag/documents", http::Credential::api_key,
             [service](http::HttpRequest& request, const http::Caller& caller) -> Awaitable {
               if (service == nullptr) co_return fail(not_available(), request);
               AEGIS_CO_TRY(params, http::query_params(request, {"collection"}), fail, request);
               const auto found = params.find("collection");
               if (found == params.end()) {
                 co_return fail(make_error(ErrorCode::invalid_request, "collection is required"), request);
               }
               AEGIS_CO_TRY(docs, co_await service->list(caller_of(request, caller), found->second), fail, request);
               json::array data;
               for (const auto& doc : docs) data.push_back(rag::document_json(doc, false));
               co_return http::json_response(200, json::object{{"object", "list"}, {"data", std::move(data)}});
             });

  router.add("GET", "/v1/rag/documents/{id}", http::Credential::api_key,
             [service](http::HttpRequest& request, const http::Caller& caller) -> Awaitable {
               if (service == nullptr) co_return fail(not_available(), request);
               AEGIS_CO_TRY(doc,
                            co_await service->get(caller_of(request, caller), std::string(*request.path_param("id"))),
                            fail, request);
               co_return http::json_response(200, rag::document_json(doc, false));
             });

  router.add("DELETE", "/v1/rag/documents/{id}", http::Credential::api_key,
             [service](http::HttpRequest& request, const http::Caller& caller) -> Awaitable {
               if (service == nullptr) co_return fail(not_available(), request);
               AEGIS_CO_TRY(doc,
                            co_await service->erase(caller_of(request, caller), std::string(*request.path_param("id"))),
                            fail, request);
               json::object out{{"document_id", doc.id},
                                {"deleted", true},
                                {"chunks_deleted", static_cast<std::int64_t>(doc.chunks.size())}};
               co_return http::json_response(200, out);
             });

  router.add("POST", "/v1/rag/query", http::Credential::api_key,
             [service](http::HttpRequest& request, const http::Caller& caller) -> Awaitable {
               if (service == nullptr) co_return fail(not_available(), request);
               AEGIS_CO_TRY(query, http::decode_json_object(request, rag::parse_query_request), fail, request);
               AEGIS_CO_TRY(result, co_await service->query(caller_of(request, caller), std::move(query)), fail,
                            request);
               json::array chunks;
               for (const auto& hit : result.hits) {
                 chunks.push_back(json::object{{"id", hit.chunk_id},
                                               {"document_id", hit.document_id},
                                               {"index", hit.index},
                                               {"text", hit.text},
                                               {"score", hit.score},
                                               {"source", hit.source},
                                               {"classification", to_string(hit.level)}});
               }
               auto response = http::json_response(200, json::object{{"chunks", std::move(chunks)}});
               response.set_header("x-aegis-classification", std::string(to_string(result.query_level)));
               co_return response;
             });

  router.add("POST", "/v1/rag/answer", http::Credential::api_key,
             [service](http::HttpRequest& request, const http::Caller& caller) -> Awaitable {
               if (service == nullptr) co_return fail(not_available(), request);
               AEGIS_CO_TRY(parsed, http::decode_json_object(request, parse_answer), fail, request);
               const identity::Principal* principal = principal_of(caller);
               if (principal == nullptr) {
                 co_return fail(make_error(ErrorCode::unauthorized, "missing API key"), request);
               }
               if (parsed.stream) {
                 // Built before co_return: clang's analyzer evaluates a co_return operand twice.
                 auto response = streamed_answer(*service, request, *principal, std::move(parsed.request));
                 co_return response;
               }
               rag::AnswerRequest ask = std::move(parsed.request);
               gateway::CallContext context;
               auto result = co_await service->answer(caller_of(request, caller), std::move(ask), context);
               if (!result.ok()) {
                 auto response = fail(result.error(), request);
                 add_governance_headers(response, context);
                 co_return response;
               }
               json::array ids;
               for (const auto& id : result->chunk_ids) ids.emplace_back(id);
               json::object out{{"answer", result->completion.text},
                                {"chunk_ids", std::move(ids)},
                                {"model", result->completion.model},
                                {"provider", result->completion.provider},
                                {"usage", json::object{{"input_tokens", result->completion.usage.input_tokens},
                                                       {"output_tokens", result->completion.usage.output_tokens}}}};
               auto response = http::json_response(200, out);
               add_governance_headers(response, context);
               co_return response;
             });
}

}  // namespace aegis::api
