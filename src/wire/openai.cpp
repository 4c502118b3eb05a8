#include "wire/openai.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>

#include "core/data_url.hpp"
#include "core/encoding.hpp"
#include "core/json.hpp"
#include "wire/common.hpp"

namespace aegis::wire::openai {

namespace json = boost::json;
using namespace detail;

namespace {

constexpr std::string_view kProvider = "openai";

// An image_url part: a data URL (decoded and checked) or an http(s) URL.
Attachment image_part(const Context& ctx, const json::object& part, const std::string& p) {
  const std::string ip = child(p, "image_url");
  const auto& image = req_object(ctx, part, "image_url", p);
  return openai_image(ctx, image, "url", ip);
}

// A file part: a PDF inline as file_data; uploaded files live at OpenAI,
// out of the gateway's sight, so a file_id cannot be governed.
Attachment file_part(const Context& ctx, const json::object& part, const std::string& p) {
  const std::string fp = child(p, "file");
  const auto& file = req_object(ctx, part, "file", p);
  if (field(file, "file_id") != nullptr) {
    fail_field(ctx, child(fp, "file_id"), "file references are not supported; send the file inline as file_data");
  }
  const std::string_view data = req_string(ctx, file, "file_data", fp);
  Attachment a = url_attachment(ctx, Attachment::Kind::document, data, child(fp, "file_data"), false);
  a.filename = std::string(opt_string(ctx, file, "filename", fp).value_or(""));
  return a;
}

// Content is a string or an array of parts. Text parts are joined;
// image_url and file parts become `attachments`, which only a user message
// has (nullptr for other roles: they are refused there).
std::string content_text(const Context& ctx, const json::value& content, const std::string& path, bool assistant,
                         std::vector<Attachment>* attachments = nullptr) {
  if (content.is_null()) return {};
  if (content.is_string()) return std::string(content.get_string());
  if (!content.is_array()) fail_field(ctx, path, "must be a string or an array of content parts");
  const auto& parts = content.get_array();
  std::string text;
  bool first = true;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string p = element(path, i);
    const auto& part = as_object(ctx, parts[i], p);
    const std::string_view type = req_string(ctx, part, "type", p);
    std::string_view piece;
    if (type == "text") {
      piece = req_string(ctx, part, "text", p);
    } else if (type == "refusal" && assistant) {
      piece = req_string(ctx, part, "refusal", p);
    } else if (type == "image_url" || type == "file") {
      if (attachments == nullptr) fail_field(ctx, p, std::string(type) + " parts are only supported in user messages");
      attachments->push_back(type == "file" ? file_part(ctx, part, p) : image_part(ctx, part, p));
      continue;
    } else if (type == "input_audio") {
      fail_field(ctx, p, "audio content is not supported");
    } else {
      fail_field(ctx, child(p, "type"), "unknown content part type");
    }
    if (!first && !assistant) text += '\n';
    first = false;
    text += piece;
  }
  return text;
}

std::vector<ToolCall> request_tool_calls(const Context& ctx, const json::array& calls, const std::string& path) {
  std::vector<ToolCall> out;
  out.reserve(calls.size());
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const std::string p = element(path, i);
    const auto& call = as_object(ctx, calls[i], p);
    if (auto type = opt_string(ctx, call, "type", p); type && *type != "function") {
      fail_field(ctx, child(p, "type"), "only function tool calls are supported");
    }
    ToolCall tc;
    tc.id = std::string(req_string(ctx, call, "id", p));
    if (tc.id.empty()) fail_field(ctx, child(p, "id"), "must not be empty");
    const auto& fn = req_object(ctx, call, "function", p);
    const std::string fp = child(p, "function");
    tc.name = std::string(req_string(ctx, fn, "name", fp));
    if (tc.name.empty()) fail_field(ctx, child(fp, "name"), "must not be empty");
    tc.arguments_json = std::string(opt_string(ctx, fn, "arguments", fp).value_or(""));
    out.push_back(std::move(tc));
  }
  return out;
}

json::value canonical_tool_choice(const Context& ctx, const json::value& v) {
  if (json::value mode = tool_choice_mode(ctx, v, "{\"type\":\"function\",...}"); !mode.is_null()) return mode;
  const auto& o = v.get_object();
  const std::string_view type = req_string(ctx, o, "type", "tool_choice");
  if (type != "function") fail_field(ctx, "tool_choice.type", "only function tool choices are supported");
  const auto& fn = req_object(ctx, o, "function", "tool_choice");
  const std::string_view name = req_string(ctx, fn, "name", "tool_choice.function");
  return json::object{{"type", "tool"}, {"name", name}};
}

bool is_known_request_field(std::string_view key) {
  static constexpr std::string_view known[] = {
      "model",  "messages",       "max_tokens", "max_completion_tokens", "temperature",
      "top_p",  "stop",           "tools",      "tool_choice",           "parallel_tool_calls",
      "stream", "stream_options", "n"};
  return std::find(std::begin(known), std::end(known), key) != std::end(known);
}

std::string_view string_or_empty(const json::object* o, std::string_view key) {
  if (o == nullptr) return {};
  const json::value* v = o->if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string_view(v->get_string().data(), v->get_string().size());
}

// An error object found in a body or an in-stream event -> what the provider said.
UpstreamFailure failure_from(const json::value& body) {
  UpstreamFailure f;
  if (!body.is_object()) return f;
  const auto& o = body.get_object();
  const json::object* e = nullptr;
  if (const json::value* v = o.if_contains("error")) {
    if (v->is_object()) e = &v->get_object();
    if (v->is_string()) f.message = std::string(v->get_string());
  } else if (string_or_empty(&o, "object") == "error") {
    e = &o;  // vLLM's ErrorResponse
  }
  if (e != nullptr) {
    f.message = std::string(string_or_empty(e, "message"));
    f.type = std::string(string_or_empty(e, "type"));
    if (const json::value* code = e->if_contains("code")) {
      if (code->is_string()) f.code = std::string(code->get_string());
      if (code->is_int64() && code->get_int64() >= 100 && code->get_int64() < 600)
        f.status = static_cast<int>(code->get_int64());
    }
  }
  return f;
}

int status_for_stream_error(const UpstreamFailure& f) {
  if (f.status != 0) return f.status;
  const std::string& t = f.type;
  const std::string& c = f.code;
  if (t == "rate_limit_error" || t == "rate_limit_exceeded" || c == "rate_limit_exceeded" || t == "requests" ||
      t == "tokens") {
    return 429;
  }
  if (t == "invalid_request_error" || t == "BadRequestError") return 400;
  if (t == "authentication_error") return 401;
  if (t == "permission_error") return 403;
  if (t == "timeout" || c == "timeout") return 504;
  if (t == "server_error" || t == "api_error" || t == "InternalServerError") return 500;
  // Our own encode_error uses the canonical type names (an upstream that is another Aegis).
  for (ErrorCode code : {ErrorCode::rate_limited, ErrorCode::unavailable, ErrorCode::upstream_timeout,
                         ErrorCode::upstream_error, ErrorCode::invalid_request}) {
    if (t == error_type(code)) return code == ErrorCode::upstream_error ? 500 : http_status(code);
  }
  return 0;
}

// OpenAI counts cached tokens inside prompt_tokens: prompt_tokens is every
// input bucket, and prompt_tokens_details.cached_tokens (written only when
// there are some) the cache reads.
json::object usage_object(const Usage& u) {
  json::object out{
      {"prompt_tokens", u.prompt_tokens()}, {"completion_tokens", u.output_tokens}, {"total_tokens", u.total_tokens()}};
  if (u.cache_read_tokens > 0) out["prompt_tokens_details"] = json::object{{"cached_tokens", u.cache_read_tokens}};
  return out;
}

// An OpenAI `usage` object -> canonical Usage: cached_tokens are part of
// prompt_tokens there, so input_tokens is prompt_tokens less them.
Usage read_usage(const Context& ctx, const json::object& u, const std::string& path) {
  Usage usage;
  const std::int64_t prompt = count(ctx, u, "prompt_tokens", path);
  usage.output_tokens = count(ctx, u, "completion_tokens", path);
  if (const json::object* details = opt_object(ctx, u, "prompt_tokens_details", path)) {
    usage.cache_read_tokens =
        std::min(count(ctx, *details, "cached_tokens", child(path, "prompt_tokens_details")), prompt);
  }
  usage.input_tokens = prompt - usage.cache_read_tokens;
  return usage;
}

json::array tool_calls_array(const std::vector<ToolCall>& calls) {
  json::array out;
  out.reserve(calls.size());
  for (const auto& tc : calls) {
    out.push_back(json::object{
        {"id", tc.id},
        {"type", "function"},
        {"function",
         json::object{{"name", tc.name}, {"arguments", tc.arguments_json.empty() ? "{}" : tc.arguments_json}}}});
  }
  return out;
}

// A user message with attachments as content parts: the attachments, then its text.
json::array user_content(const Message& m) {
  json::array parts;
  parts.reserve(m.attachments.size() + 1);
  for (const auto& a : m.attachments) {
    if (a.kind == Attachment::Kind::image) {
      json::object image{{"url", a.data.empty() ? a.url : to_data_url(a.media_type, a.data)}};
      if (!a.detail.empty()) image["detail"] = a.detail;
      parts.push_back(json::object{{"type", "image_url"}, {"image_url", std::move(image)}});
    } else if (!a.data.empty()) {
      // OpenAI refuses file_data without a filename (its 400 names file_id).
      parts.push_back(json::object{
          {"type", "file"},
          {"file", json::object{{"file_data", to_data_url(a.media_type, a.data)},
                                {"filename", a.filename.empty() ? std::string("document.pdf") : a.filename}}}});
    }
    // A document by URL has no Chat Completions form; the gateway fetches
    // URLs before a provider is chosen (core/chat.hpp), so none gets here.
  }
  if (!m.text.empty()) parts.push_back(json::object{{"type", "text"}, {"text", m.text}});
  return parts;
}

}  // namespace

// ---- Chat requests ------------------------------------------------------------

Result<ChatRequest> parse_chat_request(const json::value& body, const RequestLimits& limits) {
  return guarded<ChatRequest>([&]() -> ChatRequest {
    const Context ctx = Context::request();
    const auto& o = as_object(ctx, body, "");
    ChatRequest r;
    r.origin = WireProtocol::openai;
    r.model = std::string(req_string(ctx, o, "model", ""));
    if (r.model.empty()) fail_field(ctx, "model", "must not be empty");

    const auto& messages = req_array(ctx, o, "messages", "");
    // Shapes first, before any item is converted.
    enforce(check_item_limit("messages", messages.size(), limits.max_messages, "max_messages"));
    const json::array* tools = opt_array(ctx, o, "tools", "");
    if (tools != nullptr) enforce(check_item_limit("tools", tools->size(), limits.max_tools, "max_tools"));
    TextTally text(limits.max_text_bytes);
    std::string system;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      const std::string path = element("messages", i);
      const auto& m = as_object(ctx, messages[i], path);
      const std::string_view role = req_string(ctx, m, "role", path);
      const json::value* content = field(m, "content");
      const std::string cpath = child(path, "content");
      if (role == "system" || role == "developer") {
        if (content == nullptr) fail_field(ctx, cpath, "is required");
        if (!system.empty()) system += '\n';
        const std::size_t before = system.size();
        system += content_text(ctx, *content, cpath, false);
        enforce(text.add(system.size() - before));
      } else if (role == "user") {
        if (content == nullptr) fail_field(ctx, cpath, "is required");
        Message msg;
        msg.role = Role::user;
        msg.text = content_text(ctx, *content, cpath, false, &msg.attachments);
        enforce(text.add(msg.text.size()));
        r.messages.push_back(std::move(msg));
      } else if (role == "assistant") {
        Message msg;
        msg.role = Role::assistant;
        if (content != nullptr) msg.text = content_text(ctx, *content, cpath, true);
        if (const json::array* calls = opt_array(ctx, m, "tool_calls", path)) {
          msg.tool_calls = request_tool_calls(ctx, *calls, child(path, "tool_calls"));
        }
        enforce(text.add(msg.text.size()));
        for (const auto& call : msg.tool_calls) enforce(text.add(call.name.size() + call.arguments_json.size()));
        r.messages.push_back(std::move(msg));
      } else if (role == "tool") {
        Message msg;
        msg.role = Role::tool;
        msg.tool_call_id = std::string(req_string(ctx, m, "tool_call_id", path));
        if (msg.tool_call_id.empty()) fail_field(ctx, child(path, "tool_call_id"), "must not be empty");
        if (content == nullptr) fail_field(ctx, cpath, "is required");
        msg.text = content_text(ctx, *content, cpath, false);
        enforce(text.add(msg.text.size()));
        r.messages.push_back(std::move(msg));
      } else if (role == "function") {
        fail_field(ctx, child(path, "role"), "the legacy function role is not supported; use tools");
      } else {
        fail_field(ctx, child(path, "role"), "must be one of system, developer, user, assistant, tool");
      }
    }
    if (r.messages.empty()) fail_field(ctx, "messages", "must contain at least one user, assistant or tool message");
    r.system = std::move(system);

    auto max_tokens = opt_positive(ctx, o, "max_tokens", "");
    auto max_completion_tokens = opt_positive(ctx, o, "max_completion_tokens", "");
    r.max_tokens = max_completion_tokens ? max_completion_tokens : max_tokens;
    r.temperature = opt_number_in(ctx, o, "temperature", "", 0.0, 2.0);
    r.top_p = opt_number_in(ctx, o, "top_p", "", 0.0, 1.0);
    if (const json::value* stop = field(o, "stop")) r.stop = stop_list(ctx, *stop, "stop", limits, text);

    if (tools != nullptr) {
      for (std::size_t i = 0; i < tools->size(); ++i) {
        const std::string p = element("tools", i);
        const auto& t = as_object(ctx, (*tools)[i], p);
        if (req_string(ctx, t, "type", p) != "function")
          fail_field(ctx, child(p, "type"), "only function tools are supported");
        const auto& fn = req_object(ctx, t, "function", p);
        const std::string fp = child(p, "function");
        ToolDefinition def;
        def.name = std::string(req_string(ctx, fn, "name", fp));
        if (def.name.empty()) fail_field(ctx, child(fp, "name"), "must not be empty");
        def.description = std::string(opt_string(ctx, fn, "description", fp).value_or(""));
        enforce(text.add(def.name.size() + def.description.size()));
        if (const json::object* params = opt_object(ctx, fn, "parameters", fp)) def.input_schema = *params;
        r.tools.push_back(std::move(def));
      }
    }
    if (const json::value* choice = field(o, "tool_choice")) r.tool_choice = canonical_tool_choice(ctx, *choice);
    if (auto parallel = opt_bool(ctx, o, "parallel_tool_calls", ""); parallel && !*parallel) {
      if (r.tool_choice.is_null()) r.tool_choice = json::object{{"type", "auto"}};
      r.tool_choice.get_object()["disable_parallel_tool_use"] = true;
    }

    r.stream = opt_bool(ctx, o, "stream", "").value_or(false);
    if (const json::object* so = opt_object(ctx, o, "stream_options", "")) {
      r.stream_include_usage = opt_bool(ctx, *so, "include_usage", "stream_options").value_or(false);
    }
    if (auto n = opt_integer(ctx, o, "n", ""); n && *n != 1) fail_field(ctx, "n", "only 1 is supported");

    for (const auto& entry : o) {
      if (!is_known_request_field(entry.key())) r.passthrough.emplace(entry.key(), entry.value());
    }
    return r;
  });
}

json::object write_chat_request(const ChatRequest& request, const std::string& model, const WriteOptions& options) {
  json::object body;
  body["model"] = model;
  json::array messages;
  messages.reserve(request.messages.size() + 1);
  if (!request.system.empty()) messages.push_back(json::object{{"role", "system"}, {"content", request.system}});
  for (const auto& m : request.messages) {
    switch (m.role) {
      case Role::user:
        messages.push_back(
            json::object{{"role", "user"}, {"content", m.attachments.empty() ? json::value(m.text) : user_content(m)}});
        break;
      case Role::assistant: {
        json::object msg{{"role", "assistant"}};
        if (m.tool_calls.empty()) {
          msg["content"] = m.text;
        } else {
          msg["content"] = m.text.empty() ? json::value(nullptr) : json::value(m.text);
          msg["tool_calls"] = tool_calls_array(m.tool_calls);
        }
        messages.push_back(std::move(msg));
        break;
      }
      case Role::tool:
        messages.push_back(json::object{{"role", "tool"}, {"tool_call_id", m.tool_call_id}, {"content", m.text}});
        break;
    }
  }
  body["messages"] = std::move(messages);
  if (request.max_tokens)
    body[options.use_max_completion_tokens ? "max_completion_tokens" : "max_tokens"] = *request.max_tokens;
  if (request.temperature) body["temperature"] = *request.temperature;
  if (request.top_p) body["top_p"] = *request.top_p;
  if (!request.stop.empty()) {
    json::array stop;
    for (const auto& s : request.stop) stop.emplace_back(s);
    body["stop"] = std::move(stop);
  }
  if (!request.tools.empty()) {
    json::array tools;
    for (const auto& t : request.tools) {
      json::object fn{{"name", t.name}};
      if (!t.description.empty()) fn["description"] = t.description;
      fn["parameters"] = t.input_schema.is_object()
                             ? t.input_schema
                             : json::value(json::object{{"type", "object"}, {"properties", json::object{}}});
      tools.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
    }
    body["tools"] = std::move(tools);
    if (request.tool_choice.is_object()) {
      const auto& tc = request.tool_choice.get_object();
      const std::string_view type = string_or_empty(&tc, "type");
      if (type == "none" || type == "auto") body["tool_choice"] = type;
      if (type == "any") body["tool_choice"] = "required";
      if (type == "tool") {
        body["tool_choice"] =
            json::object{{"type", "function"}, {"function", json::object{{"name", string_or_empty(&tc, "name")}}}};
      }
      const json::value* disable = tc.if_contains("disable_parallel_tool_use");
      if (disable != nullptr && disable->is_bool() && disable->get_bool()) body["parallel_tool_calls"] = false;
    }
  }
  if (request.stream) {
    body["stream"] = true;
    body["stream_options"] = json::object{{"include_usage", true}};
  }
  if (request.origin == WireProtocol::openai) merge_absent(body, request.passthrough);
  return body;
}

// ---- Chat responses ---------------------------------------------------------------

StopReason parse_finish_reason(std::string_view reason) noexcept {
  if (reason == "stop") return StopReason::end_turn;
  if (reason == "length") return StopReason::max_tokens;
  if (reason == "tool_calls" || reason == "function_call") return StopReason::tool_use;
  if (reason == "content_filter") return StopReason::content_filter;
  return StopReason::unknown;
}

std::string_view finish_reason(StopReason reason) noexcept {
  switch (reason) {
    case StopReason::max_tokens: return "length";
    case StopReason::tool_use: return "tool_calls";
    case StopReason::content_filter: return "content_filter";
    case StopReason::end_turn:
    case StopReason::stop_sequence:
    case StopReason::unknown: return "stop";
  }
  return "stop";
}

Result<Completion> parse_chat_response(const json::value& body) {
  return guarded<Completion>([&]() -> Completion {
    const Context ctx = Context::response(kProvider);
    const auto& o = as_object(ctx, body, "");
    Completion c;
    c.id = std::string(opt_string(ctx, o, "id", "").value_or(""));
    c.model = std::string(opt_string(ctx, o, "model", "").value_or(""));
    const auto& choices = req_array(ctx, o, "choices", "");
    if (choices.empty()) fail_field(ctx, "choices", "is empty");
    const auto& choice = as_object(ctx, choices[0], "choices[0]");
    const auto& msg = req_object(ctx, choice, "message", "choices[0]");
    const std::string mp = "choices[0].message";
    if (const json::value* content = field(msg, "content"))
      c.text = content_text(ctx, *content, child(mp, "content"), true);
    if (c.text.empty()) c.text = std::string(opt_string(ctx, msg, "refusal", mp).value_or(""));
    if (const json::array* calls = opt_array(ctx, msg, "tool_calls", mp)) {
      for (std::size_t i = 0; i < calls->size(); ++i) {
        const std::string p = element(child(mp, "tool_calls"), i);
        const auto& call = as_object(ctx, (*calls)[i], p);
        const auto& fn = req_object(ctx, call, "function", p);
        ToolCall tc;
        tc.name = std::string(req_string(ctx, fn, "name", child(p, "function")));
        if (const json::value* args = field(fn, "arguments")) {
          // Some compatible servers send the arguments as an object.
          tc.arguments_json = args->is_string() ? std::string(args->get_string()) : to_json(*args);
        }
        tc.id = std::string(opt_string(ctx, call, "id", p).value_or(""));
        if (tc.id.empty()) tc.id = synthesize_tool_call_id(tc.name, tc.arguments_json, i);
        c.tool_calls.push_back(std::move(tc));
      }
    }
    if (auto reason = opt_string(ctx, choice, "finish_reason", "choices[0]")) {
      c.stop_reason = parse_finish_reason(*reason);
    } else {
      c.stop_reason = c.tool_calls.empty() ? StopReason::end_turn : StopReason::tool_use;
    }
    if (const json::object* usage = opt_object(ctx, o, "usage", "")) c.usage = read_usage(ctx, *usage, "usage");
    return c;
  });
}

json::object write_chat_response(const Completion& c, std::int64_t created_unix) {
  json::object message{{"role", "assistant"}};
  message["content"] = (c.text.empty() && !c.tool_calls.empty()) ? json::value(nullptr) : json::value(c.text);
  message["refusal"] = nullptr;
  if (!c.tool_calls.empty()) message["tool_calls"] = tool_calls_array(c.tool_calls);
  json::object choice{{"index", 0},
                      {"message", std::move(message)},
                      {"logprobs", nullptr},
                      {"finish_reason", finish_reason(c.stop_reason)}};
  return json::object{{"id", c.id},
                      {"object", "chat.completion"},
                      {"created", created_unix},
                      {"model", c.model},
                      {"choices", json::array{std::move(choice)}},
                      {"usage", usage_object(c.usage)}};
}

// ---- Stream decoding ---------------------------------------------------------------

Result<std::vector<StreamEvent>> StreamDecoder::feed(const http::SseParser::Event& event) {
  return guarded<std::vector<StreamEvent>>([&]() -> std::vector<StreamEvent> {
    std::vector<StreamEvent> out;
    if (finished_) return out;
    std::string_view data = event.data;
    while (!data.empty() && (data.front() == ' ' || data.front() == '\n' || data.front() == '\r'))
      data.remove_prefix(1);
    while (!data.empty() && (data.back() == ' ' || data.back() == '\n' || data.back() == '\r')) data.remove_suffix(1);
    if (data.empty()) return out;
    if (data == "[DONE]") {
      if (!started_) {
        started_ = true;
        StreamEvent s;
        s.kind = StreamEvent::Kind::start;
        out.push_back(std::move(s));
      }
      StreamEvent fin;
      fin.kind = StreamEvent::Kind::finish;
      fin.stop_reason = stop_reason_.value_or(StopReason::unknown);
      fin.usage = usage_;
      out.push_back(std::move(fin));
      finished_ = true;
      return out;
    }
    const Context ctx = Context::stream(kProvider);
    const json::value v = parse_text(ctx, data, "chunk");
    const auto& o = as_object(ctx, v, "chunk");
    if (event.event == "error" || o.contains("error") || string_or_empty(&o, "object") == "error") {
      UpstreamFailure f = failure_from(v);
      if (event.event == "error" && f.message.empty() && f.type.empty())
        f.message = std::string(string_or_empty(&o, "message"));
      f.status = status_for_stream_error(f);
      throw Failure{classify_upstream_failure(f, std::nullopt)};
    }

    const json::array* choices = opt_array(ctx, o, "choices", "chunk");
    const bool has_choices = choices != nullptr && !choices->empty();
    const std::string_view id = opt_string(ctx, o, "id", "chunk").value_or("");
    if (!started_ && (has_choices || !id.empty())) {
      // Azure sends a prompt_filter_results chunk with no id and no choices first: not a start.
      started_ = true;
      StreamEvent s;
      s.kind = StreamEvent::Kind::start;
      s.id = std::string(id);
      s.model = std::string(opt_string(ctx, o, "model", "chunk").value_or(""));
      out.push_back(std::move(s));
    }
    if (const json::object* usage = opt_object(ctx, o, "usage", "chunk"))
      usage_ = read_usage(ctx, *usage, "chunk.usage");
    if (!has_choices) return out;
    for (std::size_t ci = 0; ci < choices->size(); ++ci) {
      const std::string cp = element("chunk.choices", ci);
      const auto& choice = as_object(ctx, (*choices)[ci], cp);
      if (opt_integer(ctx, choice, "index", cp).value_or(0) != 0) continue;  // n > 1: only the first choice
      if (const json::object* delta = opt_object(ctx, choice, "delta", cp)) {
        const std::string dp = child(cp, "delta");
        for (std::string_view key : {"content", "refusal"}) {
          auto text = opt_string(ctx, *delta, key, dp);
          if (text && !text->empty()) {
            StreamEvent t;
            t.kind = StreamEvent::Kind::text;
            t.text = std::string(*text);
            out.push_back(std::move(t));
          }
        }
        if (const json::array* calls = opt_array(ctx, *delta, "tool_calls", dp)) {
          for (std::size_t j = 0; j < calls->size(); ++j) {
            const std::string tp = element(child(dp, "tool_calls"), j);
            const auto& call = as_object(ctx, (*calls)[j], tp);
            const std::int64_t index = opt_integer(ctx, call, "index", tp).value_or(static_cast<std::int64_t>(j));
            if (index < 0 || index > 1024) fail_field(ctx, child(tp, "index"), "out of range");
            const auto slot = static_cast<std::size_t>(index);
            const json::object* fn = opt_object(ctx, call, "function", tp);
            std::string args;
            if (fn != nullptr) {
              if (const json::value* a = field(*fn, "arguments"))
                args = a->is_string() ? std::string(a->get_string()) : to_json(*a);
            }
            if (slot >= tool_started_.size()) tool_started_.resize(slot + 1, false);
            if (!tool_started_[slot]) {
              tool_started_[slot] = true;
              StreamEvent s;
              s.kind = StreamEvent::Kind::tool_call_start;
              s.index = slot;
              s.tool_call.name =
                  fn != nullptr ? std::string(opt_string(ctx, *fn, "name", child(tp, "function")).value_or("")) : "";
              s.tool_call.id = std::string(opt_string(ctx, call, "id", tp).value_or(""));
              if (s.tool_call.id.empty()) s.tool_call.id = synthesize_tool_call_id(s.tool_call.name, "", slot);
              out.push_back(std::move(s));
            }
            if (!args.empty()) {
              StreamEvent d;
              d.kind = StreamEvent::Kind::tool_call_delta;
              d.index = slot;
              d.text = std::move(args);
              out.push_back(std::move(d));
            }
          }
        }
      }
      if (auto reason = opt_string(ctx, choice, "finish_reason", cp)) stop_reason_ = parse_finish_reason(*reason);
    }
    return out;
  });
}

// ---- Stream encoding -------------------------------------------------------------------

StreamEncoder::StreamEncoder(bool include_usage, std::int64_t created_unix)
    : include_usage_(include_usage), created_(created_unix) {}

json::object StreamEncoder::chunk(json::object delta, std::optional<StopReason> finish) const {
  json::object choice{{"index", 0},
                      {"delta", std::move(delta)},
                      {"logprobs", nullptr},
                      {"finish_reason", finish ? json::value(finish_reason(*finish)) : json::value(nullptr)}};
  json::object c{{"id", id_},
                 {"object", "chat.completion.chunk"},
                 {"created", created_},
                 {"model", model_},
                 {"choices", json::array{std::move(choice)}}};
  if (include_usage_) c["usage"] = nullptr;
  return c;
}

std::string StreamEncoder::start_if_needed() {
  if (started_) return {};
  started_ = true;
  return sse_data(chunk(json::object{{"role", "assistant"}, {"content", ""}}, std::nullopt));
}

std::string StreamEncoder::encode(const StreamEvent& e) {
  if (finished_) return {};
  std::string out;
  switch (e.kind) {
    case StreamEvent::Kind::start:
      if (!started_) {
        id_ = e.id;
        model_ = e.model;
      }
      out = start_if_needed();
      break;
    case StreamEvent::Kind::text:
      out = start_if_needed();
      if (!e.text.empty()) out += sse_data(chunk(json::object{{"content", e.text}}, std::nullopt));
      break;
    case StreamEvent::Kind::tool_call_start: {
      out = start_if_needed();
      json::object call{{"index", e.index},
                        {"id", e.tool_call.id},
                        {"type", "function"},
                        {"function", json::object{{"name", e.tool_call.name}, {"arguments", ""}}}};
      out += sse_data(chunk(json::object{{"tool_calls", json::array{std::move(call)}}}, std::nullopt));
      break;
    }
    case StreamEvent::Kind::tool_call_delta: {
      out = start_if_needed();
      if (e.text.empty()) break;
      json::object call{{"index", e.index}, {"function", json::object{{"arguments", e.text}}}};
      out += sse_data(chunk(json::object{{"tool_calls", json::array{std::move(call)}}}, std::nullopt));
      break;
    }
    case StreamEvent::Kind::finish:
      out = start_if_needed();
      out += sse_data(chunk(json::object{}, e.stop_reason));
      if (include_usage_) {
        out += sse_data(json::object{{"id", id_},
                                     {"object", "chat.completion.chunk"},
                                     {"created", created_},
                                     {"model", model_},
                                     {"choices", json::array{}},
                                     {"usage", usage_object(e.usage)}});
      }
      out += "data: [DONE]\n\n";
      finished_ = true;
      break;
  }
  return out;
}

json::object write_error(const Error& error) {
  return json::object{
      {"error",
       json::object{
           {"message", error.message}, {"type", error_type(error.code)}, {"param", nullptr}, {"code", nullptr}}}};
}

std::string encode_error(const Error& error) { return sse_data(write_error(error)); }

// ---- Embeddings -----------------------------------------------------------------------------

Result<EmbedRequest> parse_embed_request(const json::value& body, const RequestLimits& limits) {
  return guarded<EmbedRequest>([&]() -> EmbedRequest {
    const Context ctx = Context::request();
    const auto& o = as_object(ctx, body, "");
    EmbedRequest r;
    r.model = std::string(req_string(ctx, o, "model", ""));
    if (r.model.empty()) fail_field(ctx, "model", "must not be empty");
    const json::value* input = field(o, "input");
    if (input == nullptr) fail_field(ctx, "input", "is required");
    TextTally text(limits.max_text_bytes);
    if (input->is_string()) {
      if (input->get_string().empty()) fail_field(ctx, "input", "must not be empty");
      enforce(text.add(input->get_string().size()));
      r.inputs.emplace_back(input->get_string());
    } else if (input->is_array()) {
      const auto& a = input->get_array();
      if (a.empty()) fail_field(ctx, "input", "must not be empty");
      enforce(check_item_limit("input", a.size(), limits.max_embedding_inputs, "max_embedding_inputs"));
      r.inputs.reserve(a.size());
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].is_number() || a[i].is_array()) fail_field(ctx, "input", "token arrays are not supported; send text");
        const std::string_view s = as_string(ctx, a[i], element("input", i));
        if (s.empty()) fail_field(ctx, element("input", i), "must not be empty");
        enforce(text.add(s.size()));
        r.inputs.emplace_back(s);
      }
    } else {
      fail_field(ctx, "input", "must be a string or an array of strings");
    }
    if (auto format = opt_string(ctx, o, "encoding_format", "")) {
      if (*format == "base64") {
        r.base64_response = true;
      } else if (*format != "float") {
        fail_field(ctx, "encoding_format", "must be float or base64");
      }
    }
    r.dimensions = opt_positive(ctx, o, "dimensions", "");
    return r;
  });
}

json::object write_embed_request(const EmbedRequest& request, const std::string& model) {
  json::array input;
  for (const auto& s : request.inputs) input.emplace_back(s);
  json::object body{{"model", model}, {"input", std::move(input)}, {"encoding_format", "float"}};
  if (request.dimensions) body["dimensions"] = *request.dimensions;
  return body;
}

Result<Embeddings> parse_embed_response(const json::value& body) {
  return guarded<Embeddings>([&]() -> Embeddings {
    const Context ctx = Context::response(kProvider);
    const auto& o = as_object(ctx, body, "");
    Embeddings e;
    e.model = std::string(opt_string(ctx, o, "model", "").value_or(""));
    const auto& data = req_array(ctx, o, "data", "");
    e.vectors.resize(data.size());
    std::vector<bool> seen(data.size(), false);
    for (std::size_t i = 0; i < data.size(); ++i) {
      const std::string p = element("data", i);
      const auto& item = as_object(ctx, data[i], p);
      const std::int64_t index = opt_integer(ctx, item, "index", p).value_or(static_cast<std::int64_t>(i));
      if (index < 0 || static_cast<std::size_t>(index) >= data.size() || seen[static_cast<std::size_t>(index)]) {
        fail_field(ctx, child(p, "index"), "out of range or repeated");
      }
      seen[static_cast<std::size_t>(index)] = true;
      const json::value* embedding = field(item, "embedding");
      if (embedding == nullptr || !embedding->is_array()) {
        fail_field(ctx, child(p, "embedding"), "must be an array of numbers (base64 is not supported)");
      }
      auto& vec = e.vectors[static_cast<std::size_t>(index)];
      vec.reserve(embedding->get_array().size());
      for (const auto& x : embedding->get_array()) {
        if (!x.is_number()) fail_field(ctx, child(p, "embedding"), "must be an array of numbers");
        vec.push_back(static_cast<float>(x.to_number<double>()));
      }
    }
    if (const json::object* usage = opt_object(ctx, o, "usage", "")) {
      e.usage.input_tokens = count(ctx, *usage, "prompt_tokens", "usage");
    }
    return e;
  });
}

json::object write_embed_response(const Embeddings& embeddings, bool base64) {
  json::array data;
  data.reserve(embeddings.vectors.size());
  for (std::size_t i = 0; i < embeddings.vectors.size(); ++i) {
    json::value vec;
    if (base64) {
      vec = base64_floats(embeddings.vectors[i]);
    } else {
      json::array floats;
      floats.reserve(embeddings.vectors[i].size());
      for (float x : embeddings.vectors[i]) floats.emplace_back(float_for_json(x));
      vec = std::move(floats);
    }
    data.push_back(json::object{{"object", "embedding"}, {"index", i}, {"embedding", std::move(vec)}});
  }
  return json::object{{"object", "list"},
                      {"data", std::move(data)},
                      {"model", embeddings.model},
                      {"usage", json::object{{"prompt_tokens", embeddings.usage.input_tokens},
                                             {"total_tokens", embeddings.usage.input_tokens}}}};
}

// ---- Errors ---------------------------------------------------------------------------------------

Error map_upstream_error(int status, std::string_view body, std::optional<std::string_view> retry_after) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  UpstreamFailure f = ec ? UpstreamFailure{} : failure_from(v);
  f.status = status;
  return classify_upstream_failure(f, retry_after);
}

}  // namespace aegis::wire::openai
