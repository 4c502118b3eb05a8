#pragma once
// What the codec targets (openai_fuzz, anthropic_fuzz, ollama_fuzz) share:
// reading an input, checking that a writer's output is JSON that parses back
// to itself, feeding a stream in chunks, and comparing canonical values.
// Every codec writer is checked against every codec parser here, since the
// gateway turns a request of one protocol into a request of another.
//
// An input is one selector byte (which parser) followed by the body.
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/chat.hpp"
#include "core/json.hpp"
#include "core/request_limits.hpp"
#include "core/result.hpp"
#include "http/client.hpp"
#include "wire/anthropic.hpp"
#include "wire/ollama.hpp"
#include "wire/openai.hpp"

namespace aegis::fuzz {

// Defined by each target: prints the target's name and `what`, then aborts.
[[noreturn]] void fail(std::string_view what);

struct Input {
  unsigned selector = 0;
  std::string_view body;
};

inline Input split_input(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return {};
  return Input{data[0], std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1)};
}

// The JSON text as the gateway parses a body (Boost.JSON's defaults); nothing
// when it is not JSON.
inline std::optional<boost::json::value> parse_json(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec) return std::nullopt;
  return v;
}

// Within `ulps` units in the last place of each other.
template <class F>
bool near(F a, F b, int ulps) {
  for (int i = 0; i < ulps && a != b; ++i) a = std::nextafter(a, b);
  return a == b;
}

// JSON values equal but for doubles a unit in the last place apart:
// aegis::to_json writes the shortest decimal that round-trips, but
// Boost.JSON 1.81's parser (without number_precision::precise, which came in
// 1.83) may read a decimal into a neighbour of the nearest double.
inline bool json_equal(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_double() && b.is_double()) return near(a.get_double(), b.get_double(), 2);
  if (a.is_array() && b.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!json_equal(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.is_object() && b.is_object()) {
    const auto& x = a.get_object();
    const auto& y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& entry : x) {
      const auto* other = y.if_contains(entry.key());
      if (other == nullptr || !json_equal(entry.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

// What a writer produced goes on the wire as aegis::to_json text: it must be
// JSON, and parse back to the same value (see json_equal for doubles).
// Nesting deeper than the parsers' default 32 levels is the input's, not the
// writer's.
inline boost::json::value reparse(const boost::json::value& written, std::string_view what) {
  boost::json::parse_options options;
  options.max_depth = 4096;
  boost::system::error_code ec;
  auto back = boost::json::parse(to_json(written), ec, {}, options);
  if (ec) fail(std::string(what) + ": the writer's output is not JSON");
  if (!json_equal(back, written)) fail(std::string(what) + ": the writer's output does not parse back to itself");
  return back;
}

// Limits no larger than the defaults, from one byte: a body within them is
// within the defaults too.
inline RequestLimits small_limits(unsigned byte) {
  RequestLimits limits;
  limits.max_messages = 1 + byte % 8;
  limits.max_tools = 1 + (byte >> 3) % 4;
  limits.max_stop_sequences = 1 + (byte >> 5) % 4;
  limits.max_embedding_inputs = 1 + byte % 8;
  limits.max_text_bytes = 16 + 4 * byte;
  return limits;
}

// ---- Streams ------------------------------------------------------------------

// `bytes` cut into pieces of 1..16 bytes, the lengths taken from `sizes`.
inline std::vector<std::string_view> chunks(std::string_view bytes, std::string_view sizes) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  std::size_t k = 0;
  while (pos < bytes.size()) {
    const std::size_t len = sizes.empty() ? 1 : 1 + static_cast<unsigned char>(sizes[k++ % sizes.size()]) % 16;
    out.push_back(bytes.substr(pos, len));
    pos += len;
  }
  return out;
}

inline bool same(const http::SseParser::Event& a, const http::SseParser::Event& b) {
  return a.event == b.event && a.data == b.data && a.id == b.id;
}

// The SSE events of `bytes` fed in chunks, which must be those of one feed.
inline std::vector<http::SseParser::Event> sse_events(std::string_view bytes) {
  http::SseParser whole;
  const auto expected = whole.feed(bytes);
  http::SseParser parser;
  std::vector<http::SseParser::Event> out;
  for (auto chunk : chunks(bytes, bytes)) {
    for (auto& e : parser.feed(chunk)) out.push_back(std::move(e));
  }
  if (out.size() != expected.size()) fail("chunked SSE parsing gives another number of events");
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!same(out[i], expected[i])) fail("chunked SSE parsing gives other events");
  }
  return out;
}

// The NDJSON lines of `bytes` fed in chunks (and the unterminated tail),
// which must be those of one feed.
inline std::vector<std::string> ndjson_lines(std::string_view bytes) {
  http::NdjsonParser whole;
  auto expected = whole.feed(bytes);
  http::NdjsonParser parser;
  std::vector<std::string> out;
  for (auto chunk : chunks(bytes, bytes)) {
    for (auto& line : parser.feed(chunk)) out.push_back(std::move(line));
  }
  if (out != expected) fail("chunked NDJSON parsing gives other lines");
  const std::string rest = parser.take_rest();
  if (rest != whole.take_rest()) fail("chunked NDJSON parsing leaves another tail");
  if (!rest.empty()) out.push_back(rest);  // a stream's last line may lack its '\n'
  return out;
}

using Events = std::vector<StreamEvent>;

// Feeds a stream decoder its pieces (SSE events or NDJSON lines) in order,
// appending the events it gives to `out`; stops at its first error.
template <class Decoder, class Pieces>
Result<void> decode_into(Decoder& decoder, const Pieces& pieces, Events& out) {
  for (const auto& piece : pieces) {
    auto decoded = decoder.feed(piece);
    if (!decoded.ok()) return decoded.error();
    for (auto& e : *decoded) out.push_back(std::move(e));
  }
  return {};
}

inline bool same(const StreamEvent& a, const StreamEvent& b) {
  return a.kind == b.kind && a.id == b.id && a.model == b.model && a.text == b.text && a.index == b.index &&
         a.tool_call.id == b.tool_call.id && a.tool_call.name == b.tool_call.name &&
         a.tool_call.arguments_json == b.tool_call.arguments_json && a.stop_reason == b.stop_reason &&
         a.stop_sequence == b.stop_sequence && a.usage.input_tokens == b.usage.input_tokens &&
         a.usage.output_tokens == b.usage.output_tokens;
}

inline bool same(const Events& a, const Events& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i], b[i])) return false;
  }
  return true;
}

inline bool has_finish(const Events& events) {
  return !events.empty() && events.back().kind == StreamEvent::Kind::finish;
}

inline std::string text_of(const Events& events) {
  std::string out;
  for (const auto& e : events) {
    if (e.kind == StreamEvent::Kind::text) out += e.text;
  }
  return out;
}

inline std::size_t tool_calls_of(const Events& events) {
  std::size_t n = 0;
  for (const auto& e : events) n += e.kind == StreamEvent::Kind::tool_call_start;
  return n;
}

// What a decoder promises: a start first, a finish (at most one) last and
// only when finished(), a tool call's deltas after its start, no empty text.
inline void check_events(const Events& events, bool finished) {
  if (!events.empty() && events.front().kind != StreamEvent::Kind::start) fail("a stream does not begin with start");
  if (finished != has_finish(events)) fail("finished() disagrees with the finish event");
  std::vector<bool> started;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (e.kind == StreamEvent::Kind::finish && i + 1 != events.size()) fail("an event after finish");
    if (e.kind == StreamEvent::Kind::text && e.text.empty()) fail("an empty text event");
    if (e.kind == StreamEvent::Kind::tool_call_start) {
      if (e.index >= started.size()) started.resize(e.index + 1, false);
      started[e.index] = true;
    }
    if (e.kind == StreamEvent::Kind::tool_call_delta && (e.index >= started.size() || !started[e.index])) {
      fail("a tool-call delta before its tool_call_start");
    }
  }
}

// ---- Canonical values --------------------------------------------------------------

// The conversation a request carries survives any codec's writer and parser.
// tool_error only survives Anthropic.
inline void check_same_conversation(const ChatRequest& a, const ChatRequest& b, bool tool_errors,
                                    std::string_view what) {
  const std::string w(what);
  if (a.system != b.system) fail(w + ": system differs");
  if (a.messages.size() != b.messages.size()) fail(w + ": another number of messages");
  for (std::size_t i = 0; i < a.messages.size(); ++i) {
    const auto& x = a.messages[i];
    const auto& y = b.messages[i];
    if (x.role != y.role || x.text != y.text || x.tool_call_id != y.tool_call_id) fail(w + ": a message differs");
    if (tool_errors && x.tool_error != y.tool_error) fail(w + ": tool_error differs");
    if (x.tool_calls.size() != y.tool_calls.size()) fail(w + ": another number of tool calls");
    for (std::size_t j = 0; j < x.tool_calls.size(); ++j) {
      if (x.tool_calls[j].id != y.tool_calls[j].id || x.tool_calls[j].name != y.tool_calls[j].name) {
        fail(w + ": a tool call differs");
      }
    }
  }
  if (a.max_tokens != b.max_tokens) fail(w + ": max_tokens differs");
  if (a.tools.size() != b.tools.size()) fail(w + ": another number of tools");
  for (std::size_t i = 0; i < a.tools.size(); ++i) {
    if (a.tools[i].name != b.tools[i].name || a.tools[i].description != b.tools[i].description) {
      fail(w + ": a tool differs");
    }
  }
}

// The attachments a writer carries (`kept`) survive its parser: everything
// through Anthropic, all but a document by URL through OpenAI (it has no form
// there), the images with bytes through Ollama (documents never reach it;
// URLs are fetched before a provider is chosen).
template <class Kept>
void check_same_attachments(const ChatRequest& a, const ChatRequest& b, Kept kept, std::string_view what) {
  const std::string w(what);
  for (std::size_t i = 0; i < a.messages.size() && i < b.messages.size(); ++i) {
    std::vector<const Attachment*> expected;
    for (const auto& x : a.messages[i].attachments) {
      if (kept(x)) expected.push_back(&x);
    }
    const auto& got = b.messages[i].attachments;
    if (expected.size() != got.size()) fail(w + ": another number of attachments");
    for (std::size_t j = 0; j < got.size(); ++j) {
      if (expected[j]->kind != got[j].kind || expected[j]->data != got[j].data || expected[j]->url != got[j].url ||
          (!got[j].data.empty() && expected[j]->media_type != got[j].media_type)) {
        fail(w + ": an attachment differs");
      }
    }
  }
}

// Every codec's upstream body for `r` is a request its own parser accepts,
// with the same conversation. The one exception is the gateway's on purpose:
// the OpenAI writer passes an Ollama temperature above OpenAI's 2 as it is.
inline void check_request_writers(const ChatRequest& r, unsigned selector) {
  const auto unlimited = RequestLimits::unlimited();
  {
    wire::openai::WriteOptions options;
    options.use_max_completion_tokens = (selector & 0x80) != 0;
    const auto body = reparse(wire::openai::write_chat_request(r, r.model, options), "openai request writer");
    const auto back = wire::openai::parse_chat_request(body, unlimited);
    if (back.ok()) {
      check_same_conversation(r, *back, false, "openai request writer");
      check_same_attachments(
          r, *back, [](const Attachment& x) { return x.kind == Attachment::Kind::image || !x.data.empty(); },
          "openai request writer");
    } else if (!(r.temperature && *r.temperature > 2.0)) {
      fail("the openai request writer wrote a request its parser refuses: " + back.error().message);
    }
  }
  {
    const auto body = reparse(wire::anthropic::write_chat_request(r, r.model), "anthropic request writer");
    const auto back = wire::anthropic::parse_chat_request(body, unlimited);
    if (!back.ok()) fail("the anthropic request writer wrote a request its parser refuses: " + back.error().message);
    ChatRequest expected = r;
    if (!expected.max_tokens) expected.max_tokens = wire::anthropic::default_max_tokens;
    check_same_conversation(expected, *back, r.origin == WireProtocol::anthropic, "anthropic request writer");
    check_same_attachments(
        r, *back, [](const Attachment&) { return true; }, "anthropic request writer");
  }
  {
    const auto body = reparse(wire::ollama::write_chat_request(r, r.model), "ollama request writer");
    const auto back = wire::ollama::parse_chat_request(body);
    if (!back.ok()) fail("the ollama request writer wrote a request its parser refuses: " + back.error().message);
    check_same_conversation(r, *back, false, "ollama request writer");
    check_same_attachments(
        r, *back, [](const Attachment& x) { return x.kind == Attachment::Kind::image && !x.data.empty(); },
        "ollama request writer");
  }
}

// A completion from any provider is written to a client in any protocol:
// the answer's text and tool calls survive (ids may be synthesized, and
// arguments normalised to an object). Ollama refuses a tool call without a
// name, which no provider parser but OpenAI's and Anthropic's lets through.
inline void check_answer(const Completion& a, const Completion& b, std::string_view what) {
  const std::string w(what);
  if (a.text != b.text) fail(w + ": text differs");
  if (a.tool_calls.size() != b.tool_calls.size()) fail(w + ": another number of tool calls");
  for (std::size_t i = 0; i < a.tool_calls.size(); ++i) {
    if (a.tool_calls[i].name != b.tool_calls[i].name) fail(w + ": a tool call's name differs");
  }
}

inline void check_response_writers(const Completion& c) {
  {
    const auto body = reparse(wire::openai::write_chat_response(c, 1700000000), "openai response writer");
    const auto back = wire::openai::parse_chat_response(body);
    if (!back.ok()) fail("the openai response writer wrote a response its parser refuses: " + back.error().message);
    check_answer(c, *back, "openai response writer");
  }
  {
    const auto body = reparse(wire::anthropic::write_chat_response(c), "anthropic response writer");
    const auto back = wire::anthropic::parse_chat_response(body);
    if (!back.ok()) fail("the anthropic response writer wrote a response its parser refuses: " + back.error().message);
    check_answer(c, *back, "anthropic response writer");
  }
  bool named = true;
  for (const auto& call : c.tool_calls) named = named && !call.name.empty();
  if (named) {
    const auto body = reparse(wire::ollama::write_chat_response(c, 1700000000), "ollama response writer");
    const auto back = wire::ollama::parse_chat_response(body);
    if (!back.ok()) fail("the ollama response writer wrote a response its parser refuses: " + back.error().message);
    check_answer(c, *back, "ollama response writer");
  }
}

// Embedding vectors survive the writers when finite (JSON has no infinity:
// a float beyond float range is written as null): each float as the shortest
// decimal that reads back to it, so exactly, but for the parser's last-place
// error (see json_equal), which may move a float to its neighbour.
inline bool same_vectors(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].size() != b[i].size()) return false;
    for (std::size_t j = 0; j < a[i].size(); ++j) {
      if (!near(a[i][j], b[i][j], 1)) return false;
    }
  }
  return true;
}

inline bool finite(const Embeddings& e) {
  for (const auto& v : e.vectors) {
    for (float x : v) {
      if (!std::isfinite(x)) return false;
    }
  }
  return true;
}

inline void check_embedding_writers(const Embeddings& e) {
  if (!finite(e)) return;
  {
    const auto body = reparse(wire::openai::write_embed_response(e), "openai embeddings writer");
    const auto back = wire::openai::parse_embed_response(body);
    if (!back.ok()) fail("the openai embeddings writer wrote a response its parser refuses: " + back.error().message);
    if (!same_vectors(back->vectors, e.vectors) || back->usage.input_tokens != e.usage.input_tokens) {
      fail("openai embeddings writer: the vectors differ");
    }
  }
  {
    const auto body = reparse(wire::ollama::write_embed_response(e), "ollama embeddings writer");
    const auto back = wire::ollama::parse_embed_response(body);
    if (!back.ok()) fail("the ollama embeddings writer wrote a response its parser refuses: " + back.error().message);
    if (!same_vectors(back->vectors, e.vectors) || back->usage.input_tokens != e.usage.input_tokens) {
      fail("ollama embeddings writer: the vectors differ");
    }
  }
}

// An upstream error, whatever its body: a message that quotes at most a
// truncated piece of the provider's, and a bounded Retry-After.
inline void check_upstream_error(const Error& e) {
  if (e.message.empty()) fail("an upstream error without a message");
  if (e.message.size() > 400) fail("an upstream error message longer than the truncation allows");
  if (e.retry_after_seconds < 0 || e.retry_after_seconds > 24 * 3600) fail("retry_after_seconds out of range");
}

// Status from two bytes, an optional Retry-After header up to the first
// newline, and the rest as the body.
template <class Map>
void check_error_body(std::string_view body, Map&& map) {
  const int status =
      body.size() >= 2 ? (static_cast<unsigned char>(body[0]) << 8 | static_cast<unsigned char>(body[1])) % 700 : 0;
  body.remove_prefix(std::min<std::size_t>(2, body.size()));
  std::optional<std::string_view> retry_after;
  if (const auto nl = body.find('\n'); nl != std::string_view::npos) {
    retry_after = body.substr(0, nl);
    body.remove_prefix(nl + 1);
  }
  check_upstream_error(map(status, body, retry_after));
}

}  // namespace aegis::fuzz
