#pragma once
// Internals of the provider simulator (`aegis sim`), kept free of sockets and
// timers so that the wire behaviour of each protocol can be unit-tested.
//
// The simulator is the reference the gateway's provider adapters are tested
// against, so everything here is written from the providers' public API
// documentation and deliberately shares no code with src/wire/.
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/result.hpp"
#include "http/message.hpp"

namespace aegis::sim::detail {

// ---------------------------------------------------------------- replies

enum class Protocol { anthropic, azure, openai, ollama };
std::string_view to_string(Protocol protocol) noexcept;

enum class StreamFormat { sse, ndjson };

// One event of a streamed answer.
struct Frame {
  std::string event;   // SSE `event:` name (Anthropic); empty for data-only frames
  std::string data;    // the JSON text, or "[DONE]"
  bool token = false;  // carries generated output: paced by the per-token delay
};

// A protocol-level answer, before latency and faults are applied.
struct Reply {
  Protocol protocol = Protocol::openai;
  int status = 200;
  std::vector<http::Header> headers;
  std::string body;  // when !streaming
  bool streaming = false;
  StreamFormat format = StreamFormat::sse;
  std::vector<Frame> frames;       // when streaming
  std::int64_t output_tokens = 0;  // generated tokens: paces a non-streamed answer
};

std::string serialize_frame(const Frame& frame, StreamFormat format);
// The same frame with its JSON cut in half: a malformed data line.
std::string corrupt_frame(const Frame& frame, StreamFormat format);

// The provider's prompt cache as the simulator keeps it: the prefixes it has
// seen (their hashes). Anthropic caches up to each cache_control breakpoint
// (the first request writes, later ones with the same prefix read);
// OpenAI and Azure cache every prompt's prefix before its last message on
// their own once it is kOpenAiMinCachedTokens long, and report reads in
// steps of kOpenAiCacheStep tokens. Thread-safe; bounded (forgets all at the cap).
class PromptCache {
 public:
  static constexpr std::int64_t kOpenAiMinCachedTokens = 1024;
  static constexpr std::int64_t kOpenAiCacheStep = 128;
  static constexpr std::size_t kCapacity = 100'000;
  bool contains(std::uint64_t key) const;
  void insert(std::uint64_t key);

 private:
  mutable std::mutex mu_;
  std::unordered_set<std::uint64_t> keys_;
};

// What a request needs besides itself: a sequence number (unique ids), the
// time, and the simulator's prompt cache (none: nothing is ever cached).
struct Context {
  std::uint64_t sequence = 0;
  std::int64_t now_unix_ms = 0;
  PromptCache* prompt_cache = nullptr;
};

// The input of a request split as a provider with a prompt cache bills it.
struct CacheUsage {
  std::int64_t input_tokens = 0;  // not from or into the cache
  std::int64_t cache_read_tokens = 0;
  std::int64_t cache_write_tokens = 0;
  std::int64_t cache_write_1h_tokens = 0;  // of the writes, those with the 1-hour TTL
};

// A cacheable prefix of a request: its key and the text bytes it covers.
struct CachePrefix {
  std::uint64_t key = 0;
  std::size_t text_bytes = 0;
  bool one_hour = false;  // its breakpoint asked for the 1-hour TTL
};

// Anthropic: `prefixes` are the request's breakpoints in order. The longest
// prefix already cached is read, the rest up to the last breakpoint written;
// every breakpoint's prefix is cached afterwards. input_tokens is the total
// less both.
CacheUsage anthropic_cache_usage(PromptCache* cache, const std::vector<CachePrefix>& prefixes,
                                 std::int64_t total_input_tokens);

// Serves one provider request (anything outside /_sim/). Pure: same request
// and context, same reply.
Reply handle_provider_request(const http::HttpRequest& request, const Context& context);
// Which protocol a path belongs to (decides the shape of errors and faults).
Protocol protocol_for(const http::HttpRequest& request);
// The error a provider of that protocol sends with this status (429, 500, 503),
// with retry-after where the provider sends one.
Reply fault_reply(Protocol protocol, int status, const Context& context);

// ------------------------------------------------------------ text helpers

// Splits an answer into streamed pieces: the first word, then each following
// run of whitespace together with the word after it. Joining the pieces gives
// the text back exactly.
std::vector<std::string> split_pieces(std::string_view text);
// ceil(bytes / 4): the simulator's token estimate.
std::int64_t estimate_tokens(std::size_t bytes) noexcept;
std::uint64_t fnv1a64(std::string_view text) noexcept;
bool contains_ignore_case(std::string_view haystack, std::string_view needle) noexcept;
// `digits` lowercase hex digits derived from `seed`.
std::string hex_id(std::uint64_t seed, std::size_t digits);
// A unit-length embedding: the sum of one pseudo-random vector per word
// (lower-cased alphanumeric runs), so texts sharing words are similar.
std::vector<float> embed_text(std::string_view text, std::size_t dimensions);
// JSON array text with the shortest round-trip form of each float.
void append_float_array(std::string& out, const std::vector<float>& values);

// ------------------------------------------------------------ media helpers

// What images and PDFs cost as input, without decoding them: a flat count,
// near what the providers bill for a typical file (OpenAI: 85 tokens for a
// low-detail image, 765 for a 1024x1024 one at high detail; Anthropic about
// width*height/750; a PDF page 1,500 to 3,000 tokens, one page assumed).
inline constexpr std::int64_t kImageTokens = 765;
inline constexpr std::int64_t kLowDetailImageTokens = 85;
inline constexpr std::int64_t kDocumentTokens = 1500;

// The format a file announces in its first bytes, as a media type
// ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf");
// empty when none of these.
std::string_view file_signature(std::string_view bytes) noexcept;

// The conversation as the answer generator sees it, whatever the protocol.
struct Conversation {
  std::string echo_text;          // text of the last user turn (or tool result)
  bool user_text_last = false;    // the last turn is a plain user message (a tool call may answer it)
  std::size_t text_bytes = 0;     // bytes of all system and message text
  std::int64_t media_tokens = 0;  // images and documents, a flat count each (kImageTokens...)
  std::vector<std::string> tool_names;
  bool tools_allowed = true;  // false when tool_choice forbids calling tools
  std::vector<std::string> stop_sequences;
  std::optional<std::int64_t> max_tokens;
};

enum class StopReason { end_turn, max_tokens, stop_sequence, tool_use };

struct Answer {
  bool tool_call = false;
  std::string tool_name;            // when tool_call; arguments are always {}
  std::string text;                 // when !tool_call: the (possibly cut) answer
  std::vector<std::string> pieces;  // text split for streaming
  StopReason stop = StopReason::end_turn;
  std::string stop_sequence;  // when stop == stop_sequence
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
};

// "Echo: <text>", cut at the first stop sequence and at max_tokens pieces; or
// a call to the first tool when tools are given and the last user text
// contains "use tool".
Answer make_answer(const Conversation& conversation);

// ------------------------------------------------------------------ faults

enum class FaultMode { none, status_429, status_500, status_503, reset, hang, truncate, garbage };
std::optional<FaultMode> parse_fault_mode(std::string_view name) noexcept;
std::string_view to_string(FaultMode mode) noexcept;

// Which provider requests get a fault: the next `count`, or each with
// probability `rate` drawn from a PRNG seeded at set() (a repeatable sequence).
// Not thread-safe; the simulator guards it.
class FaultPlan {
 public:
  static constexpr std::uint64_t kDefaultSeed = 42;
  Result<void> set(std::string_view mode, std::optional<std::int64_t> count, std::optional<double> rate,
                   std::uint64_t seed = kDefaultSeed);
  // The fault for the next provider request (FaultMode::none for none).
  FaultMode next();

  FaultMode mode() const noexcept { return mode_; }
  std::optional<std::int64_t> remaining() const noexcept { return remaining_; }
  std::optional<double> rate() const noexcept { return rate_; }
  std::uint64_t seed() const noexcept { return seed_; }

 private:
  FaultMode mode_ = FaultMode::none;
  std::optional<std::int64_t> remaining_;
  std::optional<double> rate_;
  std::uint64_t seed_ = kDefaultSeed;
  std::mt19937_64 rng_{kDefaultSeed};
};

}  // namespace aegis::sim::detail
