// OpenAI chat completions and embeddings as documented at
// platform.openai.com/docs/api-reference (also what vLLM serves), and the
// Azure OpenAI flavour from learn.microsoft.com (deployments in the path,
// api-version query parameter, api-key header, content filter results).
#include <boost/json/array.hpp>

#include <cctype>

#include "core/encoding.hpp"
#include "core/json.hpp"
#include "sim/protocols.hpp"

namespace aegis::sim::detail {

namespace json = boost::json;

namespace {

constexpr std::string_view kFingerprint = "fp_sim";

Reply bad_request(Protocol protocol, std::string message, std::string_view param = {}, std::string_view code = {}) {
  return openai_error(protocol, 400, std::move(message), "invalid_request_error", param, code);
}

std::optional<Reply> check_bearer(const http::HttpRequest& request) {
  auto auth = request.header("authorization");
  if (!auth || !auth->starts_with("Bearer ") || auth->size() <= 7) {
    return openai_error(Protocol::openai, 401,
                        "You didn't provide an API key. You need to provide your API key in an Authorization header "
                        "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                        "invalid_request_error");
  }
  return std::nullopt;
}

bool valid_api_version(std::string_view v) {
  // YYYY-MM-DD or YYYY-MM-DD-preview
  if (v.size() != 10 && !(v.size() == 18 && v.substr(10) == "-preview")) return false;
  for (std::size_t i = 0; i < 10; ++i) {
    const bool dash = i == 4 || i == 7;
    if (dash ? v[i] != '-' : !std::isdigit(static_cast<unsigned char>(v[i]))) return false;
  }
  return true;
}

std::string_view finish_reason(StopReason stop) {
  switch (stop) {
    case StopReason::end_turn:
    case StopReason::stop_sequence: return "stop";
    case StopReason::max_tokens: return "length";
    case StopReason::tool_use: return "tool_calls";
  }
  return "stop";
}

json::object content_filter_results() {
  json::object safe{{"filtered", false}, {"severity", "safe"}};
  return json::object{{"hate", safe}, {"self_harm", safe}, {"sexual", safe}, {"violence", safe}};
}

json::array prompt_filter_results() {
  return json::array{json::object{{"prompt_index", 0}, {"content_filter_results", content_filter_results()}}};
}

// Automatic prompt caching (OpenAI and Azure): every prefix of the messages
// (with the tools and the model) is cached; the longest one seen before that
// is kOpenAiMinCachedTokens long is read, in kOpenAiCacheStep steps.
// cached_tokens are part of prompt_tokens.
std::int64_t cached_prompt_tokens(PromptCache* cache, const std::string& model, const json::object& body,
                                  const std::vector<std::size_t>& prefix_bytes, std::int64_t prompt_tokens) {
  if (cache == nullptr) return 0;
  std::string seen = model;
  if (const auto* tools = body.if_contains("tools")) seen += to_json(*tools);
  std::int64_t cached = 0;
  std::vector<std::uint64_t> keys;
  const auto& messages = body.at("messages").get_array();
  for (std::size_t k = 0; k < messages.size() && k < prefix_bytes.size(); ++k) {
    seen += to_json(messages[k]);
    keys.push_back(fnv1a64(seen));
    const std::int64_t tokens = estimate_tokens(prefix_bytes[k]);
    if (tokens >= PromptCache::kOpenAiMinCachedTokens && cache->contains(keys.back())) {
      cached = tokens / PromptCache::kOpenAiCacheStep * PromptCache::kOpenAiCacheStep;
    }
  }
  for (const auto key : keys) cache->insert(key);
  return std::min(cached, prompt_tokens);
}

// A data URL's media type and decoded bytes; nullopt unless it is
// data:<type>[;...];base64,<valid base64>.
struct InlineFile {
  std::string media_type;
  std::string bytes;
};
std::optional<InlineFile> read_data_url(std::string_view url) {
  if (!url.starts_with("data:")) return std::nullopt;
  const auto comma = url.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  const std::string_view header = url.substr(5, comma - 5);
  if (!header.ends_with(";base64")) return std::nullopt;
  auto bytes = base64_decode(url.substr(comma + 1));
  if (!bytes || bytes->empty()) return std::nullopt;
  return InlineFile{std::string(header.substr(0, header.find(';'))), std::move(*bytes)};
}

// Image and file parts of a user message, as the API checks them; adds what
// they cost to `tokens`.
std::optional<Reply> check_media_parts(Protocol protocol, const json::array& parts, const std::string& at,
                                       std::int64_t& tokens) {
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].is_object()) continue;
    const auto& part = parts[i].get_object();
    const auto* type = part.if_contains("type");
    if (!type || !type->is_string()) continue;
    const std::string p = at + ".content[" + std::to_string(i) + "]";
    if (type->get_string() == "image_url") {
      const auto* image = part.if_contains("image_url");
      const auto* url = image && image->is_object() ? image->get_object().if_contains("url") : nullptr;
      if (!url || !url->is_string()) {
        return bad_request(protocol, "Missing required parameter: '" + p + ".image_url.url'.", p + ".image_url.url",
                           "missing_required_parameter");
      }
      const std::string_view u = url->get_string();
      std::string_view detail = "auto";
      if (const auto* d = image->get_object().if_contains("detail"); d && d->is_string()) detail = d->get_string();
      if (detail != "auto" && detail != "low" && detail != "high") {
        return bad_request(
            protocol, "Invalid value: '" + std::string(detail) + "'. Supported values are: 'auto', 'low', and 'high'.",
            p + ".image_url.detail", "invalid_value");
      }
      if (!u.starts_with("https://") && !u.starts_with("http://")) {
        const auto file = read_data_url(u);
        if (!file) {
          return bad_request(protocol,
                             "Invalid 'image_url'. Expected a base64-encoded data URL with an image MIME type (e.g. "
                             "'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got an invalid value.",
                             p + ".image_url.url", "invalid_value");
        }
        const std::string_view found = file_signature(file->bytes);
        if (found.empty() || found == "application/pdf" || !file->media_type.starts_with("image/")) {
          return bad_request(protocol,
                             "You uploaded an unsupported image. Please make sure your image has of one the following "
                             "formats: ['png', 'jpeg', 'gif', 'webp'].",
                             {}, "invalid_image_format");
        }
      }
      tokens += detail == "low" ? kLowDetailImageTokens : kImageTokens;
    } else if (type->get_string() == "file") {
      const auto* file = part.if_contains("file");
      if (!file || !file->is_object()) {
        return bad_request(protocol, "Missing required parameter: '" + p + ".file'.", p + ".file",
                           "missing_required_parameter");
      }
      const auto& f = file->get_object();
      const auto* data = f.if_contains("file_data");
      const auto* filename = f.if_contains("filename");
      // The API asks for a file_id when file_data comes without a filename.
      if (!f.contains("file_id") && (!data || !filename || !filename->is_string())) {
        return bad_request(protocol, "Missing required parameter: '" + p + ".file.file_id'.", p + ".file.file_id",
                           "missing_required_parameter");
      }
      if (data) {
        const auto inline_file = data->is_string() ? read_data_url(data->get_string()) : std::nullopt;
        if (!inline_file || inline_file->media_type != "application/pdf" ||
            file_signature(inline_file->bytes) != "application/pdf") {
          return bad_request(protocol, "Invalid file data: '" + p + ".file.file_data'. Expected a base64-encoded PDF.",
                             p + ".file.file_data", "invalid_value");
        }
      }
      tokens += kDocumentTokens;
    }
  }
  return std::nullopt;
}

}  // namespace

Reply openai_error(Protocol protocol, int status, std::string message, std::string_view type, std::string_view param,
                   std::string_view code) {
  json::object error{{"message", std::move(message)},
                     {"type", type},
                     {"param", param.empty() ? json::value(nullptr) : json::value(param)},
                     {"code", code.empty() ? json::value(nullptr) : json::value(code)}};
  return json_reply(protocol, status, json::object{{"error", std::move(error)}});
}

Reply azure_error(int status, std::string_view code, std::string message) {
  return json_reply(Protocol::azure, status,
                    json::object{{"error", json::object{{"code", code}, {"message", std::move(message)}}}});
}

std::optional<Reply> azure_preflight(const http::HttpRequest& request) {
  auto version = request.query_param("api-version");
  if (!version) return azure_error(404, "404", "Resource not found");
  if (!valid_api_version(*version)) return azure_error(400, "BadRequest", "API version not supported");
  auto key = request.header("api-key");
  auto auth = request.header("authorization");
  const bool has_key = (key && !key->empty()) || (auth && auth->starts_with("Bearer ") && auth->size() > 7);
  if (!has_key) {
    return azure_error(
        401, "401",
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
        "valid key for an active subscription and use a correct regional API endpoint for your resource.");
  }
  return std::nullopt;
}

Reply openai_chat(const http::HttpRequest& request, const Context& context, const std::string* deployment) {
  const Protocol protocol = deployment ? Protocol::azure : Protocol::openai;
  if (deployment) {
    if (auto rejected = azure_preflight(request)) return std::move(*rejected);
  } else if (auto rejected = check_bearer(request)) {
    return std::move(*rejected);
  }
  auto parsed = parse_body(request.body);
  if (!parsed.object) {
    return bad_request(protocol,
                       "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
                       "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
                       "valid JSON.) (" +
                           parsed.error + ")");
  }
  const json::object& body = *parsed.object;

  std::string model_name = deployment ? *deployment : std::string();
  if (const auto* model = body.if_contains("model")) {
    if (!model->is_string()) {
      return bad_request(
          protocol,
          "Invalid type for 'model': expected a string, but got " + std::string(json_type_name(*model)) + " instead.",
          "model", "invalid_type");
    }
    if (!deployment) model_name = std::string(model->get_string());
  }
  if (model_name.empty()) return bad_request(protocol, "you must provide a model parameter");

  const auto* messages = body.if_contains("messages");
  if (!messages) {
    return bad_request(protocol, "Missing required parameter: 'messages'.", "messages", "missing_required_parameter");
  }
  if (!messages->is_array()) {
    return bad_request(protocol,
                       "Invalid type for 'messages': expected an array of objects, but got " +
                           std::string(json_type_name(*messages)) + " instead.",
                       "messages", "invalid_type");
  }
  if (messages->get_array().empty()) {
    return bad_request(protocol,
                       "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty "
                       "array instead.",
                       "messages", "empty_array");
  }

  Conversation conversation;
  std::size_t index = 0;
  std::string last_user_text;
  std::vector<std::size_t> prefix_bytes;  // text bytes of messages[0..k], for automatic prompt caching
  for (const auto& m : messages->get_array()) {
    const std::string at = "messages[" + std::to_string(index++) + "]";
    if (!m.is_object()) {
      return bad_request(
          protocol,
          "Invalid type for '" + at + "': expected an object, but got " + std::string(json_type_name(m)) + " instead.",
          at, "invalid_type");
    }
    const auto& msg = m.get_object();
    const auto* role = msg.if_contains("role");
    if (!role)
      return bad_request(protocol, "Missing required parameter: '" + at + ".role'.", at + ".role",
                         "missing_required_parameter");
    const std::string_view r = role->is_string() ? std::string_view(role->get_string()) : std::string_view();
    if (r != "system" && r != "developer" && r != "user" && r != "assistant" && r != "tool" && r != "function") {
      return bad_request(protocol,
                         "Invalid value: '" + std::string(r) +
                             "'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and "
                             "'developer'.",
                         at + ".role", "invalid_value");
    }
    const auto* content = msg.if_contains("content");
    const bool may_be_null = r == "assistant";
    if (!content || content->is_null()) {
      if (!may_be_null) {
        return bad_request(protocol, "Missing required parameter: '" + at + ".content'.", at + ".content",
                           "missing_required_parameter");
      }
    } else if (!content->is_string() && !content->is_array()) {
      return bad_request(protocol,
                         "Invalid type for '" + at +
                             ".content': expected one of a string or array of objects, but got " +
                             std::string(json_type_name(*content)) + " instead.",
                         at + ".content", "invalid_type");
    }
    if (r == "tool") {
      const auto* id = msg.if_contains("tool_call_id");
      if (!id || !id->is_string()) {
        return bad_request(protocol,
                           "Missing parameter 'tool_call_id': messages with role 'tool' must have a 'tool_call_id'.",
                           at + ".tool_call_id", "missing_required_parameter");
      }
    }
    if (r == "user" && content && content->is_array()) {
      if (auto bad = check_media_parts(protocol, content->get_array(), at, conversation.media_tokens)) {
        return std::move(*bad);
      }
    }
    const std::string text = content ? content_text(*content) : std::string();
    conversation.text_bytes += text.size();
    prefix_bytes.push_back(conversation.text_bytes);
    if (r == "user") last_user_text = text;
  }
  const auto& last = messages->get_array().back().get_object();
  const std::string_view last_role = last.at("role").get_string();
  if (last_role == "tool" || last_role == "function") {
    conversation.echo_text = last.contains("content") ? content_text(last.at("content")) : std::string();
  } else {
    conversation.echo_text = last_user_text;
    conversation.user_text_last = last_role == "user";
  }

  for (std::string_view name : {"max_tokens", "max_completion_tokens"}) {
    if (const auto* v = body.if_contains(name); v && !v->is_null()) {
      auto n = as_int(*v);
      if (!n) {
        return bad_request(protocol,
                           "Invalid type for '" + std::string(name) + "': expected an integer, but got " +
                               std::string(json_type_name(*v)) + " instead.",
                           name, "invalid_type");
      }
      if (*n < 1) {
        return bad_request(protocol,
                           "Invalid '" + std::string(name) +
                               "': integer below minimum value. Expected a value >= 1, but got " + std::to_string(*n) +
                               " instead.",
                           name, "integer_below_min_value");
      }
      conversation.max_tokens = conversation.max_tokens ? std::min(*conversation.max_tokens, *n) : *n;
    }
  }
  bool streaming = false;
  if (const auto* stream = body.if_contains("stream"); stream && !stream->is_null()) {
    if (!stream->is_bool()) {
      return bad_request(protocol,
                         "Invalid type for 'stream': expected a boolean, but got " +
                             std::string(json_type_name(*stream)) + " instead.",
                         "stream", "invalid_type");
    }
    streaming = stream->get_bool();
  }
  bool include_usage = false;
  if (const auto* options = body.if_contains("stream_options"); options && !options->is_null()) {
    if (!streaming) {
      return bad_request(protocol, "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                         "stream_options", "invalid_value");
    }
    if (!options->is_object()) {
      return bad_request(protocol, "Invalid type for 'stream_options': expected an object.", "stream_options",
                         "invalid_type");
    }
    if (const auto* u = options->get_object().if_contains("include_usage"); u && u->is_bool())
      include_usage = u->get_bool();
  }
  static constexpr std::pair<std::string_view, double> kRanges[] = {{"temperature", 2.0}, {"top_p", 1.0}};
  for (const auto& [name, high] : kRanges) {
    if (const auto* v = body.if_contains(name); v && !v->is_null()) {
      if (!is_number(*v)) {
        return bad_request(protocol,
                           "Invalid type for '" + std::string(name) + "': expected a decimal, but got " +
                               std::string(json_type_name(*v)) + " instead.",
                           name, "invalid_type");
      }
      const double d = as_double(*v);
      if (d < 0.0 || d > high) {
        return bad_request(protocol, "Invalid '" + std::string(name) + "': decimal out of range.", name,
                           "decimal_out_of_range");
      }
    }
  }
  if (const auto* stop = body.if_contains("stop"); stop && !stop->is_null()) {
    if (stop->is_string()) {
      conversation.stop_sequences.emplace_back(stop->get_string());
    } else if (stop->is_array()) {
      for (const auto& s : stop->get_array()) {
        if (!s.is_string())
          return bad_request(protocol, "Invalid type for 'stop': expected an array of strings.", "stop",
                             "invalid_type");
        conversation.stop_sequences.emplace_back(s.get_string());
      }
    } else {
      return bad_request(protocol, "Invalid type for 'stop': expected a string or an array of strings.", "stop",
                         "invalid_type");
    }
  }
  if (const auto* tools = body.if_contains("tools"); tools && !tools->is_null()) {
    if (!tools->is_array())
      return bad_request(protocol, "Invalid type for 'tools': expected an array.", "tools", "invalid_type");
    std::size_t i = 0;
    for (const auto& t : tools->get_array()) {
      const std::string at = "tools[" + std::to_string(i++) + "]";
      const json::object* fn = nullptr;
      if (t.is_object()) {
        if (const auto* f = t.get_object().if_contains("function"); f && f->is_object()) fn = &f->get_object();
      }
      if (!fn)
        return bad_request(protocol, "Missing required parameter: '" + at + ".function'.", at + ".function",
                           "missing_required_parameter");
      const auto* name = fn->if_contains("name");
      if (!name || !name->is_string() || name->get_string().empty()) {
        return bad_request(protocol, "Missing required parameter: '" + at + ".function.name'.", at + ".function.name",
                           "missing_required_parameter");
      }
      conversation.tool_names.emplace_back(name->get_string());
    }
  }
  if (const auto* choice = body.if_contains("tool_choice"); choice && choice->is_string()) {
    if (choice->get_string() == "none") conversation.tools_allowed = false;
  }

  const Answer answer = make_answer(conversation);
  const std::string id = unique_id("chatcmpl-", request, context, 29);
  const std::string call_id = unique_id("call_", request, context);
  const std::int64_t created = context.now_unix_ms / 1000;
  const std::string_view finish = finish_reason(answer.stop);
  const std::int64_t cached =
      cached_prompt_tokens(context.prompt_cache, model_name, body, prefix_bytes, answer.input_tokens);
  const json::object usage{{"prompt_tokens", answer.input_tokens},
                           {"completion_tokens", answer.output_tokens},
                           {"total_tokens", answer.input_tokens + answer.output_tokens},
                           {"prompt_tokens_details", json::object{{"cached_tokens", cached}, {"audio_tokens", 0}}}};

  Reply reply;
  reply.protocol = protocol;
  reply.output_tokens = answer.output_tokens;

  if (!streaming) {
    json::object message{{"role", "assistant"}};
    if (answer.tool_call) {
      message["content"] = nullptr;
      message["tool_calls"] =
          json::array{json::object{{"id", call_id},
                                   {"type", "function"},
                                   {"function", json::object{{"name", answer.tool_name}, {"arguments", "{}"}}}}};
    } else {
      message["content"] = answer.text;
    }
    message["refusal"] = nullptr;
    json::object choice{
        {"index", 0}, {"message", std::move(message)}, {"logprobs", nullptr}, {"finish_reason", finish}};
    if (deployment) choice["content_filter_results"] = content_filter_results();
    json::object completion{{"id", id},
                            {"object", "chat.completion"},
                            {"created", created},
                            {"model", model_name},
                            {"choices", json::array{std::move(choice)}},
                            {"usage", usage},
                            {"system_fingerprint", kFingerprint}};
    if (deployment) completion["prompt_filter_results"] = prompt_filter_results();
    reply.headers.push_back({"content-type", "application/json"});
    reply.body = to_json(completion);
    return reply;
  }

  reply.streaming = true;
  reply.format = StreamFormat::sse;
  reply.headers.push_back({"content-type", "text/event-stream; charset=utf-8"});
  reply.headers.push_back({"cache-control", "no-cache"});
  auto chunk = [&](json::object delta, json::value finish_value, bool token) {
    json::object choice{
        {"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", std::move(finish_value)}};
    json::object c{{"id", id},
                   {"object", "chat.completion.chunk"},
                   {"created", created},
                   {"model", model_name},
                   {"system_fingerprint", kFingerprint},
                   {"choices", json::array{std::move(choice)}}};
    if (include_usage) c["usage"] = nullptr;
    reply.frames.push_back(Frame{"", to_json(c), token});
  };
  if (deployment) {
    // Azure opens with the prompt's content-filter verdict: no id, no model, no choices.
    json::object first{{"choices", json::array{}},
                       {"created", 0},
                       {"id", ""},
                       {"model", ""},
                       {"object", ""},
                       {"prompt_filter_results", prompt_filter_results()}};
    reply.frames.push_back(Frame{"", to_json(first), false});
  }
  if (answer.tool_call) {
    chunk(json::object{{"role", "assistant"},
                       {"content", nullptr},
                       {"tool_calls", json::array{json::object{
                                          {"index", 0},
                                          {"id", call_id},
                                          {"type", "function"},
                                          {"function", json::object{{"name", answer.tool_name}, {"arguments", ""}}}}}},
                       {"refusal", nullptr}},
          nullptr, true);
    chunk(json::object{{"tool_calls",
                        json::array{json::object{{"index", 0}, {"function", json::object{{"arguments", "{}"}}}}}}},
          nullptr, true);
  } else {
    chunk(json::object{{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}}, nullptr, false);
    for (const auto& piece : answer.pieces) chunk(json::object{{"content", piece}}, nullptr, true);
  }
  chunk(json::object{}, json::value(finish), false);
  if (include_usage) {
    json::object c{{"id", id},
                   {"object", "chat.completion.chunk"},
                   {"created", created},
                   {"model", model_name},
                   {"system_fingerprint", kFingerprint},
                   {"choices", json::array{}},
                   {"usage", usage}};
    reply.frames.push_back(Frame{"", to_json(c), false});
  }
  reply.frames.push_back(Frame{"", "[DONE]", false});
  return reply;
}

Reply openai_embeddings(const http::HttpRequest& request, const Context& context, const std::string* deployment) {
  (void)context;
  const Protocol protocol = deployment ? Protocol::azure : Protocol::openai;
  if (deployment) {
    if (auto rejected = azure_preflight(request)) return std::move(*rejected);
  } else if (auto rejected = check_bearer(request)) {
    return std::move(*rejected);
  }
  auto parsed = parse_body(request.body);
  if (!parsed.object) {
    return bad_request(protocol, "We could not parse the JSON body of your request. (" + parsed.error + ")");
  }
  const json::object& body = *parsed.object;
  std::string model_name = deployment ? *deployment : std::string();
  if (const auto* model = body.if_contains("model"); model && model->is_string() && !deployment) {
    model_name = std::string(model->get_string());
  }
  if (model_name.empty()) return bad_request(protocol, "you must provide a model parameter");

  const auto* input = body.if_contains("input");
  if (!input)
    return bad_request(protocol, "Missing required parameter: 'input'.", "input", "missing_required_parameter");
  std::vector<std::string> texts;
  auto invalid_input = [&] {
    return bad_request(protocol,
                       "'$.input' is invalid. Please check the API reference: "
                       "https://platform.openai.com/docs/api-reference.",
                       "input");
  };
  auto tokens_text = [](const json::array& tokens) -> std::optional<std::string> {
    std::string text;
    for (const auto& t : tokens) {
      if (!as_int(t)) return std::nullopt;
      if (!text.empty()) text += ' ';
      text += std::to_string(*as_int(t));
    }
    return text;
  };
  if (input->is_string()) {
    if (input->get_string().empty()) return invalid_input();
    texts.emplace_back(input->get_string());
  } else if (input->is_array() && !input->get_array().empty()) {
    const auto& items = input->get_array();
    if (as_int(items.front())) {
      auto text = tokens_text(items);
      if (!text) return invalid_input();
      texts.push_back(std::move(*text));
    } else {
      for (const auto& item : items) {
        if (item.is_string() && !item.get_string().empty()) {
          texts.emplace_back(item.get_string());
        } else if (item.is_array() && !item.get_array().empty()) {
          auto text = tokens_text(item.get_array());
          if (!text) return invalid_input();
          texts.push_back(std::move(*text));
        } else {
          return invalid_input();
        }
      }
    }
  } else {
    return invalid_input();
  }

  std::size_t dimensions = 1536;
  if (const auto* d = body.if_contains("dimensions"); d && !d->is_null()) {
    auto n = as_int(*d);
    if (!n || *n < 1 || *n > 3072) {
      return bad_request(protocol, "Invalid 'dimensions': expected an integer between 1 and 3072.", "dimensions",
                         "invalid_value");
    }
    dimensions = static_cast<std::size_t>(*n);
  }
  bool base64 = false;
  if (const auto* f = body.if_contains("encoding_format"); f && !f->is_null()) {
    if (!f->is_string() || (f->get_string() != "float" && f->get_string() != "base64")) {
      return bad_request(protocol, "Invalid value for 'encoding_format': expected 'float' or 'base64'.",
                         "encoding_format", "invalid_value");
    }
    base64 = f->get_string() == "base64";
  }

  std::int64_t tokens = 0;
  std::string out = "{\"object\":\"list\",\"data\":[";
  for (std::size_t i = 0; i < texts.size(); ++i) {
    tokens += estimate_tokens(texts[i].size());
    const auto vector = embed_text(texts[i], dimensions);
    if (i) out += ',';
    out += "{\"object\":\"embedding\",\"index\":" + std::to_string(i) + ",\"embedding\":";
    if (base64) {
      out += '"';
      out += base64_floats(vector);
      out += '"';
    } else {
      append_float_array(out, vector);
    }
    out += '}';
  }
  out += "],\"model\":";
  out += to_json(json::value(model_name));
  out +=
      ",\"usage\":{\"prompt_tokens\":" + std::to_string(tokens) + ",\"total_tokens\":" + std::to_string(tokens) + "}}";
  return json_text_reply(protocol, 200, std::move(out));
}

Reply openai_models(const http::HttpRequest& request, const Context& context) {
  // Azure's "Models - List" (GET /openai/models?api-version=) authenticates with api-key.
  if (request.path.starts_with("/openai/")) {
    if (auto rejected = azure_preflight(request)) return std::move(*rejected);
  } else if (auto rejected = check_bearer(request)) {
    return std::move(*rejected);
  }
  (void)context;
  static constexpr const char* kModels[] = {"gpt-4o", "gpt-4o-mini", "text-embedding-3-small",
                                            "text-embedding-3-large"};
  json::array data;
  for (const char* id : kModels) {
    data.push_back(json::object{{"id", id}, {"object", "model"}, {"created", 1715367049}, {"owned_by", "system"}});
  }
  return json_reply(Protocol::openai, 200, json::object{{"object", "list"}, {"data", std::move(data)}});
}

}  // namespace aegis::sim::detail
