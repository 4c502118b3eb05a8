// Shared wire helpers, and translations across protocols: a client speaking
// one protocol served by an upstream speaking another, streams included.
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/json.hpp"
#include "http/client.hpp"
#include "wire/anthropic.hpp"
#include "wire/common.hpp"
#include "wire/ollama.hpp"
#include "wire/openai.hpp"

namespace aegis::wire {
namespace {

namespace json = boost::json;

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(AEGIS_SOURCE_DIR) + "/tests/fixtures/wire/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing fixture " << name;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<http::SseParser::Event> sse(std::string_view bytes) {
  http::SseParser parser;
  return parser.feed(bytes);
}

template <class Decoder>
std::vector<StreamEvent> decode_sse(std::string_view bytes, bool* finished = nullptr) {
  Decoder decoder;
  std::vector<StreamEvent> out;
  for (const auto& e : sse(bytes)) {
    auto r = decoder.feed(e);
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r) break;
    out.insert(out.end(), r->begin(), r->end());
  }
  if (finished != nullptr) *finished = decoder.finished();
  return out;
}

// What a client ends up with: the text, the tool calls (id, name, whole
// arguments), the stop reason and the usage.
struct Assembled {
  std::string text;
  std::vector<ToolCall> calls;
  StopReason stop = StopReason::unknown;
  Usage usage;
  int finishes = 0;
};

Assembled assemble(const std::vector<StreamEvent>& events) {
  Assembled a;
  for (const auto& e : events) {
    switch (e.kind) {
      case StreamEvent::Kind::start: break;
      case StreamEvent::Kind::text: a.text += e.text; break;
      case StreamEvent::Kind::tool_call_start:
        if (a.calls.size() <= e.index) a.calls.resize(e.index + 1);
        a.calls[e.index].id = e.tool_call.id;
        a.calls[e.index].name = e.tool_call.name;
        break;
      case StreamEvent::Kind::tool_call_delta: a.calls.at(e.index).arguments_json += e.text; break;
      case StreamEvent::Kind::finish:
        a.stop = e.stop_reason;
        a.usage = e.usage;
        ++a.finishes;
        break;
    }
  }
  return a;
}

// ---- Helpers -------------------------------------------------------------------------

TEST(WireCommon, RetryAfter) {
  EXPECT_EQ(parse_retry_after(std::nullopt), 0);
  EXPECT_EQ(parse_retry_after("30"), 30);
  EXPECT_EQ(parse_retry_after(" 7 "), 7);
  EXPECT_EQ(parse_retry_after("1.5"), 2);
  EXPECT_EQ(parse_retry_after("0"), 0);
  EXPECT_EQ(parse_retry_after("-4"), 0);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), 0);
  EXPECT_EQ(parse_retry_after("99999999"), 86400);
}

TEST(WireCommon, TruncatesAtCharacterBoundaries) {
  EXPECT_EQ(truncate_utf8("short", 10), "short");
  EXPECT_EQ(truncate_utf8("h\xC3\xA9llo", 2), "h...");  // does not split the two bytes of é
  EXPECT_EQ(truncate_utf8("abcdef", 3), "abc...");
}

TEST(WireCommon, FloatsKeepTheirShortForm) {
  EXPECT_EQ(to_json(json::value(float_for_json(0.1f))), "0.1");
  EXPECT_EQ(to_json(json::value(float_for_json(-0.009327292f))), "-0.009327292");
  EXPECT_EQ(to_json(json::value(float_for_json(3.0f))), "3.0");
  EXPECT_EQ(static_cast<float>(float_for_json(0.0023064255f)), 0.0023064255f);
}

TEST(WireCommon, ArgumentsObject) {
  EXPECT_EQ(to_json(arguments_object(R"({"a":1,"b":[0.5]})")), R"({"a":1,"b":[0.5]})");
  EXPECT_EQ(to_json(arguments_object("")), "{}");
  EXPECT_EQ(to_json(arguments_object("[1]")), "{}");
  EXPECT_EQ(to_json(arguments_object("{broken")), "{}");
}

TEST(WireCommon, SynthesizedToolCallIdsAreStableAndDistinct) {
  const std::string a = synthesize_tool_call_id("f", "{}", 0);
  EXPECT_EQ(a, synthesize_tool_call_id("f", "{}", 0));
  EXPECT_NE(a, synthesize_tool_call_id("f", "{}", 1));
  EXPECT_NE(a, synthesize_tool_call_id("g", "{}", 0));
  EXPECT_TRUE(a.starts_with("call_"));
  EXPECT_EQ(a.size(), 21u);
}

TEST(WireCommon, ClassifiesUpstreamFailures) {
  auto code = [](int status, std::string type = "", std::string c = "") {
    return classify_upstream_failure(UpstreamFailure{status, std::move(type), std::move(c), "m"}, std::nullopt).code;
  };
  EXPECT_EQ(code(429), ErrorCode::rate_limited);
  EXPECT_EQ(code(429, "insufficient_quota", "insufficient_quota"), ErrorCode::upstream_error);
  EXPECT_EQ(code(529), ErrorCode::unavailable);
  EXPECT_EQ(code(200, "overloaded_error"), ErrorCode::unavailable);
  EXPECT_EQ(code(500), ErrorCode::upstream_error);
  EXPECT_EQ(code(501), ErrorCode::upstream_error);
  EXPECT_EQ(code(502), ErrorCode::unavailable);
  EXPECT_EQ(code(503), ErrorCode::unavailable);
  EXPECT_EQ(code(504), ErrorCode::upstream_timeout);
  EXPECT_EQ(code(408), ErrorCode::upstream_timeout);
  EXPECT_EQ(code(401), ErrorCode::upstream_error);
  EXPECT_EQ(code(403), ErrorCode::upstream_error);
  EXPECT_EQ(code(400), ErrorCode::invalid_request);
  EXPECT_EQ(code(404), ErrorCode::invalid_request);
  EXPECT_EQ(code(413), ErrorCode::invalid_request);
  EXPECT_EQ(code(422), ErrorCode::invalid_request);
  EXPECT_EQ(code(409), ErrorCode::upstream_error);
  // Long provider messages are cut.
  const Error long_message = classify_upstream_failure(UpstreamFailure{400, "", "", std::string(5000, 'x')}, std::nullopt);
  EXPECT_LT(long_message.message.size(), 400u);
  // Retry-After only where it means something.
  EXPECT_EQ(classify_upstream_failure(UpstreamFailure{503, "", "", ""}, "9").retry_after_seconds, 9);
  EXPECT_EQ(classify_upstream_failure(UpstreamFailure{400, "", "", ""}, "9").retry_after_seconds, 0);
}

TEST(WireCommon, SseFraming) {
  EXPECT_EQ(sse_event("ping", json::object{{"type", "ping"}}), "event: ping\ndata: {\"type\":\"ping\"}\n\n");
  EXPECT_EQ(sse_data(json::object{{"t", 0.7}}), "data: {\"t\":0.7}\n\n");
}

// ---- Across protocols ------------------------------------------------------------------------

TEST(WireCrossProtocol, AnthropicClientToOpenAIUpstream) {
  auto r = anthropic::parse_chat_request(json::parse(fixture("anthropic/messages_request_tool_result.json")));
  ASSERT_TRUE(r.ok()) << r.error().message;
  r->passthrough["top_k"] = 5;
  const json::object body = openai::write_chat_request(*r, "gpt-4o");
  const auto& messages = body.at("messages").as_array();
  ASSERT_EQ(messages.size(), 5u);
  EXPECT_EQ(to_json(messages[1].at("tool_calls").at(0)),
            R"({"id":"toolu_01A09q90qw90lq917835lq9","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}"}})");
  EXPECT_EQ(to_json(messages[2]), R"({"role":"tool","tool_call_id":"toolu_01A09q90qw90lq917835lq9","content":"15 degrees"})");
  EXPECT_EQ(messages[3].at("tool_call_id"), "toolu_01B");
  EXPECT_EQ(to_json(messages[4]), R"({"role":"user","content":"Which is warmer?"})");
  EXPECT_EQ(body.at("max_tokens"), 1024);
  EXPECT_EQ(to_json(body.at("tool_choice")), R"({"type":"function","function":{"name":"get_weather"}})");
  EXPECT_EQ(body.at("parallel_tool_calls"), false);
  EXPECT_FALSE(body.contains("top_k"));
}

TEST(WireCrossProtocol, AnthropicUpstreamStreamToOpenAIClient) {
  const std::vector<StreamEvent> upstream = decode_sse<anthropic::StreamDecoder>(fixture("anthropic/stream_tool_use.sse"));
  openai::StreamEncoder encoder(true, 1);
  std::string bytes;
  for (const auto& e : upstream) bytes += encoder.encode(e);
  EXPECT_TRUE(bytes.ends_with("data: [DONE]\n\n"));
  bool finished = false;
  const Assembled client = assemble(decode_sse<openai::StreamDecoder>(bytes, &finished));
  EXPECT_TRUE(finished);
  EXPECT_EQ(client.text, "Okay, let's check the weather for San Francisco, CA:");
  ASSERT_EQ(client.calls.size(), 1u);
  EXPECT_EQ(client.calls[0].id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
  EXPECT_EQ(client.calls[0].name, "get_weather");
  EXPECT_EQ(client.calls[0].arguments_json, R"({"location": "San Francisco, CA", "unit": "fahrenheit"})");
  EXPECT_EQ(client.stop, StopReason::tool_use);
  EXPECT_EQ(client.usage.input_tokens, 472);
  EXPECT_EQ(client.usage.output_tokens, 89);
  EXPECT_EQ(client.finishes, 1);
}

TEST(WireCrossProtocol, OpenAIUpstreamStreamToAnthropicClient) {
  const std::vector<StreamEvent> upstream = decode_sse<openai::StreamDecoder>(fixture("openai/stream_tool_calls.sse"));
  anthropic::StreamEncoder encoder;
  std::string bytes;
  for (const auto& e : upstream) bytes += encoder.encode(e);
  std::vector<std::string> names;
  for (const auto& e : sse(bytes)) names.push_back(e.event);
  EXPECT_EQ(names, (std::vector<std::string>{"message_start", "content_block_start", "ping", "content_block_delta",
                                             "content_block_delta", "content_block_delta", "content_block_stop",
                                             "content_block_start", "content_block_delta", "content_block_stop", "message_delta",
                                             "message_stop"}));
  bool finished = false;
  const Assembled client = assemble(decode_sse<anthropic::StreamDecoder>(bytes, &finished));
  EXPECT_TRUE(finished);
  ASSERT_EQ(client.calls.size(), 2u);
  EXPECT_EQ(client.calls[0].id, "call_DdmO9pD3xa9XTPNJ32zg2hcA");
  EXPECT_EQ(client.calls[0].arguments_json, R"({"location":"Paris"})");
  EXPECT_EQ(client.calls[1].name, "get_time");
  EXPECT_EQ(client.stop, StopReason::tool_use);
}

TEST(WireCrossProtocol, OllamaUpstreamStreamToAnthropicClient) {
  ollama::StreamDecoder decoder;
  http::NdjsonParser lines;
  anthropic::StreamEncoder encoder;
  std::string bytes;
  for (const auto& line : lines.feed(fixture("ollama/stream_tools.ndjson"))) {
    auto events = decoder.feed(line);
    ASSERT_TRUE(events.ok()) << events.error().message;
    for (const auto& e : *events) bytes += encoder.encode(e);
  }
  EXPECT_TRUE(decoder.finished());
  bool finished = false;
  const Assembled client = assemble(decode_sse<anthropic::StreamDecoder>(bytes, &finished));
  EXPECT_TRUE(finished);
  EXPECT_EQ(client.text, "Let me check.");
  ASSERT_EQ(client.calls.size(), 1u);
  EXPECT_EQ(client.calls[0].arguments_json, R"({"format":"celsius","location":"Toronto"})");
  EXPECT_EQ(client.stop, StopReason::tool_use);
  EXPECT_EQ(client.usage.input_tokens, 120);
  EXPECT_EQ(client.usage.output_tokens, 40);
}

TEST(WireCrossProtocol, MidStreamFailureNeverLooksLikeACleanEnd) {
  // Upstream dies after some text: the client stream ends with the protocol's
  // error event instead of the closing events, and its decoder is not finished.
  std::vector<StreamEvent> partial;
  {
    openai::StreamDecoder decoder;
    for (const auto& e : sse(fixture("openai/stream_error.sse"))) {
      auto r = decoder.feed(e);
      if (!r) break;
      partial.insert(partial.end(), r->begin(), r->end());
    }
  }
  ASSERT_EQ(partial.size(), 2u);
  const Error failure = make_error(ErrorCode::upstream_error, "provider internal error (HTTP 500)");

  anthropic::StreamEncoder to_anthropic;
  std::string bytes;
  for (const auto& e : partial) bytes += to_anthropic.encode(e);
  bytes += anthropic::encode_error(failure);
  EXPECT_EQ(bytes.find("message_stop"), std::string::npos);
  anthropic::StreamDecoder anthropic_client;
  std::optional<Error> seen;
  for (const auto& e : sse(bytes)) {
    auto r = anthropic_client.feed(e);
    if (!r) seen = r.error();
  }
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->code, ErrorCode::upstream_error);
  EXPECT_FALSE(anthropic_client.finished());

  openai::StreamEncoder to_openai(true, 1);
  bytes.clear();
  for (const auto& e : partial) bytes += to_openai.encode(e);
  bytes += openai::encode_error(failure);
  EXPECT_EQ(bytes.find("[DONE]"), std::string::npos);
  openai::StreamDecoder openai_client;
  seen.reset();
  for (const auto& e : sse(bytes)) {
    auto r = openai_client.feed(e);
    if (!r) seen = r.error();
  }
  ASSERT_TRUE(seen);
  EXPECT_FALSE(openai_client.finished());
}

}  // namespace
}  // namespace aegis::wire
