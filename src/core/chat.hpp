#pragma once
// The canonical chat model every surface and provider translates to and from.
// Value types only; wire formats live in wire/ (one codec per protocol).
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace aegis {

enum class Role { user, assistant, tool };

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments_json;  // the arguments object as JSON text, exactly as produced
};

struct Message {
  Role role = Role::user;
  std::string text;                  // concatenated text content
  std::vector<ToolCall> tool_calls;  // assistant turns that call tools
  std::string tool_call_id;          // role == tool: which call this result answers
  bool tool_error = false;           // role == tool: the tool reported an error
};

struct ToolDefinition {
  std::string name;
  std::string description;
  boost::json::value input_schema;  // JSON Schema object
};

// Which wire protocol a request arrived in; pass-through fields are only
// forwarded to a provider that speaks the same protocol.
enum class WireProtocol { openai, anthropic, ollama };

struct ChatRequest {
  std::string model;   // as asked: "auto", a tier alias, or a concrete model id
  std::string system;  // system prompt (OpenAI system/developer messages are joined here)
  std::vector<Message> messages;
  std::optional<std::int64_t> max_tokens;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::vector<std::string> stop;
  std::vector<ToolDefinition> tools;
  boost::json::value tool_choice;  // null when absent; protocol-specific shape normalised by codecs
  bool stream = false;
  // Fields the gateway does not interpret, kept in the client's form.
  WireProtocol origin = WireProtocol::openai;
  boost::json::object passthrough;
  // OpenAI clients: stream_options.include_usage was set, so the client's
  // stream must end with a usage chunk (wire::openai::StreamEncoder).
  bool stream_include_usage = false;
};

enum class StopReason { end_turn, max_tokens, stop_sequence, tool_use, content_filter, unknown };

struct Usage {
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;

  // input + output; a provider's counts are any non-negative int64, so the
  // sum saturates at INT64_MAX instead of overflowing.
  std::int64_t total_tokens() const noexcept {
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    return input_tokens > 0 && output_tokens > kMax - input_tokens ? kMax : input_tokens + output_tokens;
  }
};

struct Completion {
  std::string id;
  std::string model;     // the model that actually answered
  std::string provider;  // provider name from config
  std::string text;
  std::vector<ToolCall> tool_calls;
  StopReason stop_reason = StopReason::end_turn;
  std::optional<std::string> stop_sequence;
  Usage usage;
};

// One step of a streamed answer, protocol-neutral.
struct StreamEvent {
  enum class Kind {
    start,            // id, model
    text,             // text
    tool_call_start,  // index, tool_call.id, tool_call.name
    tool_call_delta,  // index, text = a fragment of the arguments JSON
    finish,           // stop_reason, usage (input and output tokens as reported)
  };
  Kind kind = Kind::text;
  std::string id;
  std::string model;
  std::string text;
  std::size_t index = 0;
  ToolCall tool_call;
  StopReason stop_reason = StopReason::end_turn;
  std::optional<std::string> stop_sequence;
  Usage usage;
};

struct EmbedRequest {
  std::string model;
  std::vector<std::string> inputs;
  std::optional<std::int64_t> dimensions;
  // The client asked for base64 vectors (the OpenAI SDKs' default); upstreams are always asked for floats.
  bool base64_response = false;
};

struct Embeddings {
  std::string model;
  std::string provider;
  std::vector<std::vector<float>> vectors;
  Usage usage;  // input_tokens only
};

}  // namespace aegis
