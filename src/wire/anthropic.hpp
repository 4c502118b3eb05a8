#pragma once
// Anthropic Messages API wire format, both directions:
//   client side of the gateway: parse_chat_request, write_chat_response,
//     StreamEncoder, encode_error, write_error;
//   provider side: write_chat_request, parse_chat_response, StreamDecoder,
//     map_upstream_error.
// Anthropic has no embeddings API.
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
#include "http/client.hpp"

namespace aegis::wire::anthropic {

// max_tokens is required by the Messages API; requests that arrived without a
// limit (OpenAI or Ollama clients) are sent with this one.
inline constexpr std::int64_t default_max_tokens = 4096;

// ---- Chat requests ------------------------------------------------------------

// Validates a client's POST /v1/messages body (400 invalid_request naming the
// field). max_tokens is required, as in the real API. cache_control on
// system blocks, content blocks and tools is kept (core/chat.hpp) and
// written back by write_chat_request where the client put it. A user message's
// tool_result blocks become Role::tool messages, its image and document
// blocks (base64 or url sources; documents PDF only; cache_control kept)
// attachments, written back before its text; unknown top-level fields
// (metadata, top_k, thinking, ...) go to passthrough. A body outside
// `limits` (messages, tools, stop_sequences, text) is 400 naming the limit,
// found before the items are converted.
Result<ChatRequest> parse_chat_request(const boost::json::value& body, const RequestLimits& limits = {});

// The upstream body. Consecutive tool results are sent as one user message
// (as the API requires for parallel tool use); temperature is clamped to the
// API's [0, 1]; passthrough is merged only for requests that arrived in the
// Anthropic protocol, never over fields set here.
boost::json::object write_chat_request(const ChatRequest& request, const std::string& model);

// ---- Chat responses ------------------------------------------------------------

// A `message` object -> Completion (provider left empty for the caller); the
// usage's cache_read_input_tokens / cache_creation_input_tokens (and the
// 1-hour part of the writes, usage.cache_creation) go to the canonical Usage.
// Malformed shapes -> upstream_error "malformed anthropic response: <what>".
Result<Completion> parse_chat_response(const boost::json::value& body);
// created_unix is unused (the Messages API has no timestamp); kept so every
// codec has the same signature.
boost::json::object write_chat_response(const Completion& completion, std::int64_t created_unix = 0);

StopReason parse_stop_reason(std::string_view stop_reason) noexcept;
std::string_view stop_reason(StopReason reason) noexcept;

// ---- Streams ---------------------------------------------------------------------

// Decodes the upstream SSE stream: message_start -> start (its usage as
// reported there: input and prompt-cache counts), text_delta -> text, tool_use blocks -> tool_call_start
// / tool_call_delta (index = tool-call ordinal), message_delta + message_stop
// -> finish. ping and unknown events are ignored; an `error` event is
// returned as the mapped Error (overloaded_error -> unavailable, ...).
class StreamDecoder {
 public:
  Result<std::vector<StreamEvent>> feed(const http::SseParser::Event& event);
  // True once message_stop arrived; false means the upstream stream was truncated.
  bool finished() const noexcept { return finished_; }

 private:
  bool started_ = false;
  bool finished_ = false;
  Usage usage_;
  std::optional<StopReason> stop_reason_;
  std::optional<std::string> stop_sequence_;
  std::vector<std::optional<std::size_t>> block_tool_;  // content block index -> tool ordinal
  std::size_t tools_ = 0;
};

// Encodes canonical events as the exact event sequence the official SDKs
// expect, every event with its `event:` line: message_start, then per block
// content_block_start (a ping after the first), content_block_delta...,
// content_block_stop, then message_delta (stop_reason, stop_sequence,
// usage) and message_stop. Tool-call deltas must follow their
// tool_call_start (Anthropic blocks cannot interleave); a delta for a tool
// call whose block was already closed is dropped.
class StreamEncoder {
 public:
  std::string encode(const StreamEvent& event);

 private:
  std::string start_if_needed(const StreamEvent* start);
  std::string close_block();
  std::string open_block(boost::json::object content_block);

  enum class Open { none, text, tool };
  bool started_ = false;
  bool finished_ = false;
  bool pinged_ = false;
  Open open_ = Open::none;
  std::size_t next_block_ = 0;
  std::size_t open_tool_ = 0;
};

// `event: error\ndata: {"type":"error","error":{"type","message"}}\n\n`
// (the SDKs raise an APIError for it).
std::string encode_error(const Error& error);
// A non-streaming error body: {"type":"error","error":{"type","message"}}.
boost::json::object write_error(const Error& error);
// Anthropic's error type for a canonical code (rate_limited -> rate_limit_error, ...).
std::string_view error_type(ErrorCode code) noexcept;

// ---- Errors -----------------------------------------------------------------------

// An upstream non-2xx response -> canonical error (429 -> rate_limited,
// 529 overloaded_error -> unavailable, ...; see wire::classify_upstream_failure).
Error map_upstream_error(int status, std::string_view body, std::optional<std::string_view> retry_after);

}  // namespace aegis::wire::anthropic
