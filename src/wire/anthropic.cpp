#include "wire/anthropic.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>

#include "core/data_url.hpp"
#include "core/encoding.hpp"
#include "core/json.hpp"
#include "core/media_type.hpp"
#include "wire/common.hpp"

namespace aegis::wire::anthropic {

namespace json = boost::json;
using namespace detail;

namespace {

constexpr std::string_view kProvider = "anthropic";

std::string_view string_or_empty(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string_view(v->get_string().data(), v->get_string().size());
}

[[noreturn]] void unsupported_block(const Context& ctx, const std::string& path, std::string_view type) {
  if (type == "image" || type == "document") {
    fail_field(ctx, path, std::string(type) + " blocks are only supported in a user message's content");
  }
  fail_field(ctx, child(path, "type"), "unsupported content block type");
}

// A block's cache_control, kept as sent (null when absent); it must be an object.
json::value cache_control_of(const Context& ctx, const json::object& block, const std::string& path) {
  const json::value* cc = field(block, "cache_control");
  if (cc == nullptr) return nullptr;
  if (!cc->is_object()) fail_field(ctx, child(path, "cache_control"), "must be an object");
  // A copy in the default storage: the request was parsed into a per-request
  // arena (http::decode_json_object) that is gone once decoding returns, and
  // a plain copy would keep pointing into it.
  return json::value(*cc, json::storage_ptr());
}

// An image or document block of a user message: a base64 source (decoded
// and checked against its media_type) or a url source. Files uploaded to
// Anthropic ("file") are out of the gateway's sight, and "content"/"text"
// sources are not the images and PDFs the canonical model carries.
Attachment media_block(const Context& ctx, const json::object& b, const std::string& p, std::string_view type) {
  const bool image = type == "image";
  const std::string sp = child(p, "source");
  const auto& source = req_object(ctx, b, "source", p);
  const std::string_view source_type = req_string(ctx, source, "type", sp);
  Attachment a;
  if (source_type == "base64") {
    const std::string tp = child(sp, "media_type");
    const std::string_view media_type = req_string(ctx, source, "media_type", sp);
    if (image && !is_supported_image_type(media_type))
      fail_field(ctx, tp, "must be one of image/jpeg, image/png, image/gif, image/webp");
    if (!image && media_type != "application/pdf") fail_field(ctx, tp, "must be application/pdf");
    const std::string dp = child(sp, "data");
    a = inline_attachment(ctx, image ? Attachment::Kind::image : Attachment::Kind::document, std::string(media_type),
                          base64_bytes(ctx, req_string(ctx, source, "data", sp), dp), tp, dp);
  } else if (source_type == "url") {
    const std::string_view url = req_string(ctx, source, "url", sp);
    if (!is_http_url(url)) fail_field(ctx, child(sp, "url"), "must be an http(s) URL");
    a.kind = image ? Attachment::Kind::image : Attachment::Kind::document;
    a.url = std::string(url);
  } else if (source_type == "file") {
    fail_field(ctx, child(sp, "type"), "file sources are not supported; send the file inline as a base64 source");
  } else {
    fail_field(ctx, child(sp, "type"), image ? "must be base64 or url" : "must be base64 or url (PDF documents only)");
  }
  if (!image) a.filename = std::string(opt_string(ctx, b, "title", p).value_or(""));
  a.cache_control = cache_control_of(ctx, b, p);
  return a;
}

json::object media_block_json(const Attachment& a) {
  json::object source;
  if (a.data.empty()) {
    source = json::object{{"type", "url"}, {"url", a.url}};
  } else {
    source = json::object{{"type", "base64"}, {"media_type", a.media_type}, {"data", base64_encode(a.data)}};
  }
  const bool image = a.kind == Attachment::Kind::image;
  json::object block{{"type", image ? "image" : "document"}, {"source", std::move(source)}};
  if (!image && !a.filename.empty()) block["title"] = a.filename;
  if (!a.cache_control.is_null()) block["cache_control"] = a.cache_control;
  return block;
}

// Text of system / tool_result content: a string or an array of text blocks
// (joined with '\n'). `blocks` gets every block when one of them carries
// cache_control, so the breakpoint can be sent where the client put it.
std::string text_blocks(const Context& ctx, const json::value& v, const std::string& path,
                        std::vector<TextBlock>& blocks) {
  if (v.is_string()) return std::string(v.get_string());
  if (!v.is_array()) fail_field(ctx, path, "must be a string or an array of text blocks");
  const auto& items = v.get_array();
  std::string text;
  std::vector<TextBlock> parsed;
  bool cached = false;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string p = element(path, i);
    const auto& b = as_object(ctx, items[i], p);
    const std::string_view type = req_string(ctx, b, "type", p);
    if (type != "text") unsupported_block(ctx, p, type);
    if (i > 0) text += '\n';
    const std::string_view t = req_string(ctx, b, "text", p);
    text += t;
    parsed.push_back(TextBlock{std::string(t), cache_control_of(ctx, b, p)});
    cached = cached || !parsed.back().cache_control.is_null();
  }
  if (cached) blocks = std::move(parsed);
  return text;
}

// A content array for `text` as its blocks (when it has them) or one text block.
json::array text_content(const std::string& text, const std::vector<TextBlock>& blocks) {
  json::array content;
  if (blocks.empty()) {
    if (!text.empty()) content.push_back(json::object{{"type", "text"}, {"text", text}});
    return content;
  }
  for (const auto& b : blocks) {
    json::object block{{"type", "text"}, {"text", b.text}};
    if (!b.cache_control.is_null()) block["cache_control"] = b.cache_control;
    content.push_back(std::move(block));
  }
  return content;
}

// A user message's content blocks: attachments first, then the text.
json::array user_content(const Message& m) {
  json::array content;
  for (const auto& a : m.attachments) content.push_back(media_block_json(a));
  for (auto& block : text_content(m.text, m.blocks)) content.push_back(std::move(block));
  return content;
}

// One Anthropic message -> one or more canonical messages (tool_result blocks
// become Role::tool messages, in order).
void parse_message(const Context& ctx, const json::object& m, const std::string& path, std::vector<Message>& out) {
  const std::string_view role = req_string(ctx, m, "role", path);
  if (role != "user" && role != "assistant") {
    if (role == "system")
      fail_field(ctx, child(path, "role"), "must be user or assistant; use the top-level system field");
    fail_field(ctx, child(path, "role"), "must be user or assistant");
  }
  const json::value* content = field(m, "content");
  const std::string cpath = child(path, "content");
  if (content == nullptr) fail_field(ctx, cpath, "is required");
  const bool assistant = role == "assistant";
  if (content->is_string()) {
    Message msg;
    msg.role = assistant ? Role::assistant : Role::user;
    msg.text = std::string(content->get_string());
    out.push_back(std::move(msg));
    return;
  }
  if (!content->is_array()) fail_field(ctx, cpath, "must be a string or an array of content blocks");
  const auto& blocks = content->get_array();

  if (assistant) {
    Message msg;
    msg.role = Role::assistant;
    bool cached = false;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const std::string p = element(cpath, i);
      const auto& b = as_object(ctx, blocks[i], p);
      const std::string_view type = req_string(ctx, b, "type", p);
      if (type == "text") {
        const std::string_view t = req_string(ctx, b, "text", p);
        msg.text += t;
        msg.blocks.push_back(TextBlock{std::string(t), cache_control_of(ctx, b, p)});
        cached = cached || !msg.blocks.back().cache_control.is_null();
      } else if (type == "tool_use") {
        ToolCall tc;
        tc.id = std::string(req_string(ctx, b, "id", p));
        tc.name = std::string(req_string(ctx, b, "name", p));
        if (tc.id.empty()) fail_field(ctx, child(p, "id"), "must not be empty");
        if (tc.name.empty()) fail_field(ctx, child(p, "name"), "must not be empty");
        const json::object* input = opt_object(ctx, b, "input", p);
        tc.arguments_json = input != nullptr ? to_json(*input) : "{}";
        tc.cache_control = cache_control_of(ctx, b, p);
        msg.tool_calls.push_back(std::move(tc));
      } else if (type == "thinking" || type == "redacted_thinking") {
        continue;  // earlier reasoning: not part of the canonical conversation
      } else if (type == "tool_result") {
        fail_field(ctx, child(p, "type"), "tool_result blocks belong in user messages");
      } else {
        unsupported_block(ctx, p, type);
      }
    }
    if (!cached) msg.blocks.clear();
    out.push_back(std::move(msg));
    return;
  }

  std::optional<std::string> pending;  // user text not yet emitted
  std::vector<TextBlock> pending_blocks;
  bool pending_cached = false;  // one of pending_blocks carries cache_control
  std::vector<Attachment> pending_media;
  bool emitted = false;
  auto flush = [&] {
    if (!pending && pending_media.empty()) return;
    Message msg;
    msg.role = Role::user;
    if (pending) msg.text = std::move(*pending);
    if (pending_cached) msg.blocks = std::move(pending_blocks);
    msg.attachments = std::move(pending_media);
    pending.reset();
    pending_blocks.clear();
    pending_media.clear();
    pending_cached = false;
    out.push_back(std::move(msg));
    emitted = true;
  };
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const std::string p = element(cpath, i);
    const auto& b = as_object(ctx, blocks[i], p);
    const std::string_view type = req_string(ctx, b, "type", p);
    if (type == "text") {
      const std::string_view text = req_string(ctx, b, "text", p);
      if (pending) {
        *pending += '\n';
        *pending += text;
      } else {
        pending = std::string(text);
      }
      pending_blocks.push_back(TextBlock{std::string(text), cache_control_of(ctx, b, p)});
      pending_cached = pending_cached || !pending_blocks.back().cache_control.is_null();
    } else if (type == "tool_result") {
      flush();
      Message msg;
      msg.role = Role::tool;
      msg.tool_call_id = std::string(req_string(ctx, b, "tool_use_id", p));
      if (msg.tool_call_id.empty()) fail_field(ctx, child(p, "tool_use_id"), "must not be empty");
      if (const json::value* c = field(b, "content")) msg.text = text_blocks(ctx, *c, child(p, "content"), msg.blocks);
      msg.tool_error = opt_bool(ctx, b, "is_error", p).value_or(false);
      msg.cache_control = cache_control_of(ctx, b, p);
      out.push_back(std::move(msg));
      emitted = true;
    } else if (type == "tool_use") {
      fail_field(ctx, child(p, "type"), "tool_use blocks belong in assistant messages");
    } else if (type == "image" || type == "document") {
      pending_media.push_back(media_block(ctx, b, p, type));
    } else {
      unsupported_block(ctx, p, type);
    }
  }
  flush();
  if (!emitted) {
    Message msg;
    msg.role = Role::user;
    out.push_back(std::move(msg));
  }
}

bool is_known_request_field(std::string_view key) {
  static constexpr std::string_view known[] = {"model", "messages",       "system", "max_tokens",  "temperature",
                                               "top_p", "stop_sequences", "tools",  "tool_choice", "stream"};
  return std::find(std::begin(known), std::end(known), key) != std::end(known);
}

json::array content_blocks(const std::string& text, const std::vector<ToolCall>& calls,
                           const std::vector<TextBlock>& blocks = {}) {
  json::array content = text_content(text, blocks);
  for (const auto& tc : calls) {
    json::object block{
        {"type", "tool_use"}, {"id", tc.id}, {"name", tc.name}, {"input", arguments_object(tc.arguments_json)}};
    if (!tc.cache_control.is_null()) block["cache_control"] = tc.cache_control;
    content.push_back(std::move(block));
  }
  return content;
}

// An Anthropic `usage` object into `usage`: only the counts it holds
// (message_delta repeats some, cumulatively). Anthropic's buckets are the
// canonical ones: input_tokens excludes the cache reads and writes.
void read_usage(const Context& ctx, const json::object& u, const std::string& path, Usage& usage) {
  if (field(u, "input_tokens") != nullptr) usage.input_tokens = count(ctx, u, "input_tokens", path);
  if (field(u, "output_tokens") != nullptr) usage.output_tokens = count(ctx, u, "output_tokens", path);
  if (field(u, "cache_read_input_tokens") != nullptr) {
    usage.cache_read_tokens = count(ctx, u, "cache_read_input_tokens", path);
  }
  const bool creation_total = field(u, "cache_creation_input_tokens") != nullptr;
  if (creation_total) usage.cache_write_tokens = count(ctx, u, "cache_creation_input_tokens", path);
  if (const json::object* by_ttl = opt_object(ctx, u, "cache_creation", path)) {
    const std::string p = child(path, "cache_creation");
    const std::int64_t five_min = count(ctx, *by_ttl, "ephemeral_5m_input_tokens", p);
    usage.cache_write_1h_tokens = count(ctx, *by_ttl, "ephemeral_1h_input_tokens", p);
    if (!creation_total) usage.cache_write_tokens = Usage::saturating_add(five_min, usage.cache_write_1h_tokens);
  }
  usage.cache_write_1h_tokens = std::min(usage.cache_write_1h_tokens, usage.cache_write_tokens);
}

// The client-facing usage object; the cache counts only when there are some.
json::object usage_object(const Usage& u) {
  json::object out{{"input_tokens", u.input_tokens}, {"output_tokens", u.output_tokens}};
  if (u.cache_read_tokens > 0 || u.cache_write_tokens > 0) {
    out["cache_creation_input_tokens"] = u.cache_write_tokens;
    out["cache_read_input_tokens"] = u.cache_read_tokens;
    if (u.cache_write_tokens > 0) {
      out["cache_creation"] =
          json::object{{"ephemeral_5m_input_tokens", u.cache_write_tokens - u.cache_write_1h_tokens},
                       {"ephemeral_1h_input_tokens", u.cache_write_1h_tokens}};
    }
  }
  return out;
}

int status_for_error_type(std::string_view type) {
  if (type == "invalid_request_error") return 400;
  if (type == "authentication_error") return 401;
  if (type == "billing_error") return 402;
  if (type == "permission_error") return 403;
  if (type == "not_found_error") return 404;
  if (type == "request_too_large") return 413;
  if (type == "rate_limit_error") return 429;
  if (type == "api_error") return 500;
  if (type == "timeout_error") return 504;
  if (type == "overloaded_error") return 529;
  return 0;
}

UpstreamFailure failure_from(const json::value& body) {
  UpstreamFailure f;
  if (!body.is_object()) return f;
  const json::value* e = body.get_object().if_contains("error");
  if (e == nullptr) return f;
  if (e->is_string()) {
    f.message = std::string(e->get_string());
  } else if (e->is_object()) {
    f.type = std::string(string_or_empty(e->get_object(), "type"));
    f.message = std::string(string_or_empty(e->get_object(), "message"));
  }
  return f;
}

}  // namespace

// ---- Chat requests ------------------------------------------------------------------

Result<ChatRequest> parse_chat_request(const json::value& body, const RequestLimits& limits) {
  return guarded<ChatRequest>([&]() -> ChatRequest {
    const Context ctx = Context::request();
    const auto& o = as_object(ctx, body, "");
    ChatRequest r;
    r.origin = WireProtocol::anthropic;
    r.model = std::string(req_string(ctx, o, "model", ""));
    if (r.model.empty()) fail_field(ctx, "model", "must not be empty");
    if (field(o, "max_tokens") == nullptr) fail_field(ctx, "max_tokens", "is required");
    r.max_tokens = opt_positive(ctx, o, "max_tokens", "");

    const auto& messages = req_array(ctx, o, "messages", "");
    if (messages.empty()) fail_field(ctx, "messages", "must contain at least one message");
    // Shapes first, before any item is converted.
    enforce(check_item_limit("messages", messages.size(), limits.max_messages, "max_messages"));
    const json::array* tools = opt_array(ctx, o, "tools", "");
    if (tools != nullptr) enforce(check_item_limit("tools", tools->size(), limits.max_tools, "max_tools"));
    TextTally text(limits.max_text_bytes);

    if (const json::value* system = field(o, "system")) r.system = text_blocks(ctx, *system, "system", r.system_blocks);
    enforce(text.add(r.system.size()));
    for (std::size_t i = 0; i < messages.size(); ++i) {
      const std::string path = element("messages", i);
      const std::size_t first = r.messages.size();
      parse_message(ctx, as_object(ctx, messages[i], path), path, r.messages);
      for (std::size_t m = first; m < r.messages.size(); ++m) {
        enforce(text.add(r.messages[m].text.size()));
        for (const auto& call : r.messages[m].tool_calls) {
          enforce(text.add(call.name.size() + call.arguments_json.size()));
        }
      }
    }

    r.temperature = opt_number_in(ctx, o, "temperature", "", 0.0, 1.0);
    r.top_p = opt_number_in(ctx, o, "top_p", "", 0.0, 1.0);
    if (opt_array(ctx, o, "stop_sequences", "") != nullptr) {
      r.stop = stop_list(ctx, *field(o, "stop_sequences"), "stop_sequences", limits, text);
    }
    if (tools != nullptr) {
      for (std::size_t i = 0; i < tools->size(); ++i) {
        const std::string p = element("tools", i);
        const auto& t = as_object(ctx, (*tools)[i], p);
        if (auto type = opt_string(ctx, t, "type", p); type && *type != "custom") {
          fail_field(ctx, child(p, "type"), "server tools are not supported; only custom tools");
        }
        ToolDefinition def;
        def.name = std::string(req_string(ctx, t, "name", p));
        if (def.name.empty()) fail_field(ctx, child(p, "name"), "must not be empty");
        def.description = std::string(opt_string(ctx, t, "description", p).value_or(""));
        enforce(text.add(def.name.size() + def.description.size()));
        def.input_schema = req_object(ctx, t, "input_schema", p);
        def.cache_control = cache_control_of(ctx, t, p);
        r.tools.push_back(std::move(def));
      }
    }
    if (const json::object* choice = opt_object(ctx, o, "tool_choice", "")) {
      const std::string_view type = req_string(ctx, *choice, "type", "tool_choice");
      if (type != "auto" && type != "any" && type != "tool" && type != "none") {
        fail_field(ctx, "tool_choice.type", "must be auto, any, tool or none");
      }
      json::object canonical{{"type", type}};
      if (type == "tool") {
        const std::string_view name = req_string(ctx, *choice, "name", "tool_choice");
        canonical["name"] = name;
      }
      if (auto disable = opt_bool(ctx, *choice, "disable_parallel_tool_use", "tool_choice")) {
        canonical["disable_parallel_tool_use"] = *disable;
      }
      r.tool_choice = std::move(canonical);
    }
    r.stream = opt_bool(ctx, o, "stream", "").value_or(false);

    for (const auto& entry : o) {
      if (!is_known_request_field(entry.key())) r.passthrough.emplace(entry.key(), entry.value());
    }
    return r;
  });
}

json::object write_chat_request(const ChatRequest& request, const std::string& model) {
  json::object body;
  body["model"] = model;
  body["max_tokens"] = request.max_tokens.value_or(default_max_tokens);
  if (!request.system_blocks.empty()) {
    body["system"] = text_content(request.system, request.system_blocks);
  } else if (!request.system.empty()) {
    body["system"] = request.system;
  }

  json::array messages;
  messages.reserve(request.messages.size());
  bool last_is_tool_results = false;  // the last message is a user message of tool_result blocks
  for (const auto& m : request.messages) {
    switch (m.role) {
      case Role::user:
        if (last_is_tool_results && (!m.text.empty() || !m.attachments.empty())) {
          // What follows tool results goes in the same user turn, after them.
          auto& content = messages.back().get_object()["content"].get_array();
          for (auto& block : user_content(m)) content.push_back(std::move(block));
        } else if (!m.blocks.empty() || !m.attachments.empty()) {
          messages.push_back(json::object{{"role", "user"}, {"content", user_content(m)}});
        } else {
          messages.push_back(json::object{{"role", "user"}, {"content", m.text}});
        }
        last_is_tool_results = false;
        break;
      case Role::assistant:
        if (m.tool_calls.empty() && m.blocks.empty()) {
          messages.push_back(json::object{{"role", "assistant"}, {"content", m.text}});
        } else {
          messages.push_back(
              json::object{{"role", "assistant"}, {"content", content_blocks(m.text, m.tool_calls, m.blocks)}});
        }
        last_is_tool_results = false;
        break;
      case Role::tool: {
        json::object block{{"type", "tool_result"}, {"tool_use_id", m.tool_call_id}};
        if (m.blocks.empty()) {
          block["content"] = m.text;
        } else {
          block["content"] = text_content(m.text, m.blocks);
        }
        if (m.tool_error) block["is_error"] = true;
        if (!m.cache_control.is_null()) block["cache_control"] = m.cache_control;
        if (last_is_tool_results) {
          messages.back().get_object()["content"].get_array().push_back(std::move(block));
        } else {
          messages.push_back(json::object{{"role", "user"}, {"content", json::array{std::move(block)}}});
        }
        last_is_tool_results = true;
        break;
      }
    }
  }
  body["messages"] = std::move(messages);

  if (request.temperature) body["temperature"] = std::clamp(*request.temperature, 0.0, 1.0);
  if (request.top_p) body["top_p"] = *request.top_p;
  json::array stop;
  for (const auto& s : request.stop) {
    // The API rejects empty and whitespace-only stop sequences.
    if (s.find_first_not_of(" \t\r\n") != std::string::npos) stop.emplace_back(s);
  }
  if (!stop.empty()) body["stop_sequences"] = std::move(stop);
  if (!request.tools.empty()) {
    json::array tools;
    for (const auto& t : request.tools) {
      json::object tool{{"name", t.name}};
      if (!t.description.empty()) tool["description"] = t.description;
      tool["input_schema"] =
          t.input_schema.is_object() ? t.input_schema : json::value(json::object{{"type", "object"}});
      if (!t.cache_control.is_null()) tool["cache_control"] = t.cache_control;
      tools.push_back(std::move(tool));
    }
    body["tools"] = std::move(tools);
    if (request.tool_choice.is_object()) {
      const auto& tc = request.tool_choice.get_object();
      const std::string_view type = string_or_empty(tc, "type");
      if (type == "auto" || type == "any" || type == "tool" || type == "none") {
        json::object choice{{"type", type}};
        if (type == "tool") choice["name"] = string_or_empty(tc, "name");
        const json::value* disable = tc.if_contains("disable_parallel_tool_use");
        if (type != "none" && disable != nullptr && disable->is_bool()) choice["disable_parallel_tool_use"] = *disable;
        body["tool_choice"] = std::move(choice);
      }
    }
  }
  if (request.stream) body["stream"] = true;
  if (request.origin == WireProtocol::anthropic) merge_absent(body, request.passthrough);
  return body;
}

// ---- Chat responses ----------------------------------------------------------------------

StopReason parse_stop_reason(std::string_view stop_reason) noexcept {
  if (stop_reason == "end_turn") return StopReason::end_turn;
  if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded") return StopReason::max_tokens;
  if (stop_reason == "stop_sequence") return StopReason::stop_sequence;
  if (stop_reason == "tool_use") return StopReason::tool_use;
  if (stop_reason == "refusal") return StopReason::content_filter;
  return StopReason::unknown;
}

std::string_view stop_reason(StopReason reason) noexcept {
  switch (reason) {
    case StopReason::end_turn: return "end_turn";
    case StopReason::max_tokens: return "max_tokens";
    case StopReason::stop_sequence: return "stop_sequence";
    case StopReason::tool_use: return "tool_use";
    case StopReason::content_filter: return "refusal";
    case StopReason::unknown: return "end_turn";
  }
  return "end_turn";
}

Result<Completion> parse_chat_response(const json::value& body) {
  return guarded<Completion>([&]() -> Completion {
    const Context ctx = Context::response(kProvider);
    const auto& o = as_object(ctx, body, "");
    if (auto type = opt_string(ctx, o, "type", ""); type && *type != "message") {
      fail_field(ctx, "type", "expected \"message\"");
    }
    Completion c;
    c.id = std::string(opt_string(ctx, o, "id", "").value_or(""));
    c.model = std::string(opt_string(ctx, o, "model", "").value_or(""));
    const auto& content = req_array(ctx, o, "content", "");
    for (std::size_t i = 0; i < content.size(); ++i) {
      const std::string p = element("content", i);
      const auto& b = as_object(ctx, content[i], p);
      const std::string_view type = req_string(ctx, b, "type", p);
      if (type == "text") {
        c.text += req_string(ctx, b, "text", p);
      } else if (type == "tool_use") {
        ToolCall tc;
        tc.id = std::string(req_string(ctx, b, "id", p));
        tc.name = std::string(req_string(ctx, b, "name", p));
        const json::object* input = opt_object(ctx, b, "input", p);
        tc.arguments_json = input != nullptr ? to_json(*input) : "{}";
        c.tool_calls.push_back(std::move(tc));
      }
      // thinking, redacted_thinking and server-tool blocks are not part of the canonical answer.
    }
    if (auto reason = opt_string(ctx, o, "stop_reason", "")) {
      c.stop_reason = parse_stop_reason(*reason);
    } else {
      c.stop_reason = c.tool_calls.empty() ? StopReason::end_turn : StopReason::tool_use;
    }
    if (auto seq = opt_string(ctx, o, "stop_sequence", "")) c.stop_sequence = std::string(*seq);
    if (const json::object* usage = opt_object(ctx, o, "usage", "")) read_usage(ctx, *usage, "usage", c.usage);
    return c;
  });
}

json::object write_chat_response(const Completion& c, std::int64_t /*created_unix*/) {
  return json::object{{"id", c.id},
                      {"type", "message"},
                      {"role", "assistant"},
                      {"model", c.model},
                      {"content", content_blocks(c.text, c.tool_calls)},
                      {"stop_reason", stop_reason(c.stop_reason)},
                      {"stop_sequence", c.stop_sequence ? json::value(*c.stop_sequence) : json::value(nullptr)},
                      {"usage", usage_object(c.usage)}};
}

// ---- Stream decoding ----------------------------------------------------------------------------

Result<std::vector<StreamEvent>> StreamDecoder::feed(const http::SseParser::Event& event) {
  return guarded<std::vector<StreamEvent>>([&]() -> std::vector<StreamEvent> {
    std::vector<StreamEvent> out;
    if (finished_) return out;
    const Context ctx = Context::stream(kProvider);
    if (event.data.find_first_not_of(" \t\r\n") == std::string::npos) {
      if (event.event == "error") throw Failure{make_error(ErrorCode::upstream_error, "provider error")};
      return out;
    }
    const json::value v =
        parse_text(ctx, event.data, std::string(event.event.empty() ? "event" : event.event) + " data");
    const auto& o = as_object(ctx, v, event.event);
    std::string_view type = string_or_empty(o, "type");
    if (type.empty()) type = event.event;

    if (type == "error" || event.event == "error") {
      UpstreamFailure f = failure_from(v);
      f.status = status_for_error_type(f.type);
      throw Failure{classify_upstream_failure(f, std::nullopt)};
    }
    if (type == "ping") return out;
    if (type == "message_start") {
      const auto& msg = req_object(ctx, o, "message", "message_start");
      StreamEvent s;
      s.kind = StreamEvent::Kind::start;
      s.id = std::string(opt_string(ctx, msg, "id", "message_start.message").value_or(""));
      s.model = std::string(opt_string(ctx, msg, "model", "message_start.message").value_or(""));
      if (const json::object* usage = opt_object(ctx, msg, "usage", "message_start.message")) {
        read_usage(ctx, *usage, "message_start.message.usage", usage_);
      }
      s.usage = usage_;
      started_ = true;
      out.push_back(std::move(s));
      return out;
    }
    const bool known = type == "content_block_start" || type == "content_block_delta" || type == "content_block_stop" ||
                       type == "message_delta" || type == "message_stop";
    if (!known) return out;  // "handle unknown event types gracefully"
    if (!started_) fail(ctx, std::string(type) + " before message_start");

    if (type == "content_block_start") {
      const auto index = opt_integer(ctx, o, "index", type);
      if (!index || *index < 0 || *index > 4096)
        fail_field(ctx, "content_block_start.index", "is required and must be a small integer");
      const auto& block = req_object(ctx, o, "content_block", type);
      const std::string_view btype = req_string(ctx, block, "type", "content_block_start.content_block");
      const auto slot = static_cast<std::size_t>(*index);
      if (slot >= block_tool_.size()) block_tool_.resize(slot + 1);
      if (btype == "text") {
        auto text = opt_string(ctx, block, "text", "content_block_start.content_block");
        if (text && !text->empty()) {
          StreamEvent t;
          t.kind = StreamEvent::Kind::text;
          t.text = std::string(*text);
          out.push_back(std::move(t));
        }
      } else if (btype == "tool_use") {
        const std::size_t ordinal = tools_++;
        block_tool_[slot] = ordinal;
        StreamEvent s;
        s.kind = StreamEvent::Kind::tool_call_start;
        s.index = ordinal;
        s.tool_call.id = std::string(req_string(ctx, block, "id", "content_block_start.content_block"));
        s.tool_call.name = std::string(req_string(ctx, block, "name", "content_block_start.content_block"));
        out.push_back(std::move(s));
        const json::object* input = opt_object(ctx, block, "input", "content_block_start.content_block");
        if (input != nullptr && !input->empty()) {
          StreamEvent d;
          d.kind = StreamEvent::Kind::tool_call_delta;
          d.index = ordinal;
          d.text = to_json(*input);
          out.push_back(std::move(d));
        }
      }
    } else if (type == "content_block_delta") {
      const auto index = opt_integer(ctx, o, "index", type);
      if (!index || *index < 0)
        fail_field(ctx, "content_block_delta.index", "is required and must be a non-negative integer");
      const auto& delta = req_object(ctx, o, "delta", type);
      const std::string_view dtype = req_string(ctx, delta, "type", "content_block_delta.delta");
      if (dtype == "text_delta") {
        const std::string_view text = req_string(ctx, delta, "text", "content_block_delta.delta");
        if (!text.empty()) {
          StreamEvent t;
          t.kind = StreamEvent::Kind::text;
          t.text = std::string(text);
          out.push_back(std::move(t));
        }
      } else if (dtype == "input_json_delta") {
        const auto slot = static_cast<std::size_t>(*index);
        const std::string_view part = req_string(ctx, delta, "partial_json", "content_block_delta.delta");
        if (slot < block_tool_.size() && block_tool_[slot] && !part.empty()) {
          StreamEvent d;
          d.kind = StreamEvent::Kind::tool_call_delta;
          d.index = *block_tool_[slot];
          d.text = std::string(part);
          out.push_back(std::move(d));
        }
      }
      // thinking_delta, signature_delta, citations_delta: not part of the canonical answer.
    } else if (type == "message_delta") {
      if (const json::object* delta = opt_object(ctx, o, "delta", type)) {
        if (auto reason = opt_string(ctx, *delta, "stop_reason", "message_delta.delta"))
          stop_reason_ = parse_stop_reason(*reason);
        if (auto seq = opt_string(ctx, *delta, "stop_sequence", "message_delta.delta"))
          stop_sequence_ = std::string(*seq);
      }
      if (const json::object* usage = opt_object(ctx, o, "usage", type)) {
        // Counts in message_delta are cumulative: each one present replaces message_start's.
        read_usage(ctx, *usage, "message_delta.usage", usage_);
      }
    } else if (type == "message_stop") {
      StreamEvent fin;
      fin.kind = StreamEvent::Kind::finish;
      fin.stop_reason = stop_reason_.value_or(StopReason::unknown);
      fin.stop_sequence = stop_sequence_;
      fin.usage = usage_;
      out.push_back(std::move(fin));
      finished_ = true;
    }
    return out;
  });
}

// ---- Stream encoding ---------------------------------------------------------------------------------

std::string StreamEncoder::start_if_needed(const StreamEvent* start) {
  if (started_) return {};
  started_ = true;
  json::object usage = usage_object(start != nullptr ? start->usage : Usage{});
  json::object message{{"id", start != nullptr ? start->id : std::string()},
                       {"type", "message"},
                       {"role", "assistant"},
                       {"model", start != nullptr ? start->model : std::string()},
                       {"content", json::array{}},
                       {"stop_reason", nullptr},
                       {"stop_sequence", nullptr},
                       {"usage", std::move(usage)}};
  return sse_event("message_start", json::object{{"type", "message_start"}, {"message", std::move(message)}});
}

std::string StreamEncoder::close_block() {
  if (open_ == Open::none) return {};
  open_ = Open::none;
  return sse_event("content_block_stop", json::object{{"type", "content_block_stop"}, {"index", next_block_ - 1}});
}

std::string StreamEncoder::open_block(json::object content_block) {
  std::string out = close_block();
  out += sse_event("content_block_start", json::object{{"type", "content_block_start"},
                                                       {"index", next_block_},
                                                       {"content_block", std::move(content_block)}});
  ++next_block_;
  if (!pinged_) {
    pinged_ = true;
    out += sse_event("ping", json::object{{"type", "ping"}});
  }
  return out;
}

std::string StreamEncoder::encode(const StreamEvent& e) {
  if (finished_) return {};
  std::string out = start_if_needed(e.kind == StreamEvent::Kind::start ? &e : nullptr);
  switch (e.kind) {
    case StreamEvent::Kind::start: break;
    case StreamEvent::Kind::text:
      if (e.text.empty()) break;
      if (open_ != Open::text) {
        out += open_block(json::object{{"type", "text"}, {"text", ""}});
        open_ = Open::text;
      }
      out += sse_event("content_block_delta",
                       json::object{{"type", "content_block_delta"},
                                    {"index", next_block_ - 1},
                                    {"delta", json::object{{"type", "text_delta"}, {"text", e.text}}}});
      break;
    case StreamEvent::Kind::tool_call_start:
      out += open_block(json::object{
          {"type", "tool_use"}, {"id", e.tool_call.id}, {"name", e.tool_call.name}, {"input", json::object{}}});
      open_ = Open::tool;
      open_tool_ = e.index;
      break;
    case StreamEvent::Kind::tool_call_delta:
      if (open_ != Open::tool || open_tool_ != e.index || e.text.empty()) break;
      out += sse_event("content_block_delta",
                       json::object{{"type", "content_block_delta"},
                                    {"index", next_block_ - 1},
                                    {"delta", json::object{{"type", "input_json_delta"}, {"partial_json", e.text}}}});
      break;
    case StreamEvent::Kind::finish:
      out += close_block();
      out += sse_event(
          "message_delta",
          json::object{{"type", "message_delta"},
                       {"delta", json::object{{"stop_reason", stop_reason(e.stop_reason)},
                                              {"stop_sequence", e.stop_sequence ? json::value(*e.stop_sequence)
                                                                                : json::value(nullptr)}}},
                       {"usage", usage_object(e.usage)}});
      out += sse_event("message_stop", json::object{{"type", "message_stop"}});
      finished_ = true;
      break;
  }
  return out;
}

std::string_view error_type(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_request:
    case ErrorCode::invalid_json:
    case ErrorCode::method_not_allowed:
    case ErrorCode::conflict:
    case ErrorCode::unsupported_media_type:
    case ErrorCode::pii_blocked:
    case ErrorCode::headers_too_large: return "invalid_request_error";
    case ErrorCode::unauthorized: return "authentication_error";
    case ErrorCode::forbidden: return "permission_error";
    case ErrorCode::budget_exceeded: return "billing_error";
    case ErrorCode::not_found: return "not_found_error";
    case ErrorCode::payload_too_large: return "request_too_large";
    case ErrorCode::rate_limited: return "rate_limit_error";
    case ErrorCode::unavailable:
    case ErrorCode::no_local_provider: return "overloaded_error";
    case ErrorCode::upstream_timeout: return "timeout_error";
    case ErrorCode::internal:
    case ErrorCode::egress_blocked:
    case ErrorCode::egress_vetoed:
    case ErrorCode::cancelled:
    case ErrorCode::upstream_error: return "api_error";
  }
  return "api_error";
}

json::object write_error(const Error& error) {
  return json::object{{"type", "error"},
                      {"error", json::object{{"type", anthropic::error_type(error.code)}, {"message", error.message}}}};
}

std::string encode_error(const Error& error) { return sse_event("error", write_error(error)); }

// ---- Errors ------------------------------------------------------------------------------------------------

Error map_upstream_error(int status, std::string_view body, std::optional<std::string_view> retry_after) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  UpstreamFailure f = ec ? UpstreamFailure{} : failure_from(v);
  f.status = status;
  return classify_upstream_failure(f, retry_after);
}

}  // namespace aegis::wire::anthropic
