// libFuzzer target: the Anthropic codec's parsers (wire/anthropic.hpp) on
// arbitrary bytes. The first byte picks the parser: Messages request,
// Messages response, the upstream SSE stream (fed to the SSE parser in
// chunks, then to the stream decoder), upstream error body. A value a parser
// accepts is written back by its writer, the writer's JSON text parses to the
// same value again (write(parse(write(x))) == write(x)), and every codec's
// writer gives a body its own parser accepts; a body within smaller request
// limits is accepted under the defaults, the same. Decoded stream events
// survive the encoder: the text, the tool calls, the finish.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "wire_fuzz.hpp"

namespace aegis::fuzz {

[[noreturn]] void fail(std::string_view what) {
  std::fprintf(stderr, "anthropic_fuzz: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

namespace {

namespace anthropic = wire::anthropic;

void expect_code(const Error& e, ErrorCode code, std::string_view what) {
  if (e.code != code || e.message.empty()) fail(std::string(what) + ": an error of another code, or no message");
}

void chat_request(const Input& in) {
  const auto body = parse_json(in.body);
  if (!body) return;
  const auto r = anthropic::parse_chat_request(*body);
  const auto limited = anthropic::parse_chat_request(*body, small_limits(in.selector));
  if (!r.ok()) {
    expect_code(r.error(), ErrorCode::invalid_request, "parse_chat_request");
    if (limited.ok()) fail("a body within smaller limits is refused under the default limits");
    return;
  }
  if (r->origin != WireProtocol::anthropic || r->model.empty() || r->messages.empty() || !r->max_tokens) {
    fail("an incomplete request");
  }
  const auto w1 = reparse(anthropic::write_chat_request(*r, r->model), "write_chat_request");
  if (limited.ok() && !json_equal(anthropic::write_chat_request(*limited, r->model), w1)) {
    fail("a body parses differently under smaller limits");
  }
  const auto r2 = anthropic::parse_chat_request(w1, RequestLimits::unlimited());
  if (!r2.ok()) fail("parse_chat_request refuses write_chat_request's body: " + r2.error().message);
  check_same_conversation(*r, *r2, true, "write_chat_request");
  if (anthropic::write_chat_request(*r2, r2->model) != w1) fail("write(parse(write(x))) != write(x)");
  check_request_writers(*r, in.selector);
}

void chat_response(const Input& in) {
  const auto body = parse_json(in.body);
  if (!body) return;
  const auto c = anthropic::parse_chat_response(*body);
  if (!c.ok()) return expect_code(c.error(), ErrorCode::upstream_error, "parse_chat_response");
  const auto w1 = reparse(anthropic::write_chat_response(*c), "write_chat_response");
  const auto c2 = anthropic::parse_chat_response(w1);
  if (!c2.ok()) fail("parse_chat_response refuses write_chat_response's body: " + c2.error().message);
  check_answer(*c, *c2, "write_chat_response");
  if (c2->stop_sequence != c->stop_sequence) fail("write_chat_response: stop_sequence differs");
  if (anthropic::write_chat_response(*c2) != w1) fail("write(parse(write(x))) != write(x)");
  check_response_writers(*c);
}

// Events through the encoder (what the gateway streams to an Anthropic
// client) and back through the SSE parser and the decoder.
Events reencode(const Events& events) {
  anthropic::StreamEncoder encoder;
  std::string bytes;
  for (const auto& e : events) bytes += encoder.encode(e);
  http::SseParser parser;
  anthropic::StreamDecoder decoder;
  Events out;
  const auto decoded = decode_into(decoder, parser.feed(bytes), out);
  if (!decoded.ok()) fail("the decoder refuses the encoder's stream: " + decoded.error().message);
  check_events(out, decoder.finished());
  return out;
}

void stream(const Input& in) {
  anthropic::StreamDecoder decoder;
  Events events;
  if (const auto decoded = decode_into(decoder, sse_events(in.body), events);
      !decoded.ok() && decoded.error().message.empty()) {
    fail("a stream error without a message");
  }
  check_events(events, decoder.finished());
  // The encoder keeps the text, every tool call and the finish; it drops a
  // second start and deltas of a tool call whose block is closed (Anthropic
  // blocks cannot interleave), so what it gives back is a fixed point.
  const Events once = reencode(events);
  if (text_of(once) != text_of(events)) fail("encoding loses text");
  if (tool_calls_of(once) != tool_calls_of(events)) fail("encoding loses tool calls");
  if (has_finish(once) != has_finish(events)) fail("encoding loses the finish");
  if (!same(reencode(once), once)) fail("decode(encode(x)) is not a fixed point");
}

}  // namespace
}  // namespace aegis::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aegis::fuzz;
  const Input in = split_input(data, size);
  switch (in.selector % 4) {
    case 0: chat_request(in); break;
    case 1: chat_response(in); break;
    case 2: stream(in); break;
    case 3: check_error_body(in.body, aegis::wire::anthropic::map_upstream_error); break;
  }
  return 0;
}
