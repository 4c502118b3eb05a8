// Anthropic Messages codec: every direction against the fixtures in
// tests/fixtures/wire/anthropic (written from the API reference and the
// streaming guide), round trips, the exact SSE event order the official SDKs
// need (checked through the real http::SseParser), and validation errors.
#include "wire/anthropic.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/json.hpp"
#include "http/client.hpp"
#include "wire/openai.hpp"
#include "wire/wire_test_support.hpp"

namespace aegis::wire {
namespace {

namespace json = boost::json;

Decoded decode(std::string_view bytes) { return decode_sse<anthropic::StreamDecoder>(bytes); }

StreamEvent with_usage(StreamEvent e, std::int64_t in, std::int64_t out) {
  e.usage = Usage{in, out};
  return e;
}
StreamEvent with_stop_sequence(StreamEvent e, std::string seq) {
  e.stop_sequence = std::move(seq);
  return e;
}

ChatRequest canonical_request() {
  ChatRequest r;
  r.model = "claude-sonnet-4-5";
  r.system = "Be brief.";
  Message user;
  user.role = Role::user;
  user.text = "Weather in SF and Paris?";
  Message assistant;
  assistant.role = Role::assistant;
  assistant.text = "Checking both.";
  assistant.tool_calls.push_back(
      ToolCall{"toolu_1", "get_weather", R"({"location":"San Francisco, CA","unit":"celsius"})", nullptr});
  assistant.tool_calls.push_back(ToolCall{"toolu_2", "get_weather", R"({"location":"Paris"})", nullptr});
  Message r1;
  r1.role = Role::tool;
  r1.tool_call_id = "toolu_1";
  r1.text = "15 degrees";
  Message r2;
  r2.role = Role::tool;
  r2.tool_call_id = "toolu_2";
  r2.text = "service unavailable";
  r2.tool_error = true;
  Message follow;
  follow.role = Role::user;
  follow.text = "Which is warmer?";
  r.messages = {user, assistant, r1, r2, follow};
  r.max_tokens = 1024;
  r.temperature = 0.7;
  r.top_p = 0.9;
  r.stop = {"\n\nHuman:"};
  r.tools.push_back(ToolDefinition{
      "get_weather", "Get the weather",
      json::parse(R"({"type":"object","properties":{"location":{"type":"string"}},"required":["location"]})"),
      nullptr});
  r.tool_choice = json::object{{"type", "tool"}, {"name", "get_weather"}, {"disable_parallel_tool_use", true}};
  r.stream = true;
  r.origin = WireProtocol::anthropic;
  r.passthrough = json::object{{"top_k", 40}, {"metadata", json::object{{"user_id", "u-1"}}}};
  return r;
}

// ---- Requests -------------------------------------------------------------------------

TEST(WireAnthropicRequest, ParsesTheDocumentedRequest) {
  auto r = anthropic::parse_chat_request(fixture_json("anthropic/messages_request.json"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->origin, WireProtocol::anthropic);
  EXPECT_EQ(r->model, "claude-sonnet-4-5");
  EXPECT_EQ(r->system, "You are a weather assistant.\nAnswer briefly.");
  ASSERT_EQ(r->messages.size(), 1u);
  EXPECT_EQ(r->messages[0].text, "What is the weather like in San Francisco?");
  EXPECT_EQ(r->max_tokens, 1024);
  EXPECT_EQ(r->temperature, 0.7);
  EXPECT_EQ(r->stop, std::vector<std::string>{"\n\nHuman:"});
  ASSERT_EQ(r->tools.size(), 1u);
  EXPECT_EQ(r->tools[0].name, "get_weather");
  EXPECT_EQ(r->tools[0].input_schema.at("required"), json::array{"location"});
  EXPECT_EQ(to_json(r->tool_choice), R"({"type":"any"})");
  EXPECT_TRUE(r->stream);
  EXPECT_EQ(to_json(r->passthrough), R"({"top_k":40,"metadata":{"user_id":"13803d75-b4b5-4c3e-b2a2-6f21399b021b"}})");
}

TEST(WireAnthropicRequest, SplitsToolResultsIntoToolMessages) {
  auto r = anthropic::parse_chat_request(fixture_json("anthropic/messages_request_tool_result.json"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->messages.size(), 5u);
  const Message& a = r->messages[1];
  EXPECT_EQ(a.role, Role::assistant);
  EXPECT_EQ(a.text, "I'll check both cities.");
  ASSERT_EQ(a.tool_calls.size(), 2u);
  EXPECT_EQ(a.tool_calls[0].id, "toolu_01A09q90qw90lq917835lq9");
  EXPECT_EQ(a.tool_calls[0].arguments_json, R"({"location":"San Francisco, CA","unit":"celsius"})");
  EXPECT_EQ(r->messages[2].role, Role::tool);
  EXPECT_EQ(r->messages[2].tool_call_id, "toolu_01A09q90qw90lq917835lq9");
  EXPECT_EQ(r->messages[2].text, "15 degrees");
  EXPECT_FALSE(r->messages[2].tool_error);
  EXPECT_EQ(r->messages[3].tool_call_id, "toolu_01B");
  EXPECT_EQ(r->messages[3].text, "service unavailable");
  EXPECT_TRUE(r->messages[3].tool_error);
  EXPECT_EQ(r->messages[4].role, Role::user);
  EXPECT_EQ(r->messages[4].text, "Which is warmer?");
  EXPECT_EQ(to_json(r->tool_choice), R"({"type":"tool","name":"get_weather","disable_parallel_tool_use":true})");
}

TEST(WireAnthropicRequest, RejectsBadInputNamingTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"model":"claude","messages":[{"role":"user","content":"hi"}]})", "max_tokens: is required"},
      {R"({"model":"claude","max_tokens":0,"messages":[{"role":"user","content":"hi"}]})",
       "max_tokens: must be a positive integer"},
      {R"({"model":"claude","max_tokens":"5","messages":[{"role":"user","content":"hi"}]})",
       "max_tokens: must be a positive integer"},
      {R"({"model":"claude","max_tokens":5})", "messages: is required"},
      {R"({"model":"claude","max_tokens":5,"messages":"hi"})", "messages: must be an array"},
      {R"({"model":"claude","max_tokens":5,"messages":[]})", "messages: must contain at least one message"},
      {R"({"max_tokens":5,"messages":[{"role":"user","content":"hi"}]})", "model: is required"},
      {R"({"model":"claude","max_tokens":5,"messages":[{"role":"system","content":"hi"}]})",
       "messages[0].role: must be user or assistant; use the top-level system field"},
      {R"({"model":"claude","max_tokens":5,"messages":[{"role":"tool","content":"hi"}]})",
       "messages[0].role: must be user or assistant"},
      {R"({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":7}]})",
       "messages[0].content: must be a string or an array of content blocks"},
      {R"({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}}]}]})",
       "messages[0].content[0].source.data: is not valid base64"},
      {R"({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]})",
       "messages[0].content[0].source.type: is required"},
      {R"({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]})",
       "messages[0].content[0].tool_use_id: is required"},
      {R"({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{}}]}]}]})",
       "messages[0].content[0].content[0]: image blocks are only supported in a user message's content"},
      {R"({"model":"claude","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":"x"}]}]})",
       "messages[0].content[0].input: must be an object"},
      {R"({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"temperature":1.5})",
       "temperature: must be a number between 0 and 1"},
      {R"({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"stop_sequences":"END"})",
       "stop_sequences: must be an array"},
      {R"({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"system":5})",
       "system: must be a string or an array of text blocks"},
      {R"({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]})",
       "tools[0].type: server tools are not supported"},
      {R"({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f"}]})",
       "tools[0].input_schema: is required"},
      {R"({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"tool"}})",
       "tool_choice.name: is required"},
      {R"({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"required"}})",
       "tool_choice.type: must be auto, any, tool or none"},
  };
  for (const auto& [body, expected] : cases) {
    auto r = anthropic::parse_chat_request(json::parse(body));
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().code, ErrorCode::invalid_request) << body;
    EXPECT_NE(r.error().message.find(expected), std::string::npos) << body << " -> " << r.error().message;
  }
}

TEST(WireAnthropicRequest, WritesTheUpstreamBody) {
  const ChatRequest r = canonical_request();
  EXPECT_EQ(
      to_json(anthropic::write_chat_request(r, "claude-sonnet-4-5-20250929")),
      R"({"model":"claude-sonnet-4-5-20250929","max_tokens":1024,"system":"Be brief.","messages":[)"
      R"({"role":"user","content":"Weather in SF and Paris?"},)"
      R"({"role":"assistant","content":[{"type":"text","text":"Checking both."},)"
      R"({"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"location":"San Francisco, CA","unit":"celsius"}},)"
      R"({"type":"tool_use","id":"toolu_2","name":"get_weather","input":{"location":"Paris"}}]},)"
      R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"15 degrees"},)"
      R"({"type":"tool_result","tool_use_id":"toolu_2","content":"service unavailable","is_error":true},)"
      R"({"type":"text","text":"Which is warmer?"}]}],)"
      R"("temperature":0.7,"top_p":0.9,"stop_sequences":["\n\nHuman:"],)"
      R"("tools":[{"name":"get_weather","description":"Get the weather","input_schema":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}],)"
      R"("tool_choice":{"type":"tool","name":"get_weather","disable_parallel_tool_use":true},"stream":true,)"
      R"("top_k":40,"metadata":{"user_id":"u-1"}})");
}

TEST(WireAnthropicRequest, FillsRequiredFieldsForOtherProtocolsRequests) {
  // An OpenAI client's request: no max_tokens, temperature above Anthropic's range,
  // tool_choice "required", a whitespace stop sequence, fields Anthropic does not know.
  auto r = openai::parse_chat_request(json::parse(
      R"({"model":"auto","messages":[{"role":"system","content":"S"},{"role":"user","content":"hi"}],"temperature":1.6,)"
      R"("stop":["END"," "],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required","seed":3,"logprobs":true})"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto body = anthropic::write_chat_request(*r, "claude-haiku-4-5");
  EXPECT_EQ(body.at("max_tokens"), anthropic::default_max_tokens);
  EXPECT_EQ(body.at("temperature"), 1.0);
  EXPECT_EQ(to_json(body.at("stop_sequences")), R"(["END"])");
  EXPECT_EQ(to_json(body.at("tools")), R"([{"name":"f","input_schema":{"type":"object"}}])");
  EXPECT_EQ(to_json(body.at("tool_choice")), R"({"type":"any"})");
  EXPECT_EQ(body.at("system"), "S");
  EXPECT_FALSE(body.contains("seed"));
  EXPECT_FALSE(body.contains("logprobs"));
  EXPECT_FALSE(body.contains("stream"));
}

TEST(WireAnthropicRequest, PassthroughNeverOverridesFieldsWeSet) {
  ChatRequest r = canonical_request();
  r.passthrough = json::object{{"max_tokens", 1}, {"model", "other"}, {"top_k", 5}};
  auto body = anthropic::write_chat_request(r, "claude");
  EXPECT_EQ(body.at("max_tokens"), 1024);
  EXPECT_EQ(body.at("model"), "claude");
  EXPECT_EQ(body.at("top_k"), 5);
  r.origin = WireProtocol::ollama;
  EXPECT_FALSE(anthropic::write_chat_request(r, "claude").contains("top_k"));
}

TEST(WireAnthropicRequest, RoundTrips) {
  const ChatRequest r = canonical_request();
  auto parsed = anthropic::parse_chat_request(anthropic::write_chat_request(r, r.model));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(to_json(dump(*parsed)), to_json(dump(r)));
}

// ---- Responses ------------------------------------------------------------------------------

TEST(WireAnthropicResponse, ParsesTheDocumentedResponses) {
  auto c = anthropic::parse_chat_response(fixture_json("anthropic/messages_response.json"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->id, "msg_013Zva2CMHLNnXjNJJKqJ2EF");
  EXPECT_EQ(c->model, "claude-sonnet-4-5-20250929");
  EXPECT_EQ(c->text, "Hi! My name is Claude.");
  EXPECT_EQ(c->stop_reason, StopReason::end_turn);
  EXPECT_FALSE(c->stop_sequence);
  EXPECT_EQ(c->usage.input_tokens, 2095);
  EXPECT_EQ(c->usage.output_tokens, 503);

  c = anthropic::parse_chat_response(fixture_json("anthropic/messages_response_tool_use.json"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->text, "I'll check the current weather in San Francisco for you.");
  ASSERT_EQ(c->tool_calls.size(), 1u);
  EXPECT_EQ(c->tool_calls[0].id, "toolu_01A09q90qw90lq917835lq9");
  EXPECT_EQ(c->tool_calls[0].name, "get_weather");
  EXPECT_EQ(c->tool_calls[0].arguments_json, R"({"location":"San Francisco, CA","unit":"celsius"})");
  EXPECT_EQ(c->stop_reason, StopReason::tool_use);

  c = anthropic::parse_chat_response(fixture_json("anthropic/messages_response_stop_sequence.json"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->stop_reason, StopReason::stop_sequence);
  EXPECT_EQ(c->stop_sequence, "\n3.");
}

TEST(WireAnthropicResponse, MalformedShapesAreUpstreamErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {R"([])", "malformed anthropic response: body: must be an object"},
      {R"({"type":"message"})", "malformed anthropic response: content: is required"},
      {R"({"type":"completion","content":[]})", "malformed anthropic response: type: expected"},
      {R"({"content":[{"type":"text"}]})", "malformed anthropic response: content[0].text: is required"},
      {R"({"content":[{"type":"tool_use","id":"t","name":"f","input":[1]}]})",
       "malformed anthropic response: content[0].input: must be an object"},
      {R"({"content":[],"usage":{"input_tokens":-1}})",
       "malformed anthropic response: usage.input_tokens: must not be negative"},
  };
  for (const auto& [body, expected] : cases) {
    auto c = anthropic::parse_chat_response(json::parse(body));
    ASSERT_FALSE(c.ok()) << body;
    EXPECT_EQ(c.error().code, ErrorCode::upstream_error);
    EXPECT_NE(c.error().message.find(expected), std::string::npos) << c.error().message;
  }
}

TEST(WireAnthropicResponse, WritesAMessageObject) {
  Completion c;
  c.id = "msg_1";
  c.model = "claude-sonnet-4-5";
  c.text = "Sure.";
  c.tool_calls.push_back(ToolCall{"toolu_9", "f", R"({"x":0.7})", nullptr});
  c.stop_reason = StopReason::tool_use;
  c.usage = Usage{10, 20};
  EXPECT_EQ(to_json(anthropic::write_chat_response(c, 0)),
            R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[)"
            R"({"type":"text","text":"Sure."},{"type":"tool_use","id":"toolu_9","name":"f","input":{"x":0.7}}],)"
            R"("stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":20}})");
}

TEST(WireAnthropicResponse, RoundTripsEveryStopReason) {
  for (StopReason reason : {StopReason::end_turn, StopReason::max_tokens, StopReason::stop_sequence,
                            StopReason::tool_use, StopReason::content_filter}) {
    Completion c;
    c.id = "msg_x";
    c.model = "claude";
    c.text = "answer";
    if (reason == StopReason::tool_use)
      c.tool_calls.push_back(ToolCall{"toolu_1", "f", R"({"a":[1,2.5],"b":null})", nullptr});
    if (reason == StopReason::stop_sequence) c.stop_sequence = "###";
    c.stop_reason = reason;
    c.usage = Usage{98765432109, 3};
    auto parsed = anthropic::parse_chat_response(anthropic::write_chat_response(c, 0));
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(to_json(dump(*parsed)), to_json(dump(c)));
  }
}

TEST(WireAnthropicResponse, StopReasonMapping) {
  EXPECT_EQ(anthropic::parse_stop_reason("end_turn"), StopReason::end_turn);
  EXPECT_EQ(anthropic::parse_stop_reason("max_tokens"), StopReason::max_tokens);
  EXPECT_EQ(anthropic::parse_stop_reason("stop_sequence"), StopReason::stop_sequence);
  EXPECT_EQ(anthropic::parse_stop_reason("tool_use"), StopReason::tool_use);
  EXPECT_EQ(anthropic::parse_stop_reason("refusal"), StopReason::content_filter);
  EXPECT_EQ(anthropic::parse_stop_reason("pause_turn"), StopReason::unknown);
  EXPECT_EQ(anthropic::stop_reason(StopReason::content_filter), "refusal");
  EXPECT_EQ(anthropic::stop_reason(StopReason::unknown), "end_turn");
}

// ---- Streams ----------------------------------------------------------------------------------------

TEST(WireAnthropicStream, DecodesTheDocumentedTextStream) {
  Decoded d = decode(fixture("anthropic/stream_text.sse"));
  ASSERT_FALSE(d.error) << d.error->message;
  EXPECT_TRUE(d.finished);
  EXPECT_EQ(
      dump_events(d.events),
      dump_events({with_usage(ev_start("msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "claude-sonnet-4-5-20250929"), 25, 1),
                   ev_text("Hello"), ev_text("!"), ev_finish(StopReason::end_turn, 25, 15)}));
}

TEST(WireAnthropicStream, DecodesTheDocumentedToolUseStream) {
  Decoded d = decode(fixture("anthropic/stream_tool_use.sse"));
  ASSERT_FALSE(d.error) << d.error->message;
  EXPECT_TRUE(d.finished);
  // The tool_use block is content block 1; canonically it is tool call 0.
  EXPECT_EQ(dump_events(d.events),
            dump_events({with_usage(ev_start("msg_014p7gG3wDgGV9EUtLvnow3U", "claude-sonnet-4-5-20250929"), 472, 2),
                         ev_text("Okay"), ev_text(", let's check the weather for San Francisco, CA:"),
                         ev_tool(0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather"), ev_args(0, "{\"location\":"),
                         ev_args(0, " \"San"), ev_args(0, " Francisc"), ev_args(0, "o,"), ev_args(0, " CA\""),
                         ev_args(0, ", "), ev_args(0, "\"unit\": \"fah"), ev_args(0, "renheit\"}"),
                         ev_finish(StopReason::tool_use, 472, 89)}));
}

TEST(WireAnthropicStream, SkipsThinkingAndUnknownEventsAndTakesCumulativeUsage) {
  Decoded d = decode(fixture("anthropic/stream_thinking.sse"));
  ASSERT_FALSE(d.error) << d.error->message;
  EXPECT_TRUE(d.finished);
  EXPECT_EQ(dump_events(d.events),
            dump_events({with_usage(ev_start("msg_01think", "claude-sonnet-4-5-20250929"), 2679, 3),
                         ev_text("27 * 453 = 12,231"), ev_finish(StopReason::end_turn, 10682, 510)}));
}

TEST(WireAnthropicStream, TruncatedStreamIsNotFinished) {
  std::string bytes = fixture("anthropic/stream_text.sse");
  bytes.erase(bytes.find("event: message_stop"));
  Decoded d = decode(bytes);
  ASSERT_FALSE(d.error);
  EXPECT_FALSE(d.finished);
  EXPECT_NE(d.events.back().kind, StreamEvent::Kind::finish);
}

TEST(WireAnthropicStream, ErrorEventsMapToCanonicalCodes) {
  Decoded d = decode(fixture("anthropic/stream_error.sse"));
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->code, ErrorCode::unavailable);
  EXPECT_FALSE(d.finished);
  EXPECT_EQ(d.events.size(), 2u);  // start and "Hel" were delivered before the failure

  const std::pair<const char*, ErrorCode> cases[] = {
      {"rate_limit_error", ErrorCode::rate_limited},       {"api_error", ErrorCode::upstream_error},
      {"overloaded_error", ErrorCode::unavailable},        {"invalid_request_error", ErrorCode::invalid_request},
      {"authentication_error", ErrorCode::upstream_error}, {"timeout_error", ErrorCode::upstream_timeout},
      {"brand_new_error", ErrorCode::upstream_error},
  };
  for (const auto& [type, code] : cases) {
    d = decode(std::string("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"") + type +
               "\",\"message\":\"m\"}}\n\n");
    ASSERT_TRUE(d.error) << type;
    EXPECT_EQ(d.error->code, code) << type;
  }
}

TEST(WireAnthropicStream, MalformedStreamsAreUpstreamErrors) {
  Decoded d = decode(
      "event: content_block_start\ndata: "
      "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->code, ErrorCode::upstream_error);
  EXPECT_NE(d.error->message.find("before message_start"), std::string::npos);
  d = decode("event: message_start\ndata: {\"type\":\"message_start\",\n\n");
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->message, "malformed anthropic stream: message_start data is not valid JSON");
}

std::vector<std::string> event_names(const std::string& bytes) {
  std::vector<std::string> names;
  for (const auto& e : sse(bytes)) {
    names.push_back(e.event);
    // Every event's data carries the same type as its event: line.
    EXPECT_EQ(json::parse(e.data).at("type"), e.event.c_str());
  }
  return names;
}

TEST(WireAnthropicStream, EncodesTheEventOrderTheSdkRequires) {
  anthropic::StreamEncoder enc;
  std::string bytes;
  for (const auto& e : {with_usage(ev_start("msg_1", "claude-sonnet-4-5"), 25, 1), ev_text("Let me "),
                        ev_text("check."), ev_tool(0, "toolu_1", "get_weather"), ev_args(0, "{\"location\":"),
                        ev_args(0, "\"Paris\"}"), ev_finish(StopReason::tool_use, 25, 40)}) {
    bytes += enc.encode(e);
  }
  EXPECT_EQ(event_names(bytes),
            (std::vector<std::string>{"message_start", "content_block_start", "ping", "content_block_delta",
                                      "content_block_delta", "content_block_stop", "content_block_start",
                                      "content_block_delta", "content_block_delta", "content_block_stop",
                                      "message_delta", "message_stop"}));
  EXPECT_EQ(bytes.substr(0, bytes.find("\n\n") + 2),
            "event: message_start\ndata: "
            "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
            "\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
            "\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n");
  EXPECT_NE(
      bytes.find("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":"
                 "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{}}}\n\n"),
      std::string::npos);
  EXPECT_NE(
      bytes.find("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\","
                 "\"stop_sequence\":null},\"usage\":{\"input_tokens\":25,\"output_tokens\":40}}\n\n"),
      std::string::npos);
  EXPECT_TRUE(bytes.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
}

TEST(WireAnthropicStream, EncodedStreamsDecodeToTheSameEvents) {
  const std::vector<StreamEvent> events = {with_usage(ev_start("msg_7", "claude"), 31, 1),
                                           ev_text("A"),
                                           ev_text("B"),
                                           ev_tool(0, "toolu_a", "f"),
                                           ev_args(0, R"({"q":)"),
                                           ev_args(0, R"(1})"),
                                           ev_tool(1, "toolu_b", "g"),
                                           ev_args(1, "{}"),
                                           with_stop_sequence(ev_finish(StopReason::stop_sequence, 31, 12), "###")};
  anthropic::StreamEncoder enc;
  std::string bytes;
  for (const auto& e : events) bytes += enc.encode(e);
  Decoded d = decode(bytes);
  ASSERT_FALSE(d.error) << d.error->message;
  EXPECT_TRUE(d.finished);
  EXPECT_EQ(dump_events(d.events), dump_events(events));
}

TEST(WireAnthropicStream, StreamWithoutStartOrContentIsStillWellFormed) {
  // A finish straight away (e.g. an empty answer): message_start is still first.
  anthropic::StreamEncoder enc;
  const std::string bytes = enc.encode(ev_finish(StopReason::end_turn, 5, 0));
  EXPECT_EQ(event_names(bytes), (std::vector<std::string>{"message_start", "message_delta", "message_stop"}));
  EXPECT_EQ(enc.encode(ev_text("late")), "");
}

TEST(WireAnthropicStream, EncodesErrorsAsErrorEvents) {
  const std::string bytes = anthropic::encode_error(make_error(ErrorCode::unavailable, "upstream failed mid-stream"));
  EXPECT_EQ(bytes,
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"upstream "
            "failed mid-stream\"}}\n\n");
  Decoded d = decode(bytes);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->code, ErrorCode::unavailable);
  EXPECT_EQ(anthropic::error_type(ErrorCode::rate_limited), "rate_limit_error");
  EXPECT_EQ(anthropic::error_type(ErrorCode::invalid_request), "invalid_request_error");
  EXPECT_EQ(anthropic::error_type(ErrorCode::unauthorized), "authentication_error");
  EXPECT_EQ(anthropic::error_type(ErrorCode::upstream_timeout), "timeout_error");
  EXPECT_EQ(to_json(anthropic::write_error(make_error(ErrorCode::not_found, "no such model"))),
            R"({"type":"error","error":{"type":"not_found_error","message":"no such model"}})");
}

// ---- Upstream errors ---------------------------------------------------------------------------------

TEST(WireAnthropicErrors, MapsStatusAndBody) {
  Error e = anthropic::map_upstream_error(529, fixture("anthropic/error_529.json"), "3");
  EXPECT_EQ(e.code, ErrorCode::unavailable);
  EXPECT_EQ(e.retry_after_seconds, 3);
  // overloaded_error is unavailable whatever the status.
  EXPECT_EQ(anthropic::map_upstream_error(500, fixture("anthropic/error_529.json"), std::nullopt).code,
            ErrorCode::unavailable);

  e = anthropic::map_upstream_error(429, fixture("anthropic/error_429.json"), "12");
  EXPECT_EQ(e.code, ErrorCode::rate_limited);
  EXPECT_EQ(e.retry_after_seconds, 12);

  e = anthropic::map_upstream_error(401, fixture("anthropic/error_401.json"), std::nullopt);
  EXPECT_EQ(e.code, ErrorCode::upstream_error);
  EXPECT_EQ(e.message, "provider rejected the credentials");

  e = anthropic::map_upstream_error(400, fixture("anthropic/error_400.json"), std::nullopt);
  EXPECT_EQ(e.code, ErrorCode::invalid_request);
  EXPECT_EQ(e.message,
            "provider rejected the request: messages: roles must alternate between \"user\" and \"assistant\", but "
            "found multiple \"user\" roles in a row");
  EXPECT_EQ(
      anthropic::map_upstream_error(
          413, R"({"type":"error","error":{"type":"request_too_large","message":"Request exceeds the maximum size"}})",
          std::nullopt)
          .code,
      ErrorCode::invalid_request);
  EXPECT_EQ(anthropic::map_upstream_error(
                500, R"({"type":"error","error":{"type":"api_error","message":"Internal server error"}})", std::nullopt)
                .code,
            ErrorCode::upstream_error);
  EXPECT_EQ(anthropic::map_upstream_error(504, "", std::nullopt).code, ErrorCode::upstream_timeout);
}

}  // namespace
}  // namespace aegis::wire
