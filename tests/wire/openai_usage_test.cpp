// OpenAI usage objects: total_tokens is the sum of a provider's counts, which
// the parsers take as any non-negative int64 (found by fuzz/openai_fuzz.cpp:
// counts near INT64_MAX overflowed the sum).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "wire/openai.hpp"

namespace aegis::wire {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

Usage usage(std::int64_t in, std::int64_t out) {
  Usage u;
  u.input_tokens = in;
  u.output_tokens = out;
  return u;
}

std::int64_t total_tokens(const Usage& usage) {
  Completion c;
  c.usage = usage;
  return openai::write_chat_response(c, 1).at("usage").at("total_tokens").as_int64();
}

TEST(WireOpenAIUsage, TotalTokensIsTheSum) { EXPECT_EQ(total_tokens(usage(9, 12)), 21); }

TEST(WireOpenAIUsage, TotalTokensSaturatesInsteadOfOverflowing) {
  EXPECT_EQ(total_tokens(usage(kMax, 1)), kMax);
  EXPECT_EQ(total_tokens(usage(kMax - 3, 3)), kMax);
  EXPECT_EQ(total_tokens(usage(1, kMax)), kMax);
  EXPECT_EQ(total_tokens(usage(kMax - 3, 2)), kMax - 1);
}

TEST(WireOpenAIUsage, AStreamsUsageChunkSaturatesToo) {
  openai::StreamEncoder encoder(true, 1);
  StreamEvent finish;
  finish.kind = StreamEvent::Kind::finish;
  finish.usage = usage(kMax, kMax);
  EXPECT_NE(encoder.encode(finish).find("\"total_tokens\":9223372036854775807"), std::string::npos);
}

}  // namespace
}  // namespace aegis::wire
