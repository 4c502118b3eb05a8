// libFuzzer target: the incremental SSE and NDJSON parsers
// (http/stream_parsers.cpp) on arbitrary bytes, both on every input. Fed in
// chunks of any size (taken from the input), they give exactly the events /
// lines of one feed, with the same bytes left buffered; what they give obeys
// the framing (no line break inside an event name or id, no blank NDJSON
// line), and events written back as SSE, lines joined with CRLF, parse to
// themselves.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/client.hpp"

namespace {

using aegis::http::NdjsonParser;
using aegis::http::SseParser;
using Events = std::vector<SseParser::Event>;

[[noreturn]] void fail(const char* what, std::size_t size) {
  std::fprintf(stderr, "stream_fuzz: %s (input %zu bytes)\n", what, size);
  std::abort();
}

// Chunk lengths 1..32 from the input's bytes, starting at `seed`, and an
// empty chunk where a length byte is a multiple of 33: '\r' / '\n' pairs
// split across chunks, with or without an empty chunk between them.
template <class Parser, class Out>
void feed_chunked(Parser& parser, std::string_view bytes, std::size_t seed, Out& out) {
  std::size_t pos = 0;
  std::size_t k = seed;
  while (pos < bytes.size()) {
    std::size_t len = static_cast<unsigned char>(bytes[k++ % bytes.size()]) % 33;
    if (len == 0) {
      for (auto& item : parser.feed({})) out.push_back(std::move(item));
      len = 1;
    }
    for (auto& item : parser.feed(bytes.substr(pos, len))) out.push_back(std::move(item));
    pos += len;
  }
}

bool same(const Events& a, const Events& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].event != b[i].event || a[i].data != b[i].data || a[i].id != b[i].id) return false;
  }
  return true;
}

// One event in canonical SSE: every field written, data line by line.
std::string write_sse(const Events& events) {
  std::string out;
  for (const auto& e : events) {
    out += "event: " + e.event + "\n";
    out += "id: " + e.id + "\n";
    std::size_t start = 0;
    while (true) {
      const std::size_t nl = e.data.find('\n', start);
      out += "data: " + e.data.substr(start, nl == std::string::npos ? std::string::npos : nl - start) + "\n";
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
    out += "\n";
  }
  return out;
}

void sse(std::string_view bytes) {
  SseParser whole;
  const Events expected = whole.feed(bytes);
  for (const auto& e : expected) {
    if (e.event.empty()) fail("an SSE event without a name", bytes.size());
    if (e.event.find_first_of("\r\n") != std::string::npos) fail("a line break in an SSE event name", bytes.size());
    if (e.id.find_first_of("\r\n") != std::string::npos || e.id.find('\0') != std::string::npos) {
      fail("a line break or NUL in an SSE id", bytes.size());
    }
    if (e.data.find('\r') != std::string::npos) fail("a carriage return in SSE data", bytes.size());
  }
  for (std::size_t seed : {std::size_t{0}, bytes.size() / 2 + 1}) {
    SseParser parser;
    Events events;
    feed_chunked(parser, bytes, seed, events);
    if (!same(events, expected)) fail("chunked SSE parsing differs from one feed", bytes.size());
    if (parser.buffered() != whole.buffered()) fail("chunked SSE parsing buffers other bytes", bytes.size());
  }
  SseParser again;
  if (!same(again.feed(write_sse(expected)), expected)) fail("SSE written back parses to other events", bytes.size());
}

void ndjson(std::string_view bytes) {
  NdjsonParser whole;
  const std::vector<std::string> expected = whole.feed(bytes);
  const std::string rest = whole.take_rest();
  for (const auto& line : expected) {
    if (line.find('\n') != std::string::npos) fail("a newline inside an NDJSON line", bytes.size());
    if (line.find_first_not_of(" \t\r") == std::string::npos) fail("a blank NDJSON line", bytes.size());
  }
  if (rest.find('\n') != std::string::npos) fail("a newline in the NDJSON tail", bytes.size());
  for (std::size_t seed : {std::size_t{0}, bytes.size() / 2 + 1}) {
    NdjsonParser parser;
    std::vector<std::string> lines;
    feed_chunked(parser, bytes, seed, lines);
    if (lines != expected) fail("chunked NDJSON parsing differs from one feed", bytes.size());
    if (parser.buffered() != rest.size() || parser.take_rest() != rest) {
      fail("chunked NDJSON parsing leaves another tail", bytes.size());
    }
  }
  // CRLF: the parser takes one '\r' off a line's end, and only one.
  std::string joined;
  for (const auto& line : expected) joined += line + "\r\n";
  NdjsonParser again;
  if (again.feed(joined) != expected || again.buffered() != 0)
    fail("NDJSON lines joined parse to others", bytes.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  sse(bytes);
  ndjson(bytes);
  return 0;
}
