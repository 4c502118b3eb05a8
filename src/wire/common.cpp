#include "wire/common.hpp"

#include <boost/json/parse.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/data_url.hpp"
#include "core/encoding.hpp"
#include "core/json.hpp"
#include "core/media_type.hpp"

namespace aegis::wire {

namespace json = boost::json;

// ---- Upstream errors ------------------------------------------------------

namespace {

std::string provider_said(const UpstreamFailure& f) {
  std::string text = truncate_utf8(f.message, 300);
  return text;
}

}  // namespace

Error classify_upstream_failure(const UpstreamFailure& f, std::optional<std::string_view> retry_after) {
  const int status = f.status;
  auto with_retry = [&](Error e) {
    e.retry_after_seconds = parse_retry_after(retry_after);
    return e;
  };
  if (f.type == "overloaded_error" || status == 529) {
    return with_retry(make_error(ErrorCode::unavailable, "provider is overloaded"));
  }
  if (f.code == "insufficient_quota" || f.type == "insufficient_quota") {
    // OpenAI sends this as a 429, but waiting does not help: the account is out of credit.
    return make_error(ErrorCode::upstream_error, "provider quota exhausted (check the provider account's billing)");
  }
  switch (status) {
    case 400:
    case 404:
    case 413:
    case 422: {
      std::string said = provider_said(f);
      if (said.empty())
        return make_error(ErrorCode::invalid_request,
                          "provider rejected the request (HTTP " + std::to_string(status) + ")");
      return make_error(ErrorCode::invalid_request, "provider rejected the request: " + said);
    }
    case 401:
    case 403: return make_error(ErrorCode::upstream_error, "provider rejected the credentials");
    case 402:
      return make_error(ErrorCode::upstream_error, "provider rejected the request for billing reasons (HTTP 402)");
    case 408:
    case 504:
      return make_error(ErrorCode::upstream_timeout, "provider timed out (HTTP " + std::to_string(status) + ")");
    case 429: return with_retry(make_error(ErrorCode::rate_limited, "provider rate limit exceeded"));
    case 500: return make_error(ErrorCode::upstream_error, "provider internal error (HTTP 500)");
    case 502:
    case 503:
      return with_retry(
          make_error(ErrorCode::unavailable, "provider unavailable (HTTP " + std::to_string(status) + ")"));
    default: break;
  }
  if (status >= 500 && status < 600) {
    return make_error(ErrorCode::upstream_error, "provider error (HTTP " + std::to_string(status) + ")");
  }
  if (status > 0) return make_error(ErrorCode::upstream_error, "provider returned HTTP " + std::to_string(status));
  return make_error(ErrorCode::upstream_error,
                    f.type.empty() ? "provider error" : "provider error: " + truncate_utf8(f.type, 60));
}

int parse_retry_after(std::optional<std::string_view> header) noexcept {
  if (!header) return 0;
  std::string_view text = *header;
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.empty()) return 0;
  double seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds, std::chars_format::fixed);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(seconds) || seconds <= 0) return 0;
  constexpr double max_seconds = 24 * 3600;
  return static_cast<int>(std::ceil(std::min(seconds, max_seconds)));
}

std::string truncate_utf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t cut = max_bytes;
  // Step back over continuation bytes so a multi-byte character is not split.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...";
}

// ---- SSE -------------------------------------------------------------------

std::string sse_event(std::string_view name, const json::value& data) {
  std::string out;
  out.reserve(64);
  out += "event: ";
  out += name;
  out += "\ndata: ";
  append_json(out, data);
  out += "\n\n";
  return out;
}

std::string sse_data(const json::value& data) {
  std::string out = "data: ";
  append_json(out, data);
  out += "\n\n";
  return out;
}

// ---- Conversions -------------------------------------------------------------

double float_for_json(float value) noexcept {
  if (!std::isfinite(value)) return static_cast<double>(value);
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc()) return static_cast<double>(value);
  double out = 0;
  std::from_chars(buf, end, out);
  return out;
}

json::object arguments_object(std::string_view arguments_json) {
  if (arguments_json.empty()) return {};
  boost::system::error_code ec;
  json::value v = json::parse(arguments_json, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.get_object());
}

std::string synthesize_tool_call_id(std::string_view name, std::string_view arguments, std::size_t ordinal) {
  // FNV-1a over name, arguments and position: stable for the same call, distinct across calls.
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;
    h *= 1099511628211ULL;
  };
  mix(name);
  mix(arguments);
  mix(std::to_string(ordinal));
  std::array<unsigned char, 8> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(h >> (56 - 8 * i));
  return "call_" + hex_encode(bytes);
}

// ---- Strict field access -------------------------------------------------------

namespace detail {

void fail(const Context& ctx, std::string_view message) {
  std::string text = ctx.prefix;
  text += message;
  throw Failure{make_error(ctx.code, std::move(text))};
}

void fail_field(const Context& ctx, std::string_view path, std::string_view what) {
  std::string message(path);
  message += ": ";
  message += what;
  fail(ctx, std::move(message));
}

std::string child(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  std::string out(path);
  out += '.';
  out += key;
  return out;
}

std::string element(std::string_view path, std::size_t index) {
  std::string out(path);
  out += '[';
  out += std::to_string(index);
  out += ']';
  return out;
}

const json::object& as_object(const Context& ctx, const json::value& v, std::string_view path) {
  if (!v.is_object()) fail_field(ctx, path.empty() ? "body" : path, "must be an object");
  return v.get_object();
}

const json::array& as_array(const Context& ctx, const json::value& v, std::string_view path) {
  if (!v.is_array()) fail_field(ctx, path, "must be an array");
  return v.get_array();
}

std::string_view as_string(const Context& ctx, const json::value& v, std::string_view path) {
  if (!v.is_string()) fail_field(ctx, path, "must be a string");
  const auto& s = v.get_string();
  return std::string_view(s.data(), s.size());
}

const json::value* field(const json::object& o, std::string_view key) noexcept {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return nullptr;
  return v;
}

const json::object* opt_object(const Context& ctx, const json::object& o, std::string_view key, std::string_view path) {
  const json::value* v = field(o, key);
  if (v == nullptr) return nullptr;
  if (!v->is_object()) fail_field(ctx, child(path, key), "must be an object");
  return &v->get_object();
}

const json::array* opt_array(const Context& ctx, const json::object& o, std::string_view key, std::string_view path) {
  const json::value* v = field(o, key);
  if (v == nullptr) return nullptr;
  if (!v->is_array()) fail_field(ctx, child(path, key), "must be an array");
  return &v->get_array();
}

std::optional<std::string_view> opt_string(const Context& ctx, const json::object& o, std::string_view key,
                                           std::string_view path) {
  const json::value* v = field(o, key);
  if (v == nullptr) return std::nullopt;
  return as_string(ctx, *v, child(path, key));
}

std::optional<bool> opt_bool(const Context& ctx, const json::object& o, std::string_view key, std::string_view path) {
  const json::value* v = field(o, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) fail_field(ctx, child(path, key), "must be a boolean");
  return v->get_bool();
}

std::optional<double> opt_number(const Context& ctx, const json::object& o, std::string_view key,
                                 std::string_view path) {
  const json::value* v = field(o, key);
  if (v == nullptr) return std::nullopt;
  switch (v->kind()) {
    case json::kind::double_: return v->get_double();
    case json::kind::int64: return static_cast<double>(v->get_int64());
    case json::kind::uint64: return static_cast<double>(v->get_uint64());
    default: fail_field(ctx, child(path, key), "must be a number");
  }
}

std::optional<std::int64_t> opt_integer(const Context& ctx, const json::object& o, std::string_view key,
                                        std::string_view path) {
  const json::value* v = field(o, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return static_cast<std::int64_t>(v->get_uint64());
  }
  fail_field(ctx, child(path, key), "must be an integer");
}

const json::object& req_object(const Context& ctx, const json::object& o, std::string_view key, std::string_view path) {
  const json::object* v = opt_object(ctx, o, key, path);
  if (v == nullptr) fail_field(ctx, child(path, key), "is required");
  return *v;
}

const json::array& req_array(const Context& ctx, const json::object& o, std::string_view key, std::string_view path) {
  const json::array* v = opt_array(ctx, o, key, path);
  if (v == nullptr) fail_field(ctx, child(path, key), "is required and must be an array");
  return *v;
}

std::string_view req_string(const Context& ctx, const json::object& o, std::string_view key, std::string_view path) {
  auto v = opt_string(ctx, o, key, path);
  if (!v) fail_field(ctx, child(path, key), "is required and must be a string");
  return *v;
}

json::value tool_choice_mode(const Context& ctx, const json::value& v, std::string_view object_form) {
  if (v.is_string()) {
    const auto& s = v.get_string();
    if (s == "none") return json::object{{"type", "none"}};
    if (s == "auto") return json::object{{"type", "auto"}};
    if (s == "required") return json::object{{"type", "any"}};
    fail_field(ctx, "tool_choice", "must be none, auto, required or " + std::string(object_form));
  }
  if (!v.is_object()) fail_field(ctx, "tool_choice", "must be a string or an object");
  return nullptr;
}

std::int64_t count(const Context& ctx, const json::object& o, std::string_view key, std::string_view path) {
  auto n = opt_integer(ctx, o, key, path);
  if (!n) return 0;
  if (*n < 0) fail_field(ctx, child(path, key), "must not be negative");
  return *n;
}

std::optional<double> opt_number_in(const Context& ctx, const json::object& o, std::string_view key,
                                    std::string_view path, double lo, double hi) {
  auto n = opt_number(ctx, o, key, path);
  if (n && !(*n >= lo && *n <= hi)) {
    auto fmt = [](double d) {
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
      return std::string(buf, end);
    };
    fail_field(ctx, child(path, key), "must be a number between " + fmt(lo) + " and " + fmt(hi));
  }
  return n;
}

std::optional<std::int64_t> opt_positive(const Context& ctx, const json::object& o, std::string_view key,
                                         std::string_view path) {
  const json::value* v = field(o, key);
  if (v == nullptr) return std::nullopt;
  std::optional<std::int64_t> n;
  if (v->is_int64()) n = v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    n = static_cast<std::int64_t>(v->get_uint64());
  }
  if (!n || *n <= 0) fail_field(ctx, child(path, key), "must be a positive integer");
  return n;
}

std::vector<std::string> string_or_strings(const Context& ctx, const json::value& v, std::string_view path) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  if (v.is_string()) {
    out.emplace_back(v.get_string());
    return out;
  }
  if (!v.is_array()) fail_field(ctx, path, "must be a string or an array of strings");
  const auto& a = v.get_array();
  out.reserve(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out.emplace_back(as_string(ctx, a[i], element(path, i)));
  return out;
}

void enforce(Result<void> check) {
  if (!check.ok()) throw Failure{std::move(check).error()};
}

std::vector<std::string> stop_list(const Context& ctx, const json::value& v, std::string_view path,
                                   const RequestLimits& limits, TextTally& text) {
  if (v.is_array()) {
    enforce(check_item_limit(path, v.get_array().size(), limits.max_stop_sequences, "max_stop_sequences"));
  }
  auto stop = string_or_strings(ctx, v, path);
  for (const auto& s : stop) enforce(text.add(s.size()));
  return stop;
}

Attachment inline_attachment(const Context& ctx, Attachment::Kind kind, std::string media_type, std::string bytes,
                             std::string_view type_path, std::string_view data_path) {
  if (auto problem = check_attachment_data(kind, media_type, bytes)) {
    fail_field(ctx, problem->in_data ? data_path : type_path, problem->message);
  }
  Attachment a;
  a.kind = kind;
  a.media_type = std::move(media_type);
  a.data = std::move(bytes);
  return a;
}

Attachment url_attachment(const Context& ctx, Attachment::Kind kind, std::string_view url, std::string_view path,
                          bool allow_http) {
  if (allow_http && is_http_url(url)) {
    Attachment a;
    a.kind = kind;
    a.url = std::string(url);
    return a;
  }
  auto parsed = parse_data_url(url);
  if (!parsed.ok()) {
    const std::string& why = parsed.error().message;
    if (allow_http && why.starts_with("is not a data URL")) {
      fail_field(ctx, path, "must be a data URL (data:<media type>;base64,<data>) or an http(s) URL");
    }
    fail_field(ctx, path, why);
  }
  return inline_attachment(ctx, kind, std::move(parsed->media_type), std::move(parsed->data), path, path);
}

Attachment openai_image(const Context& ctx, const json::object& o, std::string_view url_key, std::string_view path) {
  Attachment a =
      url_attachment(ctx, Attachment::Kind::image, req_string(ctx, o, url_key, path), child(path, url_key), true);
  if (auto detail = opt_string(ctx, o, "detail", path)) {
    if (*detail != "auto" && *detail != "low" && *detail != "high")
      fail_field(ctx, child(path, "detail"), "must be auto, low or high");
    a.detail = std::string(*detail);
  }
  return a;
}

std::string base64_bytes(const Context& ctx, std::string_view text, std::string_view path) {
  auto bytes = base64_decode(text);
  if (!bytes) fail_field(ctx, path, "is not valid base64");
  if (bytes->empty()) fail_field(ctx, path, "must not be empty");
  return std::move(*bytes);
}

void merge_absent(json::object& body, const json::object& extra) {
  for (const auto& entry : extra) {
    if (!body.contains(entry.key())) body.emplace(entry.key(), entry.value());
  }
}

json::value parse_text(const Context& ctx, std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) fail(ctx, std::string(what) + " is not valid JSON");
  return v;
}

}  // namespace detail
}  // namespace aegis::wire
