// Request limits (core/request_limits.hpp, config `limits:`) in every parser
// of a client request: OpenAI chat and embeddings, Anthropic messages and
// POST /v1/jobs. Over a limit is 400 naming it; exactly at it passes.
#include "core/request_limits.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <string>

#include "core/json.hpp"
#include "jobs/job_request.hpp"
#include "wire/anthropic.hpp"
#include "wire/openai.hpp"

namespace aegis {
namespace {

namespace json = boost::json;

// n copies of `item` as a JSON array text.
std::string array_of(std::size_t n, const std::string& item) {
  std::string out = "[";
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) out += ',';
    out += item;
  }
  return out + "]";
}

std::string user_messages(std::size_t n) { return array_of(n, R"({"role":"user","content":"hi"})"); }

template <class T>
std::string rejection(const Result<T>& r) {
  if (r.ok()) {
    ADD_FAILURE() << "accepted";
    return {};
  }
  EXPECT_EQ(r.error().code, ErrorCode::invalid_request);
  return r.error().message;
}

RequestLimits small() {
  RequestLimits l;
  l.max_messages = 3;
  l.max_tools = 2;
  l.max_stop_sequences = 2;
  l.max_embedding_inputs = 4;
  l.max_text_bytes = 1024;
  return l;
}

TEST(RequestLimits, CheckNamesTheFieldTheCountAndTheConfigKey) {
  EXPECT_TRUE(check_item_limit("input", 2048, 2048, "max_embedding_inputs").ok());
  auto over = check_item_limit("input", 100000, 2048, "max_embedding_inputs");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::invalid_request);
  EXPECT_EQ(over.error().message, "input has 100000 items; the limit is 2048 (limits.max_embedding_inputs)");
  TextTally text(10);
  EXPECT_TRUE(text.add(4).ok());
  EXPECT_TRUE(text.add(6).ok());
  auto past = text.add(1);
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.error().message, "the request's text has at least 11 bytes; the limit is 10 (limits.max_text_bytes)");
  EXPECT_TRUE(TextTally(RequestLimits::unlimited().max_text_bytes).add(std::size_t(-1)).ok());
}

TEST(RequestLimits, EmbeddingInputsAtTheLimitPassAndOneMoreIsRefused) {
  const auto at =
      wire::openai::parse_embed_request(json::parse(R"({"model":"m","input":)" + array_of(4, R"("x")") + "}"), small());
  ASSERT_TRUE(at.ok()) << at.error().message;
  EXPECT_EQ(at->inputs.size(), 4u);
  EXPECT_EQ(rejection(wire::openai::parse_embed_request(
                json::parse(R"({"model":"m","input":)" + array_of(5, R"("x")") + "}"), small())),
            "input has 5 items; the limit is 4 (limits.max_embedding_inputs)");
}

TEST(RequestLimits, HundredThousandEmbeddingInputsAreRefusedByTheDefaults) {
  const json::value body = json::parse(R"({"model":"m","input":)" + array_of(100'000, R"("some text")") + "}");
  EXPECT_EQ(rejection(wire::openai::parse_embed_request(body)),
            "input has 100000 items; the limit is 2048 (limits.max_embedding_inputs)");
  // Refused on the array's size, before any input is looked at: an invalid item past the limit is never reached.
  const json::value mixed = json::parse(R"({"model":"m","input":)" + array_of(2049, "1") + "}");
  EXPECT_EQ(rejection(wire::openai::parse_embed_request(mixed)),
            "input has 2049 items; the limit is 2048 (limits.max_embedding_inputs)");
  const auto at =
      wire::openai::parse_embed_request(json::parse(R"({"model":"m","input":)" + array_of(2048, R"("x")") + "}"));
  EXPECT_TRUE(at.ok());
}

TEST(RequestLimits, EmbeddingTextIsCountedAcrossInputs) {
  const std::string half(512, 'a');
  const auto at = wire::openai::parse_embed_request(
      json::parse(R"({"model":"m","input":[")" + half + R"(",")" + half + R"("]})"), small());
  EXPECT_TRUE(at.ok());
  EXPECT_EQ(rejection(wire::openai::parse_embed_request(
                json::parse(R"({"model":"m","input":[")" + half + R"(",")" + half + R"(","b"]})"), small())),
            "the request's text has at least 1025 bytes; the limit is 1024 (limits.max_text_bytes)");
  EXPECT_EQ(rejection(wire::openai::parse_embed_request(
                json::parse(R"({"model":"m","input":")" + std::string(1025, 'a') + R"("})"), small())),
            "the request's text has at least 1025 bytes; the limit is 1024 (limits.max_text_bytes)");
}

TEST(RequestLimits, OpenAiChatMessagesToolsAndStop) {
  const auto parse = [](const std::string& body) {
    return wire::openai::parse_chat_request(json::parse(body), small());
  };
  EXPECT_TRUE(parse(R"({"model":"m","messages":)" + user_messages(3) + "}").ok());
  EXPECT_EQ(rejection(parse(R"({"model":"m","messages":)" + user_messages(4) + "}")),
            "messages has 4 items; the limit is 3 (limits.max_messages)");
  // system/developer entries count: they are entries of the array a client sent.
  EXPECT_EQ(rejection(parse(R"({"model":"m","messages":[{"role":"system","content":"s"},)"
                            R"({"role":"developer","content":"d"},{"role":"user","content":"a"},)"
                            R"({"role":"user","content":"b"}]})")),
            "messages has 4 items; the limit is 3 (limits.max_messages)");

  const std::string tool = R"({"type":"function","function":{"name":"f","parameters":{"type":"object"}}})";
  EXPECT_TRUE(parse(R"({"model":"m","messages":)" + user_messages(1) + R"(,"tools":)" + array_of(2, tool) + "}").ok());
  EXPECT_EQ(
      rejection(parse(R"({"model":"m","messages":)" + user_messages(1) + R"(,"tools":)" + array_of(3, tool) + "}")),
      "tools has 3 items; the limit is 2 (limits.max_tools)");
  // The tools are counted before any message is converted.
  EXPECT_EQ(rejection(parse(R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":)" +
                            array_of(3, R"("not even a tool")") + "}")),
            "tools has 3 items; the limit is 2 (limits.max_tools)");

  EXPECT_TRUE(parse(R"({"model":"m","messages":)" + user_messages(1) + R"(,"stop":["a","b"]})").ok());
  EXPECT_TRUE(parse(R"({"model":"m","messages":)" + user_messages(1) + R"(,"stop":"a"})").ok());
  EXPECT_EQ(rejection(parse(R"({"model":"m","messages":)" + user_messages(1) + R"(,"stop":["a","b","c"]})")),
            "stop has 3 items; the limit is 2 (limits.max_stop_sequences)");
}

TEST(RequestLimits, OpenAiChatTextCountsEveryField) {
  const auto parse = [](const std::string& body) {
    return wire::openai::parse_chat_request(json::parse(body), small());
  };
  const std::string k500(500, 'k');
  // system + user + tool-call arguments + tool description + stop, together.
  const std::string body_at =
      R"({"model":"m","messages":[{"role":"system","content":")" + k500 +
      R"("},)"
      R"({"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":")" +
      std::string(250, 'a') + R"("}}]},{"role":"user","content":")" + std::string(200, 'u') +
      R"("}],)"
      R"("tools":[{"type":"function","function":{"name":"g","description":")" +
      std::string(60, 'd') +
      R"("}}],)"
      R"("stop":[")" +
      std::string(12, 's') + R"("]})";
  // 500 + (1 + 250) + 200 + (1 + 60) + 12 = 1024
  EXPECT_TRUE(parse(body_at).ok()) << rejection(parse(body_at));
  std::string body_over = body_at;
  body_over.replace(body_over.find("\"stop\":[\"") + 9, 0, "s");
  EXPECT_EQ(rejection(parse(body_over)),
            "the request's text has at least 1025 bytes; the limit is 1024 (limits.max_text_bytes)");
}

TEST(RequestLimits, AnthropicMessagesToolsStopSequencesAndText) {
  const auto parse = [](const std::string& body) {
    return wire::anthropic::parse_chat_request(json::parse(body), small());
  };
  const std::string head = R"({"model":"m","max_tokens":10,)";
  EXPECT_TRUE(parse(head + R"("messages":)" + user_messages(3) + "}").ok());
  EXPECT_EQ(rejection(parse(head + R"("messages":)" + user_messages(4) + "}")),
            "messages has 4 items; the limit is 3 (limits.max_messages)");

  const std::string tool = R"({"name":"f","input_schema":{"type":"object"}})";
  EXPECT_TRUE(parse(head + R"("messages":)" + user_messages(1) + R"(,"tools":)" + array_of(2, tool) + "}").ok());
  EXPECT_EQ(rejection(parse(head + R"("messages":)" + user_messages(1) + R"(,"tools":)" + array_of(3, tool) + "}")),
            "tools has 3 items; the limit is 2 (limits.max_tools)");

  EXPECT_TRUE(parse(head + R"("messages":)" + user_messages(1) + R"(,"stop_sequences":["a","b"]})").ok());
  EXPECT_EQ(rejection(parse(head + R"("messages":)" + user_messages(1) + R"(,"stop_sequences":["a","b","c"]})")),
            "stop_sequences has 3 items; the limit is 2 (limits.max_stop_sequences)");

  // system + text blocks + tool_use input + tool_result text.
  const std::string body_at =
      head + R"("system":")" + std::string(500, 's') +
      R"(","messages":[)"
      R"({"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{"q":")" +
      std::string(250, 'q') +
      R"("}}]},)"
      R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":")" +
      std::string(100, 'r') + R"("},{"type":"text","text":")" + std::string(164, 'u') + R"("}]}]})";
  // 500 + (1 + 258 for {"q":"..."}) + 100 + 164 = 1023
  EXPECT_TRUE(parse(body_at).ok()) << rejection(parse(body_at));
  std::string body_over = body_at;
  body_over.replace(body_over.find("\"text\",\"text\":\"") + 15, 0, "uu");
  EXPECT_EQ(rejection(parse(body_over)),
            "the request's text has at least 1025 bytes; the limit is 1024 (limits.max_text_bytes)");
}

TEST(RequestLimits, DefaultLimitsAcceptOrdinaryRequests) {
  EXPECT_TRUE(
      wire::openai::parse_chat_request(json::parse(R"({"model":"m","messages":)" + user_messages(2048) + "}")).ok());
  EXPECT_EQ(rejection(wire::openai::parse_chat_request(
                json::parse(R"({"model":"m","messages":)" + user_messages(2049) + "}"))),
            "messages has 2049 items; the limit is 2048 (limits.max_messages)");
}

TEST(RequestLimits, JobSubmitsAreBoundButStoredJobsAreNot) {
  const auto parse = [](const std::string& body, const RequestLimits& limits) {
    return jobs::parse_job_request(json::parse(body).as_object(), limits);
  };
  const std::string head = R"({"task_type":"t","max_tokens":8,)";
  auto at = parse(head + R"("messages":)" + user_messages(3) + "}", small());
  ASSERT_TRUE(at.ok()) << at.error().message;
  EXPECT_EQ(rejection(parse(head + R"("messages":)" + user_messages(4) + "}", small())),
            "messages has 4 items; the limit is 3 (limits.max_messages)");
  EXPECT_TRUE(parse(head + R"("prompt":")" + std::string(1024, 'p') + R"("})", small()).ok());
  EXPECT_EQ(rejection(parse(head + R"("prompt":")" + std::string(1025, 'p') + R"("})", small())),
            "the request's text has at least 1025 bytes; the limit is 1024 (limits.max_text_bytes)");
  EXPECT_EQ(rejection(parse(head + R"("messages":[{"role":"system","content":")" + std::string(1000, 's') +
                                R"("},{"role":"user","content":")" + std::string(30, 'u') + R"("}]})",
                            small())),
            "the request's text has at least 1030 bytes; the limit is 1024 (limits.max_text_bytes)");
  // A job admitted under larger limits still runs after a restart with smaller ones.
  auto big = parse(head + R"("messages":)" + user_messages(10) + "}", RequestLimits{});
  ASSERT_TRUE(big.ok());
  EXPECT_TRUE(jobs::parse_stored_job_request(jobs::to_stored_json(*big)).ok());
}

}  // namespace
}  // namespace aegis
