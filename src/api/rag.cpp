#include "api/rag.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "api/access.hpp"
#include "api/chat_stream.hpp"
#include "http/json_response.hpp"
#include "rag/metadata_filter.hpp"

namespace aegis::api {

namespace json = boost::json;
using Awaitable = boost::asio::awaitable<http::HttpResponse>;

namespace {

http::HttpResponse fail(const Error& error, const http::HttpRequest& request) {
  return http::error_response(error, request.request_id);
}

Result<std::string> text_field(const json::object& body, std::string_view name, bool required) {
  const auto* v = body.if_contains(name);
  if (v == nullptr || v->is_null()) {
    if (required) return make_error(ErrorCode::invalid_request, std::string(name) + " is required");
    return std::string();
  }
  if (!v->is_string()) return make_error(ErrorCode::invalid_request, std::string(name) + " must be a string");
  return std::string(v->get_string());
}

Result<std::size_t> top_k_field(const json::object& body) {
  const auto* v = body.if_contains("top_k");
  if (v == nullptr || v->is_null()) return std::size_t{5};
  if (!v->is_int64() || v->get_int64() < 1) {
    return make_error(ErrorCode::invalid_request, "top_k must be a positive integer");
  }
  return static_cast<std::size_t>(v->get_int64());
}

Result<rag::IngestRequest> parse_ingest(const json::object& body) {
  AEGIS_TRY_VOID(
      http::reject_unknown_fields(body, {"collection", "text", "chunks", "source", "metadata", "classification"}));
  rag::IngestRequest request;
  AEGIS_TRY(collection, text_field(body, "collection", true));
  request.collection = std::move(collection);
  if (const auto* text = body.if_contains("text"); text != nullptr && !text->is_null()) {
    if (!text->is_string()) return make_error(ErrorCode::invalid_request, "text must be a string");
    request.text = std::string(text->get_string());
  }
  if (const auto* chunks = body.if_contains("chunks"); chunks != nullptr && !chunks->is_null()) {
    if (!chunks->is_array() || chunks->get_array().empty()) {
      return make_error(ErrorCode::invalid_request, "chunks must be a non-empty array of strings");
    }
    for (const auto& c : chunks->get_array()) {
      if (!c.is_string()) return make_error(ErrorCode::invalid_request, "chunks must be a non-empty array of strings");
      request.chunks.emplace_back(c.get_string());
    }
  }
  AEGIS_TRY(source, text_field(body, "source", false));
  request.source = std::move(source);
  if (const auto* metadata = body.if_contains("metadata"); metadata != nullptr && !metadata->is_null()) {
    if (!metadata->is_object()) return make_error(ErrorCode::invalid_request, "metadata must be an object");
    request.metadata_json = json::serialize(*metadata);
  }
  AEGIS_TRY(declared, text_field(body, "classification", false));
  if (!declared.empty()) {
    std::string upper = declared;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    auto level = parse_level(upper);
    if (!level) {
      return make_error(ErrorCode::invalid_request,
                        "classification must be one of PUBLIC, INTERNAL, CONFIDENTIAL, RESTRICTED");
    }
    request.declared = *level;
  }
  return request;
}

json::object document_json(const rag::DocumentRecord& doc, bool summary) {
  json::array chunks;
  for (const auto& chunk : doc.chunks) {
    chunks.push_back(json::object{{"index", chunk.index}, {"classification", to_string(chunk.level)}});
  }
  json::object out{{"document_id", doc.id}, {"chunks", std::move(chunks)}};
  if (!summary) {
    out["collection"] = doc.collection;
    out["source"] = doc.source;
    out["classification"] = to_string(doc.level);
    out["created_at_ms"] = doc.created_at_ms;
    auto metadata = json::parse(doc.metadata_json.empty() ? "{}" : doc.metadata_json);
    out["metadata"] = std::move(metadata);
  }
  return out;
}

rag::RagCaller caller_of(const http::HttpRequest& request, const http::Caller& caller) {
  return rag::RagCaller{principal_of(caller), request.request_id};
}

Error not_available() {
  return make_error(ErrorCode::unavailable,
                    "retrieval is not available: the database has no vector support (see rag.postgres_dsn)");
}

}  // namespace

void register_rag_routes(http::Router& router, rag::RagService* service) {
  router.add("POST", "/v1/rag/documents", http::Credential::api_key,
             [service](http::HttpRequest& request, const http::Caller& caller) -> Awaitable {
               if (service == nullptr) co_return fail(not_available(), request);
               AEGIS_CO_TRY(ingest, http::decode_json_object(request, parse_ingest), fail, request);
               AEGIS_CO_TRY(doc, co_await service->ingest(caller_of(request, caller), std::move(ingest)), fail,
                            request);
               auto response = http::json_response(201, document_json(doc, true));
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
               for (const auto& doc : docs) data.push_back(document_json(doc, false));
               co_return http::json_response(200, json::object{{"object", "list"}, {"data", std::move(data)}});
             });

  router.add("GET", "/v1/rag/documents/{id}", http::Credential::api_key,
             [service](http::HttpRequest& request, const http::Caller& caller) -> Awaitable {
               if (service == nullptr) co_return fail(not_available(), request);
               AEGIS_CO_TRY(doc,
                            co_await service->get(caller_of(request, caller), std::string(*request.path_param("id"))),
                            fail, request);
               co_return http::json_response(200, document_json(doc, false));
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
               auto parse = [](const json::object& body) -> Result<rag::QueryRequest> {
                 AEGIS_TRY_VOID(http::reject_unknown_fields(body, {"collection", "query", "top_k", "filter"}));
                 AEGIS_TRY(collection, text_field(body, "collection", true));
                 AEGIS_TRY(query, text_field(body, "query", true));
                 AEGIS_TRY(top_k, top_k_field(body));
                 rag::MetadataFilter filter;
                 if (const auto* given = body.if_contains("filter")) {
                   AEGIS_TRY(parsed, rag::parse_metadata_filter(*given));
                   filter = std::move(parsed);
                 }
                 return rag::QueryRequest{std::move(collection), std::move(query), top_k, std::move(filter)};
               };
               AEGIS_CO_TRY(query, http::decode_json_object(request, parse), fail, request);
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
               auto parse = [](const json::object& body) -> Result<rag::AnswerRequest> {
                 AEGIS_TRY_VOID(
                     http::reject_unknown_fields(body, {"collection", "question", "top_k", "max_tokens", "stream"}));
                 if (const auto* stream = body.if_contains("stream");
                     stream != nullptr && stream->is_bool() && stream->get_bool()) {
                   return make_error(ErrorCode::invalid_request, "stream is not supported yet on /v1/rag/answer");
                 }
                 AEGIS_TRY(collection, text_field(body, "collection", true));
                 AEGIS_TRY(question, text_field(body, "question", true));
                 AEGIS_TRY(top_k, top_k_field(body));
                 rag::AnswerRequest out{std::move(collection), std::move(question), top_k, std::nullopt};
                 if (const auto* max = body.if_contains("max_tokens"); max != nullptr && !max->is_null()) {
                   if (!max->is_int64() || max->get_int64() < 1) {
                     return make_error(ErrorCode::invalid_request, "max_tokens must be a positive integer");
                   }
                   out.max_tokens = max->get_int64();
                 }
                 return out;
               };
               AEGIS_CO_TRY(ask, http::decode_json_object(request, parse), fail, request);
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
