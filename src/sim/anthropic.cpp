// The Anthropic Messages API as documented at docs.anthropic.com:
// POST /v1/messages with x-api-key and anthropic-version headers; a "message"
// object, or with "stream": true the SSE sequence message_start,
// content_block_start, ping, content_block_delta..., content_block_stop,
// message_delta, message_stop; errors {"type":"error","error":{...}}.
#include <boost/json/array.hpp>

#include <algorithm>

#include "core/encoding.hpp"
#include "core/json.hpp"
#include "sim/protocols.hpp"

namespace aegis::sim::detail {

namespace json = boost::json;

namespace {

constexpr std::string_view kKnownFields[] = {"model",
                                             "messages",
                                             "max_tokens",
                                             "system",
                                             "metadata",
                                             "stop_sequences",
                                             "stream",
                                             "temperature",
                                             "top_p",
                                             "top_k",
                                             "tools",
                                             "tool_choice",
                                             "thinking",
                                             "service_tier",
                                             "container",
                                             "mcp_servers",
                                             "context_management",
                                             "cache_control"};

std::string request_id_for(const Context& context) { return "req_" + hex_id(context.sequence * 31 + 7, 24); }

Reply invalid(std::string message, const Context& context) {
  return anthropic_error(400, "invalid_request_error", std::move(message), context);
}

std::string_view stop_reason_name(StopReason stop) {
  switch (stop) {
    case StopReason::end_turn: return "end_turn";
    case StopReason::max_tokens: return "max_tokens";
    case StopReason::stop_sequence: return "stop_sequence";
    case StopReason::tool_use: return "tool_use";
  }
  return "end_turn";
}

json::object usage_object(const CacheUsage& input, std::int64_t output_tokens) {
  return json::object{{"input_tokens", input.input_tokens},
                      {"cache_creation_input_tokens", input.cache_write_tokens},
                      {"cache_read_input_tokens", input.cache_read_tokens},
                      {"cache_creation", json::object{{"ephemeral_5m_input_tokens",
                                                       input.cache_write_tokens - input.cache_write_1h_tokens},
                                                      {"ephemeral_1h_input_tokens", input.cache_write_1h_tokens}}},
                      {"output_tokens", output_tokens}};
}

// The text a block counts toward input: a text block's text, a tool result's content.
std::size_t block_text_bytes(const json::value& block) {
  if (block.is_string()) return block.get_string().size();
  if (!block.is_object()) return 0;
  const auto& b = block.get_object();
  if (const auto* text = b.if_contains("text"); text && text->is_string()) return text->get_string().size();
  if (const auto* content = b.if_contains("content")) return content_text(*content).size();
  return 0;
}

// Prompt caching: the prefix through each cache_control breakpoint, in the
// order the API reads a request (tools, system, messages), then the whole
// prompt when the top-level cache_control (automatic caching) is set.
std::vector<CachePrefix> cache_prefixes(const json::object& body) {
  std::vector<CachePrefix> out;
  std::string seen(body.at("model").get_string());
  std::size_t bytes = 0;
  auto breakpoint = [&](const json::value& cc) {
    if (!cc.is_object()) return;
    const auto* ttl = cc.get_object().if_contains("ttl");
    out.push_back(CachePrefix{fnv1a64(seen), bytes, ttl && ttl->is_string() && ttl->get_string() == "1h"});
  };
  auto block = [&](const json::value& b) {
    seen += to_json(b);
    bytes += block_text_bytes(b);
    if (b.is_object()) {
      if (const auto* cc = b.get_object().if_contains("cache_control")) breakpoint(*cc);
    }
  };
  auto content = [&](const json::value& c) {
    if (c.is_array()) {
      for (const auto& b : c.get_array()) block(b);
    } else {
      block(c);
    }
  };
  if (const auto* tools = body.if_contains("tools"); tools && tools->is_array()) {
    for (const auto& t : tools->get_array()) {
      seen += to_json(t);
      if (const auto* cc = t.get_object().if_contains("cache_control")) breakpoint(*cc);
    }
  }
  if (const auto* system = body.if_contains("system")) content(*system);
  for (const auto& m : body.at("messages").get_array()) {
    seen += m.get_object().at("role").get_string();
    content(m.get_object().at("content"));
  }
  if (const auto* top = body.if_contains("cache_control")) breakpoint(*top);
  return out;
}

// Checks the headers every Anthropic endpoint needs.
std::optional<Reply> check_headers(const http::HttpRequest& request, const Context& context) {
  auto key = request.header("x-api-key");
  if (!key) return anthropic_error(401, "authentication_error", "x-api-key header is required", context);
  if (key->empty()) return anthropic_error(401, "authentication_error", "invalid x-api-key", context);
  auto version = request.header("anthropic-version");
  if (!version) return invalid("anthropic-version: header is required", context);
  if (*version != "2023-06-01" && *version != "2023-01-01") {
    return invalid("anthropic-version: \"" + std::string(*version) + "\" is not a valid version", context);
  }
  return std::nullopt;
}

const json::string* string_field(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? &v->get_string() : nullptr;
}

// An image or document block as the API validates it (its error paths name
// the source variant: "...image.source.base64.media_type").
std::optional<std::string> check_media_block(const json::object& block, const std::string& at, bool image) {
  const std::string kind = image ? "image" : "document";
  const auto* source_value = block.if_contains("source");
  if (!source_value) return at + "." + kind + ".source: Field required";
  if (!source_value->is_object()) return at + "." + kind + ".source: Input should be a valid dictionary";
  const auto& source = source_value->get_object();
  const auto* type = string_field(source, "type");
  const std::string base = at + "." + kind + ".source";
  if (!type) return base + ": Unable to extract tag using discriminator 'type'";
  if (*type == "url") {
    const auto* url = string_field(source, "url");
    if (!url) return base + ".url.url: Field required";
    if (!url->starts_with("https://") && !url->starts_with("http://")) return base + ".url.url: Invalid URL";
    return std::nullopt;
  }
  if (*type == "file") {
    if (!string_field(source, "file_id")) return base + ".file.file_id: Field required";
    return std::nullopt;
  }
  if (*type != "base64") {
    return base + ": Input tag '" + std::string(*type) +
           "' found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'";
  }
  const auto* media_type = string_field(source, "media_type");
  if (!media_type) return base + ".base64.media_type: Field required";
  if (image && *media_type != "image/jpeg" && *media_type != "image/png" && *media_type != "image/gif" &&
      *media_type != "image/webp") {
    return base + ".base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'";
  }
  if (!image && *media_type != "application/pdf") return base + ".base64.media_type: Input should be 'application/pdf'";
  const auto* data = string_field(source, "data");
  if (!data) return base + ".base64.data: Field required";
  const auto bytes = base64_decode(*data);
  if (!bytes || bytes->empty()) return base + ".base64.data: invalid base64 data";
  const std::string_view found = file_signature(*bytes);
  if (!image) {
    if (found != "application/pdf") return at + ".document.source.base64.data: The PDF specified was not valid.";
    return std::nullopt;
  }
  if (found.empty() || found == "application/pdf") return at + ".image.source.base64.data: Could not process image";
  if (found != *media_type) {
    return at + ".image.source.base64.data: The image was specified using the " + std::string(*media_type) +
           " media type, but the image appears to be a " + std::string(found) + " image";
  }
  return std::nullopt;
}

// `media_tokens` counts the images and documents; nullptr where only text
// blocks are allowed (the system prompt).
std::optional<std::string> check_content(const json::value& content, const std::string& where,
                                         std::int64_t* media_tokens) {
  if (content.is_string()) return std::nullopt;
  if (!content.is_array()) return where + ": Input should be a valid string or a valid list";
  std::size_t i = 0;
  for (const auto& block : content.get_array()) {
    const std::string at = where + "." + std::to_string(i++);
    if (!block.is_object()) return at + ": Input should be a valid dictionary";
    const auto* type = block.get_object().if_contains("type");
    if (!type || !type->is_string()) return at + ".type: Field required";
    const auto& t = type->get_string();
    if (t == "text") {
      const auto* text = block.get_object().if_contains("text");
      if (!text || !text->is_string()) return at + ".text: Field required";
    } else if (t == "image" || t == "document") {
      if (!media_tokens) return at + ".type: Input should be 'text'";
      if (auto bad = check_media_block(block.get_object(), at, t == "image")) return bad;
      *media_tokens += t == "image" ? kImageTokens : kDocumentTokens;
    }
  }
  return std::nullopt;
}

}  // namespace

Reply anthropic_error(int status, std::string_view type, std::string message, const Context& context) {
  const std::string request_id = request_id_for(context);
  json::object error{{"type", type}, {"message", std::move(message)}};
  Reply reply = json_reply(Protocol::anthropic, status,
                           json::object{{"type", "error"}, {"error", std::move(error)}, {"request_id", request_id}});
  reply.headers.push_back({"request-id", request_id});
  return reply;
}

Reply anthropic_models(const http::HttpRequest& request, const Context& context) {
  if (auto rejected = check_headers(request, context)) return std::move(*rejected);
  struct Model {
    const char* id;
    const char* name;
    const char* created;
  };
  static constexpr Model kModels[] = {
      {"claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z"},
      {"claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"},
      {"claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22T00:00:00Z"},
  };
  json::array data;
  for (const auto& m : kModels) {
    data.push_back(json::object{{"type", "model"}, {"id", m.id}, {"display_name", m.name}, {"created_at", m.created}});
  }
  Reply reply = json_reply(Protocol::anthropic, 200,
                           json::object{{"data", std::move(data)},
                                        {"has_more", false},
                                        {"first_id", kModels[0].id},
                                        {"last_id", kModels[std::size(kModels) - 1].id}});
  reply.headers.push_back({"request-id", request_id_for(context)});
  return reply;
}

Reply anthropic_messages(const http::HttpRequest& request, const Context& context) {
  if (auto rejected = check_headers(request, context)) return std::move(*rejected);
  auto parsed = parse_body(request.body);
  if (!parsed.object) return invalid("There was an issue with the format of your request: " + parsed.error, context);
  const json::object& body = *parsed.object;

  for (const auto& entry : body) {
    if (std::find(std::begin(kKnownFields), std::end(kKnownFields), entry.key()) == std::end(kKnownFields)) {
      return invalid(std::string(entry.key()) + ": Extra inputs are not permitted", context);
    }
  }

  const auto* model = body.if_contains("model");
  if (!model) return invalid("model: Field required", context);
  if (!model->is_string() || model->get_string().empty())
    return invalid("model: Input should be a valid string", context);

  const auto* max_tokens = body.if_contains("max_tokens");
  if (!max_tokens) return invalid("max_tokens: Field required", context);
  auto max = as_int(*max_tokens);
  if (!max) return invalid("max_tokens: Input should be a valid integer", context);
  if (*max < 1) return invalid("max_tokens: Input should be greater than or equal to 1", context);

  const auto* messages = body.if_contains("messages");
  if (!messages) return invalid("messages: Field required", context);
  if (!messages->is_array()) return invalid("messages: Input should be a valid list", context);
  if (messages->get_array().empty()) return invalid("messages: at least one message is required", context);

  Conversation conversation;
  conversation.max_tokens = *max;

  if (const auto* system = body.if_contains("system")) {
    if (!system->is_string() && !system->is_array()) {
      return invalid("system: Input should be a valid string or a valid list", context);
    }
    if (auto bad = check_content(*system, "system", nullptr)) return invalid(*bad, context);
    conversation.text_bytes += content_text(*system).size();
  }

  std::size_t index = 0;
  const json::object* last_user = nullptr;
  for (const auto& m : messages->get_array()) {
    const std::string at = "messages." + std::to_string(index++);
    if (!m.is_object()) return invalid(at + ": Input should be a valid dictionary", context);
    const auto& msg = m.get_object();
    const auto* role = msg.if_contains("role");
    if (!role) return invalid(at + ".role: Field required", context);
    if (!role->is_string() || (role->get_string() != "user" && role->get_string() != "assistant")) {
      return invalid(at + ".role: Input should be 'user' or 'assistant'", context);
    }
    const auto* content = msg.if_contains("content");
    if (!content) return invalid(at + ".content: Field required", context);
    if (auto bad = check_content(*content, at + ".content", &conversation.media_tokens)) return invalid(*bad, context);
    conversation.text_bytes += content_text(*content).size();
    if (role->get_string() == "user") last_user = &msg;
  }

  if (const auto* stream = body.if_contains("stream"); stream && !stream->is_bool()) {
    return invalid("stream: Input should be a valid boolean", context);
  }
  const bool streaming = body.contains("stream") && body.at("stream").as_bool();

  if (const auto* stops = body.if_contains("stop_sequences")) {
    if (!stops->is_array()) return invalid("stop_sequences: Input should be a valid list", context);
    for (const auto& s : stops->get_array()) {
      if (!s.is_string()) return invalid("stop_sequences: Input should be a list of strings", context);
      conversation.stop_sequences.emplace_back(s.get_string());
    }
  }
  for (std::string_view name : {"temperature", "top_p"}) {
    if (const auto* v = body.if_contains(name)) {
      if (!is_number(*v)) return invalid(std::string(name) + ": Input should be a valid number", context);
      const double d = as_double(*v);
      if (d < 0.0 || d > 1.0) return invalid(std::string(name) + ": range: 0..1", context);
    }
  }
  if (const auto* top_k = body.if_contains("top_k"); top_k && (!as_int(*top_k) || *as_int(*top_k) < 0)) {
    return invalid("top_k: Input should be a non-negative integer", context);
  }
  if (const auto* metadata = body.if_contains("metadata"); metadata && !metadata->is_object()) {
    return invalid("metadata: Input should be a valid dictionary", context);
  }
  if (const auto* tools = body.if_contains("tools")) {
    if (!tools->is_array()) return invalid("tools: Input should be a valid list", context);
    std::size_t i = 0;
    for (const auto& t : tools->get_array()) {
      const std::string at = "tools." + std::to_string(i++);
      if (!t.is_object()) return invalid(at + ": Input should be a valid dictionary", context);
      const auto& tool = t.get_object();
      const auto* name = tool.if_contains("name");
      if (!name || !name->is_string() || name->get_string().empty())
        return invalid(at + ".name: Field required", context);
      const auto* type = tool.if_contains("type");
      const bool custom = !type || (type->is_string() && type->get_string() == "custom");
      if (custom) {
        const auto* schema = tool.if_contains("input_schema");
        if (!schema) return invalid(at + ".input_schema: Field required", context);
        if (!schema->is_object()) return invalid(at + ".input_schema: Input should be a valid dictionary", context);
      }
      conversation.tool_names.emplace_back(name->get_string());
    }
  }
  if (const auto* choice = body.if_contains("tool_choice")) {
    if (!choice->is_object()) return invalid("tool_choice: Input should be a valid dictionary", context);
    const auto* type = choice->get_object().if_contains("type");
    if (!type || !type->is_string()) return invalid("tool_choice.type: Field required", context);
    const auto t = type->get_string();
    if (t != "auto" && t != "any" && t != "tool" && t != "none") {
      return invalid("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'", context);
    }
    if (t == "none") conversation.tools_allowed = false;
  }

  // What the answer quotes: the last user turn. A tool call may answer only a
  // plain user message (not a tool_result, not an assistant prefill).
  const auto& last = messages->get_array().back().get_object();
  if (last_user) conversation.echo_text = content_text(last_user->at("content"));
  conversation.user_text_last = last.at("role").get_string() == "user";
  if (conversation.user_text_last && last.at("content").is_array()) {
    for (const auto& block : last.at("content").get_array()) {
      if (block.get_object().at("type").get_string() == "tool_result") conversation.user_text_last = false;
    }
  }

  const Answer answer = make_answer(conversation);
  const CacheUsage input = anthropic_cache_usage(context.prompt_cache, cache_prefixes(body), answer.input_tokens);
  const std::string model_name(model->get_string());
  const std::string id = unique_id("msg_", request, context);
  const std::string tool_id = unique_id("toolu_", request, context);
  const std::string stop = std::string(stop_reason_name(answer.stop));
  const json::value stop_sequence =
      answer.stop == StopReason::stop_sequence ? json::value(answer.stop_sequence) : json::value(nullptr);

  Reply reply;
  reply.protocol = Protocol::anthropic;
  reply.headers.push_back({"request-id", request_id_for(context)});
  reply.output_tokens = answer.output_tokens;

  if (!streaming) {
    json::array content;
    if (answer.tool_call) {
      content.push_back(
          json::object{{"type", "tool_use"}, {"id", tool_id}, {"name", answer.tool_name}, {"input", json::object{}}});
    } else {
      content.push_back(json::object{{"type", "text"}, {"text", answer.text}});
    }
    json::object message{{"id", id},
                         {"type", "message"},
                         {"role", "assistant"},
                         {"model", model_name},
                         {"content", std::move(content)},
                         {"stop_reason", stop},
                         {"stop_sequence", stop_sequence},
                         {"usage", usage_object(input, answer.output_tokens)}};
    reply.headers.push_back({"content-type", "application/json"});
    reply.body = to_json(message);
    return reply;
  }

  reply.streaming = true;
  reply.format = StreamFormat::sse;
  reply.headers.push_back({"content-type", "text/event-stream; charset=utf-8"});
  reply.headers.push_back({"cache-control", "no-cache"});
  auto add = [&reply](std::string event, const json::object& data, bool token = false) {
    reply.frames.push_back(Frame{std::move(event), to_json(data), token});
  };
  add("message_start", json::object{{"type", "message_start"},
                                    {"message", json::object{{"id", id},
                                                             {"type", "message"},
                                                             {"role", "assistant"},
                                                             {"model", model_name},
                                                             {"content", json::array{}},
                                                             {"stop_reason", nullptr},
                                                             {"stop_sequence", nullptr},
                                                             {"usage", usage_object(input, 1)}}}});
  json::object block =
      answer.tool_call
          ? json::object{{"type", "tool_use"}, {"id", tool_id}, {"name", answer.tool_name}, {"input", json::object{}}}
          : json::object{{"type", "text"}, {"text", ""}};
  add("content_block_start",
      json::object{{"type", "content_block_start"}, {"index", 0}, {"content_block", std::move(block)}});
  add("ping", json::object{{"type", "ping"}});
  auto delta = [&](json::object d) {
    add("content_block_delta", json::object{{"type", "content_block_delta"}, {"index", 0}, {"delta", std::move(d)}},
        true);
  };
  if (answer.tool_call) {
    delta(json::object{{"type", "input_json_delta"}, {"partial_json", ""}});
    delta(json::object{{"type", "input_json_delta"}, {"partial_json", "{}"}});
  } else {
    for (const auto& piece : answer.pieces) delta(json::object{{"type", "text_delta"}, {"text", piece}});
  }
  add("content_block_stop", json::object{{"type", "content_block_stop"}, {"index", 0}});
  add("message_delta", json::object{{"type", "message_delta"},
                                    {"delta", json::object{{"stop_reason", stop}, {"stop_sequence", stop_sequence}}},
                                    {"usage", usage_object(input, answer.output_tokens)}});
  add("message_stop", json::object{{"type", "message_stop"}});
  return reply;
}

}  // namespace aegis::sim::detail
