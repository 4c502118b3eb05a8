#include "rag/rag_json.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cctype>

#include "http/json_response.hpp"
#include "rag/metadata_filter.hpp"

namespace aegis::rag {

namespace json = boost::json;

namespace {

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

}  // namespace

Result<IngestRequest> parse_ingest_request(const json::object& body) {
  AEGIS_TRY_VOID(
      http::reject_unknown_fields(body, {"collection", "text", "chunks", "source", "metadata", "classification"}));
  IngestRequest request;
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

json::object ingest_request_json(const IngestRequest& request) {
  json::object body;
  body["collection"] = request.collection;
  if (request.text) body["text"] = *request.text;
  if (!request.chunks.empty()) {
    json::array chunks;
    for (const auto& chunk : request.chunks) chunks.emplace_back(chunk);
    body["chunks"] = std::move(chunks);
  }
  if (!request.source.empty()) body["source"] = request.source;
  if (!request.metadata_json.empty() && request.metadata_json != "{}") {
    body["metadata"] = json::parse(request.metadata_json);
  }
  if (request.declared) body["classification"] = to_string(*request.declared);
  return body;
}

Result<QueryRequest> parse_query_request(const json::object& body) {
  AEGIS_TRY_VOID(http::reject_unknown_fields(body, {"collection", "query", "top_k", "filter"}));
  AEGIS_TRY(collection, text_field(body, "collection", true));
  AEGIS_TRY(query, text_field(body, "query", true));
  AEGIS_TRY(top_k, top_k_field(body));
  MetadataFilter filter;
  if (const auto* given = body.if_contains("filter")) {
    AEGIS_TRY(parsed, parse_metadata_filter(*given));
    filter = std::move(parsed);
  }
  return QueryRequest{std::move(collection), std::move(query), top_k, std::move(filter)};
}

Result<AnswerRequest> parse_answer_request(const json::object& body) {
  AEGIS_TRY_VOID(http::reject_unknown_fields(body, {"collection", "question", "top_k", "max_tokens"}));
  AEGIS_TRY(collection, text_field(body, "collection", true));
  AEGIS_TRY(question, text_field(body, "question", true));
  AEGIS_TRY(top_k, top_k_field(body));
  AnswerRequest out{std::move(collection), std::move(question), top_k, std::nullopt};
  if (const auto* max = body.if_contains("max_tokens"); max != nullptr && !max->is_null()) {
    if (!max->is_int64() || max->get_int64() < 1) {
      return make_error(ErrorCode::invalid_request, "max_tokens must be a positive integer");
    }
    out.max_tokens = max->get_int64();
  }
  return out;
}

json::object answer_request_json(const AnswerRequest& request) {
  json::object body{{"collection", request.collection},
                    {"question", request.question},
                    {"top_k", static_cast<std::int64_t>(request.top_k)}};
  if (request.max_tokens) body["max_tokens"] = *request.max_tokens;
  return body;
}

json::object document_json(const DocumentRecord& doc, bool summary) {
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

}  // namespace aegis::rag
