#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/client.hpp"

namespace aegis::http {
namespace {

using Events = std::vector<SseParser::Event>;

std::string show(const Events& events) {
  std::string out;
  for (const auto& e : events) out += "[" + e.event + "|" + e.data + "|" + e.id + "]";
  return out;
}

Events feed_all(std::initializer_list<std::string_view> chunks) {
  SseParser parser;
  Events out;
  for (auto chunk : chunks) {
    auto events = parser.feed(chunk);
    out.insert(out.end(), events.begin(), events.end());
  }
  return out;
}

// A stream with every kind of line ending, comments, multi-line data, ids,
// named events, unknown fields and a data line without a colon.
constexpr std::string_view kSample =
    ": keep-alive comment\r\n"
    "event: message_start\r\n"
    "data: {\"type\":\"message_start\"}\r\n"
    "\r\n"
    "data: line one\n"
    "data:line two\n"
    "data:  two spaces\n"
    "id: 42\n"
    "\n"
    "retry: 1000\r"
    "data: cr only\r"
    "\r"
    "unknown: field\n"
    "data\n"
    "\n"
    "event: ping\r\n"
    "data: {}\r\n"
    "\r\n"
    "data: unterminated";

TEST(SseParser, ParsesFieldsEventsAndLineEndings) {
  const auto events = feed_all({kSample});
  ASSERT_EQ(events.size(), 5u) << show(events);
  EXPECT_EQ(events[0].event, "message_start");
  EXPECT_EQ(events[0].data, "{\"type\":\"message_start\"}");
  EXPECT_EQ(events[0].id, "");
  EXPECT_EQ(events[1].event, "message");
  EXPECT_EQ(events[1].data, "line one\nline two\n two spaces");  // only one leading space is stripped
  EXPECT_EQ(events[1].id, "42");
  EXPECT_EQ(events[2].data, "cr only");
  EXPECT_EQ(events[2].id, "42");  // the last event id persists
  EXPECT_EQ(events[3].event, "message");
  EXPECT_EQ(events[3].data, "");  // "data" with no colon is an empty data line
  EXPECT_EQ(events[4].event, "ping");
  EXPECT_EQ(events[4].data, "{}");
}

TEST(SseParser, EveryChunkBoundaryGivesTheSameEvents) {
  const std::string expected = show(feed_all({kSample}));
  for (std::size_t i = 0; i <= kSample.size(); ++i) {
    EXPECT_EQ(show(feed_all({kSample.substr(0, i), kSample.substr(i)})), expected) << "split at " << i;
    for (std::size_t j = i; j <= kSample.size(); j += 7) {
      EXPECT_EQ(show(feed_all({kSample.substr(0, i), kSample.substr(i, j - i), kSample.substr(j)})), expected)
          << "split at " << i << " and " << j;
    }
  }
  // One byte at a time.
  SseParser parser;
  Events bytewise;
  for (char c : kSample) {
    auto events = parser.feed(std::string_view(&c, 1));
    bytewise.insert(bytewise.end(), events.begin(), events.end());
  }
  EXPECT_EQ(show(bytewise), expected);
  EXPECT_GT(parser.buffered(), 0u);  // "data: unterminated" is held, not emitted
}

TEST(SseParser, CrLfSplitAcrossChunksIsOneLineEnding) {
  // If the '\n' of "\r\n" were taken as a second (blank) line, the first
  // event would be dispatched before its second data line.
  const auto events = feed_all({"data: a\r", "\ndata: b\r", "\n\r", "\n"});
  ASSERT_EQ(events.size(), 1u) << show(events);
  EXPECT_EQ(events[0].data, "a\nb");
  // A lone '\r' followed by a chunk that starts with something else still ends the line.
  const auto cr = feed_all({"data: x\r", "\r"});
  ASSERT_EQ(cr.size(), 1u);
  EXPECT_EQ(cr[0].data, "x");
}

TEST(SseParser, CommentsAndEmptyEventsDispatchNothing) {
  EXPECT_TRUE(feed_all({": ping\n\n", ":\n\n", "event: lonely\n\n", "\n\n"}).empty());
  // The event name of an event without data does not leak into the next one.
  const auto events = feed_all({"event: lonely\n\ndata: hi\n\n"});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "message");
}

TEST(SseParser, OpenAiStyleStreamWithDoneMarker) {
  const auto events = feed_all({"data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
                                "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n"
                                "data: [DONE]\n\n"});
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].data, "[DONE]");
}

std::vector<std::string> ndjson_all(std::initializer_list<std::string_view> chunks, std::string* rest = nullptr) {
  NdjsonParser parser;
  std::vector<std::string> out;
  for (auto chunk : chunks) {
    auto lines = parser.feed(chunk);
    out.insert(out.end(), lines.begin(), lines.end());
  }
  if (rest) *rest = parser.take_rest();
  return out;
}

TEST(NdjsonParser, SplitsLinesSkipsBlanksAndKeepsTheTail) {
  std::string rest;
  const auto lines = ndjson_all({"{\"a\":1}\n\n{\"b\":", "2}\r\n   \n{\"c\":3}\n{\"done\":tr"}, &rest);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "{\"a\":1}");
  EXPECT_EQ(lines[1], "{\"b\":2}");
  EXPECT_EQ(lines[2], "{\"c\":3}");
  EXPECT_EQ(rest, "{\"done\":tr");
}

TEST(NdjsonParser, EveryChunkBoundaryGivesTheSameLines) {
  constexpr std::string_view sample =
      "{\"model\":\"llama3\",\"message\":{\"content\":\"Hi\"},\"done\":false}\n"
      "\r\n"
      "{\"model\":\"llama3\",\"message\":{\"content\":\" there\"},\"done\":false}\r\n"
      "{\"done\":true,\"eval_count\":12}\n";
  const auto expected = ndjson_all({sample});
  ASSERT_EQ(expected.size(), 3u);
  for (std::size_t i = 0; i <= sample.size(); ++i) {
    std::string rest;
    EXPECT_EQ(ndjson_all({sample.substr(0, i), sample.substr(i)}, &rest), expected) << "split at " << i;
    EXPECT_EQ(rest, "");
  }
  NdjsonParser parser;
  std::vector<std::string> bytewise;
  for (char c : sample) {
    auto lines = parser.feed(std::string_view(&c, 1));
    bytewise.insert(bytewise.end(), lines.begin(), lines.end());
  }
  EXPECT_EQ(bytewise, expected);
  EXPECT_EQ(parser.buffered(), 0u);
}

}  // namespace
}  // namespace aegis::http
