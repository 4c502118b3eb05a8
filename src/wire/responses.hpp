#pragma once
// The OpenAI Responses API wire format (POST /v1/responses), client side of
// the gateway only: no provider speaks it to Aegis. A request is translated
// into the canonical ChatRequest (core/chat.hpp) and the answer written back
// from the canonical Completion / StreamEvents, so every provider type serves
// it through the same gateway path as chat:
//   parse_request       body -> ChatRequest (+ what the response echoes)
//   write_response      Completion -> the `response` object
//   StreamEncoder       StreamEvents -> the typed SSE events (response.created,
//                       response.in_progress, response.output_item.added, ...,
//                       response.completed), each with its sequence_number
//   write_messages /    the turns of a stored conversation (previous_response_id)
//   read_messages
//
// What the gateway refuses (400 naming the field) rather than silently drop:
// unknown top-level fields; built-in tools (web_search, file_search,
// code_interpreter, computer use, mcp, image_generation, ...), only `function`
// tools are translated; file references (input_image/input_file file_id,
// input_file file_url: only inline data and image URLs pass) and audio input
// parts; reasoning,
// item_reference and other input item types it cannot translate; `text.format`
// other than text; `background: true`; `conversation`; `prompt` templates;
// `reasoning`; `top_logprobs` above 0. Accepted and echoed, never sent
// upstream: `metadata`, `user`, `truncation`, `service_tier`,
// `prompt_cache_key`, `safety_identifier`, `include: []`, `stream_options`.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/chat.hpp"
#include "core/request_limits.hpp"
#include "core/result.hpp"

namespace aegis::wire::responses {

struct ResponsesRequest {
  // instructions -> system, then system/developer input messages; the input
  // items -> messages (function_call -> assistant tool calls,
  // function_call_output -> tool results). No pass-through fields.
  ChatRequest chat;
  std::optional<std::string> previous_response_id;
  bool store = true;  // the client's `store` (default true, as OpenAI's)
  // The settings the response object repeats back (instructions, metadata,
  // user, tools, tool_choice, temperature, ...), as the client sent them.
  boost::json::object echo;
};

// Validates a client's POST /v1/responses body: 400 invalid_request naming
// the field. A body outside `limits` is 400 naming the limit.
Result<ResponsesRequest> parse_request(const boost::json::value& body, const RequestLimits& limits = {});

struct ResponseMeta {
  std::string id;               // "resp_<hex>"
  std::int64_t created_at = 0;  // Unix seconds
  bool store = false;           // whether the gateway keeps it (what the response says)
  std::optional<std::string> previous_response_id;
  boost::json::object echo;  // ResponsesRequest::echo
};

// The `response` object (status completed, or incomplete with its reason when
// the answer hit max_output_tokens or a content filter).
boost::json::object write_response(const Completion& completion, const ResponseMeta& meta);

// Encodes canonical events as the Responses API's typed SSE events
// (`event: <type>\ndata: {...,"sequence_number":n}\n\n`); the stream ends with
// response.completed (or response.incomplete) carrying the whole response.
class StreamEncoder {
 public:
  explicit StreamEncoder(ResponseMeta meta);
  std::string encode(const StreamEvent& event);
  // After the first event: `error` then `response.failed`.
  std::string encode_error(const Error& error);
  // The answer as the client saw it (restored text, tool calls, stop reason,
  // usage once finished): what a stored response keeps.
  const Completion& completion() const noexcept { return completion_; }
  const ResponseMeta& meta() const noexcept { return meta_; }
  // What the closing event says about `store` (false when keeping it failed).
  void set_store(bool store) noexcept { meta_.store = store; }

 private:
  std::string event(std::string_view type, boost::json::object data);
  std::string start_if_needed();
  std::string open_message();

  ResponseMeta meta_;
  Completion completion_;
  std::int64_t sequence_ = 0;
  bool started_ = false;
  bool finished_ = false;
  std::optional<std::size_t> message_index_;  // output_index of the message item, once text arrived
  std::vector<std::size_t> tool_index_;       // tool-call ordinal -> output_index
  std::size_t next_output_ = 0;
};

// An error response body in OpenAI's shape.
boost::json::object write_error(const Error& error);

// The turns of a stored conversation, as JSON (role, text, tool_calls, tool_call_id, tool_error).
boost::json::array write_messages(const std::vector<Message>& messages);
// What write_messages wrote; anything else is 500 internal_error (a stored row is not client input).
Result<std::vector<Message>> read_messages(const boost::json::value& stored);

}  // namespace aegis::wire::responses
