// libFuzzer target: the OpenAI codec's parsers (wire/openai.hpp) on arbitrary
// bytes. The first byte picks the parser: chat request, chat response, the
// upstream SSE stream (fed to the SSE parser in chunks, then to the stream
// decoder), embeddings request, embeddings response, upstream error body.
// A value a parser accepts is written back by its writer, the writer's JSON
// text parses to the same value again (write(parse(write(x))) == write(x)),
// and every codec's writer gives a body its own parser accepts; a body
// within smaller request limits is accepted under the defaults, the same.
// A parser's error is a value of the documented code, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "core/encoding.hpp"
#include "wire_fuzz.hpp"

namespace aegis::fuzz {

[[noreturn]] void fail(std::string_view what) {
  std::fprintf(stderr, "openai_fuzz: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

namespace {

namespace openai = wire::openai;

void expect_code(const Error& e, ErrorCode code, std::string_view what) {
  if (e.code != code || e.message.empty()) fail(std::string(what) + ": an error of another code, or no message");
}

void chat_request(const Input& in) {
  const auto body = parse_json(in.body);
  if (!body) return;
  const auto r = openai::parse_chat_request(*body);
  const auto limited = openai::parse_chat_request(*body, small_limits(in.selector));
  if (!r.ok()) {
    expect_code(r.error(), ErrorCode::invalid_request, "parse_chat_request");
    if (limited.ok()) fail("a body within smaller limits is refused under the default limits");
    return;
  }
  if (r->origin != WireProtocol::openai || r->model.empty() || r->messages.empty()) fail("an incomplete request");
  const auto w1 = reparse(openai::write_chat_request(*r, r->model), "write_chat_request");
  if (limited.ok() && !json_equal(openai::write_chat_request(*limited, r->model), w1)) {
    fail("a body parses differently under smaller limits");
  }
  const auto r2 = openai::parse_chat_request(w1, RequestLimits::unlimited());
  if (!r2.ok()) fail("parse_chat_request refuses write_chat_request's body: " + r2.error().message);
  check_same_conversation(*r, *r2, false, "write_chat_request");
  if (openai::write_chat_request(*r2, r2->model) != w1) fail("write(parse(write(x))) != write(x)");
  check_request_writers(*r, in.selector);
}

void chat_response(const Input& in) {
  const auto body = parse_json(in.body);
  if (!body) return;
  const auto c = openai::parse_chat_response(*body);
  if (!c.ok()) return expect_code(c.error(), ErrorCode::upstream_error, "parse_chat_response");
  const auto w1 = reparse(openai::write_chat_response(*c, 1700000000), "write_chat_response");
  const auto c2 = openai::parse_chat_response(w1);
  if (!c2.ok()) fail("parse_chat_response refuses write_chat_response's body: " + c2.error().message);
  check_answer(*c, *c2, "write_chat_response");
  if (openai::write_chat_response(*c2, 1700000000) != w1) fail("write(parse(write(x))) != write(x)");
  check_response_writers(*c);
}

// Events through the encoder (what the gateway streams to an OpenAI client)
// and back through the SSE parser and the decoder.
Events reencode(const Events& events) {
  openai::StreamEncoder encoder(true, 1700000000);
  std::string bytes;
  for (const auto& e : events) bytes += encoder.encode(e);
  http::SseParser parser;
  openai::StreamDecoder decoder;
  Events out;
  const auto decoded = decode_into(decoder, parser.feed(bytes), out);
  if (!decoded.ok()) fail("the decoder refuses the encoder's stream: " + decoded.error().message);
  check_events(out, decoder.finished());
  return out;
}

void stream(const Input& in) {
  openai::StreamDecoder decoder;
  Events events;
  if (const auto decoded = decode_into(decoder, sse_events(in.body), events);
      !decoded.ok() && decoded.error().message.empty()) {
    fail("a stream error without a message");
  }
  check_events(events, decoder.finished());
  // The OpenAI encoder keeps everything but the finish reasons it has no
  // name for (stop_sequence and unknown are "stop").
  Events expected = events;
  for (auto& e : expected) e.stop_reason = openai::parse_finish_reason(openai::finish_reason(e.stop_reason));
  if (!same(reencode(events), expected)) fail("decode(encode(events)) != events");
}

void embed_request(const Input& in) {
  const auto body = parse_json(in.body);
  if (!body) return;
  const auto r = openai::parse_embed_request(*body);
  const auto limited = openai::parse_embed_request(*body, small_limits(in.selector));
  if (!r.ok()) {
    expect_code(r.error(), ErrorCode::invalid_request, "parse_embed_request");
    if (limited.ok()) fail("an embeddings body within smaller limits is refused under the default limits");
    return;
  }
  if (limited.ok() && limited->inputs != r->inputs) fail("an embeddings body parses differently under smaller limits");
  if (r->inputs.empty()) fail("an embeddings request without input");
  const auto r2 = openai::parse_embed_request(reparse(openai::write_embed_request(*r, r->model), "write_embed_request"),
                                              RequestLimits::unlimited());
  if (!r2.ok()) fail("parse_embed_request refuses write_embed_request's body: " + r2.error().message);
  if (r2->inputs != r->inputs || r2->dimensions != r->dimensions || r2->model != r->model) {
    fail("write_embed_request: the request differs");
  }
  const auto o = wire::ollama::parse_embed_request(
      reparse(wire::ollama::write_embed_request(*r, r->model), "ollama write_embed_request"));
  if (!o.ok() || o->inputs != r->inputs || o->dimensions != r->dimensions) {
    fail("ollama write_embed_request: the request differs");
  }
}

void embed_response(const Input& in) {
  const auto body = parse_json(in.body);
  if (!body) return;
  const auto e = openai::parse_embed_response(*body);
  if (!e.ok()) return expect_code(e.error(), ErrorCode::upstream_error, "parse_embed_response");
  check_embedding_writers(*e);
  // encoding_format "base64": each vector's little-endian float32 bytes.
  const auto written = openai::write_embed_response(*e, true);
  const auto& data = written.at("data").as_array();
  if (data.size() != e->vectors.size()) fail("write_embed_response(base64): another number of vectors");
  for (std::size_t i = 0; i < data.size(); ++i) {
    const auto bytes = base64_decode(data[i].at("embedding").as_string());
    const auto& v = e->vectors[i];
    if (!bytes || bytes->size() != v.size() * sizeof(float) ||
        (!v.empty() && std::memcmp(bytes->data(), v.data(), bytes->size()) != 0)) {
      fail("write_embed_response(base64): the bytes are not the vector's");
    }
  }
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
    case 5: check_error_body(in.body, aegis::wire::openai::map_upstream_error); break;
  }
  return 0;
}
