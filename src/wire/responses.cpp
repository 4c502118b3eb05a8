#include "wire/responses.hpp"

#include <algorithm>

#include "core/attachment_json.hpp"
#include "wire/common.hpp"
#include "wire/openai.hpp"

namespace aegis::wire::responses {

namespace json = boost::json;
using namespace detail;

namespace {

// Top-level fields and what becomes of them (see the header).
constexpr std::string_view kTranslated[] = {
    "model",       "input",       "instructions", "max_output_tokens",    "temperature",         "top_p", "tools",
    "tool_choice", "stream",      "store",        "previous_response_id", "parallel_tool_calls", "text",  "reasoning",
    "background",  "top_logprobs"};
constexpr std::string_view kEchoedOnly[] = {
    "metadata",          "user",    "truncation",    "service_tier", "prompt_cache_key",
    "safety_identifier", "include", "stream_options"};
// Refused with a reason of their own (anything else unknown is "unknown field").
constexpr std::string_view kRefused[] = {"conversation", "prompt", "max_tool_calls", "prompt_cache_retention"};

template <std::size_t N>
bool one_of(const std::string_view (&names)[N], std::string_view key) {
  return std::find(std::begin(names), std::end(names), key) != std::end(names);
}

void only_keys(const Context& ctx, const json::object& o, const std::string& path,
               std::initializer_list<std::string_view> allowed) {
  for (const auto& entry : o) {
    if (std::find(allowed.begin(), allowed.end(), entry.key()) == allowed.end())
      fail_field(ctx, child(path, entry.key()), "unknown field");
  }
}

// Uploaded files live at OpenAI, out of the gateway's sight: what it cannot
// read it cannot classify, so only inline data (and image URLs) pass.
constexpr std::string_view kInlineOnly = "file references are not supported; send the file inline";

// {"type":"input_image","image_url":"data:..." | "https://...","detail"?}
Attachment input_image(const Context& ctx, const json::object& part, const std::string& p) {
  only_keys(ctx, part, p, {"type", "image_url", "detail", "file_id"});
  if (field(part, "file_id") != nullptr) fail_field(ctx, child(p, "file_id"), kInlineOnly);
  return openai_image(ctx, part, "image_url", p);
}

// {"type":"input_file","file_data":"data:application/pdf;base64,...","filename"?}
Attachment input_file(const Context& ctx, const json::object& part, const std::string& p) {
  only_keys(ctx, part, p, {"type", "file_data", "filename", "file_id", "file_url"});
  for (std::string_view key : {"file_id", "file_url"}) {
    if (field(part, key) != nullptr) fail_field(ctx, child(p, key), kInlineOnly);
  }
  Attachment a = url_attachment(ctx, Attachment::Kind::document, req_string(ctx, part, "file_data", p),
                                child(p, "file_data"), false);
  a.filename = std::string(opt_string(ctx, part, "filename", p).value_or(""));
  return a;
}

// The text of a message's content: a string, or an array of parts.
// `assistant`: output_text and refusal parts (a previous answer sent back);
// otherwise input_text parts. Parts are joined the way wire/common.hpp says.
std::string content_text(const Context& ctx, const json::value& content, const std::string& path, bool assistant,
                         TextTally& tally, std::vector<Attachment>* attachments = nullptr) {
  std::string text;
  if (content.is_string()) {
    text = std::string(content.get_string());
    enforce(tally.add(text.size()));
    return text;
  }
  if (!content.is_array()) fail_field(ctx, path, "must be a string or an array of content parts");
  const auto& parts = content.get_array();
  bool first = true;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string p = element(path, i);
    const auto& part = as_object(ctx, parts[i], p);
    const std::string_view type = req_string(ctx, part, "type", p);
    std::string_view piece;
    if ((type == "input_text" && !assistant) || (type == "output_text" && assistant)) {
      piece = req_string(ctx, part, "text", p);
    } else if (type == "refusal" && assistant) {
      piece = req_string(ctx, part, "refusal", p);
    } else if (type == "input_text" || type == "output_text" || type == "refusal") {
      fail_field(ctx, child(p, "type"),
                 assistant ? "an assistant message holds output_text or refusal parts"
                           : "user, system and developer messages hold input_text parts");
    } else if (type == "input_image" || type == "input_file") {
      if (attachments == nullptr) fail_field(ctx, p, std::string(type) + " parts are only supported in user messages");
      attachments->push_back(type == "input_image" ? input_image(ctx, part, p) : input_file(ctx, part, p));
      continue;
    } else if (type == "input_audio") {
      fail_field(ctx, p, "audio input is not supported");
    } else {
      fail_field(ctx, child(p, "type"), "unknown content part type");
    }
    if (!first && !assistant) text += '\n';
    first = false;
    text += piece;
  }
  enforce(tally.add(text.size()));
  return text;
}

// One input item of type "message" (or an item with a role and no type).
void read_message_item(const Context& ctx, const json::object& item, const std::string& path, std::string& system,
                       std::vector<Message>& messages, TextTally& tally) {
  only_keys(ctx, item, path, {"type", "role", "content", "id", "status"});
  const std::string_view role = req_string(ctx, item, "role", path);
  const json::value* content = field(item, "content");
  const std::string cpath = child(path, "content");
  if (content == nullptr) fail_field(ctx, cpath, "is required");
  if (role == "system" || role == "developer") {
    if (!system.empty()) system += '\n';
    system += content_text(ctx, *content, cpath, false, tally);
  } else if (role == "user") {
    Message m;
    m.role = Role::user;
    m.text = content_text(ctx, *content, cpath, false, tally, &m.attachments);
    messages.push_back(std::move(m));
  } else if (role == "assistant") {
    Message m;
    m.role = Role::assistant;
    m.text = content_text(ctx, *content, cpath, true, tally);
    messages.push_back(std::move(m));
  } else {
    fail_field(ctx, child(path, "role"), "must be one of user, assistant, system, developer");
  }
}

void read_function_call(const Context& ctx, const json::object& item, const std::string& path,
                        std::vector<Message>& messages, TextTally& tally) {
  only_keys(ctx, item, path, {"type", "call_id", "name", "arguments", "id", "status"});
  ToolCall call;
  call.id = std::string(req_string(ctx, item, "call_id", path));
  if (call.id.empty()) fail_field(ctx, child(path, "call_id"), "must not be empty");
  call.name = std::string(req_string(ctx, item, "name", path));
  if (call.name.empty()) fail_field(ctx, child(path, "name"), "must not be empty");
  call.arguments_json = std::string(req_string(ctx, item, "arguments", path));
  enforce(tally.add(call.name.size() + call.arguments_json.size()));
  // Consecutive calls belong to one assistant turn (parallel tool calls).
  if (messages.empty() || messages.back().role != Role::assistant) {
    Message m;
    m.role = Role::assistant;
    messages.push_back(std::move(m));
  }
  messages.back().tool_calls.push_back(std::move(call));
}

void read_function_call_output(const Context& ctx, const json::object& item, const std::string& path,
                               std::vector<Message>& messages, TextTally& tally) {
  only_keys(ctx, item, path, {"type", "call_id", "output", "id", "status"});
  Message m;
  m.role = Role::tool;
  m.tool_call_id = std::string(req_string(ctx, item, "call_id", path));
  if (m.tool_call_id.empty()) fail_field(ctx, child(path, "call_id"), "must not be empty");
  const json::value* output = field(item, "output");
  if (output == nullptr) fail_field(ctx, child(path, "output"), "is required");
  m.text = content_text(ctx, *output, child(path, "output"), false, tally);
  messages.push_back(std::move(m));
}

ToolDefinition read_tool(const Context& ctx, const json::object& t, const std::string& p, TextTally& tally) {
  const std::string_view type = req_string(ctx, t, "type", p);
  if (type != "function") {
    fail_field(ctx, child(p, "type"),
               "the tool type '" + truncate_utf8(type, 64) +
                   "' is not supported through this gateway (built-in tools run at OpenAI, outside its "
                   "governance); only function tools are");
  }
  only_keys(ctx, t, p, {"type", "name", "description", "parameters", "strict"});
  ToolDefinition def;
  def.name = std::string(req_string(ctx, t, "name", p));
  if (def.name.empty()) fail_field(ctx, child(p, "name"), "must not be empty");
  def.description = std::string(opt_string(ctx, t, "description", p).value_or(""));
  enforce(tally.add(def.name.size() + def.description.size()));
  if (const json::object* params = opt_object(ctx, t, "parameters", p)) def.input_schema = *params;
  (void)opt_bool(ctx, t, "strict", p);
  return def;
}

json::value canonical_tool_choice(const Context& ctx, const json::value& v) {
  if (json::value mode = tool_choice_mode(ctx, v, "{\"type\":\"function\",\"name\":...}"); !mode.is_null()) {
    return mode;
  }
  const auto& o = v.get_object();
  if (req_string(ctx, o, "type", "tool_choice") != "function")
    fail_field(ctx, "tool_choice.type", "only function tool choices are supported");
  const std::string_view name = req_string(ctx, o, "name", "tool_choice");
  if (name.empty()) fail_field(ctx, "tool_choice.name", "must not be empty");
  return json::object{{"type", "tool"}, {"name", name}};
}

void check_text_options(const Context& ctx, const json::object& o) {
  const json::object* text = opt_object(ctx, o, "text", "");
  if (text == nullptr) return;
  only_keys(ctx, *text, "text", {"format", "verbosity"});
  if (const json::object* format = opt_object(ctx, *text, "format", "text")) {
    if (req_string(ctx, *format, "type", "text.format") != "text")
      fail_field(ctx, "text.format.type", "only text is supported (structured outputs are not translated)");
  }
}

void check_refused(const Context& ctx, const json::object& o) {
  for (std::string_view key : kRefused) {
    if (field(o, key) != nullptr) {
      fail_field(
          ctx, key,
          key == "conversation" ? "is not supported; chain turns with previous_response_id" : "is not supported");
    }
  }
  if (opt_bool(ctx, o, "background", "").value_or(false))
    fail_field(ctx, "background", "is not supported; use POST /v1/jobs for asynchronous work");
  if (const json::object* reasoning = opt_object(ctx, o, "reasoning", "")) {
    for (const auto& entry : *reasoning) {
      if (!entry.value().is_null()) fail_field(ctx, child("reasoning", entry.key()), "is not supported");
    }
  }
  if (opt_integer(ctx, o, "top_logprobs", "").value_or(0) != 0) fail_field(ctx, "top_logprobs", "is not supported");
  if (const json::value* include = field(o, "include")) {
    if (!include->is_array() || !include->get_array().empty())
      fail_field(ctx, "include", "only an empty list is supported");
  }
  if (const json::object* metadata = opt_object(ctx, o, "metadata", "")) {
    for (const auto& entry : *metadata) {
      if (!entry.value().is_string()) fail_field(ctx, child("metadata", entry.key()), "must be a string");
    }
  }
  for (std::string_view key : {"user", "truncation", "service_tier", "prompt_cache_key", "safety_identifier"})
    (void)opt_string(ctx, o, key, "");
  (void)opt_object(ctx, o, "stream_options", "");
}

std::string_view suffix_of(const std::string& id) {
  const auto at = id.find('_');
  return at == std::string::npos ? std::string_view(id) : std::string_view(id).substr(at + 1);
}

std::string message_id(const ResponseMeta& meta) { return "msg_" + std::string(suffix_of(meta.id)); }
std::string call_item_id(const ResponseMeta& meta, std::size_t ordinal) {
  return "fc_" + std::string(suffix_of(meta.id)) + "_" + std::to_string(ordinal);
}

json::object usage_object(const Usage& u) {
  // As OpenAI reports it: input_tokens counts the cached ones too.
  return json::object{{"input_tokens", u.prompt_tokens()},
                      {"input_tokens_details", json::object{{"cached_tokens", u.cache_read_tokens}}},
                      {"output_tokens", u.output_tokens},
                      {"output_tokens_details", json::object{{"reasoning_tokens", 0}}},
                      {"total_tokens", u.total_tokens()}};
}

json::object output_text_part(std::string_view text) {
  return json::object{
      {"type", "output_text"}, {"text", text}, {"annotations", json::array{}}, {"logprobs", json::array{}}};
}

json::object message_item(const ResponseMeta& meta, std::string_view text, bool done) {
  json::array content;
  if (done) content.push_back(output_text_part(text));
  return json::object{{"id", message_id(meta)},
                      {"type", "message"},
                      {"status", done ? "completed" : "in_progress"},
                      {"role", "assistant"},
                      {"content", std::move(content)}};
}

json::object function_call_item(const ResponseMeta& meta, std::size_t ordinal, const ToolCall& call, bool done) {
  return json::object{{"id", call_item_id(meta, ordinal)},
                      {"type", "function_call"},
                      {"status", done ? "completed" : "in_progress"},
                      {"call_id", call.id},
                      {"name", call.name},
                      {"arguments", done && call.arguments_json.empty() ? "{}" : call.arguments_json}};
}

// The response object around `output`; status "in_progress", "completed", "incomplete" or "failed".
json::object response_object(const ResponseMeta& meta, std::string_view model, std::string_view status,
                             json::array output, const Usage* usage) {
  json::object r{{"id", meta.id},
                 {"object", "response"},
                 {"created_at", meta.created_at},
                 {"status", status},
                 {"background", false},
                 {"error", nullptr},
                 {"incomplete_details", nullptr},
                 {"instructions", nullptr},
                 {"max_output_tokens", nullptr},
                 {"max_tool_calls", nullptr},
                 {"model", model},
                 {"output", std::move(output)},
                 {"parallel_tool_calls", true},
                 {"previous_response_id",
                  meta.previous_response_id ? json::value(*meta.previous_response_id) : json::value(nullptr)},
                 {"reasoning", json::object{{"effort", nullptr}, {"summary", nullptr}}},
                 {"service_tier", "default"},
                 {"store", meta.store},
                 {"temperature", 1.0},
                 {"text", json::object{{"format", json::object{{"type", "text"}}}}},
                 {"tool_choice", "auto"},
                 {"tools", json::array{}},
                 {"top_logprobs", 0},
                 {"top_p", 1.0},
                 {"truncation", "disabled"},
                 {"usage", usage != nullptr ? json::value(usage_object(*usage)) : json::value(nullptr)},
                 {"user", nullptr},
                 {"metadata", json::object{}}};
  for (const auto& entry : meta.echo) r[entry.key()] = entry.value();
  return r;
}

void set_outcome(json::object& r, StopReason reason) {
  if (reason == StopReason::max_tokens) {
    r["status"] = "incomplete";
    r["incomplete_details"] = json::object{{"reason", "max_output_tokens"}};
  } else if (reason == StopReason::content_filter) {
    r["status"] = "incomplete";
    r["incomplete_details"] = json::object{{"reason", "content_filter"}};
  }
}

}  // namespace

// ---- Requests -------------------------------------------------------------------

Result<ResponsesRequest> parse_request(const json::value& body, const RequestLimits& limits) {
  return guarded<ResponsesRequest>([&]() -> ResponsesRequest {
    const Context ctx = Context::request();
    const auto& o = as_object(ctx, body, "");
    for (const auto& entry : o) {
      const std::string_view key = entry.key();
      if (!one_of(kTranslated, key) && !one_of(kEchoedOnly, key) && !one_of(kRefused, key))
        fail_field(ctx, key, "unknown field");
    }
    check_refused(ctx, o);
    check_text_options(ctx, o);

    ResponsesRequest out;
    ChatRequest& r = out.chat;
    r.origin = WireProtocol::openai;  // no passthrough: nothing of the body rides along untranslated
    r.model = std::string(req_string(ctx, o, "model", ""));
    if (r.model.empty()) fail_field(ctx, "model", "must not be empty");

    TextTally tally(limits.max_text_bytes);
    std::string system;
    if (auto instructions = opt_string(ctx, o, "instructions", "")) {
      system = std::string(*instructions);
      enforce(tally.add(system.size()));
    }
    const json::value* input = field(o, "input");
    if (input == nullptr) fail_field(ctx, "input", "is required");
    if (input->is_string()) {
      if (input->get_string().empty()) fail_field(ctx, "input", "must not be empty");
      Message m;
      m.role = Role::user;
      m.text = std::string(input->get_string());
      enforce(tally.add(m.text.size()));
      r.messages.push_back(std::move(m));
    } else if (input->is_array()) {
      const auto& items = input->get_array();
      enforce(check_item_limit("input", items.size(), limits.max_messages, "max_messages"));
      for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string path = element("input", i);
        const auto& item = as_object(ctx, items[i], path);
        const std::string_view type = opt_string(ctx, item, "type", path).value_or("message");
        if (type == "message") {
          read_message_item(ctx, item, path, system, r.messages, tally);
        } else if (type == "function_call") {
          read_function_call(ctx, item, path, r.messages, tally);
        } else if (type == "function_call_output") {
          read_function_call_output(ctx, item, path, r.messages, tally);
        } else if (type == "reasoning" || type == "item_reference" || type == "file_search_call" ||
                   type == "web_search_call" || type == "computer_call" || type == "computer_call_output" ||
                   type == "code_interpreter_call" || type == "image_generation_call" || type == "mcp_call" ||
                   type == "local_shell_call" || type == "custom_tool_call") {
          fail_field(ctx, child(path, "type"), "input items of type '" + std::string(type) + "' are not supported");
        } else {
          fail_field(ctx, child(path, "type"), "unknown input item type");
        }
      }
    } else {
      fail_field(ctx, "input", "must be a string or an array of input items");
    }
    if (r.messages.empty()) fail_field(ctx, "input", "must contain at least one user, assistant or tool turn");
    r.system = std::move(system);

    r.max_tokens = opt_positive(ctx, o, "max_output_tokens", "");
    r.temperature = opt_number_in(ctx, o, "temperature", "", 0.0, 2.0);
    r.top_p = opt_number_in(ctx, o, "top_p", "", 0.0, 1.0);
    if (const json::array* tools = opt_array(ctx, o, "tools", "")) {
      enforce(check_item_limit("tools", tools->size(), limits.max_tools, "max_tools"));
      for (std::size_t i = 0; i < tools->size(); ++i) {
        const std::string p = element("tools", i);
        r.tools.push_back(read_tool(ctx, as_object(ctx, (*tools)[i], p), p, tally));
      }
    }
    if (const json::value* choice = field(o, "tool_choice")) r.tool_choice = canonical_tool_choice(ctx, *choice);
    if (auto parallel = opt_bool(ctx, o, "parallel_tool_calls", ""); parallel && !*parallel) {
      if (r.tool_choice.is_null()) r.tool_choice = json::object{{"type", "auto"}};
      r.tool_choice.get_object()["disable_parallel_tool_use"] = true;
    }
    r.stream = opt_bool(ctx, o, "stream", "").value_or(false);
    out.store = opt_bool(ctx, o, "store", "").value_or(true);
    if (auto previous = opt_string(ctx, o, "previous_response_id", "")) {
      if (previous->empty()) fail_field(ctx, "previous_response_id", "must not be empty");
      if (previous->size() > 128) fail_field(ctx, "previous_response_id", "is too long");
      out.previous_response_id = std::string(*previous);
    }

    for (std::string_view key : {"instructions", "max_output_tokens", "temperature", "top_p", "tools", "tool_choice",
                                 "parallel_tool_calls", "text", "truncation", "service_tier", "user", "metadata"}) {
      const json::value* v = field(o, key);
      if (v != nullptr) out.echo[key] = *v;
    }
    return out;
  });
}

// ---- Responses ------------------------------------------------------------------

json::object write_response(const Completion& c, const ResponseMeta& meta) {
  json::array output;
  if (!c.text.empty() || c.tool_calls.empty()) output.push_back(message_item(meta, c.text, true));
  for (std::size_t i = 0; i < c.tool_calls.size(); ++i)
    output.push_back(function_call_item(meta, i, c.tool_calls[i], true));
  json::object r = response_object(meta, c.model, "completed", std::move(output), &c.usage);
  set_outcome(r, c.stop_reason);
  return r;
}

json::object write_error(const Error& error) { return openai::write_error(error); }

// ---- Streams ----------------------------------------------------------------------

StreamEncoder::StreamEncoder(ResponseMeta meta) : meta_(std::move(meta)) {}

std::string StreamEncoder::event(std::string_view type, json::object data) {
  json::object out{{"type", type}};
  for (auto& entry : data) out[entry.key()] = std::move(entry.value());
  out["sequence_number"] = sequence_++;
  return sse_event(type, out);
}

std::string StreamEncoder::start_if_needed() {
  if (started_) return {};
  started_ = true;
  std::string out =
      event("response.created",
            json::object{{"response", response_object(meta_, completion_.model, "in_progress", {}, nullptr)}});
  out += event("response.in_progress",
               json::object{{"response", response_object(meta_, completion_.model, "in_progress", {}, nullptr)}});
  return out;
}

std::string StreamEncoder::open_message() {
  if (message_index_) return {};
  message_index_ = next_output_++;
  std::string out = event("response.output_item.added",
                          json::object{{"output_index", *message_index_}, {"item", message_item(meta_, "", false)}});
  out += event("response.content_part.added", json::object{{"item_id", message_id(meta_)},
                                                           {"output_index", *message_index_},
                                                           {"content_index", 0},
                                                           {"part", output_text_part("")}});
  return out;
}

std::string StreamEncoder::encode(const StreamEvent& e) {
  if (finished_) return {};
  std::string out;
  switch (e.kind) {
    case StreamEvent::Kind::start:
      if (!started_) {
        completion_.id = e.id;
        completion_.model = e.model;
      }
      out = start_if_needed();
      break;
    case StreamEvent::Kind::text:
      out = start_if_needed();
      if (e.text.empty()) break;
      out += open_message();
      completion_.text += e.text;
      out += event("response.output_text.delta", json::object{{"item_id", message_id(meta_)},
                                                              {"output_index", *message_index_},
                                                              {"content_index", 0},
                                                              {"delta", e.text},
                                                              {"logprobs", json::array{}}});
      break;
    case StreamEvent::Kind::tool_call_start: {
      out = start_if_needed();
      // Ordinals arrive in order (wire/common.hpp); a gap gets no item.
      if (e.index != completion_.tool_calls.size()) break;
      completion_.tool_calls.push_back(e.tool_call);
      tool_index_.push_back(next_output_++);
      out += event("response.output_item.added",
                   json::object{{"output_index", tool_index_.back()},
                                {"item", function_call_item(meta_, e.index, e.tool_call, false)}});
      break;
    }
    case StreamEvent::Kind::tool_call_delta:
      out = start_if_needed();
      if (e.index >= completion_.tool_calls.size() || e.text.empty()) break;
      completion_.tool_calls[e.index].arguments_json += e.text;
      out += event("response.function_call_arguments.delta", json::object{{"item_id", call_item_id(meta_, e.index)},
                                                                          {"output_index", tool_index_[e.index]},
                                                                          {"delta", e.text}});
      break;
    case StreamEvent::Kind::finish: {
      out = start_if_needed();
      completion_.stop_reason = e.stop_reason;
      completion_.stop_sequence = e.stop_sequence;
      completion_.usage = e.usage;
      if (completion_.tool_calls.empty()) out += open_message();  // an empty answer is still one message
      // Items are closed in output order.
      std::vector<std::pair<std::size_t, std::optional<std::size_t>>> items;  // output_index, tool ordinal
      if (message_index_) items.emplace_back(*message_index_, std::nullopt);
      for (std::size_t i = 0; i < tool_index_.size(); ++i) items.emplace_back(tool_index_[i], i);
      std::sort(items.begin(), items.end());
      json::array output;
      for (const auto& item : items) {
        const std::size_t index = item.first;
        if (!item.second) {
          out += event("response.output_text.done", json::object{{"item_id", message_id(meta_)},
                                                                 {"output_index", index},
                                                                 {"content_index", 0},
                                                                 {"text", completion_.text},
                                                                 {"logprobs", json::array{}}});
          out += event("response.content_part.done", json::object{{"item_id", message_id(meta_)},
                                                                  {"output_index", index},
                                                                  {"content_index", 0},
                                                                  {"part", output_text_part(completion_.text)}});
          json::object done = message_item(meta_, completion_.text, true);
          out += event("response.output_item.done", json::object{{"output_index", index}, {"item", done}});
          output.push_back(std::move(done));
        } else {
          const ToolCall& call = completion_.tool_calls[*item.second];
          json::object done = function_call_item(meta_, *item.second, call, true);
          out += event("response.function_call_arguments.done",
                       json::object{{"item_id", call_item_id(meta_, *item.second)},
                                    {"output_index", index},
                                    {"name", call.name},
                                    {"arguments", done["arguments"]}});
          out += event("response.output_item.done", json::object{{"output_index", index}, {"item", done}});
          output.push_back(std::move(done));
        }
      }
      json::object r = response_object(meta_, completion_.model, "completed", std::move(output), &completion_.usage);
      set_outcome(r, e.stop_reason);
      const bool complete = r["status"].as_string() == "completed";
      out += event(complete ? "response.completed" : "response.incomplete", json::object{{"response", std::move(r)}});
      finished_ = true;
      break;
    }
  }
  return out;
}

std::string StreamEncoder::encode_error(const Error& error) {
  if (finished_) return {};
  std::string out = start_if_needed();
  out += event("error", json::object{{"code", error_type(error.code)}, {"message", error.message}, {"param", nullptr}});
  json::object r = response_object(meta_, completion_.model, "failed", json::array{}, nullptr);
  r["error"] = json::object{{"code", error_type(error.code)}, {"message", error.message}};
  out += event("response.failed", json::object{{"response", std::move(r)}});
  finished_ = true;
  return out;
}

// ---- Stored conversations -----------------------------------------------------------

json::array write_messages(const std::vector<Message>& messages) {
  json::array out;
  out.reserve(messages.size());
  for (const auto& m : messages) {
    json::object o{{"role", m.role == Role::user        ? "user"
                            : m.role == Role::assistant ? "assistant"
                                                        : "tool"},
                   {"text", m.text}};
    if (!m.tool_calls.empty()) {
      json::array calls;
      for (const auto& c : m.tool_calls)
        calls.push_back(json::object{{"id", c.id}, {"name", c.name}, {"arguments", c.arguments_json}});
      o["tool_calls"] = std::move(calls);
    }
    if (!m.attachments.empty()) {
      json::array attachments;
      for (const auto& a : m.attachments) attachments.push_back(attachment_json(a));
      o["attachments"] = std::move(attachments);
    }
    if (m.role == Role::tool) {
      o["tool_call_id"] = m.tool_call_id;
      if (m.tool_error) o["tool_error"] = true;
    }
    out.push_back(std::move(o));
  }
  return out;
}

Result<std::vector<Message>> read_messages(const json::value& stored) {
  auto parsed = guarded<std::vector<Message>>([&]() -> std::vector<Message> {
    const Context ctx{ErrorCode::internal, "stored response: "};
    const auto& items = as_array(ctx, stored, "messages");
    std::vector<Message> out;
    out.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      const std::string p = element("messages", i);
      const auto& o = as_object(ctx, items[i], p);
      Message m;
      const std::string_view role = req_string(ctx, o, "role", p);
      if (role == "user") {
        m.role = Role::user;
      } else if (role == "assistant") {
        m.role = Role::assistant;
      } else if (role == "tool") {
        m.role = Role::tool;
      } else {
        fail_field(ctx, child(p, "role"), "unknown role");
      }
      m.text = std::string(req_string(ctx, o, "text", p));
      if (const json::array* calls = opt_array(ctx, o, "tool_calls", p)) {
        for (std::size_t j = 0; j < calls->size(); ++j) {
          const std::string cp = element(child(p, "tool_calls"), j);
          const auto& c = as_object(ctx, (*calls)[j], cp);
          m.tool_calls.push_back(ToolCall{std::string(req_string(ctx, c, "id", cp)),
                                          std::string(req_string(ctx, c, "name", cp)),
                                          std::string(req_string(ctx, c, "arguments", cp)),
                                          {}});
        }
      }
      if (const json::array* attachments = opt_array(ctx, o, "attachments", p)) {
        for (std::size_t j = 0; j < attachments->size(); ++j) {
          auto a = parse_attachment_json((*attachments)[j], element(child(p, "attachments"), j));
          if (!a.ok()) fail(ctx, a.error().message);
          m.attachments.push_back(std::move(*a));
        }
      }
      m.tool_call_id = std::string(opt_string(ctx, o, "tool_call_id", p).value_or(""));
      m.tool_error = opt_bool(ctx, o, "tool_error", p).value_or(false);
      out.push_back(std::move(m));
    }
    return out;
  });
  return parsed;
}

}  // namespace aegis::wire::responses
