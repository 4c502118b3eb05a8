// Prompt-cache accounting in the codecs (issue 19): the cache counts each
// provider reports, in responses and streams, into the canonical Usage
// (whose input buckets are disjoint, as Anthropic's are), and back out in
// each client protocol; and Anthropic's cache_control kept from the
// client's request to the upstream body.
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <string>

#include "core/json.hpp"
#include "wire/anthropic.hpp"
#include "wire/openai.hpp"
#include "wire/wire_test_support.hpp"

namespace aegis::wire {
namespace {

json::value parse(std::string_view text) { return json::parse(text); }

std::string message_body(std::string_view usage) {
  return R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":)" +
         std::string(usage) + "}";
}

TEST(WirePromptCache, AnthropicResponseCacheCountsAreKeptApartFromInput) {
  auto c = anthropic::parse_chat_response(parse(message_body(
      R"({"input_tokens":21,"cache_creation_input_tokens":1800,"cache_read_input_tokens":0,)"
      R"("cache_creation":{"ephemeral_5m_input_tokens":1500,"ephemeral_1h_input_tokens":300},"output_tokens":7})")));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->usage.input_tokens, 21);  // Anthropic's input_tokens excludes the cache tokens
  EXPECT_EQ(c->usage.cache_write_tokens, 1800);
  EXPECT_EQ(c->usage.cache_write_1h_tokens, 300);
  EXPECT_EQ(c->usage.cache_read_tokens, 0);
  EXPECT_EQ(c->usage.output_tokens, 7);
  EXPECT_EQ(c->usage.prompt_tokens(), 1821);

  // null counts (the API sends them for requests that touch no cache) are 0.
  auto plain = anthropic::parse_chat_response(parse(message_body(
      R"({"input_tokens":5,"cache_creation_input_tokens":null,"cache_read_input_tokens":null,"output_tokens":2})")));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->usage.cache_read_tokens + plain->usage.cache_write_tokens, 0);

  auto negative = anthropic::parse_chat_response(parse(message_body(R"({"cache_read_input_tokens":-1})")));
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.error().message,
            "malformed anthropic response: usage.cache_read_input_tokens: must not be negative");
}

TEST(WirePromptCache, AnthropicStreamTakesCacheCountsFromMessageStartAndMessageDelta) {
  const std::string start =
      "event: message_start\ndata: "
      R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],)"
      R"("usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":2048,"output_tokens":1}}})"
      "\n\n";
  const std::string text =
      "event: content_block_start\ndata: "
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
      "\n\nevent: content_block_delta\ndata: "
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}})"
      "\n\nevent: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n";
  const std::string stop = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

  // message_delta with only output_tokens (the older shape): message_start's counts stand.
  auto d = decode_sse<anthropic::StreamDecoder>(
      start + text +
      "event: message_delta\ndata: "
      R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}})"
      "\n\n" +
      stop);
  ASSERT_FALSE(d.error) << d.error->message;
  ASSERT_TRUE(d.finished);
  EXPECT_EQ(d.events.front().usage.cache_read_tokens, 2048);  // the start event carries them (streams cut short)
  const Usage& u = d.events.back().usage;
  EXPECT_EQ(u.input_tokens, 12);
  EXPECT_EQ(u.cache_read_tokens, 2048);
  EXPECT_EQ(u.cache_write_tokens, 0);
  EXPECT_EQ(u.output_tokens, 9);

  // message_delta repeating the cumulative counts (the newer shape): they replace message_start's.
  auto e = decode_sse<anthropic::StreamDecoder>(
      start + text +
      "event: message_delta\ndata: "
      R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":12,)"
      R"("cache_creation_input_tokens":100,"cache_read_input_tokens":2048,"output_tokens":9}})"
      "\n\n" +
      stop);
  ASSERT_FALSE(e.error);
  EXPECT_EQ(e.events.back().usage.cache_write_tokens, 100);
  EXPECT_EQ(e.events.back().usage.cache_read_tokens, 2048);
}

TEST(WirePromptCache, OpenAiCachedTokensAreInsidePromptTokens) {
  auto c = openai::parse_chat_response(parse(
      R"({"id":"c1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],)"
      R"("usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0}}})"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->usage.input_tokens, 86);  // 2006 - 1920: only the uncached part at the input rate
  EXPECT_EQ(c->usage.cache_read_tokens, 1920);
  EXPECT_EQ(c->usage.cache_write_tokens, 0);
  EXPECT_EQ(c->usage.prompt_tokens(), 2006);
  EXPECT_EQ(c->usage.total_tokens(), 2306);

  // A cached count above prompt_tokens (a broken upstream) is capped: input never goes negative.
  auto odd = openai::parse_chat_response(parse(
      R"({"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":10,"prompt_tokens_details":{"cached_tokens":50}}})"));
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->usage.input_tokens, 0);
  EXPECT_EQ(odd->usage.cache_read_tokens, 10);
}

TEST(WirePromptCache, OpenAiStreamsReportCachedTokensInTheUsageChunk) {
  const std::string bytes =
      "data: "
      R"({"id":"c1","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}],"usage":null})"
      "\n\ndata: "
      R"({"id":"c1","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null})"
      "\n\ndata: "
      R"({"id":"c1","object":"chat.completion.chunk","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":1300,"completion_tokens":4,"total_tokens":1304,"prompt_tokens_details":{"cached_tokens":1152}}})"
      "\n\ndata: [DONE]\n\n";
  auto d = decode_sse<openai::StreamDecoder>(bytes);
  ASSERT_FALSE(d.error) << d.error->message;
  const Usage& u = d.events.back().usage;
  EXPECT_EQ(u.input_tokens, 148);
  EXPECT_EQ(u.cache_read_tokens, 1152);
  EXPECT_EQ(u.output_tokens, 4);
}

Usage cached_usage() {
  Usage u;
  u.input_tokens = 40;
  u.cache_read_tokens = 1000;
  u.cache_write_tokens = 500;
  u.cache_write_1h_tokens = 200;
  u.output_tokens = 9;
  return u;
}

TEST(WirePromptCache, EachClientProtocolGetsTheCountsInItsOwnShape) {
  Completion c;
  c.id = "x";
  c.text = "hi";
  c.usage = cached_usage();
  // OpenAI: prompt_tokens holds every input token, cached_tokens the reads.
  EXPECT_EQ(
      to_json(openai::write_chat_response(c, 1).at("usage")),
      R"({"prompt_tokens":1540,"completion_tokens":9,"total_tokens":1549,"prompt_tokens_details":{"cached_tokens":1000}})");
  // Anthropic: disjoint buckets, the writes split by TTL.
  EXPECT_EQ(to_json(anthropic::write_chat_response(c).at("usage")),
            R"({"input_tokens":40,"output_tokens":9,"cache_creation_input_tokens":500,"cache_read_input_tokens":1000,)"
            R"("cache_creation":{"ephemeral_5m_input_tokens":300,"ephemeral_1h_input_tokens":200}})");
  // Without cache tokens the usage objects are what they always were.
  c.usage = Usage{};
  c.usage.input_tokens = 3;
  c.usage.output_tokens = 4;
  EXPECT_EQ(to_json(openai::write_chat_response(c, 1).at("usage")),
            R"({"prompt_tokens":3,"completion_tokens":4,"total_tokens":7})");
  EXPECT_EQ(to_json(anthropic::write_chat_response(c).at("usage")), R"({"input_tokens":3,"output_tokens":4})");

  // Streams: Anthropic's message_start and message_delta, OpenAI's usage chunk.
  StreamEvent start = ev_start("msg_1", "m");
  start.usage = cached_usage();
  StreamEvent finish = ev_finish(StopReason::end_turn, 0, 0);
  finish.usage = cached_usage();
  anthropic::StreamEncoder a;
  const std::string events = a.encode(start) + a.encode(ev_text("hi")) + a.encode(finish);
  EXPECT_NE(
      events.find(
          R"("usage":{"input_tokens":40,"output_tokens":9,"cache_creation_input_tokens":500,"cache_read_input_tokens":1000)"),
      std::string::npos)
      << events;
  openai::StreamEncoder o(true, 1);
  const std::string chunks = o.encode(start) + o.encode(ev_text("hi")) + o.encode(finish);
  EXPECT_NE(
      chunks.find(
          R"("prompt_tokens":1540,"completion_tokens":9,"total_tokens":1549,"prompt_tokens_details":{"cached_tokens":1000})"),
      std::string::npos)
      << chunks;
}

constexpr std::string_view kCachedRequest = R"({
  "model": "claude-sonnet-4-5", "max_tokens": 64,
  "system": [{"type": "text", "text": "You are a contracts lawyer."},
             {"type": "text", "text": "LONG CONTRACT TEXT", "cache_control": {"type": "ephemeral"}}],
  "tools": [{"name": "lookup", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
  "messages": [
    {"role": "user", "content": [{"type": "text", "text": "Clause 4?", "cache_control": {"type": "ephemeral"}},
                                 {"type": "text", "text": "Be brief."}]},
    {"role": "assistant", "content": [{"type": "text", "text": "Checking."},
                                      {"type": "tool_use", "id": "t1", "name": "lookup", "input": {}, "cache_control": {"type": "ephemeral"}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "found", "cache_control": {"type": "ephemeral"}},
                                 {"type": "text", "text": "And clause 5?"}]},
    {"role": "user", "content": "plain"}
  ],
  "cache_control": {"type": "ephemeral"}
})";

// The gateway parses request bodies into a per-request arena
// (http::decode_json_object) that is released once decoding returns: every
// cache_control the request keeps must be its own copy. (A copy that kept
// the arena's storage crashed the gateway when the request was later copied.)
TEST(WirePromptCache, CacheControlOutlivesTheArenaTheRequestWasParsedInto) {
  std::optional<ChatRequest> kept;
  {
    std::array<unsigned char, 16384> buffer{};
    {
      json::monotonic_resource arena(buffer.data(), buffer.size());
      const json::value body = json::parse(kCachedRequest, &arena);
      auto r = anthropic::parse_chat_request(body);
      ASSERT_TRUE(r.ok()) << r.error().message;
      kept = std::move(*r);
    }
    buffer.fill(0xA5);  // what a later request would write over the released arena
  }
  const ChatRequest copy = *kept;  // the gateway copies the request per provider attempt
  const json::object body = anthropic::write_chat_request(copy, "claude-sonnet-4-5-20250929");
  EXPECT_EQ(to_json(body.at("tools")),
            R"([{"name":"lookup","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral","ttl":"1h"}}])");
  EXPECT_EQ(to_json(body.at("system").as_array().at(1).at("cache_control")), R"({"type":"ephemeral"})");
}

TEST(WirePromptCache, AnthropicCacheControlReachesTheUpstreamWhereTheClientPutIt) {
  auto r = anthropic::parse_chat_request(parse(kCachedRequest));
  ASSERT_TRUE(r.ok()) << r.error().message;
  // The canonical text is what it always was (other protocols and the classifier read it).
  EXPECT_EQ(r->system, "You are a contracts lawyer.\nLONG CONTRACT TEXT");
  ASSERT_EQ(r->system_blocks.size(), 2u);
  EXPECT_EQ(r->messages[0].text, "Clause 4?\nBe brief.");
  EXPECT_TRUE(r->messages[4].blocks.empty());  // no cache_control: kept as plain text

  const json::object body = anthropic::write_chat_request(*r, "claude-sonnet-4-5-20250929");
  EXPECT_EQ(
      to_json(body.at("system")),
      R"([{"type":"text","text":"You are a contracts lawyer."},{"type":"text","text":"LONG CONTRACT TEXT","cache_control":{"type":"ephemeral"}}])");
  EXPECT_EQ(to_json(body.at("tools")),
            R"([{"name":"lookup","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral","ttl":"1h"}}])");
  const auto& messages = body.at("messages").as_array();
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(
      to_json(messages[0]),
      R"({"role":"user","content":[{"type":"text","text":"Clause 4?","cache_control":{"type":"ephemeral"}},{"type":"text","text":"Be brief."}]})");
  EXPECT_EQ(
      to_json(messages[1]),
      R"({"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"t1","name":"lookup","input":{},"cache_control":{"type":"ephemeral"}}]})");
  EXPECT_EQ(
      to_json(messages[2]),
      R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"found","cache_control":{"type":"ephemeral"}},{"type":"text","text":"And clause 5?"}]})");
  EXPECT_EQ(to_json(messages[3]), R"({"role":"user","content":"plain"})");
  EXPECT_EQ(to_json(body.at("cache_control")), R"({"type":"ephemeral"})");  // top-level: a pass-through field

  // Written for an OpenAI upstream, the same request has no trace of it.
  const std::string openai_body = to_json(openai::write_chat_request(*r, "gpt-4o"));
  EXPECT_EQ(openai_body.find("cache_control"), std::string::npos) << openai_body;
  EXPECT_NE(openai_body.find(R"("content":"You are a contracts lawyer.\nLONG CONTRACT TEXT")"), std::string::npos);

  auto bad = anthropic::parse_chat_request(parse(
      R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":"yes"}]}]})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "messages[0].content[0].cache_control: must be an object");
}

}  // namespace
}  // namespace aegis::wire
