#include "wire/ollama.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>

#include "core/encoding.hpp"
#include "core/json.hpp"
#include "core/media_type.hpp"
#include "core/time_format.hpp"
#include "wire/common.hpp"

namespace aegis::wire::ollama {

namespace json = boost::json;
using namespace detail;

namespace {

constexpr std::string_view kProvider = "ollama";

bool is_known_request_field(std::string_view key) {
  static constexpr std::string_view known[] = {"model", "messages", "options", "tools", "stream"};
  return std::find(std::begin(known), std::end(known), key) != std::end(known);
}

// Ollama tool calls: [{"id"?, "function": {"name", "arguments": {...}}}].
std::vector<ToolCall> tool_calls_from(const Context& ctx, const json::array& calls, const std::string& path,
                                      std::size_t first_ordinal) {
  std::vector<ToolCall> out;
  out.reserve(calls.size());
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const std::string p = element(path, i);
    const auto& call = as_object(ctx, calls[i], p);
    const auto& fn = req_object(ctx, call, "function", p);
    const std::string fp = child(p, "function");
    ToolCall tc;
    tc.name = std::string(req_string(ctx, fn, "name", fp));
    if (tc.name.empty()) fail_field(ctx, child(fp, "name"), "must not be empty");
    if (const json::value* args = field(fn, "arguments")) {
      if (args->is_string()) {
        tc.arguments_json = std::string(args->get_string());
      } else if (args->is_object()) {
        tc.arguments_json = to_json(*args);
      } else {
        fail_field(ctx, child(fp, "arguments"), "must be an object");
      }
    } else {
      tc.arguments_json = "{}";
    }
    tc.id = std::string(opt_string(ctx, call, "id", p).value_or(""));
    if (tc.id.empty()) tc.id = synthesize_tool_call_id(tc.name, tc.arguments_json, first_ordinal + i);
    out.push_back(std::move(tc));
  }
  return out;
}

json::array tool_calls_array(const std::vector<ToolCall>& calls) {
  json::array out;
  out.reserve(calls.size());
  for (const auto& tc : calls) {
    json::object call;
    if (!tc.id.empty()) call["id"] = tc.id;
    call["function"] = json::object{{"name", tc.name}, {"arguments", arguments_object(tc.arguments_json)}};
    out.push_back(std::move(call));
  }
  return out;
}

// `images`: base64 strings with no media type, so the bytes say what they are.
std::vector<Attachment> read_images(const Context& ctx, const json::array& images, const std::string& path) {
  std::vector<Attachment> out;
  out.reserve(images.size());
  for (std::size_t i = 0; i < images.size(); ++i) {
    const std::string p = element(path, i);
    std::string bytes = base64_bytes(ctx, as_string(ctx, images[i], p), p);
    const auto sniffed = sniff_media_type(bytes);
    if (!sniffed || !is_supported_image_type(*sniffed)) {
      fail_field(ctx, p,
                 sniffed ? "is a PDF document; Ollama takes only images (PNG, JPEG, WebP, GIF)"
                         : "the data is not a PNG, JPEG, WebP or GIF image");
    }
    out.push_back(inline_attachment(ctx, Attachment::Kind::image, std::string(*sniffed), std::move(bytes), p, p));
  }
  return out;
}

// The message's images as Ollama's base64 strings.
json::array images_array(const std::vector<Attachment>& attachments) {
  json::array out;
  for (const auto& a : attachments) {
    // Documents never reach Ollama: the config refuses the documents
    // capability for ollama providers and routing checks capabilities. An
    // image by URL is fetched by the gateway before a provider is chosen.
    if (a.kind == Attachment::Kind::image && !a.data.empty()) out.emplace_back(base64_encode(a.data));
  }
  return out;
}

std::string created_at(std::int64_t unix_seconds) { return format_rfc3339_ms(unix_seconds * 1000); }

}  // namespace

// ---- Chat requests ------------------------------------------------------------------------

Result<ChatRequest> parse_chat_request(const json::value& body) {
  return guarded<ChatRequest>([&]() -> ChatRequest {
    const Context ctx = Context::request();
    const auto& o = as_object(ctx, body, "");
    ChatRequest r;
    r.origin = WireProtocol::ollama;
    r.model = std::string(req_string(ctx, o, "model", ""));
    if (r.model.empty()) fail_field(ctx, "model", "must not be empty");

    const auto& messages = req_array(ctx, o, "messages", "");
    std::string system;
    std::vector<ToolCall> open_calls;  // calls of the latest assistant turn not yet answered
    std::size_t ordinal = 0;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      const std::string path = element("messages", i);
      const auto& m = as_object(ctx, messages[i], path);
      const std::string_view role = req_string(ctx, m, "role", path);
      const std::string text(opt_string(ctx, m, "content", path).value_or(""));
      const json::array* images = opt_array(ctx, m, "images", path);
      if (images != nullptr && !images->empty() && role != "user") {
        fail_field(ctx, child(path, "images"), "images are only supported in user messages");
      }
      if (role == "system") {
        if (!system.empty()) system += '\n';
        system += text;
      } else if (role == "user") {
        Message msg;
        msg.role = Role::user;
        msg.text = text;
        if (images != nullptr) msg.attachments = read_images(ctx, *images, child(path, "images"));
        r.messages.push_back(std::move(msg));
      } else if (role == "assistant") {
        Message msg;
        msg.role = Role::assistant;
        msg.text = text;
        if (const json::array* calls = opt_array(ctx, m, "tool_calls", path)) {
          msg.tool_calls = tool_calls_from(ctx, *calls, child(path, "tool_calls"), ordinal);
          ordinal += msg.tool_calls.size();
        }
        open_calls = msg.tool_calls;
        r.messages.push_back(std::move(msg));
      } else if (role == "tool") {
        Message msg;
        msg.role = Role::tool;
        msg.text = text;
        msg.tool_call_id = std::string(opt_string(ctx, m, "tool_call_id", path).value_or(""));
        const std::string_view tool_name = opt_string(ctx, m, "tool_name", path).value_or("");
        if (msg.tool_call_id.empty()) {
          // Link by name to the earliest unanswered call, else to the earliest unanswered call.
          auto it = std::find_if(open_calls.begin(), open_calls.end(),
                                 [&](const ToolCall& c) { return c.name == tool_name; });
          if (it == open_calls.end() && !open_calls.empty()) it = open_calls.begin();
          if (it != open_calls.end()) {
            msg.tool_call_id = it->id;
            open_calls.erase(it);
          } else {
            msg.tool_call_id = synthesize_tool_call_id(tool_name.empty() ? "tool" : tool_name, "", i);
          }
        } else {
          std::erase_if(open_calls, [&](const ToolCall& c) { return c.id == msg.tool_call_id; });
        }
        r.messages.push_back(std::move(msg));
      } else {
        fail_field(ctx, child(path, "role"), "must be one of system, user, assistant, tool");
      }
    }
    if (r.messages.empty()) fail_field(ctx, "messages", "must contain at least one user, assistant or tool message");
    r.system = std::move(system);

    if (const json::object* options = opt_object(ctx, o, "options", "")) {
      json::object rest;
      for (const auto& entry : *options) {
        const std::string_view key = entry.key();
        if (key == "temperature") {
          r.temperature = opt_number(ctx, *options, key, "options");
          if (r.temperature && *r.temperature < 0) fail_field(ctx, "options.temperature", "must not be negative");
        } else if (key == "top_p") {
          r.top_p = opt_number_in(ctx, *options, key, "options", 0.0, 1.0);
        } else if (key == "num_predict") {
          auto n = opt_integer(ctx, *options, key, "options");
          if (n && *n > 0) {
            r.max_tokens = n;
          } else if (n && *n == 0) {
            fail_field(ctx, "options.num_predict", "must be positive (or -1 for no limit)");
          } else if (n) {
            rest.emplace(key, entry.value());  // -1 / -2: Ollama's own "no limit" / "fill context"
          }
        } else if (key == "stop") {
          r.stop = string_or_strings(ctx, entry.value(), "options.stop");
        } else {
          rest.emplace(key, entry.value());
        }
      }
      if (!rest.empty()) r.passthrough["options"] = std::move(rest);
    }

    if (const json::array* tools = opt_array(ctx, o, "tools", "")) {
      for (std::size_t i = 0; i < tools->size(); ++i) {
        const std::string p = element("tools", i);
        const auto& t = as_object(ctx, (*tools)[i], p);
        if (auto type = opt_string(ctx, t, "type", p); type && *type != "function") {
          fail_field(ctx, child(p, "type"), "only function tools are supported");
        }
        const auto& fn = req_object(ctx, t, "function", p);
        const std::string fp = child(p, "function");
        ToolDefinition def;
        def.name = std::string(req_string(ctx, fn, "name", fp));
        if (def.name.empty()) fail_field(ctx, child(fp, "name"), "must not be empty");
        def.description = std::string(opt_string(ctx, fn, "description", fp).value_or(""));
        if (const json::object* params = opt_object(ctx, fn, "parameters", fp)) def.input_schema = *params;
        r.tools.push_back(std::move(def));
      }
    }
    r.stream = opt_bool(ctx, o, "stream", "").value_or(true);

    for (const auto& entry : o) {
      if (!is_known_request_field(entry.key())) r.passthrough.emplace(entry.key(), entry.value());
    }
    return r;
  });
}

json::object write_chat_request(const ChatRequest& request, const std::string& model) {
  json::object body;
  body["model"] = model;
  json::array messages;
  messages.reserve(request.messages.size() + 1);
  if (!request.system.empty()) messages.push_back(json::object{{"role", "system"}, {"content", request.system}});
  for (const auto& m : request.messages) {
    switch (m.role) {
      case Role::user: {
        json::object msg{{"role", "user"}, {"content", m.text}};
        if (json::array images = images_array(m.attachments); !images.empty()) msg["images"] = std::move(images);
        messages.push_back(std::move(msg));
        break;
      }
      case Role::assistant: {
        json::object msg{{"role", "assistant"}, {"content", m.text}};
        if (!m.tool_calls.empty()) msg["tool_calls"] = tool_calls_array(m.tool_calls);
        messages.push_back(std::move(msg));
        break;
      }
      case Role::tool: {
        json::object msg{{"role", "tool"}, {"content", m.text}};
        // Ollama identifies a tool result by the tool's name.
        for (const auto& earlier : request.messages) {
          for (const auto& call : earlier.tool_calls) {
            if (call.id == m.tool_call_id) msg["tool_name"] = call.name;
          }
        }
        if (!m.tool_call_id.empty()) msg["tool_call_id"] = m.tool_call_id;
        messages.push_back(std::move(msg));
        break;
      }
    }
  }
  body["messages"] = std::move(messages);
  body["stream"] = request.stream;

  json::object options;
  if (request.temperature) options["temperature"] = *request.temperature;
  if (request.top_p) options["top_p"] = *request.top_p;
  if (request.max_tokens) options["num_predict"] = *request.max_tokens;
  if (!request.stop.empty()) {
    json::array stop;
    for (const auto& s : request.stop) stop.emplace_back(s);
    options["stop"] = std::move(stop);
  }
  if (request.origin == WireProtocol::ollama) {
    if (const json::value* extra = request.passthrough.if_contains("options"); extra && extra->is_object()) {
      merge_absent(options, extra->get_object());
    }
  }
  if (!options.empty()) body["options"] = std::move(options);

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
  }
  if (request.origin == WireProtocol::ollama) merge_absent(body, request.passthrough);
  return body;
}

// ---- Chat responses ------------------------------------------------------------------------------

StopReason parse_done_reason(std::string_view reason) noexcept {
  if (reason == "stop" || reason.empty()) return StopReason::end_turn;
  if (reason == "length") return StopReason::max_tokens;
  return StopReason::unknown;  // "load", "unload", future reasons
}

std::string_view done_reason(StopReason reason) noexcept {
  return reason == StopReason::max_tokens ? "length" : "stop";
}

Result<Completion> parse_chat_response(const json::value& body) {
  return guarded<Completion>([&]() -> Completion {
    const Context ctx = Context::response(kProvider);
    const auto& o = as_object(ctx, body, "");
    if (field(o, "error") != nullptr) fail_field(ctx, "error", "the response is an error");
    Completion c;
    c.model = std::string(opt_string(ctx, o, "model", "").value_or(""));
    const auto& msg = req_object(ctx, o, "message", "");
    c.text = std::string(opt_string(ctx, msg, "content", "message").value_or(""));
    if (const json::array* calls = opt_array(ctx, msg, "tool_calls", "message")) {
      c.tool_calls = tool_calls_from(ctx, *calls, "message.tool_calls", 0);
    }
    if (auto done = opt_bool(ctx, o, "done", ""); done && !*done)
      fail_field(ctx, "done", "is false in a non-streaming response");
    c.stop_reason = parse_done_reason(opt_string(ctx, o, "done_reason", "").value_or(""));
    // Ollama reports "stop" when the model called tools.
    if (!c.tool_calls.empty() && c.stop_reason == StopReason::end_turn) c.stop_reason = StopReason::tool_use;
    c.usage.input_tokens = count(ctx, o, "prompt_eval_count", "");
    c.usage.output_tokens = count(ctx, o, "eval_count", "");
    return c;
  });
}

json::object write_chat_response(const Completion& c, std::int64_t created_unix) {
  json::object message{{"role", "assistant"}, {"content", c.text}};
  if (!c.tool_calls.empty()) message["tool_calls"] = tool_calls_array(c.tool_calls);
  return json::object{{"model", c.model},
                      {"created_at", created_at(created_unix)},
                      {"message", std::move(message)},
                      {"done_reason", done_reason(c.stop_reason)},
                      {"done", true},
                      {"prompt_eval_count", c.usage.input_tokens},
                      {"eval_count", c.usage.output_tokens}};
}

// ---- Stream decoding -------------------------------------------------------------------------------------

Result<std::vector<StreamEvent>> StreamDecoder::feed(std::string_view line) {
  return guarded<std::vector<StreamEvent>>([&]() -> std::vector<StreamEvent> {
    std::vector<StreamEvent> out;
    if (finished_) return out;
    if (line.find_first_not_of(" \t\r\n") == std::string_view::npos) return out;
    const Context ctx = Context::stream(kProvider);
    const json::value v = parse_text(ctx, line, "line");
    const auto& o = as_object(ctx, v, "line");
    if (const json::value* error = field(o, "error")) {
      const std::string message = error->is_string() ? std::string(error->get_string()) : std::string();
      throw Failure{make_error(
          ErrorCode::upstream_error,
          message.empty() ? "provider stream error" : "provider stream error: " + truncate_utf8(message, 200))};
    }
    if (!started_) {
      started_ = true;
      StreamEvent s;
      s.kind = StreamEvent::Kind::start;
      s.model = std::string(opt_string(ctx, o, "model", "").value_or(""));
      out.push_back(std::move(s));
    }
    if (const json::object* msg = opt_object(ctx, o, "message", "")) {
      auto text = opt_string(ctx, *msg, "content", "message");
      if (text && !text->empty()) {
        StreamEvent t;
        t.kind = StreamEvent::Kind::text;
        t.text = std::string(*text);
        out.push_back(std::move(t));
      }
      if (const json::array* calls = opt_array(ctx, *msg, "tool_calls", "message")) {
        for (auto& tc : tool_calls_from(ctx, *calls, "message.tool_calls", tools_)) {
          StreamEvent s;
          s.kind = StreamEvent::Kind::tool_call_start;
          s.index = tools_++;
          StreamEvent d;
          d.kind = StreamEvent::Kind::tool_call_delta;
          d.index = s.index;
          d.text = std::move(tc.arguments_json);
          s.tool_call = std::move(tc);
          out.push_back(std::move(s));
          out.push_back(std::move(d));
        }
      }
    }
    if (opt_bool(ctx, o, "done", "").value_or(false)) {
      StreamEvent fin;
      fin.kind = StreamEvent::Kind::finish;
      fin.stop_reason = parse_done_reason(opt_string(ctx, o, "done_reason", "").value_or(""));
      if (tools_ > 0 && fin.stop_reason == StopReason::end_turn) fin.stop_reason = StopReason::tool_use;
      fin.usage.input_tokens = count(ctx, o, "prompt_eval_count", "");
      fin.usage.output_tokens = count(ctx, o, "eval_count", "");
      out.push_back(std::move(fin));
      finished_ = true;
    }
    return out;
  });
}

// ---- Stream encoding -----------------------------------------------------------------------------------------

StreamEncoder::StreamEncoder(std::int64_t created_unix) : created_at_(created_at(created_unix)) {}

std::string StreamEncoder::line(json::object message, bool done) const {
  json::object o{{"model", model_}, {"created_at", created_at_}, {"message", std::move(message)}, {"done", done}};
  std::string out = to_json(o);
  out += '\n';
  return out;
}

std::string StreamEncoder::flush_tools() {
  if (pending_.empty()) return {};
  std::vector<ToolCall> calls;
  calls.reserve(pending_.size());
  for (auto& [ordinal, call] : pending_) calls.push_back(std::move(call));
  pending_.clear();
  return line(json::object{{"role", "assistant"}, {"content", ""}, {"tool_calls", tool_calls_array(calls)}}, false);
}

std::string StreamEncoder::encode(const StreamEvent& e) {
  if (finished_) return {};
  switch (e.kind) {
    case StreamEvent::Kind::start: model_ = e.model; return {};
    case StreamEvent::Kind::text: {
      if (e.text.empty()) return {};
      std::string out = flush_tools();
      out += line(json::object{{"role", "assistant"}, {"content", e.text}}, false);
      return out;
    }
    case StreamEvent::Kind::tool_call_start: {
      ToolCall call = e.tool_call;
      call.arguments_json.clear();
      pending_.emplace_back(e.index, std::move(call));
      return {};
    }
    case StreamEvent::Kind::tool_call_delta:
      for (auto& [ordinal, call] : pending_) {
        if (ordinal == e.index) call.arguments_json += e.text;
      }
      return {};
    case StreamEvent::Kind::finish: {
      std::string out = flush_tools();
      json::object o{{"model", model_},
                     {"created_at", created_at_},
                     {"message", json::object{{"role", "assistant"}, {"content", ""}}},
                     {"done_reason", done_reason(e.stop_reason)},
                     {"done", true},
                     {"prompt_eval_count", e.usage.input_tokens},
                     {"eval_count", e.usage.output_tokens}};
      out += to_json(o);
      out += '\n';
      finished_ = true;
      return out;
    }
  }
  return {};
}

json::object write_error(const Error& error) { return json::object{{"error", error.message}}; }

std::string encode_error(const Error& error) {
  std::string out = to_json(write_error(error));
  out += '\n';
  return out;
}

// ---- Embeddings ------------------------------------------------------------------------------------------------

Result<EmbedRequest> parse_embed_request(const json::value& body) {
  return guarded<EmbedRequest>([&]() -> EmbedRequest {
    const Context ctx = Context::request();
    const auto& o = as_object(ctx, body, "");
    EmbedRequest r;
    r.model = std::string(req_string(ctx, o, "model", ""));
    if (r.model.empty()) fail_field(ctx, "model", "must not be empty");
    const json::value* input = field(o, "input");
    if (input == nullptr) fail_field(ctx, "input", "is required");
    if (input->is_string()) {
      r.inputs.emplace_back(input->get_string());
    } else if (input->is_array()) {
      const auto& a = input->get_array();
      if (a.empty()) fail_field(ctx, "input", "must not be empty");
      for (std::size_t i = 0; i < a.size(); ++i) r.inputs.emplace_back(as_string(ctx, a[i], element("input", i)));
    } else {
      fail_field(ctx, "input", "must be a string or an array of strings");
    }
    r.dimensions = opt_positive(ctx, o, "dimensions", "");
    return r;
  });
}

json::object write_embed_request(const EmbedRequest& request, const std::string& model) {
  json::array input;
  for (const auto& s : request.inputs) input.emplace_back(s);
  json::object body{{"model", model}, {"input", std::move(input)}};
  if (request.dimensions) body["dimensions"] = *request.dimensions;
  return body;
}

Result<Embeddings> parse_embed_response(const json::value& body) {
  return guarded<Embeddings>([&]() -> Embeddings {
    const Context ctx = Context::response(kProvider);
    const auto& o = as_object(ctx, body, "");
    Embeddings e;
    e.model = std::string(opt_string(ctx, o, "model", "").value_or(""));
    const auto& embeddings = req_array(ctx, o, "embeddings", "");
    e.vectors.reserve(embeddings.size());
    for (std::size_t i = 0; i < embeddings.size(); ++i) {
      const std::string p = element("embeddings", i);
      const auto& vec = as_array(ctx, embeddings[i], p);
      std::vector<float> out;
      out.reserve(vec.size());
      for (const auto& x : vec) {
        if (!x.is_number()) fail_field(ctx, p, "must be an array of numbers");
        out.push_back(static_cast<float>(x.to_number<double>()));
      }
      e.vectors.push_back(std::move(out));
    }
    e.usage.input_tokens = count(ctx, o, "prompt_eval_count", "");
    return e;
  });
}

json::object write_embed_response(const Embeddings& embeddings) {
  json::array vectors;
  vectors.reserve(embeddings.vectors.size());
  for (const auto& v : embeddings.vectors) {
    json::array vec;
    vec.reserve(v.size());
    for (float x : v) vec.emplace_back(float_for_json(x));
    vectors.push_back(std::move(vec));
  }
  return json::object{{"model", embeddings.model},
                      {"embeddings", std::move(vectors)},
                      {"prompt_eval_count", embeddings.usage.input_tokens}};
}

// ---- Errors -------------------------------------------------------------------------------------------------------

Error map_upstream_error(int status, std::string_view body, std::optional<std::string_view> retry_after) {
  UpstreamFailure f;
  f.status = status;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    if (const json::value* e = v.get_object().if_contains("error"); e && e->is_string())
      f.message = std::string(e->get_string());
  }
  return classify_upstream_failure(f, retry_after);
}

}  // namespace aegis::wire::ollama
