#include "rag/answer_events.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace aegis::rag {
namespace {

namespace json = boost::json;

// (event name, data object) for each SSE block of `text`.
std::vector<std::pair<std::string, json::object>> parse_sse(const std::string& text) {
  std::vector<std::pair<std::string, json::object>> events;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto end = text.find("\n\n", at);
    EXPECT_NE(end, std::string::npos) << "an event not ended by a blank line: " << text.substr(at);
    if (end == std::string::npos) break;
    const std::string block = text.substr(at, end - at);
    at = end + 2;
    const auto newline = block.find('\n');
    EXPECT_EQ(block.rfind("event: ", 0), 0U) << block;
    EXPECT_EQ(block.find('\n', newline + 1), std::string::npos) << "one data line per event: " << block;
    EXPECT_EQ(block.compare(newline + 1, 6, "data: "), 0) << block;
    events.emplace_back(block.substr(7, newline - 7), json::parse(block.substr(newline + 7)).as_object());
  }
  return events;
}

StreamEvent start(std::string model, std::int64_t input_tokens = 0) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::start;
  e.model = std::move(model);
  e.usage.input_tokens = input_tokens;
  return e;
}

StreamEvent text(std::string t) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::text;
  e.text = std::move(t);
  return e;
}

StreamEvent finish(std::int64_t input_tokens, std::int64_t output_tokens) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::finish;
  e.usage.input_tokens = input_tokens;
  e.usage.output_tokens = output_tokens;
  return e;
}

gateway::Route route() {
  gateway::Route r;
  r.provider = "ollama";
  r.model = "qwen2.5:14b";
  return r;
}

TEST(AnswerEvents, ChunksFirstThenDeltasThenDoneWithTheSameIds) {
  AnswerEvents events;
  events.set_chunks({"chk_a", "chk_b"});
  std::string out;
  out += events.encode(start("qwen2.5:14b-reported"), route());
  out += events.encode(text("Echo: "), route());
  out += events.encode(text(""), route());
  out += events.encode(text("line one\nline \"two\""), route());
  out += events.encode(finish(12, 7), route());
  EXPECT_TRUE(events.done());
  const auto parsed = parse_sse(out);
  ASSERT_EQ(parsed.size(), 4U) << out;
  EXPECT_EQ(parsed[0].first, "chunks");
  EXPECT_EQ(json::value(parsed[0].second), json::parse(R"({"chunk_ids":["chk_a","chk_b"]})"));
  EXPECT_EQ(parsed[1].first, "delta");
  EXPECT_EQ(parsed[1].second.at("text"), "Echo: ");
  EXPECT_EQ(parsed[2].first, "delta");
  EXPECT_EQ(parsed[2].second.at("text"), "line one\nline \"two\"");
  EXPECT_EQ(parsed[3].first, "done");
  EXPECT_EQ(json::value(parsed[3].second),
            json::parse(R"({"chunk_ids":["chk_a","chk_b"],"model":"qwen2.5:14b-reported","provider":"ollama",
                            "usage":{"input_tokens":12,"output_tokens":7}})"));
}

TEST(AnswerEvents, TheChunksEventGoesWithWhateverComesFirstAndOnlyOnce) {
  AnswerEvents events;
  events.set_chunks({});
  const auto first = parse_sse(events.encode(text("hi"), route()));
  ASSERT_EQ(first.size(), 2U);
  EXPECT_EQ(first[0].first, "chunks");
  EXPECT_TRUE(first[0].second.at("chunk_ids").as_array().empty());
  const auto second = parse_sse(events.encode(text("there"), route()));
  ASSERT_EQ(second.size(), 1U);
  EXPECT_EQ(second[0].first, "delta");
}

TEST(AnswerEvents, InputTokensFromTheStartEventWhenTheFinishHasNoneAndTheRoutesModelWhenTheStartHasNone) {
  AnswerEvents events;
  events.set_chunks({"chk_a"});
  std::string out = events.encode(start("", 40), route());
  out += events.encode(text("x"), route());
  out += events.encode(finish(0, 3), route());
  const auto parsed = parse_sse(out);
  ASSERT_EQ(parsed.back().first, "done");
  EXPECT_EQ(parsed.back().second.at("model"), "qwen2.5:14b");
  EXPECT_EQ(parsed.back().second.at("usage").at("input_tokens"), 40);
  EXPECT_EQ(parsed.back().second.at("usage").at("output_tokens"), 3);
}

TEST(AnswerEvents, AnErrorEndsTheStreamAndNothingFollowsDoneOrError) {
  AnswerEvents events;
  events.set_chunks({"chk_a"});
  std::string out = events.encode(text("partial"), route());
  out += events.error(R"({"error":{"type":"upstream_error","message":"cut","request_id":"req_1"}})");
  EXPECT_TRUE(events.done());
  EXPECT_EQ(events.encode(text("late"), route()), "");
  EXPECT_EQ(events.encode(finish(1, 1), route()), "");
  EXPECT_EQ(events.error(R"({"error":{}})"), "");
  const auto parsed = parse_sse(out);
  ASSERT_EQ(parsed.size(), 3U);
  EXPECT_EQ(parsed[2].first, "error");
  EXPECT_EQ(parsed[2].second.at("error").at("type"), "upstream_error");

  AnswerEvents finished;
  finished.set_chunks({});
  (void)finished.encode(finish(1, 1), route());
  EXPECT_EQ(finished.error(R"({"error":{}})"), "") << "no error after done";
}

TEST(AnswerEvents, ToolCallEventsShowNothing) {
  AnswerEvents events;
  events.set_chunks({"chk_a"});
  (void)events.encode(text("a"), route());
  StreamEvent tool;
  tool.kind = StreamEvent::Kind::tool_call_start;
  tool.tool_call.name = "lookup";
  EXPECT_EQ(events.encode(tool, route()), "");
  tool.kind = StreamEvent::Kind::tool_call_delta;
  tool.text = "{}";
  EXPECT_EQ(events.encode(tool, route()), "");
}

}  // namespace
}  // namespace aegis::rag
