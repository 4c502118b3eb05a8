#pragma once
// Helpers shared by the wire codecs (openai, anthropic, ollama). Nothing here
// is a protocol: it is JSON field access with clear errors, SSE framing,
// upstream error classification and a few conversions.
//
// Conventions every codec follows (documented once, here):
//
// * Canonical ChatRequest::tool_choice is null when absent, otherwise an object
//     {"type": "auto" | "none" | "any" | "tool",
//      "name": "<tool name>",                 (type "tool" only)
//      "disable_parallel_tool_use": true}     (optional)
//   i.e. Anthropic's shape. OpenAI "required" <-> "any",
//   {"type":"function","function":{"name":N}} <-> {"type":"tool","name":N},
//   parallel_tool_calls:false <-> disable_parallel_tool_use:true.
//   Writers only send tool_choice when the request has tools.
// * StreamEvent::index of tool_call_start / tool_call_delta is the ordinal of
//   the tool call within the answer (0, 1, 2...), the way OpenAI numbers
//   tool_calls. Anthropic content-block indexes (which count text blocks too)
//   are translated by its decoder and encoder.
// * Text made of several parts/blocks is joined with "\n" for system, user
//   and tool content; assistant text blocks (in a request's history or in an
//   answer) are concatenated as they are, since a provider splits one answer
//   into several blocks (Anthropic does so around citations).
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/chat.hpp"
#include "core/request_limits.hpp"
#include "core/result.hpp"

namespace aegis::wire {

// ---- Upstream error classification -------------------------------------

// What a provider said about a failure, taken from its error body or from an
// in-stream error event. status is the HTTP status (a stand-in derived from
// the error type for in-stream errors; 0 when unknown).
struct UpstreamFailure {
  int status = 0;
  std::string type;     // provider error type, e.g. "overloaded_error", "invalid_request_error"
  std::string code;     // provider error code, e.g. "insufficient_quota"
  std::string message;  // provider message (only ever quoted for invalid requests)
};

// Canonical error for a provider failure:
//   429 -> rate_limited (retry_after_seconds from the header)
//   529 / overloaded_error, 502, 503 -> unavailable
//   500 and other 5xx -> upstream_error; 408, 504 -> upstream_timeout
//   401 / 403 -> upstream_error "provider rejected the credentials"
//   400 / 404 / 413 / 422 -> invalid_request carrying the provider's message
// Messages never quote request content; provider messages are truncated.
Error classify_upstream_failure(const UpstreamFailure& failure, std::optional<std::string_view> retry_after);

// Retry-After header in seconds ("30", "1.5" -> 2); 0 when absent or an HTTP-date.
int parse_retry_after(std::optional<std::string_view> header) noexcept;

// At most max_bytes of text, cut at a UTF-8 character boundary, with "..." when cut.
std::string truncate_utf8(std::string_view text, std::size_t max_bytes);

// ---- SSE framing --------------------------------------------------------

// "event: <name>\ndata: <json>\n\n"
std::string sse_event(std::string_view name, const boost::json::value& data);
// "data: <json>\n\n"
std::string sse_data(const boost::json::value& data);

// ---- Conversions ---------------------------------------------------------

// A double whose shortest decimal form is the float's shortest form, so an
// embedding value 0.0123f is written as 0.0123, not 0.012299999594688416.
double float_for_json(float value) noexcept;

// Tool-call arguments JSON text -> object (ToolCall::arguments_json is text,
// Anthropic and Ollama carry an object). Empty or unparsable text -> {}.
boost::json::object arguments_object(std::string_view arguments_json);

// A deterministic tool-call id for protocols that do not carry one (Ollama).
std::string synthesize_tool_call_id(std::string_view name, std::string_view arguments, std::size_t ordinal);

// ---- Strict JSON field access (internal to the codecs) -------------------
//
// The codecs validate with these helpers, which throw detail::Failure; every
// public codec function catches it and returns it as a Result error, so no
// exception ever leaves the wire layer. Paths name the field in the message:
// "messages[2].content[0].type: must be a string".
namespace detail {

struct Failure {
  Error error;
};

// Who is being validated: a client request (-> 400 invalid_request) or an
// upstream response (-> 502 upstream_error "malformed <provider> response: ...").
struct Context {
  ErrorCode code = ErrorCode::invalid_request;
  std::string prefix;  // prepended to every message

  static Context request() { return Context{ErrorCode::invalid_request, ""}; }
  static Context response(std::string_view provider) {
    return Context{ErrorCode::upstream_error, "malformed " + std::string(provider) + " response: "};
  }
  static Context stream(std::string_view provider) {
    return Context{ErrorCode::upstream_error, "malformed " + std::string(provider) + " stream: "};
  }
};

[[noreturn]] void fail(const Context& ctx, std::string_view message);
[[noreturn]] void fail_field(const Context& ctx, std::string_view path, std::string_view what);

std::string child(std::string_view path, std::string_view key);
std::string element(std::string_view path, std::size_t index);

const boost::json::object& as_object(const Context& ctx, const boost::json::value& v, std::string_view path);
const boost::json::array& as_array(const Context& ctx, const boost::json::value& v, std::string_view path);
std::string_view as_string(const Context& ctx, const boost::json::value& v, std::string_view path);

// Absent and null both read as "not given"; a present value of the wrong type fails.
const boost::json::value* field(const boost::json::object& o, std::string_view key) noexcept;
const boost::json::object* opt_object(const Context& ctx, const boost::json::object& o, std::string_view key,
                                      std::string_view path);
const boost::json::array* opt_array(const Context& ctx, const boost::json::object& o, std::string_view key,
                                    std::string_view path);
std::optional<std::string_view> opt_string(const Context& ctx, const boost::json::object& o, std::string_view key,
                                           std::string_view path);
std::optional<bool> opt_bool(const Context& ctx, const boost::json::object& o, std::string_view key,
                             std::string_view path);
std::optional<double> opt_number(const Context& ctx, const boost::json::object& o, std::string_view key,
                                 std::string_view path);
// Integers only (1.0 is a float and fails).
std::optional<std::int64_t> opt_integer(const Context& ctx, const boost::json::object& o, std::string_view key,
                                        std::string_view path);

const boost::json::object& req_object(const Context& ctx, const boost::json::object& o, std::string_view key,
                                      std::string_view path);
const boost::json::array& req_array(const Context& ctx, const boost::json::object& o, std::string_view key,
                                    std::string_view path);
std::string_view req_string(const Context& ctx, const boost::json::object& o, std::string_view key,
                            std::string_view path);

// Token counts in usage objects: absent/null -> 0; negative or non-integer fails.
std::int64_t count(const Context& ctx, const boost::json::object& o, std::string_view key, std::string_view path);

// Number in [lo, hi]; "temperature: must be a number between 0 and 2".
std::optional<double> opt_number_in(const Context& ctx, const boost::json::object& o, std::string_view key,
                                    std::string_view path, double lo, double hi);
// Positive integer: "max_tokens: must be a positive integer".
std::optional<std::int64_t> opt_positive(const Context& ctx, const boost::json::object& o, std::string_view key,
                                         std::string_view path);

// A stop list: a string or an array of strings.
std::vector<std::string> string_or_strings(const Context& ctx, const boost::json::value& v, std::string_view path);

// A request limit check (core/request_limits.hpp) that failed -> Failure.
void enforce(Result<void> check);
// A client's stop list (string_or_strings), refused before it is copied when
// it holds more than limits.max_stop_sequences; its text is added to `text`.
std::vector<std::string> stop_list(const Context& ctx, const boost::json::value& v, std::string_view path,
                                   const RequestLimits& limits, TextTally& text);

// tool_choice given as a mode ("none", "auto", "required"), in the canonical
// form; null when `v` is an object, which each protocol reads in its own
// shape (`object_form` names it in the 400 for anything else).
boost::json::value tool_choice_mode(const Context& ctx, const boost::json::value& v, std::string_view object_form);

// ---- Images and documents (core/chat.hpp Attachment) ----
//
// `bytes` (already decoded) declared as `media_type`: an attachment of `kind`
// when the type is one providers take for it and the bytes are that type
// (core/media_type.hpp); otherwise fails naming `type_path` (the declared
// type is wrong) or `data_path` (the bytes are no supported format).
Attachment inline_attachment(const Context& ctx, Attachment::Kind kind, std::string media_type, std::string bytes,
                             std::string_view type_path, std::string_view data_path);
// A data URL at `path` (core/data_url.hpp) checked as inline_attachment does;
// with `allow_http`, an http(s) URL is kept in Attachment::url instead.
Attachment url_attachment(const Context& ctx, Attachment::Kind kind, std::string_view url, std::string_view path,
                          bool allow_http);
// OpenAI's image in either API: `o[url_key]` a data URL or an http(s) URL,
// and `o.detail` (auto, low, high) when given.
Attachment openai_image(const Context& ctx, const boost::json::object& o, std::string_view url_key,
                        std::string_view path);
// Standard base64 at `path` -> bytes; fails on invalid or empty base64.
std::string base64_bytes(const Context& ctx, std::string_view text, std::string_view path);

// Passthrough merge: copy every key of `extra` that `body` does not have.
void merge_absent(boost::json::object& body, const boost::json::object& extra);

// Parse a JSON text from a stream; invalid -> Failure with ctx.
boost::json::value parse_text(const Context& ctx, std::string_view text, std::string_view what);

// Run a validating body; a Failure becomes the Result's error.
template <class T, class F>
Result<T> guarded(F&& body) {
  try {
    return body();
  } catch (Failure& failure) {
    return std::move(failure.error);
  }
}

}  // namespace detail
}  // namespace aegis::wire
