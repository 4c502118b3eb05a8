#pragma once
// OpenAI Chat Completions and Embeddings wire format (also spoken by Azure
// OpenAI and vLLM), both directions:
//   client side of the gateway: parse_chat_request, write_chat_response,
//     StreamEncoder, encode_error, parse_embed_request, write_embed_response;
//   provider side: write_chat_request, parse_chat_response, StreamDecoder,
//     map_upstream_error, write_embed_request, parse_embed_response.
// Pure functions over Boost.JSON values; serialise with aegis::to_json.
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

namespace aegis::wire::openai {

// ---- Chat requests ----------------------------------------------------------

// Validates a client's POST /v1/chat/completions body (400 invalid_request
// naming the field). system/developer messages are joined into
// ChatRequest::system; unknown top-level fields go to passthrough. A user
// message's image_url parts (a data URL or an http(s) URL, detail) and file
// parts (a PDF as a file_data data URL, filename) become attachments; a
// file_id, input_audio, or media on another role is 400. A body
// outside `limits` (messages, tools, stop, text) is 400 naming the limit,
// found before the items are converted.
Result<ChatRequest> parse_chat_request(const boost::json::value& body, const RequestLimits& limits = {});

struct WriteOptions {
  // Send the limit as max_completion_tokens (required by OpenAI reasoning
  // models) instead of max_tokens (understood by every compatible server).
  bool use_max_completion_tokens = false;
};

// The upstream body. Streaming requests ask for stream_options.include_usage
// so the provider reports usage. Passthrough fields are merged only for
// requests that arrived in the OpenAI protocol, never over fields set here.
boost::json::object write_chat_request(const ChatRequest& request, const std::string& model,
                                       const WriteOptions& options = {});

// ---- Chat responses -----------------------------------------------------------

// A `chat.completion` object -> Completion (provider left empty for the caller).
// Malformed shapes -> upstream_error "malformed openai response: <what>".
Result<Completion> parse_chat_response(const boost::json::value& body);
boost::json::object write_chat_response(const Completion& completion, std::int64_t created_unix);

StopReason parse_finish_reason(std::string_view reason) noexcept;
std::string_view finish_reason(StopReason reason) noexcept;

// ---- Streams ---------------------------------------------------------------------

// Decodes an upstream chat.completion.chunk SSE stream. finish is emitted
// when the stream ends properly, on `data: [DONE]`, carrying the
// finish_reason and the usage chunk that follows it.
class StreamDecoder {
 public:
  Result<std::vector<StreamEvent>> feed(const http::SseParser::Event& event);
  // True once [DONE] arrived; false means the upstream stream was truncated.
  bool finished() const noexcept { return finished_; }

 private:
  bool started_ = false;
  bool finished_ = false;
  std::optional<StopReason> stop_reason_;
  Usage usage_;
  std::vector<bool> tool_started_;  // by tool-call index
};

// Encodes canonical events as the bytes an OpenAI SDK expects:
// `data: {chat.completion.chunk}\n\n`..., a usage chunk (choices: []) when
// the client asked for include_usage, then `data: [DONE]\n\n`.
class StreamEncoder {
 public:
  StreamEncoder(bool include_usage, std::int64_t created_unix);
  std::string encode(const StreamEvent& event);

 private:
  boost::json::object chunk(boost::json::object delta, std::optional<StopReason> finish) const;
  std::string start_if_needed();

  bool include_usage_;
  std::int64_t created_;
  std::string id_;
  std::string model_;
  bool started_ = false;
  bool finished_ = false;
};

// An in-stream error event: `data: {"error":{"message","type","param","code"}}\n\n`
// (the openai SDKs raise an APIError for it).
std::string encode_error(const Error& error);

// A non-streaming error body in OpenAI's shape.
boost::json::object write_error(const Error& error);

// ---- Embeddings -------------------------------------------------------------------

// POST /v1/embeddings: input string or array of strings; encoding_format
// float only (base64 -> 400); dimensions a positive integer. More inputs than
// limits.max_embedding_inputs, or more text than limits.max_text_bytes, is
// 400 naming the limit, before any input is copied.
Result<EmbedRequest> parse_embed_request(const boost::json::value& body, const RequestLimits& limits = {});
boost::json::object write_embed_request(const EmbedRequest& request, const std::string& model);
Result<Embeddings> parse_embed_response(const boost::json::value& body);
// `base64`: each vector as base64 of its little-endian float32 bytes (encoding_format "base64").
boost::json::object write_embed_response(const Embeddings& embeddings, bool base64 = false);

// ---- Errors --------------------------------------------------------------------------

// An upstream non-2xx response -> canonical error (see wire::classify_upstream_failure).
Error map_upstream_error(int status, std::string_view body, std::optional<std::string_view> retry_after);

}  // namespace aegis::wire::openai
