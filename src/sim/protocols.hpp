#pragma once
// One function per simulated endpoint (internal to src/sim). Each builds the
// provider's documented response shape from the request, or the provider's
// documented error shape when the request is one the real service rejects.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "sim/sim_core.hpp"

namespace aegis::sim::detail {

// Anthropic Messages API (api.anthropic.com).
Reply anthropic_messages(const http::HttpRequest& request, const Context& context);
Reply anthropic_models(const http::HttpRequest& request, const Context& context);
// {"type":"error","error":{"type","message"},"request_id"} with a request-id header.
Reply anthropic_error(int status, std::string_view type, std::string message, const Context& context);

// OpenAI chat completions / embeddings; with `deployment` set, the Azure
// OpenAI flavour of the same (model = deployment, content filter results).
Reply openai_chat(const http::HttpRequest& request, const Context& context, const std::string* deployment);
Reply openai_embeddings(const http::HttpRequest& request, const Context& context, const std::string* deployment);
Reply openai_models(const http::HttpRequest& request, const Context& context);
// {"error":{"message","type","param","code"}}; `param`/`code` null when empty.
Reply openai_error(Protocol protocol, int status, std::string message, std::string_view type,
                   std::string_view param = {}, std::string_view code = {});
// Azure's own gateway errors: {"error":{"code","message"}}.
Reply azure_error(int status, std::string_view code, std::string message);
// Azure checks shared by chat and embeddings: api-version, then the key.
std::optional<Reply> azure_preflight(const http::HttpRequest& request);

// Ollama (localhost:11434).
Reply ollama_chat(const http::HttpRequest& request, const Context& context);
Reply ollama_embed(const http::HttpRequest& request, const Context& context);
Reply ollama_embeddings_legacy(const http::HttpRequest& request, const Context& context);
Reply ollama_tags(const Context& context);
// {"error":"..."}
Reply ollama_error(int status, std::string message);

// ------------------------------------------------------------- shared bits

Reply json_reply(Protocol protocol, int status, const boost::json::value& body);
Reply json_text_reply(Protocol protocol, int status, std::string body);

// Parses a body that must be a JSON object; the error text otherwise.
struct ParsedBody {
  std::optional<boost::json::object> object;
  std::string error;
};
ParsedBody parse_body(std::string_view body);

// Text of a content value: a string, or an array of parts whose "text"
// fields are joined with '\n' (tool results nested one level are included).
std::string content_text(const boost::json::value& content);

std::string_view json_type_name(const boost::json::value& value) noexcept;
std::optional<std::int64_t> as_int(const boost::json::value& value) noexcept;
bool is_number(const boost::json::value& value) noexcept;
double as_double(const boost::json::value& value) noexcept;

std::string unique_id(std::string_view prefix, const http::HttpRequest& request, const Context& context,
                      std::size_t digits = 24);

}  // namespace aegis::sim::detail
