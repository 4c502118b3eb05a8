#pragma once
// The canonical chat model every surface and provider translates to and from.
// Value types only; wire formats live in wire/ (one codec per protocol).
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aegis {

enum class Role { user, assistant, tool };

// Anthropic prompt caching: a block's `cache_control` ({"type":"ephemeral"},
// optionally with "ttl") as the client sent it, null when it had none. Only
// the Anthropic codec reads and writes it; other protocols cache by prefix
// on their own and never see it.

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments_json;        // the arguments object as JSON text, exactly as produced
  boost::json::value cache_control;  // on the tool_use block
};

// One text block of a message or of the system prompt, kept only where the
// block boundaries matter: some block of the field carries cache_control.
struct TextBlock {
  std::string text;
  boost::json::value cache_control;
};

// An image or a PDF document in a user message. The codecs decode what the
// client sent inline (a data URL, Anthropic's base64 source, Ollama's base64
// images) into `data`; an http(s) URL is kept in `url` with `data` empty, and
// the gateway fetches it before classification where the config allows
// (media.fetch_urls), so a provider is only ever sent bytes the gateway read.
// Providers receive attachments first, then the message's text (the order
// Anthropic recommends; the relative order of text and media parts in the
// client's message is not kept).
struct Attachment {
  enum class Kind { image, document };
  Kind kind = Kind::image;
  std::string media_type;            // image/png, image/jpeg, image/webp, image/gif, application/pdf
  std::string data;                  // the decoded bytes
  std::string url;                   // an http(s) URL, when the client sent one (data empty until fetched)
  std::string filename;              // documents: OpenAI file.filename, Anthropic document.title; may be empty
  std::string detail;                // OpenAI image_url.detail ("auto", "low", "high"); empty when not given
  boost::json::value cache_control;  // Anthropic, on the image/document block
};

struct Message {
  Role role = Role::user;
  std::string text;                  // concatenated text content
  std::vector<ToolCall> tool_calls;  // assistant turns that call tools
  std::string tool_call_id;          // role == tool: which call this result answers
  bool tool_error = false;           // role == tool: the tool reported an error
  // Empty unless one of the message's text blocks carried cache_control; then
  // `text` is exactly these blocks' texts joined (text_separator(role)), and
  // a masked copy masks each block (gateway/prompt.cpp).
  std::vector<TextBlock> blocks;
  boost::json::value cache_control;     // role == tool: on the tool_result block
  std::vector<Attachment> attachments;  // role == user: images and documents (see Attachment)
};

// What joins a message's text blocks into Message::text: a newline for user
// and tool messages, nothing for the assistant's.
inline std::string_view text_separator(Role role) noexcept { return role == Role::assistant ? "" : "\n"; }

// `blocks`' texts joined with `separator`.
inline std::string join_blocks(const std::vector<TextBlock>& blocks, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    if (i > 0) out += separator;
    out += blocks[i].text;
  }
  return out;
}

struct ToolDefinition {
  std::string name;
  std::string description;
  boost::json::value input_schema;  // JSON Schema object
  boost::json::value cache_control;
};

// Which wire protocol a request arrived in; pass-through fields are only
// forwarded to a provider that speaks the same protocol.
enum class WireProtocol { openai, anthropic, ollama };

struct ChatRequest {
  std::string model;   // as asked: "auto", a tier alias, or a concrete model id
  std::string system;  // system prompt (OpenAI system/developer messages are joined here)
  // Empty unless a system text block carried cache_control; then `system` is
  // these blocks' texts joined with '\n'.
  std::vector<TextBlock> system_blocks;
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

// Token counts as the provider billed them. The input buckets are disjoint,
// as Anthropic reports them: `input_tokens` excludes the prompt-cache tokens.
// OpenAI and Azure report cached tokens *inside* prompt_tokens
// (prompt_tokens_details.cached_tokens); their codec subtracts them, so
// input_tokens + cache_read_tokens is OpenAI's prompt_tokens.
struct Usage {
  std::int64_t input_tokens = 0;  // input billed at the plain input rate
  std::int64_t output_tokens = 0;
  std::int64_t cache_read_tokens = 0;   // Anthropic cache_read_input_tokens; OpenAI cached_tokens
  std::int64_t cache_write_tokens = 0;  // Anthropic cache_creation_input_tokens (every TTL)
  // Of cache_write_tokens, those written with the 1-hour TTL
  // (usage.cache_creation.ephemeral_1h_input_tokens): priced higher.
  std::int64_t cache_write_1h_tokens = 0;

  // Every input token the model read: input + cache reads + cache writes
  // (OpenAI's prompt_tokens). Saturates at INT64_MAX.
  std::int64_t prompt_tokens() const noexcept {
    return saturating_add(saturating_add(input_tokens, cache_read_tokens), cache_write_tokens);
  }
  // prompt + output; a provider's counts are any non-negative int64, so the
  // sum saturates at INT64_MAX instead of overflowing.
  std::int64_t total_tokens() const noexcept { return saturating_add(prompt_tokens(), output_tokens); }

  static std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    return a > 0 && b > kMax - a ? kMax : a + b;
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
