// libFuzzer target: the Ollama codec's parsers (wire/ollama.hpp) on arbitrary
// bytes. The first byte picks the parser: /api/chat request, /api/chat
// response, the upstream NDJSON stream (fed to the NDJSON parser in chunks,
// then line by line to the stream decoder), /api/embed request, /api/embed
// response, upstream error body. A value a parser accepts is written back by
// its writer, the writer's JSON text parses to the same value again
// (write(parse(write(x))) == write(x)), and every codec's writer gives a body
// its own parser accepts. Decoded stream events survive the encoder.
#include <boost/json/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "wire_fuzz.hpp"

namespace aegis::fuzz {

[[noreturn]] void fail(std::string_view what) {
  std::fprintf(stderr, "ollama_fuzz: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

namespace {

namespace ollama = wire::ollama;

void expect_code(const Error& e, ErrorCode code, std::string_view what) {
  if (e.code != code || e.message.empty()) fail(std::string(what) + ": an error of another code, or no message");
}

void chat_request(const Input& in) {
  const auto body = parse_json(in.body);
  if (!body) return;
  const auto r = ollama::parse_chat_request(*body);
  if (!r.ok()) return expect_code(r.error(), ErrorCode::invalid_request, "parse_chat_request");
  if (r->origin != WireProtocol::ollama || r->model.empty() || r->messages.empty()) fail("an incomplete request");
  for (const auto& m : r->messages) {
    if (m.role == Role::tool && m.tool_call_id.empty()) fail("a tool result linked to no call");
  }
  const auto w1 = reparse(ollama::write_chat_request(*r, r->model), "write_chat_request");
  const auto r2 = ollama::parse_chat_request(w1);
  if (!r2.ok()) fail("parse_chat_request refuses write_chat_request's body: " + r2.error().message);
  check_same_conversation(*r, *r2, false, "write_chat_request");
  if (ollama::write_chat_request(*r2, r2->model) != w1) fail("write(parse(write(x))) != write(x)");
  check_request_writers(*r, in.selector);
}

void chat_response(const Input& in) {
  const auto body = parse_json(in.body);
  if (!body) return;
  const auto c = ollama::parse_chat_response(*body);
  if (!c.ok()) return expect_code(c.error(), ErrorCode::upstream_error, "parse_chat_response");
  const auto w1 = reparse(ollama::write_chat_response(*c, 1700000000), "write_chat_response");
  const auto c2 = ollama::parse_chat_response(w1);
  if (!c2.ok()) fail("parse_chat_response refuses write_chat_response's body: " + c2.error().message);
  check_answer(*c, *c2, "write_chat_response");
  if (ollama::write_chat_response(*c2, 1700000000) != w1) fail("write(parse(write(x))) != write(x)");
  check_response_writers(*c);
}

// The encoder writes tool-call arguments as an object inside a line, five
// levels down; arguments that arrived as a string nesting near the JSON
// parser's depth limit (32) cannot be read back from such a line.
bool deep(const Events& events) {
  boost::json::parse_options options;
  options.max_depth = 24;
  for (const auto& e : events) {
    if (e.kind != StreamEvent::Kind::tool_call_delta) continue;
    boost::system::error_code ec;
    (void)boost::json::parse(e.text, ec, {}, options);
    if (ec == boost::json::error::too_deep) return true;
  }
  return false;
}

// Events through the encoder (what the gateway streams to an Ollama client)
// and back through the NDJSON parser and the decoder.
Events reencode(const Events& events) {
  ollama::StreamEncoder encoder(1700000000);
  std::string bytes;
  for (const auto& e : events) bytes += encoder.encode(e);
  http::NdjsonParser parser;
  ollama::StreamDecoder decoder;
  Events out;
  const auto decoded = decode_into(decoder, parser.feed(bytes), out);
  if (!decoded.ok()) fail("the decoder refuses the encoder's stream: " + decoded.error().message);
  if (!parser.take_rest().empty()) fail("the encoder's stream ends inside a line");
  check_events(out, decoder.finished());
  return out;
}

void stream(const Input& in) {
  ollama::StreamDecoder decoder;
  Events events;
  if (const auto decoded = decode_into(decoder, ndjson_lines(in.body), events); !decoded.ok()) {
    expect_code(decoded.error(), ErrorCode::upstream_error, "StreamDecoder");
  }
  check_events(events, decoder.finished());
  if (deep(events)) return;
  // The encoder keeps the text and the finish, and the tool calls it flushes
  // before the next text or the finish; arguments become an object.
  const Events once = reencode(events);
  if (text_of(once) != text_of(events)) fail("encoding loses text");
  if (has_finish(once) != has_finish(events)) fail("encoding loses the finish");
  if (has_finish(events) && tool_calls_of(once) != tool_calls_of(events)) fail("encoding loses tool calls");
  if (!same(reencode(once), once)) fail("decode(encode(x)) is not a fixed point");
}

void embed_request(const Input& in) {
  const auto body = parse_json(in.body);
  if (!body) return;
  const auto r = ollama::parse_embed_request(*body);
  if (!r.ok()) return expect_code(r.error(), ErrorCode::invalid_request, "parse_embed_request");
  if (r->inputs.empty()) fail("an embeddings request without input");
  const auto r2 =
      ollama::parse_embed_request(reparse(ollama::write_embed_request(*r, r->model), "write_embed_request"));
  if (!r2.ok()) fail("parse_embed_request refuses write_embed_request's body: " + r2.error().message);
  if (r2->inputs != r->inputs || r2->dimensions != r->dimensions || r2->model != r->model) {
    fail("write_embed_request: the request differs");
  }
}

void embed_response(const Input& in) {
  const auto body = parse_json(in.body);
  if (!body) return;
  const auto e = ollama::parse_embed_response(*body);
  if (!e.ok()) return expect_code(e.error(), ErrorCode::upstream_error, "parse_embed_response");
  check_embedding_writers(*e);
}

}  // namespace
}  // namespace aegis::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aegis::fuzz;
  const Input in = split_input(data, size);
  switch (in.selector % 6) {
    case 0: chat_request(in); break;
    case 1: chat_response(in); break;
    case 2: stream(in); break;
    case 3: embed_request(in); break;
    case 4: embed_response(in); break;
    case 5: check_error_body(in.body, aegis::wire::ollama::map_upstream_error); break;
  }
  return 0;
}
