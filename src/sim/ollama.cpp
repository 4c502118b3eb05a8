// The Ollama REST API as documented in ollama/docs/api.md: POST /api/chat
// (NDJSON stream unless "stream": false), POST /api/embed, the legacy
// POST /api/embeddings, GET /api/tags; errors {"error":"..."}.
#include <boost/json/array.hpp>

#include "core/encoding.hpp"
#include "core/json.hpp"
#include "core/time_format.hpp"
#include "sim/protocols.hpp"

namespace aegis::sim::detail {

namespace json = boost::json;

namespace {

constexpr std::int64_t kLoadNs = 1'000'000;  // nanoseconds, like every Ollama duration

std::string cannot_unmarshal(const json::value& value, std::string_view field, std::string_view go_type) {
  return "json: cannot unmarshal " + std::string(json_type_name(value)) + " into Go struct field " +
         std::string(field) + " of type " + std::string(go_type);
}

void add_timings(json::object& o, std::int64_t input_tokens, std::int64_t output_tokens) {
  const std::int64_t prompt_ns = input_tokens * 100'000;
  const std::int64_t eval_ns = output_tokens * 1'000'000;
  o["total_duration"] = kLoadNs + prompt_ns + eval_ns;
  o["load_duration"] = kLoadNs;
  o["prompt_eval_count"] = input_tokens;
  o["prompt_eval_duration"] = prompt_ns;
  o["eval_count"] = output_tokens;
  o["eval_duration"] = eval_ns;
}

}  // namespace

Reply ollama_error(int status, std::string message) {
  return json_reply(Protocol::ollama, status, json::object{{"error", std::move(message)}});
}

Reply ollama_chat(const http::HttpRequest& request, const Context& context) {
  auto parsed = parse_body(request.body);
  if (!parsed.object) return ollama_error(400, parsed.error);
  const json::object& body = *parsed.object;

  const auto* model = body.if_contains("model");
  if (model && !model->is_string()) return ollama_error(400, cannot_unmarshal(*model, "ChatRequest.model", "string"));
  if (!model || model->get_string().empty()) return ollama_error(400, "model is required");
  const std::string model_name(model->get_string());
  const std::string created_at = format_rfc3339_ms(context.now_unix_ms);

  bool streaming = true;  // Ollama streams unless told otherwise
  if (const auto* stream = body.if_contains("stream"); stream && !stream->is_null()) {
    if (!stream->is_bool()) return ollama_error(400, cannot_unmarshal(*stream, "ChatRequest.stream", "bool"));
    streaming = stream->get_bool();
  }

  Conversation conversation;
  const json::array* messages = nullptr;
  if (const auto* m = body.if_contains("messages"); m && !m->is_null()) {
    if (!m->is_array()) return ollama_error(400, cannot_unmarshal(*m, "ChatRequest.messages", "[]api.Message"));
    messages = &m->get_array();
  }
  if (!messages || messages->empty()) {
    // An empty chat only loads the model.
    json::object loaded{{"model", model_name},
                        {"created_at", created_at},
                        {"message", json::object{{"role", "assistant"}, {"content", ""}}},
                        {"done_reason", "load"},
                        {"done", true}};
    return json_reply(Protocol::ollama, 200, loaded);
  }
  std::string last_user_text;
  for (const auto& m : *messages) {
    if (!m.is_object()) return ollama_error(400, cannot_unmarshal(m, "ChatRequest.messages", "api.Message"));
    const auto& msg = m.get_object();
    const auto* role = msg.if_contains("role");
    if (!role || !role->is_string()) return ollama_error(400, "invalid message: role is required");
    const std::string_view r = role->get_string();
    if (r != "system" && r != "user" && r != "assistant" && r != "tool") {
      return ollama_error(400, "invalid role: " + std::string(r));
    }
    std::string text;
    if (const auto* content = msg.if_contains("content"); content && !content->is_null()) {
      if (!content->is_string())
        return ollama_error(400, cannot_unmarshal(*content, "Message.messages.content", "string"));
      text = std::string(content->get_string());
    }
    if (const auto* images = msg.if_contains("images"); images && !images->is_null()) {
      if (!images->is_array())
        return ollama_error(400, cannot_unmarshal(*images, "Message.messages.images", "[]api.ImageData"));
      for (const auto& image : images->get_array()) {
        // ImageData is a Go []byte: JSON carries it as standard base64.
        if (!image.is_string())
          return ollama_error(400, cannot_unmarshal(image, "Message.messages.images", "api.ImageData"));
        const auto bytes = base64_decode(image.get_string());
        if (!bytes) return ollama_error(400, "illegal base64 data in Message.messages.images");
        const std::string_view found = file_signature(*bytes);
        if (found.empty() || found == "application/pdf") return ollama_error(400, "image: unknown format");
        conversation.media_tokens += kImageTokens;
      }
    }
    conversation.text_bytes += text.size();
    if (r == "user") last_user_text = std::move(text);
  }
  const auto& last = messages->back().get_object();
  const std::string_view last_role = last.at("role").get_string();
  if (last_role == "tool") {
    if (const auto* c = last.if_contains("content"); c && c->is_string())
      conversation.echo_text = std::string(c->get_string());
  } else {
    conversation.echo_text = last_user_text;
    conversation.user_text_last = last_role == "user";
  }

  if (const auto* options = body.if_contains("options"); options && !options->is_null()) {
    if (!options->is_object())
      return ollama_error(400, cannot_unmarshal(*options, "ChatRequest.options", "map[string]interface {}"));
    const auto& o = options->get_object();
    if (const auto* n = o.if_contains("num_predict"); n && !n->is_null()) {
      auto value = as_int(*n);
      if (!value) return ollama_error(400, "option \"num_predict\" must be of type integer");
      if (*value > 0) conversation.max_tokens = *value;  // -1: unlimited, -2: fill the context
    }
    if (const auto* stop = o.if_contains("stop"); stop && !stop->is_null()) {
      if (!stop->is_array()) return ollama_error(400, "option \"stop\" must be of type array");
      for (const auto& s : stop->get_array()) {
        if (s.is_string()) conversation.stop_sequences.emplace_back(s.get_string());
      }
    }
  }
  if (const auto* tools = body.if_contains("tools"); tools && !tools->is_null()) {
    if (!tools->is_array()) return ollama_error(400, cannot_unmarshal(*tools, "ChatRequest.tools", "api.Tools"));
    for (const auto& t : tools->get_array()) {
      const json::object* fn = nullptr;
      if (t.is_object()) {
        if (const auto* f = t.get_object().if_contains("function"); f && f->is_object()) fn = &f->get_object();
      }
      const json::value* name = fn ? fn->if_contains("name") : nullptr;
      if (!name || !name->is_string() || name->get_string().empty())
        return ollama_error(400, "invalid tool: function name is required");
      conversation.tool_names.emplace_back(name->get_string());
    }
  }

  const Answer answer = make_answer(conversation);
  const std::string_view done_reason = answer.stop == StopReason::max_tokens ? "length" : "stop";
  json::object answer_message{{"role", "assistant"}, {"content", answer.tool_call ? std::string() : answer.text}};
  if (answer.tool_call) {
    answer_message["tool_calls"] = json::array{
        json::object{{"function", json::object{{"name", answer.tool_name}, {"arguments", json::object{}}}}}};
  }

  Reply reply;
  reply.protocol = Protocol::ollama;
  reply.output_tokens = answer.output_tokens;
  if (!streaming) {
    json::object done{{"model", model_name},
                      {"created_at", created_at},
                      {"message", std::move(answer_message)},
                      {"done_reason", done_reason},
                      {"done", true}};
    add_timings(done, answer.input_tokens, answer.output_tokens);
    reply.headers.push_back({"content-type", "application/json; charset=utf-8"});
    reply.body = to_json(done);
    return reply;
  }

  reply.streaming = true;
  reply.format = StreamFormat::ndjson;
  reply.headers.push_back({"content-type", "application/x-ndjson"});
  auto piece_frame = [&](json::object message) {
    json::object o{{"model", model_name}, {"created_at", created_at}, {"message", std::move(message)}, {"done", false}};
    reply.frames.push_back(Frame{"", to_json(o), true});
  };
  if (answer.tool_call) {
    piece_frame(std::move(answer_message));
  } else {
    for (const auto& piece : answer.pieces) piece_frame(json::object{{"role", "assistant"}, {"content", piece}});
  }
  json::object done{{"model", model_name},
                    {"created_at", created_at},
                    {"message", json::object{{"role", "assistant"}, {"content", ""}}},
                    {"done_reason", done_reason},
                    {"done", true}};
  add_timings(done, answer.input_tokens, answer.output_tokens);
  reply.frames.push_back(Frame{"", to_json(done), false});
  return reply;
}

Reply ollama_embed(const http::HttpRequest& request, const Context& context) {
  (void)context;
  auto parsed = parse_body(request.body);
  if (!parsed.object) return ollama_error(400, parsed.error);
  const json::object& body = *parsed.object;
  const auto* model = body.if_contains("model");
  if (!model || !model->is_string() || model->get_string().empty()) return ollama_error(400, "model is required");

  std::vector<std::string> texts;
  if (const auto* input = body.if_contains("input"); input && !input->is_null()) {
    if (input->is_string()) {
      texts.emplace_back(input->get_string());
    } else if (input->is_array()) {
      for (const auto& item : input->get_array()) {
        if (!item.is_string()) return ollama_error(400, "invalid input type");
        texts.emplace_back(item.get_string());
      }
    } else {
      return ollama_error(400, "invalid input type");
    }
  }
  std::size_t dimensions = 768;
  if (const auto* d = body.if_contains("dimensions"); d && !d->is_null()) {
    auto n = as_int(*d);
    if (!n || *n < 1 || *n > 768) return ollama_error(400, "dimensions must be between 1 and 768");
    dimensions = static_cast<std::size_t>(*n);
  }
  std::int64_t tokens = 0;
  std::string out = "{\"model\":" + to_json(json::value(model->get_string())) + ",\"embeddings\":[";
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (i) out += ',';
    append_float_array(out, embed_text(texts[i], dimensions));
    tokens += estimate_tokens(texts[i].size());
  }
  out += "],\"total_duration\":" + std::to_string(kLoadNs + tokens * 100'000) +
         ",\"load_duration\":" + std::to_string(kLoadNs) + ",\"prompt_eval_count\":" + std::to_string(tokens) + "}";
  Reply reply = json_text_reply(Protocol::ollama, 200, std::move(out));
  reply.headers.front().value = "application/json; charset=utf-8";
  return reply;
}

Reply ollama_embeddings_legacy(const http::HttpRequest& request, const Context& context) {
  (void)context;
  auto parsed = parse_body(request.body);
  if (!parsed.object) return ollama_error(400, parsed.error);
  const json::object& body = *parsed.object;
  const auto* model = body.if_contains("model");
  if (!model || !model->is_string() || model->get_string().empty()) return ollama_error(400, "model is required");
  std::string prompt;
  if (const auto* p = body.if_contains("prompt"); p && p->is_string()) prompt = std::string(p->get_string());
  std::string out = "{\"embedding\":";
  if (prompt.empty()) {
    out += "[]";
  } else {
    append_float_array(out, embed_text(prompt, 768));
  }
  out += '}';
  return json_text_reply(Protocol::ollama, 200, std::move(out));
}

Reply ollama_tags(const Context& context) {
  (void)context;
  struct Model {
    const char* name;
    std::int64_t size;
    const char* digest;
    const char* family;
    const char* parameters;
    const char* quantization;
  };
  static constexpr Model kModels[] = {
      {"llama3.2:latest", 2019393189, "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72", "llama",
       "3.2B", "Q4_K_M"},
      {"nomic-embed-text:latest", 274302450, "0a109f422b47e3a30ba2b10eca18548e944e8a23073ee3f3e947efcf3c45e59f",
       "nomic-bert", "137M", "F16"},
  };
  json::array models;
  for (const auto& m : kModels) {
    models.push_back(json::object{{"name", m.name},
                                  {"model", m.name},
                                  {"modified_at", "2025-01-01T00:00:00Z"},
                                  {"size", m.size},
                                  {"digest", m.digest},
                                  {"details", json::object{{"parent_model", ""},
                                                           {"format", "gguf"},
                                                           {"family", m.family},
                                                           {"families", json::array{m.family}},
                                                           {"parameter_size", m.parameters},
                                                           {"quantization_level", m.quantization}}}});
  }
  return json_reply(Protocol::ollama, 200, json::object{{"models", std::move(models)}});
}

}  // namespace aegis::sim::detail
