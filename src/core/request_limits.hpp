#pragma once
// Bounds on the shape of one request (config `limits:`), checked while a
// surface parses the body, before any per-item work: server.max_body_bytes
// bounds bytes, these bound how many messages, tools, stop sequences and
// embedding inputs a body may hold and how much text it carries in all.
// Every surface that takes such a request applies the same limits
// (/v1/chat/completions, /v1/messages, /v1/embeddings, POST /v1/jobs).
#include <cstddef>
#include <limits>
#include <string_view>

#include "core/result.hpp"

namespace aegis {

struct RequestLimits {
  std::size_t max_messages = 2048;               // messages array entries (system/developer entries included)
  std::size_t max_tools = 128;                   // tool definitions (OpenAI's own limit)
  std::size_t max_stop_sequences = 16;           // stop / stop_sequences entries
  std::size_t max_embedding_inputs = 2048;       // embeddings input array entries (OpenAI's own limit)
  std::size_t max_text_bytes = 4 * 1024 * 1024;  // the request's text, all fields together

  // No bounds: for re-reading a stored job that was admitted under the limits of its day.
  static constexpr RequestLimits unlimited() {
    constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
    return RequestLimits{kNone, kNone, kNone, kNone, kNone};
  }
};

// 400 invalid_request "input has 100000 items; the limit is 2048
// (limits.max_embedding_inputs)" when count > limit.
Result<void> check_item_limit(std::string_view field, std::size_t count, std::size_t limit, std::string_view key);

// Counts the text of a request as a parser reads it (message text, system,
// tool-call arguments, tool names and descriptions, stop sequences, embedding
// inputs) and refuses it as soon as the total passes limits.max_text_bytes.
class TextTally {
 public:
  explicit TextTally(std::size_t limit) : limit_(limit) {}
  // 400 invalid_request naming limits.max_text_bytes once the total is over the limit.
  Result<void> add(std::size_t bytes);
  std::size_t total() const noexcept { return total_; }

 private:
  std::size_t limit_;
  std::size_t total_ = 0;
};

}  // namespace aegis
