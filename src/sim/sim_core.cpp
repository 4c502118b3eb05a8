#include "sim/sim_core.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/json.hpp"
#include "http/router.hpp"
#include "sim/protocols.hpp"

namespace aegis::sim::detail {

namespace json = boost::json;

std::string_view to_string(Protocol protocol) noexcept {
  switch (protocol) {
    case Protocol::anthropic: return "anthropic";
    case Protocol::azure: return "azure_openai";
    case Protocol::openai: return "openai";
    case Protocol::ollama: return "ollama";
  }
  return "openai";
}

// ------------------------------------------------------------------ frames

std::string serialize_frame(const Frame& frame, StreamFormat format) {
  std::string out;
  if (format == StreamFormat::ndjson) {
    out.reserve(frame.data.size() + 1);
    out += frame.data;
    out += '\n';
    return out;
  }
  out.reserve(frame.event.size() + frame.data.size() + 16);
  if (!frame.event.empty()) {
    out += "event: ";
    out += frame.event;
    out += '\n';
  }
  out += "data: ";
  out += frame.data;
  out += "\n\n";
  return out;
}

std::string corrupt_frame(const Frame& frame, StreamFormat format) {
  Frame broken = frame;
  broken.data = frame.data.substr(0, frame.data.size() / 2);
  // Never cut into something that still parses (e.g. "[DONE]" -> "[DO").
  if (broken.data.empty() || broken.data.front() != '{') broken.data = "{\"garbage\":";
  return serialize_frame(broken, format);
}

// ------------------------------------------------------------ text helpers

namespace {
bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
}  // namespace

std::vector<std::string> split_pieces(std::string_view text) {
  std::vector<std::string> pieces;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t start = i;
    while (i < text.size() && is_space(text[i])) ++i;
    while (i < text.size() && !is_space(text[i])) ++i;
    pieces.emplace_back(text.substr(start, i - start));
  }
  return pieces;
}

std::int64_t estimate_tokens(std::size_t bytes) noexcept { return static_cast<std::int64_t>((bytes + 3) / 4); }

std::uint64_t fnv1a64(std::string_view text) noexcept {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

bool contains_ignore_case(std::string_view haystack, std::string_view needle) noexcept {
  if (needle.empty()) return true;
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    std::size_t j = 0;
    while (j < needle.size() && lower(haystack[i + j]) == lower(needle[j])) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

std::string hex_id(std::uint64_t seed, std::size_t digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(digits);
  std::uint64_t state = seed;
  std::uint64_t bits = 0;
  int left = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    if (left == 0) {
      bits = splitmix64(state);
      left = 16;
    }
    out.push_back(kHex[bits & 0xF]);
    bits >>= 4;
    --left;
  }
  return out;
}

std::vector<float> embed_text(std::string_view text, std::size_t dimensions) {
  std::vector<double> sum(dimensions, 0.0);
  auto add_word = [&](std::string_view word) {
    std::uint64_t state = fnv1a64(word);
    for (std::size_t d = 0; d < dimensions; ++d) {
      const double u = static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;  // [0, 1)
      sum[d] += u * 2.0 - 1.0;
    }
  };
  std::string word;
  bool any = false;
  auto flush = [&] {
    if (word.empty()) return;
    add_word(word);
    any = true;
    word.clear();
  };
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || u >= 0x80) {
      word.push_back(lower(c));
    } else {
      flush();
    }
  }
  flush();
  if (!any) add_word(std::string("\x01") + std::string(text));  // no words: still deterministic, never zero
  double norm = 0;
  for (double v : sum) norm += v * v;
  norm = std::sqrt(norm);
  std::vector<float> out(dimensions);
  for (std::size_t d = 0; d < dimensions; ++d) out[d] = static_cast<float>(norm > 0 ? sum[d] / norm : 0.0);
  return out;
}

void append_float_array(std::string& out, const std::vector<float>& values) {
  out += '[';
  char buf[32];
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, values[i]);
    out.append(buf, end);
  }
  out += ']';
}

std::string_view file_signature(std::string_view bytes) noexcept {
  struct Signature {
    std::size_t offset;
    std::string_view magic;
    std::string_view media_type;
  };
  using namespace std::string_view_literals;
  // WebP is a RIFF container whose form type, at byte 8, says WEBP.
  static constexpr Signature kSignatures[] = {
      {0, "\x89PNG\r\n\x1a\n"sv, "image/png"sv},
      {0, "\xff\xd8\xff"sv, "image/jpeg"sv},
      {0, "GIF87a"sv, "image/gif"sv},
      {0, "GIF89a"sv, "image/gif"sv},
      {8, "WEBP"sv, "image/webp"sv},
      {0, "%PDF-"sv, "application/pdf"sv},
  };
  for (const auto& s : kSignatures) {
    if (bytes.size() < s.offset + s.magic.size() || bytes.compare(s.offset, s.magic.size(), s.magic) != 0) continue;
    if (s.offset == 8 && bytes.compare(0, 4, "RIFF") != 0) continue;
    return s.media_type;
  }
  return {};
}

Answer make_answer(const Conversation& conversation) {
  Answer answer;
  answer.input_tokens = estimate_tokens(conversation.text_bytes) + conversation.media_tokens;
  if (conversation.tools_allowed && !conversation.tool_names.empty() && conversation.user_text_last &&
      contains_ignore_case(conversation.echo_text, "use tool")) {
    answer.tool_call = true;
    answer.tool_name = conversation.tool_names.front();
    answer.stop = StopReason::tool_use;
    answer.output_tokens = estimate_tokens(answer.tool_name.size() + 2);  // name + "{}"
    return answer;
  }
  std::string text = "Echo:";
  if (!conversation.echo_text.empty()) text += " " + conversation.echo_text;
  // The earliest stop sequence ends the answer (it is not part of the output).
  std::size_t cut = std::string::npos;
  for (const auto& stop : conversation.stop_sequences) {
    if (stop.empty()) continue;
    const auto at = text.find(stop);
    if (at != std::string::npos && (cut == std::string::npos || at < cut)) {
      cut = at;
      answer.stop_sequence = stop;
    }
  }
  if (cut != std::string::npos) {
    text.resize(cut);
    answer.stop = StopReason::stop_sequence;
  }
  auto pieces = split_pieces(text);
  if (conversation.max_tokens && *conversation.max_tokens >= 0 &&
      pieces.size() > static_cast<std::size_t>(*conversation.max_tokens)) {
    pieces.resize(static_cast<std::size_t>(*conversation.max_tokens));
    answer.stop = StopReason::max_tokens;
    answer.stop_sequence.clear();
    text.clear();
    for (const auto& p : pieces) text += p;
  }
  answer.text = std::move(text);
  answer.pieces = std::move(pieces);
  answer.output_tokens = static_cast<std::int64_t>(answer.pieces.size());
  return answer;
}

// ------------------------------------------------------------------ faults

std::optional<FaultMode> parse_fault_mode(std::string_view name) noexcept {
  if (name == "none") return FaultMode::none;
  if (name == "status_429") return FaultMode::status_429;
  if (name == "status_500") return FaultMode::status_500;
  if (name == "status_503") return FaultMode::status_503;
  if (name == "reset") return FaultMode::reset;
  if (name == "hang") return FaultMode::hang;
  if (name == "truncate") return FaultMode::truncate;
  if (name == "garbage") return FaultMode::garbage;
  return std::nullopt;
}

std::string_view to_string(FaultMode mode) noexcept {
  switch (mode) {
    case FaultMode::none: return "none";
    case FaultMode::status_429: return "status_429";
    case FaultMode::status_500: return "status_500";
    case FaultMode::status_503: return "status_503";
    case FaultMode::reset: return "reset";
    case FaultMode::hang: return "hang";
    case FaultMode::truncate: return "truncate";
    case FaultMode::garbage: return "garbage";
  }
  return "none";
}

Result<void> FaultPlan::set(std::string_view mode, std::optional<std::int64_t> count, std::optional<double> rate,
                            std::uint64_t seed) {
  auto parsed = parse_fault_mode(mode);
  if (!parsed) {
    return make_error(ErrorCode::invalid_request,
                      "unknown fault mode '" + std::string(mode) +
                          "' (expected none, status_429, status_500, status_503, reset, hang, truncate or garbage)");
  }
  if (*parsed != FaultMode::none) {
    if (count.has_value() == rate.has_value()) {
      return make_error(ErrorCode::invalid_request, "give exactly one of 'count' and 'rate'");
    }
    if (count && *count < 0) return make_error(ErrorCode::invalid_request, "'count' must be >= 0");
    if (rate && !(std::isfinite(*rate) && *rate >= 0.0 && *rate <= 1.0)) {
      return make_error(ErrorCode::invalid_request, "'rate' must be a number in [0, 1]");
    }
  }
  mode_ = *parsed;
  remaining_.reset();
  rate_.reset();
  if (mode_ != FaultMode::none) {
    if (count) {
      remaining_ = *count;
      if (*count == 0) mode_ = FaultMode::none;
    } else {
      rate_ = *rate;
    }
  }
  seed_ = seed;
  rng_.seed(seed);
  return {};
}

FaultMode FaultPlan::next() {
  if (mode_ == FaultMode::none) return FaultMode::none;
  if (remaining_) {
    const FaultMode mode = mode_;
    if (--*remaining_ <= 0) {
      mode_ = FaultMode::none;
      remaining_.reset();
    }
    return mode;
  }
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;  // [0, 1)
  return u < rate_.value_or(0.0) ? mode_ : FaultMode::none;
}

// ----------------------------------------------------------- shared bits

Reply json_text_reply(Protocol protocol, int status, std::string body) {
  Reply reply;
  reply.protocol = protocol;
  reply.status = status;
  reply.headers.push_back({"content-type", "application/json"});
  reply.body = std::move(body);
  return reply;
}

Reply json_reply(Protocol protocol, int status, const json::value& body) {
  return json_text_reply(protocol, status, to_json(body));
}

ParsedBody parse_body(std::string_view body) {
  ParsedBody parsed;
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec) {
    parsed.error = body.empty() ? std::string("the request body is empty") : ec.message();
    return parsed;
  }
  if (!value.is_object()) {
    parsed.error = "the request body must be a JSON object, not " + std::string(json_type_name(value));
    return parsed;
  }
  parsed.object = std::move(value.as_object());
  return parsed;
}

std::string content_text(const json::value& content) {
  if (content.is_string()) return std::string(content.get_string());
  std::string out;
  if (!content.is_array()) return out;
  for (const auto& part : content.get_array()) {
    std::string piece;
    if (part.is_string()) {
      piece = std::string(part.get_string());
    } else if (part.is_object()) {
      const auto& o = part.get_object();
      if (auto* t = o.if_contains("text"); t && t->is_string()) {
        piece = std::string(t->get_string());
      } else if (auto* c = o.if_contains("content")) {
        piece = content_text(*c);  // tool_result blocks
      }
    }
    if (piece.empty()) continue;
    if (!out.empty()) out += '\n';
    out += piece;
  }
  return out;
}

std::string_view json_type_name(const json::value& value) noexcept {
  switch (value.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "boolean";
    case json::kind::int64:
    case json::kind::uint64: return "integer";
    case json::kind::double_: return "number";
    case json::kind::string: return "string";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
  }
  return "value";
}

std::optional<std::int64_t> as_int(const json::value& value) noexcept {
  if (value.is_int64()) return value.get_int64();
  if (value.is_uint64()) {
    const auto u = value.get_uint64();
    if (u <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(u);
    return std::nullopt;
  }
  return std::nullopt;
}

bool is_number(const json::value& value) noexcept { return value.is_int64() || value.is_uint64() || value.is_double(); }

double as_double(const json::value& value) noexcept {
  if (value.is_int64()) return static_cast<double>(value.get_int64());
  if (value.is_uint64()) return static_cast<double>(value.get_uint64());
  if (value.is_double()) return value.get_double();
  return 0;
}

bool PromptCache::contains(std::uint64_t key) const {
  std::lock_guard lock(mu_);
  return keys_.count(key) != 0;
}

void PromptCache::insert(std::uint64_t key) {
  std::lock_guard lock(mu_);
  if (keys_.size() >= kCapacity) keys_.clear();
  keys_.insert(key);
}

CacheUsage anthropic_cache_usage(PromptCache* cache, const std::vector<CachePrefix>& prefixes,
                                 std::int64_t total_input_tokens) {
  CacheUsage usage;
  usage.input_tokens = total_input_tokens;
  if (cache == nullptr || prefixes.empty()) return usage;
  std::size_t read_bytes = 0;
  for (const auto& p : prefixes) {
    if (cache->contains(p.key)) read_bytes = std::max(read_bytes, p.text_bytes);
  }
  const CachePrefix& last = prefixes.back();
  usage.cache_read_tokens = std::min(read_bytes > 0 ? estimate_tokens(read_bytes) : 0, total_input_tokens);
  const std::int64_t through_last = std::min(estimate_tokens(last.text_bytes), total_input_tokens);
  usage.cache_write_tokens = std::max<std::int64_t>(0, through_last - usage.cache_read_tokens);
  if (last.one_hour) usage.cache_write_1h_tokens = usage.cache_write_tokens;
  usage.input_tokens = total_input_tokens - usage.cache_read_tokens - usage.cache_write_tokens;
  for (const auto& p : prefixes) cache->insert(p.key);
  return usage;
}

std::string unique_id(std::string_view prefix, const http::HttpRequest& request, const Context& context,
                      std::size_t digits) {
  const std::uint64_t seed = fnv1a64(request.body) ^ (context.sequence * 0x9E3779B97F4A7C15ULL) ^
                             static_cast<std::uint64_t>(context.now_unix_ms);
  return std::string(prefix) + hex_id(seed, digits);
}

// -------------------------------------------------------------- dispatch

namespace {

bool anthropic_style(const http::HttpRequest& request) {
  return request.header("anthropic-version").has_value() || request.header("x-api-key").has_value();
}

Reply not_found(const http::HttpRequest& request, const Context& context) {
  switch (protocol_for(request)) {
    case Protocol::anthropic: return anthropic_error(404, "not_found_error", "Not Found", context);
    case Protocol::azure: return azure_error(404, "404", "Resource not found");
    case Protocol::openai:
      return openai_error(Protocol::openai, 404, "Invalid URL (" + request.method + " " + request.path + ")",
                          "invalid_request_error");
    case Protocol::ollama: break;
  }
  Reply reply;
  reply.protocol = Protocol::ollama;
  reply.status = 404;
  reply.headers.push_back({"content-type", "text/plain"});
  reply.body = "404 page not found";
  return reply;
}

Reply method_not_allowed(const http::HttpRequest& request, const Context& context, std::string_view allow) {
  Reply reply;
  switch (protocol_for(request)) {
    case Protocol::anthropic:
      reply = anthropic_error(405, "invalid_request_error", "Method Not Allowed", context);
      break;
    case Protocol::azure: reply = azure_error(405, "405", "Method Not Allowed"); break;
    case Protocol::openai:
      reply =
          openai_error(Protocol::openai, 405, "Invalid method for URL (" + request.method + " " + request.path + ")",
                       "invalid_request_error");
      break;
    case Protocol::ollama:
      reply.protocol = Protocol::ollama;
      reply.status = 405;
      reply.headers.push_back({"content-type", "text/plain"});
      reply.body = "405 method not allowed";
      break;
  }
  reply.headers.push_back({"allow", std::string(allow)});
  return reply;
}

}  // namespace

Protocol protocol_for(const http::HttpRequest& request) {
  const std::string_view path = request.path;
  if (path == "/v1/messages" || path.starts_with("/v1/messages/")) return Protocol::anthropic;
  if (path.starts_with("/openai/") || path == "/openai") return Protocol::azure;
  if (path.starts_with("/v1/") || path == "/v1")
    return anthropic_style(request) ? Protocol::anthropic : Protocol::openai;
  return Protocol::ollama;
}

Reply handle_provider_request(const http::HttpRequest& request, const Context& context) {
  const std::string_view method = request.method == "HEAD" ? std::string_view("GET") : std::string_view(request.method);
  const auto segments = http::split_path(request.path);
  const auto is = [&](std::initializer_list<std::string_view> want) {
    return segments.size() == want.size() && std::equal(want.begin(), want.end(), segments.begin());
  };
  auto route = [&](std::string_view allowed_method, auto&& serve) -> Reply {
    if (method != allowed_method) return method_not_allowed(request, context, allowed_method);
    return serve();
  };

  if (is({"v1", "messages"})) return route("POST", [&] { return anthropic_messages(request, context); });
  if (is({"v1", "chat", "completions"})) return route("POST", [&] { return openai_chat(request, context, nullptr); });
  if (is({"v1", "embeddings"})) return route("POST", [&] { return openai_embeddings(request, context, nullptr); });
  if (is({"v1", "models"})) {
    return route("GET", [&] {
      return anthropic_style(request) ? anthropic_models(request, context) : openai_models(request, context);
    });
  }
  if (is({"openai", "models"})) return route("GET", [&] { return openai_models(request, context); });
  if (segments.size() == 5 && segments[0] == "openai" && segments[1] == "deployments" && !segments[2].empty()) {
    const std::string deployment(segments[2]);
    if (segments[3] == "chat" && segments[4] == "completions") {
      return route("POST", [&] { return openai_chat(request, context, &deployment); });
    }
  }
  if (segments.size() == 4 && segments[0] == "openai" && segments[1] == "deployments" && segments[3] == "embeddings") {
    const std::string deployment(segments[2]);
    return route("POST", [&] { return openai_embeddings(request, context, &deployment); });
  }
  if (is({"api", "chat"})) return route("POST", [&] { return ollama_chat(request, context); });
  if (is({"api", "embed"})) return route("POST", [&] { return ollama_embed(request, context); });
  if (is({"api", "embeddings"})) return route("POST", [&] { return ollama_embeddings_legacy(request, context); });
  if (is({"api", "tags"})) return route("GET", [&] { return ollama_tags(context); });
  if (is({"api", "version"})) {
    return route("GET", [&] { return json_reply(Protocol::ollama, 200, json::object{{"version", "0.6.0"}}); });
  }
  if (segments.empty()) {
    return route("GET", [&] {
      Reply reply;
      reply.protocol = Protocol::ollama;
      reply.headers.push_back({"content-type", "text/plain; charset=utf-8"});
      reply.body = "Ollama is running";
      return reply;
    });
  }
  return not_found(request, context);
}

Reply fault_reply(Protocol protocol, int status, const Context& context) {
  Reply reply;
  switch (protocol) {
    case Protocol::anthropic:
      if (status == 429) {
        reply = anthropic_error(
            429, "rate_limit_error",
            "Number of requests has exceeded your rate limit (simulated fault). Please try again later.", context);
      } else if (status == 503) {
        reply = anthropic_error(503, "overloaded_error", "Overloaded", context);
      } else {
        reply = anthropic_error(status, "api_error", "Internal server error", context);
      }
      break;
    case Protocol::openai:
      if (status == 429) {
        reply =
            openai_error(protocol, 429, "Rate limit reached for requests (simulated fault). Please try again in 1s.",
                         "requests", "", "rate_limit_exceeded");
        reply.headers.push_back({"x-ratelimit-remaining-requests", "0"});
        reply.headers.push_back({"x-ratelimit-reset-requests", "1s"});
      } else if (status == 503) {
        reply = openai_error(protocol, 503, "The server is overloaded or not ready yet.", "server_error");
      } else {
        reply =
            openai_error(protocol, status, "The server had an error while processing your request. Sorry about that!",
                         "server_error");
      }
      break;
    case Protocol::azure:
      if (status == 429) {
        reply = azure_error(429, "429",
                            "Requests to the ChatCompletions_Create Operation have exceeded the token rate limit of "
                            "your current pricing tier (simulated fault). Please retry after 1 second.");
        reply.headers.push_back({"retry-after-ms", "1000"});
      } else if (status == 503) {
        reply = azure_error(503, "ServiceUnavailable", "The service is temporarily unable to process your request.");
      } else {
        reply = azure_error(status, "InternalServerError", "The server had an error while processing your request.");
      }
      break;
    case Protocol::ollama:
      if (status == 429) {
        reply = ollama_error(429, "server busy, please try again. maximum pending requests exceeded");
      } else if (status == 503) {
        reply = ollama_error(503, "server is overloaded");
      } else {
        reply = ollama_error(status, "llama runner process has terminated: exit status 2");
      }
      break;
  }
  if (status == 429 || status == 503) reply.headers.push_back({"retry-after", "1"});
  return reply;
}

}  // namespace aegis::sim::detail
