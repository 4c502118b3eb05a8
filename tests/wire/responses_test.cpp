// OpenAI Responses API codec (wire/responses.hpp): requests into the
// canonical chat model, the response object, the typed stream events read
// back through the real http::SseParser, refusals, and stored turns.
#include "wire/responses.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "core/json.hpp"
#include "http/client.hpp"
#include "wire/wire_test_support.hpp"

namespace aegis::wire {
namespace {

namespace json = boost::json;
using responses::parse_request;

Result<responses::ResponsesRequest> parse(std::string_view body, const RequestLimits& limits = {}) {
  return parse_request(json::parse(body), limits);
}

std::string error_of(std::string_view body) {
  auto r = parse(body);
  EXPECT_FALSE(r.ok()) << body;
  if (r.ok()) return {};
  EXPECT_EQ(r.error().code, ErrorCode::invalid_request);
  return r.error().message;
}

TEST(ResponsesRequest, StringInputIsOneUserTurnAndInstructionsTheSystemPrompt) {
  auto r = parse(R"({"model":"gpt-4.1","input":"Hello there","instructions":"Be brief.",
                     "max_output_tokens":64,"temperature":0.2,"top_p":0.9,"metadata":{"k":"v"},"user":"u1"})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const ChatRequest& c = r->chat;
  EXPECT_EQ(c.model, "gpt-4.1");
  EXPECT_EQ(c.system, "Be brief.");
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0].role, Role::user);
  EXPECT_EQ(c.messages[0].text, "Hello there");
  EXPECT_EQ(c.max_tokens, 64);
  EXPECT_EQ(c.temperature, 0.2);
  EXPECT_EQ(c.top_p, 0.9);
  EXPECT_FALSE(c.stream);
  EXPECT_TRUE(r->store);  // OpenAI's default
  EXPECT_FALSE(r->previous_response_id);
  // Nothing rides along untranslated: metadata and user are echoed, never sent upstream.
  EXPECT_TRUE(c.passthrough.empty());
  EXPECT_EQ(r->echo.at("metadata"), (json::object{{"k", "v"}}));
  EXPECT_EQ(r->echo.at("user"), "u1");
  EXPECT_EQ(r->echo.at("instructions"), "Be brief.");
}

TEST(ResponsesRequest, InputItemsBecomeTurnsInOrder) {
  auto r = parse(R"({"model":"m","stream":true,"store":false,"previous_response_id":"resp_1","input":[
      {"role":"developer","content":"Answer in French."},
      {"role":"user","content":[{"type":"input_text","text":"Part one"},{"type":"input_text","text":"part two"}]},
      {"type":"message","role":"assistant","id":"msg_1","status":"completed",
       "content":[{"type":"output_text","text":"Je ","annotations":[]},{"type":"output_text","text":"cherche."}]},
      {"type":"function_call","call_id":"call_1","name":"lookup","arguments":"{\"q\":1}","id":"fc_1"},
      {"type":"function_call","call_id":"call_2","name":"lookup","arguments":"{\"q\":2}"},
      {"type":"function_call_output","call_id":"call_1","output":"one"},
      {"type":"function_call_output","call_id":"call_2","output":[{"type":"input_text","text":"two"}]}],
      "instructions":"System.","tools":[{"type":"function","name":"lookup","description":"Look up",
       "parameters":{"type":"object"},"strict":true}],"tool_choice":{"type":"function","name":"lookup"},
      "parallel_tool_calls":false})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const ChatRequest& c = r->chat;
  EXPECT_TRUE(c.stream);
  EXPECT_FALSE(r->store);
  EXPECT_EQ(r->previous_response_id, "resp_1");
  EXPECT_EQ(c.system, "System.\nAnswer in French.");
  ASSERT_EQ(c.messages.size(), 4u);
  EXPECT_EQ(c.messages[0].text, "Part one\npart two");
  EXPECT_EQ(c.messages[1].role, Role::assistant);
  EXPECT_EQ(c.messages[1].text, "Je cherche.");
  // Both calls follow the assistant text in the same turn.
  ASSERT_EQ(c.messages[1].tool_calls.size(), 2u);
  EXPECT_EQ(c.messages[1].tool_calls[0].id, "call_1");
  EXPECT_EQ(c.messages[1].tool_calls[1].arguments_json, R"({"q":2})");
  EXPECT_EQ(c.messages[2].role, Role::tool);
  EXPECT_EQ(c.messages[2].tool_call_id, "call_1");
  EXPECT_EQ(c.messages[3].role, Role::tool);
  EXPECT_EQ(c.messages[3].text, "two");
  ASSERT_EQ(c.tools.size(), 1u);
  EXPECT_EQ(c.tools[0].description, "Look up");
  EXPECT_EQ(c.tool_choice, (json::object{{"type", "tool"}, {"name", "lookup"}, {"disable_parallel_tool_use", true}}));
}

TEST(ResponsesRequest, RefusesWhatItCannotTranslate) {
  EXPECT_EQ(error_of(R"({"model":"m"})"), "input: is required");
  EXPECT_EQ(error_of(R"({"model":"m","input":""})"), "input: must not be empty");
  EXPECT_EQ(error_of(R"({"model":"m","input":[]})"), "input: must contain at least one user, assistant or tool turn");
  EXPECT_EQ(error_of(R"({"model":"m","input":42})"), "input: must be a string or an array of input items");
  EXPECT_EQ(error_of(R"({"model":"m","input":"hi","frobnicate":1})"), "frobnicate: unknown field");
  EXPECT_EQ(error_of(R"({"model":"m","input":[{"type":"banana"}]})"), "input[0].type: unknown input item type");
  EXPECT_EQ(error_of(R"({"model":"m","input":[{"type":"reasoning","summary":[]}]})"),
            "input[0].type: input items of type 'reasoning' are not supported");
  EXPECT_EQ(error_of(R"({"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"x"}]}]})"),
            "input[0].content[0].image_url: must be a data URL (data:<media type>;base64,<data>) or an http(s) URL");
  EXPECT_EQ(error_of(R"({"model":"m","input":[{"role":"user","content":[{"type":"output_text","text":"x"}]}]})"),
            "input[0].content[0].type: user, system and developer messages hold input_text parts");
  EXPECT_EQ(error_of(R"({"model":"m","input":[{"role":"user","content":"x","extra":1}]})"),
            "input[0].extra: unknown field");
  EXPECT_EQ(error_of(R"({"model":"m","input":[{"role":"tool","content":"x"}]})"),
            "input[0].role: must be one of user, assistant, system, developer");
  const std::string builtin = error_of(R"({"model":"m","input":"hi","tools":[{"type":"web_search"}]})");
  EXPECT_NE(builtin.find("tools[0].type: the tool type 'web_search' is not supported"), std::string::npos) << builtin;
  EXPECT_EQ(error_of(R"({"model":"m","input":"hi","text":{"format":{"type":"json_schema"}}})"),
            "text.format.type: only text is supported (structured outputs are not translated)");
  EXPECT_EQ(error_of(R"({"model":"m","input":"hi","background":true})"),
            "background: is not supported; use POST /v1/jobs for asynchronous work");
  EXPECT_EQ(error_of(R"({"model":"m","input":"hi","conversation":"conv_1"})"),
            "conversation: is not supported; chain turns with previous_response_id");
  EXPECT_EQ(error_of(R"({"model":"m","input":"hi","reasoning":{"effort":"high"}})"),
            "reasoning.effort: is not supported");
  EXPECT_EQ(error_of(R"({"model":"m","input":"hi","include":["reasoning.encrypted_content"]})"),
            "include: only an empty list is supported");
  EXPECT_EQ(error_of(R"({"model":"m","input":"hi","max_output_tokens":0})"),
            "max_output_tokens: must be a positive integer");
  EXPECT_EQ(error_of(R"({"model":"m","input":"hi","previous_response_id":""})"),
            "previous_response_id: must not be empty");
  // Harmless settings are accepted.
  EXPECT_TRUE(parse(R"({"model":"m","input":"hi","truncation":"auto","service_tier":"auto","include":[],
                        "reasoning":{"effort":null},"text":{"format":{"type":"text"}},"background":false,
                        "prompt_cache_key":"k","safety_identifier":"s","stream_options":{}})")
                  .ok());
}

TEST(ResponsesRequest, AppliesTheRequestLimits) {
  RequestLimits limits;
  limits.max_messages = 2;
  limits.max_text_bytes = 10;
  auto many = parse(R"({"model":"m","input":[{"role":"user","content":"a"},{"role":"user","content":"b"},
                        {"role":"user","content":"c"}]})",
                    limits);
  ASSERT_FALSE(many.ok());
  EXPECT_NE(many.error().message.find("max_messages"), std::string::npos) << many.error().message;
  auto long_text = parse(R"({"model":"m","instructions":"123456","input":"123456"})", limits);
  ASSERT_FALSE(long_text.ok());
  EXPECT_NE(long_text.error().message.find("max_text_bytes"), std::string::npos) << long_text.error().message;
}

responses::ResponseMeta meta_for_test() {
  responses::ResponseMeta meta;
  meta.id = "resp_abc";
  meta.created_at = 1'700'000'000;
  meta.store = true;
  meta.previous_response_id = "resp_prev";
  meta.echo = json::object{{"instructions", "Be brief."}, {"temperature", 0.5}};
  return meta;
}

TEST(ResponsesResponse, WritesTheResponseObject) {
  Completion c;
  c.id = "chatcmpl-1";
  c.model = "claude-sonnet-4-5";
  c.text = "Hi!";
  c.usage.input_tokens = 12;
  c.usage.output_tokens = 3;
  const json::object r = responses::write_response(c, meta_for_test());
  EXPECT_EQ(r.at("id"), "resp_abc");
  EXPECT_EQ(r.at("object"), "response");
  EXPECT_EQ(r.at("created_at"), 1'700'000'000);
  EXPECT_EQ(r.at("status"), "completed");
  EXPECT_EQ(r.at("model"), "claude-sonnet-4-5");
  EXPECT_EQ(r.at("store"), true);
  EXPECT_EQ(r.at("previous_response_id"), "resp_prev");
  EXPECT_EQ(r.at("instructions"), "Be brief.");
  EXPECT_EQ(r.at("temperature"), 0.5);
  const auto& output = r.at("output").as_array();
  ASSERT_EQ(output.size(), 1u);
  EXPECT_EQ(output[0].at("type"), "message");
  EXPECT_EQ(output[0].at("id"), "msg_abc");
  EXPECT_EQ(output[0].at("role"), "assistant");
  EXPECT_EQ(output[0].at("content").at(0).at("type"), "output_text");
  EXPECT_EQ(output[0].at("content").at(0).at("text"), "Hi!");
  EXPECT_TRUE(output[0].at("content").at(0).at("annotations").as_array().empty());
  const auto& usage = r.at("usage");
  EXPECT_EQ(usage.at("input_tokens"), 12);
  EXPECT_EQ(usage.at("output_tokens"), 3);
  EXPECT_EQ(usage.at("total_tokens"), 15);
  EXPECT_EQ(usage.at("input_tokens_details").at("cached_tokens"), 0);
  EXPECT_EQ(usage.at("output_tokens_details").at("reasoning_tokens"), 0);

  c.stop_reason = StopReason::max_tokens;
  c.text.clear();
  c.tool_calls.push_back(ToolCall{"call_9", "lookup", R"({"q":1})", {}});
  const json::object cut = responses::write_response(c, meta_for_test());
  EXPECT_EQ(cut.at("status"), "incomplete");
  EXPECT_EQ(cut.at("incomplete_details").at("reason"), "max_output_tokens");
  const auto& items = cut.at("output").as_array();
  ASSERT_EQ(items.size(), 1u);  // no empty message beside a tool call
  EXPECT_EQ(items[0].at("type"), "function_call");
  EXPECT_EQ(items[0].at("call_id"), "call_9");
  EXPECT_EQ(items[0].at("arguments"), R"({"q":1})");
}

struct SseEvent {
  std::string type;
  json::object data;
};

std::vector<SseEvent> read_events(const std::string& bytes) {
  http::SseParser parser;
  std::vector<SseEvent> out;
  for (const auto& e : parser.feed(bytes)) out.push_back(SseEvent{e.event, json::parse(e.data).as_object()});
  return out;
}

StreamEvent ev(StreamEvent::Kind kind, std::string text = {}, std::size_t index = 0) {
  StreamEvent e;
  e.kind = kind;
  e.text = std::move(text);
  e.index = index;
  return e;
}

TEST(ResponsesStream, EmitsTheTypedEventsInOrderWithSequenceNumbers) {
  responses::StreamEncoder encoder(meta_for_test());
  StreamEvent start = ev(StreamEvent::Kind::start);
  start.model = "m1";
  std::string bytes = encoder.encode(start);
  bytes += encoder.encode(ev(StreamEvent::Kind::text, "Hel"));
  bytes += encoder.encode(ev(StreamEvent::Kind::text, "lo"));
  StreamEvent finish = ev(StreamEvent::Kind::finish);
  finish.usage.input_tokens = 5;
  finish.usage.output_tokens = 2;
  bytes += encoder.encode(finish);
  bytes += encoder.encode(ev(StreamEvent::Kind::text, "after the end"));  // nothing after the end

  const auto events = read_events(bytes);
  std::vector<std::string> types;
  types.reserve(events.size());
  for (const auto& e : events) types.push_back(e.type);
  EXPECT_EQ(types,
            (std::vector<std::string>{
                "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
                "response.output_text.delta", "response.output_text.delta", "response.output_text.done",
                "response.content_part.done", "response.output_item.done", "response.completed"}));
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].data.at("type").as_string(), events[i].type);  // the data repeats its event's name
    EXPECT_EQ(events[i].data.at("sequence_number"), static_cast<std::int64_t>(i));
  }
  EXPECT_EQ(events[0].data.at("response").at("status"), "in_progress");
  EXPECT_EQ(events[0].data.at("response").at("model"), "m1");
  EXPECT_EQ(events[4].data.at("delta"), "Hel");
  EXPECT_EQ(events[4].data.at("item_id"), "msg_abc");
  EXPECT_EQ(events[6].data.at("text"), "Hello");
  const auto& done = events.back().data.at("response");
  EXPECT_EQ(done.at("status"), "completed");
  EXPECT_EQ(done.at("output").at(0).at("content").at(0).at("text"), "Hello");
  EXPECT_EQ(done.at("usage").at("total_tokens"), 7);
  EXPECT_EQ(encoder.completion().text, "Hello");
}

TEST(ResponsesStream, ToolCallsAreFunctionCallItems) {
  responses::StreamEncoder encoder(meta_for_test());
  StreamEvent call = ev(StreamEvent::Kind::tool_call_start, {}, 0);
  call.tool_call = ToolCall{"call_1", "lookup", "", {}};
  std::string bytes = encoder.encode(call);
  bytes += encoder.encode(ev(StreamEvent::Kind::tool_call_delta, R"({"q":)", 0));
  bytes += encoder.encode(ev(StreamEvent::Kind::tool_call_delta, "1}", 0));
  StreamEvent finish = ev(StreamEvent::Kind::finish);
  finish.stop_reason = StopReason::tool_use;
  bytes += encoder.encode(finish);
  const auto events = read_events(bytes);
  ASSERT_GE(events.size(), 7u);
  EXPECT_EQ(events[2].type, "response.output_item.added");
  EXPECT_EQ(events[2].data.at("item").at("type"), "function_call");
  EXPECT_EQ(events[3].type, "response.function_call_arguments.delta");
  EXPECT_EQ(events[5].type, "response.function_call_arguments.done");
  EXPECT_EQ(events[5].data.at("arguments"), R"({"q":1})");
  const auto& output = events.back().data.at("response").at("output").as_array();
  ASSERT_EQ(output.size(), 1u);
  EXPECT_EQ(output[0].at("call_id"), "call_1");
  EXPECT_EQ(output[0].at("arguments"), R"({"q":1})");
}

TEST(ResponsesStream, AnErrorAfterTheStartEndsWithErrorAndResponseFailed) {
  responses::StreamEncoder encoder(meta_for_test());
  std::string bytes = encoder.encode(ev(StreamEvent::Kind::text, "partial"));
  bytes += encoder.encode_error(make_error(ErrorCode::unavailable, "provider 'x' unavailable"));
  bytes += encoder.encode(ev(StreamEvent::Kind::finish));  // nothing after the failure
  const auto events = read_events(bytes);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[events.size() - 2].type, "error");
  EXPECT_EQ(events[events.size() - 2].data.at("code"), "unavailable");
  EXPECT_EQ(events.back().type, "response.failed");
  EXPECT_EQ(events.back().data.at("response").at("status"), "failed");
  EXPECT_EQ(events.back().data.at("response").at("error").at("message"), "provider 'x' unavailable");
}

TEST(ResponsesStoredTurns, RoundTrip) {
  std::vector<Message> turns(3);
  turns[0].role = Role::user;
  turns[0].text = "My SIN is 046 454 286";
  turns[1].role = Role::assistant;
  turns[1].tool_calls.push_back(ToolCall{"c1", "f", "{}", {}});
  turns[2].role = Role::tool;
  turns[2].tool_call_id = "c1";
  turns[2].tool_error = true;
  turns[2].text = "failed";
  auto back = responses::read_messages(responses::write_messages(turns));
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->size(), 3u);
  EXPECT_EQ((*back)[0].text, turns[0].text);
  EXPECT_EQ((*back)[1].tool_calls[0].name, "f");
  EXPECT_EQ((*back)[2].tool_call_id, "c1");
  EXPECT_TRUE((*back)[2].tool_error);
  auto bad = responses::read_messages(json::parse(R"([{"role":"nobody","text":""}])"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::internal);
}

}  // namespace
}  // namespace aegis::wire
