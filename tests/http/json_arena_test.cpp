// A request body is parsed into a stack arena that is gone once the decoder
// returns (http::decode_json_object). Whatever JSON the decoded request keeps
// (tool schemas, tool_choice, passthrough fields) must therefore live on the
// default heap, not in the arena: Boost.JSON's copy constructors take the
// source's storage, so one careless copy in a codec would dangle.
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "http/json_response.hpp"
#include "wire/anthropic.hpp"
#include "wire/openai.hpp"

namespace {

using namespace aegis;
using aegis::http::HttpRequest;

HttpRequest json_request(std::string body) {
  HttpRequest request;
  request.method = "POST";
  request.target = "/v1/chat/completions";
  request.headers.push_back({"content-type", "application/json"});
  request.body = std::move(body);
  return request;
}

bool on_default_heap(const boost::json::value& value) {
  return value.storage().get() == boost::json::storage_ptr().get();
}

// Overwrites the stack where the arena lived, so a dangling tree reads garbage.
void scribble_stack() {
  volatile unsigned char noise[http::kJsonArenaBytes * 2];
  for (auto& b : noise) b = 0xA5;
}

TEST(JsonArena, OpenAiRequestKeepsNothingInTheArena) {
  const HttpRequest request = json_request(R"({"model":"auto","seed":7,"user":"u-1",
    "messages":[{"role":"user","content":"hello"}],
    "tools":[{"type":"function","function":{"name":"lookup","parameters":
      {"type":"object","properties":{"id":{"type":"string","description":"the record id"}}}}}],
    "tool_choice":{"type":"function","function":{"name":"lookup"}},"parallel_tool_calls":false})");
  auto decode = [](const boost::json::object& body) { return wire::openai::parse_chat_request(body); };
  auto chat = http::decode_json_object(request, decode);
  ASSERT_TRUE(chat.ok()) << chat.error().message;
  scribble_stack();
  ASSERT_EQ(chat->tools.size(), 1U);
  EXPECT_TRUE(on_default_heap(chat->tools[0].input_schema));
  EXPECT_TRUE(on_default_heap(chat->tool_choice));
  EXPECT_EQ(chat->passthrough.storage().get(), boost::json::storage_ptr().get());
  EXPECT_EQ(boost::json::serialize(chat->tools[0].input_schema),
            R"({"type":"object","properties":{"id":{"type":"string","description":"the record id"}}})");
  EXPECT_EQ(boost::json::serialize(chat->tool_choice),
            R"({"type":"tool","name":"lookup","disable_parallel_tool_use":true})");
  EXPECT_EQ(boost::json::serialize(chat->passthrough), R"({"seed":7,"user":"u-1"})");
  EXPECT_EQ(chat->messages.at(0).text, "hello");
}

TEST(JsonArena, AnthropicRequestKeepsNothingInTheArena) {
  const HttpRequest request = json_request(R"({"model":"auto","max_tokens":32,"metadata":{"user_id":"u-2"},
    "messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],
    "tools":[{"name":"lookup","input_schema":{"type":"object","properties":{"q":{"type":"string"}}}}],
    "tool_choice":{"type":"tool","name":"lookup"}})");
  auto decode = [](const boost::json::object& body) { return wire::anthropic::parse_chat_request(body); };
  auto chat = http::decode_json_object(request, decode);
  ASSERT_TRUE(chat.ok()) << chat.error().message;
  scribble_stack();
  ASSERT_EQ(chat->tools.size(), 1U);
  EXPECT_TRUE(on_default_heap(chat->tools[0].input_schema));
  EXPECT_TRUE(on_default_heap(chat->tool_choice));
  EXPECT_EQ(chat->passthrough.storage().get(), boost::json::storage_ptr().get());
  EXPECT_EQ(boost::json::serialize(chat->tools[0].input_schema),
            R"({"type":"object","properties":{"q":{"type":"string"}}})");
  EXPECT_EQ(boost::json::serialize(chat->tool_choice), R"({"type":"tool","name":"lookup"})");
  EXPECT_EQ(boost::json::serialize(chat->passthrough), R"({"metadata":{"user_id":"u-2"}})");
}

TEST(JsonArena, ErrorsComeThroughTheDecoder) {
  auto decode = [](const boost::json::object& body) { return wire::openai::parse_chat_request(body); };
  EXPECT_EQ(http::decode_json_object(json_request("{\"model\":"), decode).error().code, ErrorCode::invalid_json);
  EXPECT_EQ(http::decode_json_object(json_request("[]"), decode).error().code, ErrorCode::invalid_request);
  EXPECT_EQ(http::decode_json_object(json_request(R"({"model":"auto"})"), decode).error().code,
            ErrorCode::invalid_request);
}

}  // namespace
