// Ollama /api/chat and /api/embed codec: every direction against the fixtures
// in tests/fixtures/wire/ollama (written from Ollama's API documentation),
// round trips, NDJSON streams through the real http::NdjsonParser, and
// validation errors.
#include "wire/ollama.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/json.hpp"
#include "http/client.hpp"
#include "wire/common.hpp"
#include "wire/openai.hpp"
#include "wire/wire_test_support.hpp"

namespace aegis::wire {
namespace {

namespace json = boost::json;

Decoded decode(std::string_view bytes, std::size_t piece = 5) {
  Decoded d;
  http::NdjsonParser lines;
  ollama::StreamDecoder decoder;
  auto take = [&](const std::string& line) {
    if (d.error) return;
    auto r = decoder.feed(line);
    if (!r) {
      d.error = r.error();
      return;
    }
    for (auto& ev : *r) d.events.push_back(std::move(ev));
  };
  for (std::size_t i = 0; i < bytes.size(); i += piece) {
    for (const auto& line : lines.feed(bytes.substr(i, piece))) take(line);
  }
  if (auto rest = lines.take_rest(); !rest.empty()) take(rest);
  d.finished = decoder.finished();
  return d;
}

ChatRequest canonical_request() {
  ChatRequest r;
  r.model = "llama3.2";
  r.system = "Be brief.";
  Message user;
  user.role = Role::user;
  user.text = "Find x";
  Message assistant;
  assistant.role = Role::assistant;
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
  r.stream = true;
  r.origin = WireProtocol::ollama;
  r.passthrough = json::object{{"options", json::object{{"num_ctx", 4096}}}, {"keep_alive", "5m"}};
  return r;
}

// ---- Requests -----------------------------------------------------------------------------

TEST(WireOllamaRequest, ParsesTheDocumentedRequest) {
  auto r = ollama::parse_chat_request(fixture_json("ollama/chat_request.json"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->origin, WireProtocol::ollama);
  EXPECT_EQ(r->model, "llama3.2");
  EXPECT_EQ(r->system, "You are a concise assistant.");
  ASSERT_EQ(r->messages.size(), 3u);
  EXPECT_EQ(r->messages[1].role, Role::assistant);
  EXPECT_EQ(r->messages[1].text, "due to rayleigh scattering.");
  EXPECT_EQ(r->temperature, 0.7);
  EXPECT_EQ(r->top_p, 0.9);
  EXPECT_EQ(r->max_tokens, 128);
  EXPECT_EQ(r->stop, std::vector<std::string>{"\n\n"});
  EXPECT_TRUE(r->stream);  // Ollama streams unless told otherwise
  EXPECT_EQ(to_json(r->passthrough), R"({"options":{"seed":101,"num_ctx":4096},"keep_alive":"5m","format":"json"})");
}

TEST(WireOllamaRequest, LinksToolResultsToSynthesizedCallIds) {
  auto r = ollama::parse_chat_request(fixture_json("ollama/chat_request_tools.json"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->stream);
  ASSERT_EQ(r->messages.size(), 3u);
  ASSERT_EQ(r->messages[1].tool_calls.size(), 1u);
  const ToolCall& call = r->messages[1].tool_calls[0];
  EXPECT_EQ(call.name, "get_current_weather");
  EXPECT_EQ(call.arguments_json, R"({"format":"celsius","location":"Paris, FR"})");
  EXPECT_EQ(call.id, synthesize_tool_call_id(call.name, call.arguments_json, 0));
  EXPECT_TRUE(call.id.starts_with("call_"));
  EXPECT_EQ(r->messages[2].role, Role::tool);
  EXPECT_EQ(r->messages[2].tool_call_id, call.id);
  EXPECT_EQ(r->messages[2].text, "22 degrees celsius");
  ASSERT_EQ(r->tools.size(), 1u);
  EXPECT_EQ(r->tools[0].input_schema.at("required"), (json::array{"location", "format"}));
}

TEST(WireOllamaRequest, RejectsBadInputNamingTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"model":"llama3.2"})", "messages: is required"},
      {R"({"model":"llama3.2","messages":[]})", "messages: must contain at least one"},
      {R"({"messages":[{"role":"user","content":"hi"}]})", "model: is required"},
      {R"({"model":"llava","messages":[{"role":"user","content":"what is this?","images":["SGVsbG8="]}]})",
       "messages[0].images[0]: the data is not a PNG, JPEG, WebP or GIF image"},
      {R"({"model":"m","messages":[{"role":"robot","content":"hi"}]})",
       "messages[0].role: must be one of system, user, assistant, tool"},
      {R"({"model":"m","messages":[{"role":"user","content":["hi"]}]})", "messages[0].content: must be a string"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"options":{"temperature":"warm"}})",
       "options.temperature: must be a number"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"options":{"temperature":-1}})",
       "options.temperature: must not be negative"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":0}})",
       "options.num_predict: must be positive"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":1.5}})",
       "options.num_predict: must be an integer"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"options":[]})", "options: must be an object"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"stream":1})", "stream: must be a boolean"},
      {R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":[1]}}]}]})",
       "messages[0].tool_calls[0].function.arguments: must be an object"},
  };
  for (const auto& [body, expected] : cases) {
    auto r = ollama::parse_chat_request(json::parse(body));
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().code, ErrorCode::invalid_request);
    EXPECT_NE(r.error().message.find(expected), std::string::npos) << body << " -> " << r.error().message;
  }
}

TEST(WireOllamaRequest, WritesTheUpstreamBody) {
  const ChatRequest r = canonical_request();
  EXPECT_EQ(
      to_json(ollama::write_chat_request(r, "llama3.2:3b")),
      R"({"model":"llama3.2:3b","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Find x"},)"
      R"({"role":"assistant","content":"","tool_calls":[{"id":"call_1","function":{"name":"lookup","arguments":{"q":"x","limit":2}}}]},)"
      R"({"role":"tool","content":"x = 42","tool_name":"lookup","tool_call_id":"call_1"},{"role":"user","content":"thanks"}],)"
      R"("stream":true,"options":{"temperature":0.7,"top_p":0.9,"num_predict":50,"stop":["END"],"num_ctx":4096},)"
      R"("tools":[{"type":"function","function":{"name":"lookup","description":"Look things up","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}}],)"
      R"("keep_alive":"5m"})");

  // A request from another protocol: "stream" is still explicit, no foreign passthrough.
  ChatRequest other = canonical_request();
  other.origin = WireProtocol::openai;
  other.stream = false;
  auto body = ollama::write_chat_request(other, "llama3.2");
  EXPECT_EQ(body.at("stream"), false);
  EXPECT_FALSE(body.contains("keep_alive"));
  EXPECT_FALSE(body.at("options").as_object().contains("num_ctx"));
}

TEST(WireOllamaRequest, RoundTrips) {
  const ChatRequest r = canonical_request();
  auto parsed = ollama::parse_chat_request(ollama::write_chat_request(r, r.model));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(to_json(dump(*parsed)), to_json(dump(r)));
}

// ---- Responses ------------------------------------------------------------------------------

TEST(WireOllamaResponse, ParsesTheDocumentedResponses) {
  auto c = ollama::parse_chat_response(fixture_json("ollama/chat_response.json"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->model, "llama3.2");
  EXPECT_EQ(c->text, "Hello! How are you today?");
  EXPECT_EQ(c->stop_reason, StopReason::end_turn);
  EXPECT_EQ(c->usage.input_tokens, 26);
  EXPECT_EQ(c->usage.output_tokens, 298);

  c = ollama::parse_chat_response(fixture_json("ollama/chat_response_tools.json"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->tool_calls.size(), 1u);
  EXPECT_EQ(c->tool_calls[0].name, "get_current_weather");
  EXPECT_EQ(c->tool_calls[0].arguments_json, R"({"format":"celsius","location":"Paris, FR"})");
  EXPECT_FALSE(c->tool_calls[0].id.empty());
  EXPECT_EQ(c->stop_reason, StopReason::tool_use);  // Ollama says "stop" when it called tools
  EXPECT_EQ(c->usage.input_tokens, 122);
  EXPECT_EQ(c->usage.output_tokens, 33);
}

TEST(WireOllamaResponse, MalformedShapesAreUpstreamErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {R"("x")", "malformed ollama response: body: must be an object"},
      {R"({"model":"m","done":true})", "malformed ollama response: message: is required"},
      {R"({"message":{"content":5}})", "malformed ollama response: message.content: must be a string"},
      {R"({"message":{"content":"hi"},"eval_count":"many"})",
       "malformed ollama response: eval_count: must be an integer"},
      {R"({"message":{"content":"hi"},"done":false})", "malformed ollama response: done: is false"},
      {R"({"error":"boom"})", "malformed ollama response: error"},
  };
  for (const auto& [body, expected] : cases) {
    auto c = ollama::parse_chat_response(json::parse(body));
    ASSERT_FALSE(c.ok()) << body;
    EXPECT_EQ(c.error().code, ErrorCode::upstream_error);
    EXPECT_NE(c.error().message.find(expected), std::string::npos) << c.error().message;
  }
}

TEST(WireOllamaResponse, WritesAndRoundTrips) {
  Completion c;
  c.model = "llama3.2";
  c.text = "Hi!";
  c.stop_reason = StopReason::max_tokens;
  c.usage = Usage{26, 298};
  EXPECT_EQ(
      to_json(ollama::write_chat_response(c, 1700000000)),
      R"({"model":"llama3.2","created_at":"2023-11-14T22:13:20.000Z","message":{"role":"assistant","content":"Hi!"},)"
      R"("done_reason":"length","done":true,"prompt_eval_count":26,"eval_count":298})");
  for (StopReason reason : {StopReason::end_turn, StopReason::max_tokens, StopReason::tool_use}) {
    c.stop_reason = reason;
    c.tool_calls.clear();
    if (reason == StopReason::tool_use) c.tool_calls.push_back(ToolCall{"call_7", "f", R"({"a":0.25})", nullptr});
    auto parsed = ollama::parse_chat_response(ollama::write_chat_response(c, 1));
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(to_json(dump(*parsed)), to_json(dump(c)));
  }
  EXPECT_EQ(ollama::parse_done_reason("load"), StopReason::unknown);
  EXPECT_EQ(ollama::done_reason(StopReason::content_filter), "stop");
}

// ---- Streams ------------------------------------------------------------------------------------

TEST(WireOllamaStream, DecodesTheDocumentedStream) {
  Decoded d = decode(fixture("ollama/stream.ndjson"));
  ASSERT_FALSE(d.error) << d.error->message;
  EXPECT_TRUE(d.finished);
  EXPECT_EQ(dump_events(d.events), dump_events({ev_start("", "llama3.2"), ev_text("The"), ev_text(" sky"),
                                                ev_finish(StopReason::max_tokens, 26, 282)}));
}

TEST(WireOllamaStream, DecodesStreamedToolCalls) {
  Decoded d = decode(fixture("ollama/stream_tools.ndjson"));
  ASSERT_FALSE(d.error) << d.error->message;
  EXPECT_TRUE(d.finished);
  const std::string args = R"({"format":"celsius","location":"Toronto"})";
  EXPECT_EQ(dump_events(d.events),
            dump_events({ev_start("", "qwen3"), ev_text("Let me check."),
                         ev_tool(0, synthesize_tool_call_id("get_current_weather", args, 0), "get_current_weather"),
                         ev_args(0, args), ev_finish(StopReason::tool_use, 120, 40)}));
}

TEST(WireOllamaStream, TruncatedAndErrorStreams) {
  std::string bytes = fixture("ollama/stream.ndjson");
  bytes.erase(bytes.rfind("{\"model\""));  // drop the done:true line
  Decoded d = decode(bytes);
  ASSERT_FALSE(d.error);
  EXPECT_FALSE(d.finished);

  d = decode(fixture("ollama/stream_error.ndjson"));
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->code, ErrorCode::upstream_error);
  EXPECT_EQ(d.error->message,
            "provider stream error: an error was encountered while running the model: unexpected EOF");
  EXPECT_FALSE(d.finished);

  d = decode("{\"model\":\"m\",\"message\":{\"content\":\"a\"},\"done\":false}\n{\"model\":\"m\",\"message\":\n");
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->message, "malformed ollama stream: line is not valid JSON");
}

TEST(WireOllamaStream, EncodesNdjsonThatDecodesToTheSameEvents) {
  ollama::StreamEncoder enc(1700000000);
  std::string bytes;
  for (const auto& e : {ev_start("", "llama3.2"), ev_text("The"), ev_finish(StopReason::end_turn, 26, 282)})
    bytes += enc.encode(e);
  EXPECT_EQ(bytes,
            "{\"model\":\"llama3.2\",\"created_at\":\"2023-11-14T22:13:20.000Z\",\"message\":{\"role\":\"assistant\","
            "\"content\":\"The\"},\"done\":false}\n"
            "{\"model\":\"llama3.2\",\"created_at\":\"2023-11-14T22:13:20.000Z\",\"message\":{\"role\":\"assistant\","
            "\"content\":\"\"},"
            "\"done_reason\":\"stop\",\"done\":true,\"prompt_eval_count\":26,\"eval_count\":282}\n");

  // Tool-call deltas are gathered into one whole call, as Ollama sends them.
  ollama::StreamEncoder tools(1);
  bytes.clear();
  for (const auto& e : {ev_start("", "qwen3"), ev_text("Checking."), ev_tool(0, "call_a", "f"), ev_args(0, R"({"q":)"),
                        ev_args(0, R"(1})"), ev_tool(1, "call_b", "g"), ev_finish(StopReason::tool_use, 9, 4)}) {
    bytes += tools.encode(e);
  }
  Decoded d = decode(bytes);
  ASSERT_FALSE(d.error) << d.error->message;
  EXPECT_TRUE(d.finished);
  EXPECT_EQ(dump_events(d.events), dump_events({ev_start("", "qwen3"), ev_text("Checking."), ev_tool(0, "call_a", "f"),
                                                ev_args(0, R"({"q":1})"), ev_tool(1, "call_b", "g"), ev_args(1, "{}"),
                                                ev_finish(StopReason::tool_use, 9, 4)}));
}

TEST(WireOllamaStream, EncodesErrorLines) {
  EXPECT_EQ(ollama::encode_error(make_error(ErrorCode::unavailable, "upstream went away")),
            "{\"error\":\"upstream went away\"}\n");
  Decoded d = decode(ollama::encode_error(make_error(ErrorCode::unavailable, "upstream went away")));
  ASSERT_TRUE(d.error);
  EXPECT_FALSE(d.finished);
}

// ---- Embeddings ------------------------------------------------------------------------------------

TEST(WireOllamaEmbeddings, AllDirections) {
  auto r = ollama::parse_embed_request(fixture_json("ollama/embed_request.json"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->model, "all-minilm");
  EXPECT_EQ(r->inputs, (std::vector<std::string>{"Why is the sky blue?", "Why is the grass green?"}));
  EXPECT_EQ(to_json(ollama::write_embed_request(*r, "all-minilm:latest")),
            R"({"model":"all-minilm:latest","input":["Why is the sky blue?","Why is the grass green?"]})");
  r = ollama::parse_embed_request(json::parse(R"({"model":"all-minilm","input":"one text","dimensions":256})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->inputs, std::vector<std::string>{"one text"});
  EXPECT_EQ(r->dimensions, 256);
  EXPECT_FALSE(ollama::parse_embed_request(json::parse(R"({"model":"m","input":[1]})")).ok());
  EXPECT_FALSE(ollama::parse_embed_request(json::parse(R"({"model":"m"})")).ok());

  auto e = ollama::parse_embed_response(fixture_json("ollama/embed_response.json"));
  ASSERT_TRUE(e.ok()) << e.error().message;
  ASSERT_EQ(e->vectors.size(), 2u);
  EXPECT_EQ(e->vectors[0][0], 0.010071029f);
  EXPECT_EQ(e->vectors[1][4], 0.07272725f);
  EXPECT_EQ(e->usage.input_tokens, 8);
  const std::string body = to_json(ollama::write_embed_response(*e));
  EXPECT_NE(body.find("[0.010071029,-0.0017594862,0.05007221,0.04692972,0.054916814]"), std::string::npos) << body;
  auto again = ollama::parse_embed_response(json::parse(body));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->vectors, e->vectors);

  auto bad = ollama::parse_embed_response(json::parse(R"({"embeddings":[["x"]]})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::upstream_error);
}

// ---- Upstream errors --------------------------------------------------------------------------------

TEST(WireOllamaErrors, MapsStatusAndBody) {
  Error e = ollama::map_upstream_error(404, fixture("ollama/error_404.json"), std::nullopt);
  EXPECT_EQ(e.code, ErrorCode::invalid_request);
  EXPECT_EQ(e.message, "provider rejected the request: model \"llama3.9\" not found, try pulling it first");
  e = ollama::map_upstream_error(
      503, R"({"error":"server busy, please try again.  maximum pending requests exceeded"})", "1");
  EXPECT_EQ(e.code, ErrorCode::unavailable);
  EXPECT_EQ(e.retry_after_seconds, 1);
  EXPECT_EQ(ollama::map_upstream_error(500, R"({"error":"llama runner process has terminated"})", std::nullopt).code,
            ErrorCode::upstream_error);
  EXPECT_EQ(ollama::map_upstream_error(400, "not json", std::nullopt).message,
            "provider rejected the request (HTTP 400)");
}

}  // namespace
}  // namespace aegis::wire
