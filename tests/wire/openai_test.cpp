// OpenAI Chat Completions / Embeddings codec: every direction against the
// fixtures in tests/fixtures/wire/openai (written from the API reference's
// examples), round trips, streams through the real http::SseParser, and
// validation errors.
#include "wire/openai.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/json.hpp"
#include "http/client.hpp"
#include "wire/anthropic.hpp"
#include "wire/wire_test_support.hpp"

namespace aegis::wire {
namespace {

namespace json = boost::json;

Decoded decode(std::string_view bytes) { return decode_sse<openai::StreamDecoder>(bytes); }

ChatRequest canonical_request() {
  ChatRequest r;
  r.model = "gpt-4o";
  r.system = "Be brief.";
  Message user;
  user.role = Role::user;
  user.text = "Find x";
  Message assistant;
  assistant.role = Role::assistant;
  assistant.text = "Let me look.";
  assistant.tool_calls.push_back(ToolCall{"call_1", "lookup", R"({"q":"x","limit":2})", nullptr});
  Message tool;
  tool.role = Role::tool;
  tool.tool_call_id = "call_1";
  tool.text = "x = 42";
  Message thanks;
  thanks.role = Role::user;
  thanks.text = "thanks";
  r.messages = {user, assistant, tool, thanks};
  r.max_tokens = 50;
  r.temperature = 0.7;
  r.top_p = 0.9;
  r.stop = {"END"};
  r.tools.push_back(ToolDefinition{"lookup", "Look things up",
                                   json::parse(R"({"type":"object","properties":{"q":{"type":"string"}}})"), nullptr});
  r.tool_choice = json::object{{"type", "any"}};
  r.stream = true;
  r.stream_include_usage = true;
  r.origin = WireProtocol::openai;
  r.passthrough = json::object{{"seed", 7}, {"user", "u-1"}};
  return r;
}

// ---- Requests -----------------------------------------------------------------------

TEST(WireOpenAIRequest, ParsesTheDocumentedRequest) {
  auto r = openai::parse_chat_request(fixture_json("openai/chat_request.json"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->model, "gpt-4o");
  EXPECT_EQ(r->system, "You are a helpful assistant.");
  ASSERT_EQ(r->messages.size(), 1u);
  EXPECT_EQ(r->messages[0].role, Role::user);
  EXPECT_EQ(r->messages[0].text, "What is the weather like in Boston today?");
  EXPECT_EQ(r->max_tokens, 256);
  EXPECT_EQ(r->temperature, 0.7);
  EXPECT_EQ(r->top_p, 1.0);
  EXPECT_EQ(r->stop, std::vector<std::string>{"\n\nUser:"});
  ASSERT_EQ(r->tools.size(), 1u);
  EXPECT_EQ(r->tools[0].name, "get_current_weather");
  EXPECT_EQ(r->tools[0].description, "Get the current weather in a given location");
  EXPECT_EQ(r->tools[0].input_schema.at("required"), json::array{"location"});
  EXPECT_EQ(r->tool_choice, json::value(json::object{{"type", "auto"}}));
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->stream_include_usage);
  EXPECT_EQ(r->origin, WireProtocol::openai);
  // Unknown fields pass through unchanged; fields the gateway handles do not.
  EXPECT_EQ(to_json(r->passthrough), R"({"user":"user-1234","seed":42,"frequency_penalty":0.5})");
}

TEST(WireOpenAIRequest, ParsesToolCallHistory) {
  auto r = openai::parse_chat_request(fixture_json("openai/chat_request_tool_history.json"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->system, "You are a weather bot.");
  ASSERT_EQ(r->messages.size(), 5u);
  const Message& call = r->messages[1];
  EXPECT_EQ(call.role, Role::assistant);
  EXPECT_EQ(call.text, "");
  ASSERT_EQ(call.tool_calls.size(), 2u);
  EXPECT_EQ(call.tool_calls[0].id, "call_abc123");
  EXPECT_EQ(call.tool_calls[0].name, "get_current_weather");
  EXPECT_EQ(call.tool_calls[0].arguments_json, R"({"location": "Paris, France"})");  // exactly as produced
  EXPECT_EQ(r->messages[2].role, Role::tool);
  EXPECT_EQ(r->messages[2].tool_call_id, "call_abc123");
  EXPECT_EQ(r->messages[3].tool_call_id, "call_def456");
  EXPECT_EQ(r->messages[3].text, R"({"temperature": 72, "unit": "fahrenheit"})");
  EXPECT_EQ(r->messages[4].role, Role::user);
  EXPECT_EQ(r->max_tokens, 100);
  EXPECT_EQ(to_json(r->tool_choice),
            R"({"type":"tool","name":"get_current_weather","disable_parallel_tool_use":true})");
  EXPECT_FALSE(r->stream);
  EXPECT_TRUE(r->passthrough.empty());
}

TEST(WireOpenAIRequest, RejectsBadInputNamingTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"([1,2])", "body: must be an object"},
      {R"({"model":"m"})", "messages: is required"},
      {R"({"model":"m","messages":{}})", "messages: must be an array"},
      {R"({"messages":[{"role":"user","content":"hi"}]})", "model: is required"},
      {R"({"model":"m","messages":[]})", "messages: must contain at least one"},
      {R"({"model":"m","messages":[{"role":"system","content":"only a system prompt"}]})",
       "messages: must contain at least one"},
      {R"({"model":"m","messages":["hi"]})", "messages[0]: must be an object"},
      {R"({"model":"m","messages":[{"content":"hi"}]})", "messages[0].role: is required"},
      {R"({"model":"m","messages":[{"role":"robot","content":"hi"}]})", "messages[0].role: must be one of"},
      {R"({"model":"m","messages":[{"role":"function","name":"f","content":"x"}]})",
       "messages[0].role: the legacy function role"},
      {R"({"model":"m","messages":[{"role":"user"}]})", "messages[0].content: is required"},
      {R"({"model":"m","messages":[{"role":"user","content":42}]})",
       "messages[0].content: must be a string or an array"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"look"},{"type":"file","file":{"file_id":"file-abc"}}]}]})",
       "messages[0].content[1].file.file_id: file references are not supported; send the file inline as file_data"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]})",
       "audio content is not supported"},
      {R"({"model":"m","messages":[{"role":"tool","content":"r"}]})", "messages[0].tool_call_id: is required"},
      {R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"arguments":"{}"}}]}]})",
       "messages[0].tool_calls[0].function.name: is required"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":0})",
       "max_tokens: must be a positive integer"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":"10"})",
       "max_tokens: must be a positive integer"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":1.5})",
       "max_tokens: must be a positive integer"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":-3})",
       "max_completion_tokens: must be a positive integer"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":"hot"})",
       "temperature: must be a number"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":2.5})",
       "temperature: must be a number between 0 and 2"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"top_p":[1]})", "top_p: must be a number"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"stop":5})",
       "stop: must be a string or an array of strings"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"stop":["a",1]})", "stop[1]: must be a string"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"stream":"yes"})", "stream: must be a boolean"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"n":2})", "n: only 1 is supported"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"custom","custom":{}}]})",
       "tools[0].type: only function tools"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"tool_choice":"sometimes"})",
       "tool_choice: must be none, auto, required"},
  };
  for (const auto& [body, expected] : cases) {
    auto r = openai::parse_chat_request(json::parse(body));
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().code, ErrorCode::invalid_request) << body;
    EXPECT_NE(r.error().message.find(expected), std::string::npos) << body << " -> " << r.error().message;
  }
}

TEST(WireOpenAIRequest, WritesTheUpstreamBody) {
  const ChatRequest r = canonical_request();
  const std::string body = to_json(openai::write_chat_request(r, "gpt-4o-2024-08-06"));
  EXPECT_EQ(
      body,
      R"({"model":"gpt-4o-2024-08-06","messages":[{"role":"system","content":"Be brief."},)"
      R"({"role":"user","content":"Find x"},)"
      R"({"role":"assistant","content":"Let me look.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"x\",\"limit\":2}"}}]},)"
      R"({"role":"tool","tool_call_id":"call_1","content":"x = 42"},{"role":"user","content":"thanks"}],)"
      R"("max_tokens":50,"temperature":0.7,"top_p":0.9,"stop":["END"],)"
      R"("tools":[{"type":"function","function":{"name":"lookup","description":"Look things up","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}}],)"
      R"("tool_choice":"required","stream":true,"stream_options":{"include_usage":true},"seed":7,"user":"u-1"})");

  auto reasoning = openai::write_chat_request(r, "o3", openai::WriteOptions{.use_max_completion_tokens = true});
  EXPECT_FALSE(reasoning.contains("max_tokens"));
  EXPECT_EQ(reasoning.at("max_completion_tokens"), 50);
}

TEST(WireOpenAIRequest, MapsToolChoiceAndOmitsItWithoutTools) {
  ChatRequest r = canonical_request();
  r.tool_choice = json::object{{"type", "tool"}, {"name", "lookup"}, {"disable_parallel_tool_use", true}};
  auto body = openai::write_chat_request(r, "m");
  EXPECT_EQ(to_json(body.at("tool_choice")), R"({"type":"function","function":{"name":"lookup"}})");
  EXPECT_EQ(body.at("parallel_tool_calls"), false);
  r.tools.clear();
  body = openai::write_chat_request(r, "m");
  EXPECT_FALSE(body.contains("tools"));
  EXPECT_FALSE(body.contains("tool_choice"));
  EXPECT_FALSE(body.contains("parallel_tool_calls"));
}

TEST(WireOpenAIRequest, AssistantToolCallWithoutTextHasNullContent) {
  ChatRequest r = canonical_request();
  r.messages[1].text.clear();
  auto body = openai::write_chat_request(r, "m");
  EXPECT_TRUE(body.at("messages").at(2).at("content").is_null());
}

TEST(WireOpenAIRequest, PassthroughOnlyForTheSameProtocolAndNeverOverrides) {
  ChatRequest r = canonical_request();
  r.passthrough = json::object{{"seed", 7}, {"model", "not-this"}, {"temperature", 1.9}};
  auto body = openai::write_chat_request(r, "gpt-4o");
  EXPECT_EQ(body.at("model"), "gpt-4o");
  EXPECT_EQ(body.at("temperature"), 0.7);
  EXPECT_EQ(body.at("seed"), 7);
  r.origin = WireProtocol::anthropic;
  body = openai::write_chat_request(r, "gpt-4o");
  EXPECT_FALSE(body.contains("seed"));
  // And an OpenAI client's unknown fields never reach an Anthropic upstream.
  r.origin = WireProtocol::openai;
  EXPECT_FALSE(anthropic::write_chat_request(r, "claude").contains("seed"));
}

TEST(WireOpenAIRequest, NumbersKeepTheirShortForm) {
  auto r = openai::parse_chat_request(json::parse(
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.7,"top_p":0.95,"logit_bias":{"50256":-100},"x":1.5})"));
  ASSERT_TRUE(r.ok());
  const std::string body = to_json(openai::write_chat_request(*r, "m"));
  EXPECT_NE(body.find(R"("temperature":0.7)"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("top_p":0.95)"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("x":1.5)"), std::string::npos) << body;
  EXPECT_EQ(body.find("E-1"), std::string::npos) << body;
}

TEST(WireOpenAIRequest, RoundTrips) {
  const ChatRequest r = canonical_request();
  auto parsed = openai::parse_chat_request(openai::write_chat_request(r, r.model));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(to_json(dump(*parsed)), to_json(dump(r)));

  ChatRequest plain;
  plain.model = "m";
  plain.messages.push_back(Message{Role::user, "hello", {}, {}, false, {}, nullptr, {}});
  parsed = openai::parse_chat_request(openai::write_chat_request(plain, "m"));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(to_json(dump(*parsed)), to_json(dump(plain)));
}

// ---- Responses ---------------------------------------------------------------------------

TEST(WireOpenAIResponse, ParsesTheDocumentedResponse) {
  auto c = openai::parse_chat_response(fixture_json("openai/chat_response.json"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->id, "chatcmpl-123");
  EXPECT_EQ(c->model, "gpt-4o-mini");
  EXPECT_EQ(c->text, "\n\nHello there, how may I assist you today?");
  EXPECT_EQ(c->stop_reason, StopReason::end_turn);
  EXPECT_EQ(c->usage.input_tokens, 9);
  EXPECT_EQ(c->usage.output_tokens, 12);
}

TEST(WireOpenAIResponse, ParsesToolCalls) {
  auto c = openai::parse_chat_response(fixture_json("openai/chat_response_tool_calls.json"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->text, "");
  ASSERT_EQ(c->tool_calls.size(), 1u);
  EXPECT_EQ(c->tool_calls[0].id, "call_abc123");
  EXPECT_EQ(c->tool_calls[0].name, "get_current_weather");
  EXPECT_EQ(c->tool_calls[0].arguments_json, "{\n\"location\": \"Boston, MA\"\n}");
  EXPECT_EQ(c->stop_reason, StopReason::tool_use);
  EXPECT_EQ(c->usage.input_tokens, 82);
  EXPECT_EQ(c->usage.output_tokens, 17);
}

TEST(WireOpenAIResponse, MalformedShapesAreUpstreamErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {R"("text")", "malformed openai response: body: must be an object"},
      {R"({"id":"x"})", "malformed openai response: choices: is required"},
      {R"({"choices":[]})", "malformed openai response: choices: is empty"},
      {R"({"choices":[{"index":0}]})", "malformed openai response: choices[0].message: is required"},
      {R"({"choices":[{"message":{"content":7}}]})", "malformed openai response: choices[0].message.content"},
      {R"({"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":"9"}})",
       "malformed openai response: usage.prompt_tokens"},
  };
  for (const auto& [body, expected] : cases) {
    auto c = openai::parse_chat_response(json::parse(body));
    ASSERT_FALSE(c.ok()) << body;
    EXPECT_EQ(c.error().code, ErrorCode::upstream_error);
    EXPECT_NE(c.error().message.find(expected), std::string::npos) << c.error().message;
  }
}

TEST(WireOpenAIResponse, WritesAChatCompletionObject) {
  Completion c;
  c.id = "chatcmpl-abc";
  c.model = "gpt-4o-mini";
  c.text = "Hi.";
  c.stop_reason = StopReason::max_tokens;
  c.usage = Usage{9, 12};
  EXPECT_EQ(
      to_json(openai::write_chat_response(c, 1677652288)),
      R"({"id":"chatcmpl-abc","object":"chat.completion","created":1677652288,"model":"gpt-4o-mini",)"
      R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hi.","refusal":null},"logprobs":null,"finish_reason":"length"}],)"
      R"("usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}})");
}

TEST(WireOpenAIResponse, RoundTripsEveryStopReason) {
  for (StopReason reason :
       {StopReason::end_turn, StopReason::max_tokens, StopReason::tool_use, StopReason::content_filter}) {
    Completion c;
    c.id = "chatcmpl-1";
    c.model = "gpt-4o";
    c.text = reason == StopReason::tool_use ? "" : "answer";
    if (reason == StopReason::tool_use) c.tool_calls.push_back(ToolCall{"call_9", "f", R"({"a":[1,2.5]})", nullptr});
    c.stop_reason = reason;
    c.usage = Usage{123456789012, 7};
    auto parsed = openai::parse_chat_response(openai::write_chat_response(c, 1));
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(to_json(dump(*parsed)), to_json(dump(c)));
  }
}

TEST(WireOpenAIResponse, FinishReasonMapping) {
  EXPECT_EQ(openai::parse_finish_reason("stop"), StopReason::end_turn);
  EXPECT_EQ(openai::parse_finish_reason("length"), StopReason::max_tokens);
  EXPECT_EQ(openai::parse_finish_reason("tool_calls"), StopReason::tool_use);
  EXPECT_EQ(openai::parse_finish_reason("function_call"), StopReason::tool_use);
  EXPECT_EQ(openai::parse_finish_reason("content_filter"), StopReason::content_filter);
  EXPECT_EQ(openai::parse_finish_reason("weird"), StopReason::unknown);
  EXPECT_EQ(openai::finish_reason(StopReason::end_turn), "stop");
  EXPECT_EQ(openai::finish_reason(StopReason::stop_sequence), "stop");
  EXPECT_EQ(openai::finish_reason(StopReason::max_tokens), "length");
  EXPECT_EQ(openai::finish_reason(StopReason::tool_use), "tool_calls");
  EXPECT_EQ(openai::finish_reason(StopReason::content_filter), "content_filter");
}

// ---- Streams ------------------------------------------------------------------------------------

TEST(WireOpenAIStream, DecodesATextStreamWithUsage) {
  Decoded d = decode(fixture("openai/stream_text.sse"));
  ASSERT_FALSE(d.error) << d.error->message;
  EXPECT_TRUE(d.finished);
  EXPECT_EQ(dump_events(d.events), dump_events({ev_start("chatcmpl-123", "gpt-4o-mini"), ev_text("Hello"), ev_text("!"),
                                                ev_finish(StopReason::end_turn, 9, 2)}));
}

TEST(WireOpenAIStream, DecodesToolCallDeltas) {
  Decoded d = decode(fixture("openai/stream_tool_calls.sse"));
  ASSERT_FALSE(d.error) << d.error->message;
  EXPECT_TRUE(d.finished);
  EXPECT_EQ(dump_events(d.events),
            dump_events({ev_start("chatcmpl-9x", "gpt-4o-2024-08-06"),
                         ev_tool(0, "call_DdmO9pD3xa9XTPNJ32zg2hcA", "get_weather"), ev_args(0, "{\""),
                         ev_args(0, "location"), ev_args(0, "\":\"Paris\"}"), ev_tool(1, "call_b2", "get_time"),
                         ev_args(1, "{}"), ev_finish(StopReason::tool_use, 0, 0)}));
}

TEST(WireOpenAIStream, AzureFilterChunkIsNotTheStart) {
  Decoded d = decode(fixture("openai/stream_azure_filter.sse"));
  ASSERT_FALSE(d.error) << d.error->message;
  EXPECT_EQ(dump_events(d.events), dump_events({ev_start("chatcmpl-azure1", "gpt-4o-2024-05-13"), ev_text("Hi"),
                                                ev_finish(StopReason::max_tokens, 14, 1)}));
}

TEST(WireOpenAIStream, FinishOnlyOnDoneSoATruncatedStreamIsVisible) {
  std::string bytes = fixture("openai/stream_text.sse");
  bytes.erase(bytes.find("data: [DONE]"));
  Decoded d = decode(bytes);
  ASSERT_FALSE(d.error);
  EXPECT_FALSE(d.finished);
  ASSERT_FALSE(d.events.empty());
  EXPECT_NE(d.events.back().kind, StreamEvent::Kind::finish);
}

TEST(WireOpenAIStream, ErrorObjectInTheStreamIsAnError) {
  Decoded d = decode(fixture("openai/stream_error.sse"));
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->code, ErrorCode::upstream_error);
  EXPECT_FALSE(d.finished);
  EXPECT_EQ(dump_events(d.events), dump_events({ev_start("chatcmpl-123", "gpt-4o-mini"), ev_text("Once upon")}));

  d = decode(
      "data: {\"error\":{\"message\":\"Rate limit "
      "reached\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}\n\n");
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->code, ErrorCode::rate_limited);

  d = decode("data: {\"object\":\"error\",\"message\":\"bad\",\"type\":\"BadRequestError\",\"code\":400}\n\n");  // vLLM
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->code, ErrorCode::invalid_request);
}

TEST(WireOpenAIStream, MalformedChunkIsAnUpstreamError) {
  Decoded d =
      decode("data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {not json\n\n");
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->code, ErrorCode::upstream_error);
  EXPECT_EQ(d.error->message, "malformed openai stream: chunk is not valid JSON");
}

TEST(WireOpenAIStream, EncodesChunksUsageAndDone) {
  openai::StreamEncoder enc(true, 1694268190);
  std::string bytes;
  for (const auto& e :
       {ev_start("chatcmpl-1", "gpt-4o"), ev_text("Hel"), ev_text("lo"), ev_finish(StopReason::end_turn, 9, 2)}) {
    bytes += enc.encode(e);
  }
  EXPECT_EQ(
      bytes,
      "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o\","
      "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_"
      "reason\":null}],\"usage\":null}\n\n"
      "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o\","
      "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":"
      "null}\n\n"
      "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o\","
      "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":"
      "null}\n\n"
      "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o\","
      "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
      "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o\","
      "\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n"
      "data: [DONE]\n\n");
  EXPECT_EQ(enc.encode(ev_text("late")), "");  // nothing after the end
}

TEST(WireOpenAIStream, EncodedStreamsDecodeToTheSameEvents) {
  const std::vector<StreamEvent> events = {ev_start("chatcmpl-7", "gpt-4o"),
                                           ev_text("Checking"),
                                           ev_tool(0, "call_a", "lookup"),
                                           ev_args(0, R"({"q":)"),
                                           ev_args(0, R"("x"})"),
                                           ev_tool(1, "call_b", "time"),
                                           ev_args(1, "{}"),
                                           ev_finish(StopReason::tool_use, 31, 12)};
  openai::StreamEncoder enc(true, 1);
  std::string bytes;
  for (const auto& e : events) bytes += enc.encode(e);
  Decoded d = decode(bytes);
  ASSERT_FALSE(d.error) << d.error->message;
  EXPECT_TRUE(d.finished);
  EXPECT_EQ(dump_events(d.events), dump_events(events));

  // Without include_usage the client gets no usage chunk (and so no usage).
  openai::StreamEncoder plain(false, 1);
  bytes.clear();
  for (const auto& e : events) bytes += plain.encode(e);
  EXPECT_EQ(bytes.find("\"usage\""), std::string::npos);
  EXPECT_EQ(bytes.find("\"choices\":[]"), std::string::npos);
  d = decode(bytes);
  ASSERT_FALSE(d.error);
  EXPECT_EQ(d.events.back().usage.input_tokens, 0);
}

TEST(WireOpenAIStream, EncodesErrorsSoTheSdkRaises) {
  const Error e = make_error(ErrorCode::unavailable, "all providers are unavailable");
  const std::string bytes = openai::encode_error(e);
  EXPECT_EQ(bytes,
            "data: {\"error\":{\"message\":\"all providers are "
            "unavailable\",\"type\":\"unavailable\",\"param\":null,\"code\":null}}\n\n");
  // No event: line (the openai SDKs only inspect data-only events for "error") and no [DONE].
  auto events = sse(bytes);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "message");
  Decoded d = decode(bytes);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->code, ErrorCode::unavailable);
  EXPECT_FALSE(d.finished);
  for (ErrorCode code :
       {ErrorCode::rate_limited, ErrorCode::upstream_timeout, ErrorCode::upstream_error, ErrorCode::invalid_request}) {
    d = decode(openai::encode_error(make_error(code, "x")));
    ASSERT_TRUE(d.error);
    EXPECT_EQ(d.error->code, code) << error_type(code);
  }
}

// ---- Embeddings ----------------------------------------------------------------------------------

TEST(WireOpenAIEmbeddings, ParsesRequests) {
  auto r = openai::parse_embed_request(fixture_json("openai/embeddings_request.json"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->model, "text-embedding-3-small");
  EXPECT_EQ(r->inputs, (std::vector<std::string>{"The food was delicious and the waiter...", "Second text"}));
  EXPECT_EQ(r->dimensions, 4);
  r = openai::parse_embed_request(json::parse(R"({"model":"m","input":"one"})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->inputs, std::vector<std::string>{"one"});

  const std::pair<const char*, const char*> bad[] = {
      {R"({"model":"m","input":"x","encoding_format":"int8"})", "encoding_format: must be float or base64"},
      {R"({"model":"m","input":[1,2,3]})", "input: token arrays are not supported"},
      {R"({"model":"m","input":[]})", "input: must not be empty"},
      {R"({"model":"m","input":""})", "input: must not be empty"},
      {R"({"model":"m"})", "input: is required"},
      {R"({"model":"m","input":{"a":1}})", "input: must be a string or an array of strings"},
      {R"({"model":"m","input":"x","dimensions":0})", "dimensions: must be a positive integer"},
      {R"({"input":"x"})", "model: is required"},
  };
  for (const auto& [body, expected] : bad) {
    auto e = openai::parse_embed_request(json::parse(body));
    ASSERT_FALSE(e.ok()) << body;
    EXPECT_EQ(e.error().code, ErrorCode::invalid_request);
    EXPECT_NE(e.error().message.find(expected), std::string::npos) << e.error().message;
  }
}

TEST(WireOpenAIEmbeddings, WritesRequests) {
  EmbedRequest r{"text-embedding-3-small", {"a", "b"}, 256};
  EXPECT_EQ(to_json(openai::write_embed_request(r, "my-deployment")),
            R"({"model":"my-deployment","input":["a","b"],"encoding_format":"float","dimensions":256})");
}

TEST(WireOpenAIEmbeddings, ParsesResponsesInIndexOrder) {
  auto e = openai::parse_embed_response(fixture_json("openai/embeddings_response.json"));
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->model, "text-embedding-3-small");
  ASSERT_EQ(e->vectors.size(), 2u);
  EXPECT_EQ(e->vectors[0], (std::vector<float>{0.0023064255f, -0.009327292f, -0.0028842222f, 0.1f}));
  EXPECT_EQ(e->vectors[1], (std::vector<float>{0.0123f, -0.5f, 0.25f, 1.0f}));
  EXPECT_EQ(e->usage.input_tokens, 8);

  auto bad = openai::parse_embed_response(json::parse(R"({"data":[{"index":0,"embedding":"AAAA"}]})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::upstream_error);
}

TEST(WireOpenAIEmbeddings, WritesShortFloatsAndRoundTrips) {
  Embeddings e{"text-embedding-3-small", "azure", {{0.0123f, -0.5f}, {0.1f, 3.0f}}, Usage{8, 0}};
  const std::string body = to_json(openai::write_embed_response(e));
  EXPECT_EQ(body, R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0123,-0.5]},)"
                  R"({"object":"embedding","index":1,"embedding":[0.1,3.0]}],"model":"text-embedding-3-small",)"
                  R"("usage":{"prompt_tokens":8,"total_tokens":8}})");
  auto parsed = openai::parse_embed_response(json::parse(body));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->vectors, e.vectors);
  EXPECT_EQ(parsed->usage.input_tokens, 8);
}

// ---- Upstream errors ------------------------------------------------------------------------------

TEST(WireOpenAIErrors, MapsStatusAndBody) {
  Error e = openai::map_upstream_error(429, fixture("openai/error_429.json"), "20");
  EXPECT_EQ(e.code, ErrorCode::rate_limited);
  EXPECT_EQ(e.retry_after_seconds, 20);
  EXPECT_EQ(e.message.find("org-xyz"), std::string::npos);  // provider account details stay out

  e = openai::map_upstream_error(429, fixture("openai/error_429_quota.json"), std::nullopt);
  EXPECT_EQ(e.code, ErrorCode::upstream_error);  // out of credit: retrying will not help

  e = openai::map_upstream_error(401, fixture("openai/error_401.json"), std::nullopt);
  EXPECT_EQ(e.code, ErrorCode::upstream_error);
  EXPECT_EQ(e.message, "provider rejected the credentials");
  EXPECT_EQ(openai::map_upstream_error(403, "{}", std::nullopt).message, "provider rejected the credentials");

  e = openai::map_upstream_error(400, fixture("openai/error_400.json"), std::nullopt);
  EXPECT_EQ(e.code, ErrorCode::invalid_request);
  EXPECT_EQ(e.message,
            "provider rejected the request: Invalid value for 'temperature': expected a number between 0 and 2.");
  EXPECT_EQ(
      openai::map_upstream_error(404, R"({"error":{"message":"The model `x` does not exist"}})", std::nullopt).code,
      ErrorCode::invalid_request);

  EXPECT_EQ(openai::map_upstream_error(500, R"({"error":{"message":"boom","type":"server_error"}})", std::nullopt).code,
            ErrorCode::upstream_error);
  e = openai::map_upstream_error(503, "<html>Service Unavailable</html>", "5");
  EXPECT_EQ(e.code, ErrorCode::unavailable);
  EXPECT_EQ(e.retry_after_seconds, 5);
  EXPECT_EQ(e.message.find("html"), std::string::npos);
  EXPECT_EQ(openai::map_upstream_error(502, "", std::nullopt).code, ErrorCode::unavailable);
  EXPECT_EQ(openai::map_upstream_error(504, "", std::nullopt).code, ErrorCode::upstream_timeout);
  EXPECT_EQ(openai::map_upstream_error(408, "", std::nullopt).code, ErrorCode::upstream_timeout);
}

TEST(WireOpenAIErrors, WritesTheErrorBody) {
  EXPECT_EQ(to_json(openai::write_error(make_error(ErrorCode::invalid_request, "messages: is required"))),
            R"({"error":{"message":"messages: is required","type":"invalid_request","param":null,"code":null}})");
}

TEST(WireOpenAIEmbeddings, Base64IsLittleEndianFloat32AsTheSdkDecodesIt) {
  auto request = openai::parse_embed_request(json::parse(R"({"model":"m","input":"x","encoding_format":"base64"})"));
  ASSERT_TRUE(request.ok());
  EXPECT_TRUE(request->base64_response);
  Embeddings e;
  e.model = "m";
  e.vectors = {{1.0f, -2.5f, 0.1f}};
  auto body = openai::write_embed_response(e, true);
  EXPECT_EQ(body.at("data").as_array()[0].at("embedding").as_string(), "AACAPwAAIMDNzMw9");
  auto floats = openai::write_embed_response(e, false);
  EXPECT_TRUE(floats.at("data").as_array()[0].at("embedding").is_array());
}

}  // namespace
}  // namespace aegis::wire
