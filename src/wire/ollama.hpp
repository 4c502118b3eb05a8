#pragma once
// Ollama native API wire format (/api/chat, /api/embed), both directions:
//   client side (the provider simulator, an Ollama-compatible surface):
//     parse_chat_request, write_chat_response, StreamEncoder, encode_error,
//     parse_embed_request, write_embed_response;
//   provider side: write_chat_request, parse_chat_response, StreamDecoder,
//     map_upstream_error, write_embed_request, parse_embed_response.
// Ollama streams NDJSON (one JSON object per line) and streams by default.
// It carries tool-call arguments as an object, and (in most versions) no
// tool-call ids: ids are synthesized (wire::synthesize_tool_call_id) and
// tool results are linked to calls by tool_name.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/chat.hpp"
#include "core/result.hpp"

namespace aegis::wire::ollama {

// ---- Chat requests ------------------------------------------------------------------

// Validates a POST /api/chat body: model, messages (system/user/assistant/tool;
// a user message's base64 `images`, their type sniffed, become attachments;
// a PDF or unknown bytes there, or images on another role, are 400), stream (default TRUE, as in Ollama), options
// {temperature, top_p, num_predict, stop, ...}, tools. Unknown top-level fields (format, keep_alive, think) and unknown
// options go to passthrough (options under passthrough["options"]).
Result<ChatRequest> parse_chat_request(const boost::json::value& body);

// The upstream /api/chat body; "stream" is always written (Ollama's default is true).
boost::json::object write_chat_request(const ChatRequest& request, const std::string& model);

// ---- Chat responses -------------------------------------------------------------------

// A non-streaming /api/chat response (done, done_reason, prompt_eval_count,
// eval_count). Malformed -> upstream_error "malformed ollama response: <what>".
Result<Completion> parse_chat_response(const boost::json::value& body);
boost::json::object write_chat_response(const Completion& completion, std::int64_t created_unix);

StopReason parse_done_reason(std::string_view reason) noexcept;
std::string_view done_reason(StopReason reason) noexcept;

// ---- Streams ------------------------------------------------------------------------------

// Decodes the NDJSON stream one line at a time (the line without its '\n'):
// the first line -> start (model), message.content -> text, message.tool_calls
// -> tool_call_start + one tool_call_delta with the whole arguments, the
// `done: true` line -> finish with prompt_eval_count / eval_count. An
// {"error": "..."} line -> Error.
class StreamDecoder {
 public:
  Result<std::vector<StreamEvent>> feed(std::string_view line);
  // True once the done:true line arrived; false means the stream was truncated.
  bool finished() const noexcept { return finished_; }

 private:
  bool started_ = false;
  bool finished_ = false;
  std::size_t tools_ = 0;
};

// Encodes canonical events as NDJSON lines. Ollama sends tool calls whole, so
// tool-call events are buffered and written as one message.tool_calls line
// before the next text or the final done:true line.
class StreamEncoder {
 public:
  explicit StreamEncoder(std::int64_t created_unix);
  std::string encode(const StreamEvent& event);

 private:
  std::string line(boost::json::object message, bool done) const;
  std::string flush_tools();

  std::string created_at_;
  std::string model_;
  std::vector<std::pair<std::size_t, ToolCall>> pending_;  // (ordinal, call)
  bool finished_ = false;
};

// An in-stream error line: {"error":"..."}\n
std::string encode_error(const Error& error);
// A non-streaming error body: {"error":"..."}.
boost::json::object write_error(const Error& error);

// ---- Embeddings (/api/embed) ------------------------------------------------------------------

Result<EmbedRequest> parse_embed_request(const boost::json::value& body);
boost::json::object write_embed_request(const EmbedRequest& request, const std::string& model);
Result<Embeddings> parse_embed_response(const boost::json::value& body);
boost::json::object write_embed_response(const Embeddings& embeddings);

// ---- Errors ------------------------------------------------------------------------------------

// An upstream non-2xx response ({"error":"..."}) -> canonical error.
Error map_upstream_error(int status, std::string_view body, std::optional<std::string_view> retry_after);

}  // namespace aegis::wire::ollama
