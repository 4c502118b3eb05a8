// Masking and provider prompt caches (issue 19): a resent conversation's
// earlier turns must reach the provider byte for byte as before, or the
// provider's cached prefix is lost. Placeholders are handed out in the order
// the provider reads the request (tool definitions, system, messages), and a
// text block's cache_control survives masking.
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gateway/prompt.hpp"

namespace aegis::gateway {
namespace {

// Every occurrence of each value in the assembled prompt, as EMAIL_ADDRESS findings.
std::vector<classify::Finding> emails(const AssembledPrompt& prompt, const std::vector<std::string>& values) {
  std::vector<classify::Finding> out;
  for (const auto& v : values) {
    for (auto at = prompt.text.find(v); at != std::string::npos; at = prompt.text.find(v, at + 1)) {
      out.push_back(classify::Finding{"EMAIL_ADDRESS", Level::INTERNAL, at, at + v.size(), "email"});
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.start < b.start; });
  return out;
}

ChatRequest masked(const ChatRequest& request, const std::vector<std::string>& values) {
  const AssembledPrompt prompt = assemble_prompt(request);
  privacy::Vault vault;  // one per request, as the gateway has
  MaskCounts counts;
  return mask_request(request, prompt, emails(prompt, values), {}, vault, counts);
}

Message user(std::string text) {
  Message m;
  m.role = Role::user;
  m.text = std::move(text);
  return m;
}

ChatRequest turn_one() {
  ChatRequest r;
  ToolDefinition tool;
  tool.name = "escalate";
  tool.description = "Escalates to bob@ops.example.com";
  tool.input_schema = boost::json::object{{"type", "object"}};
  tool.cache_control = boost::json::object{{"type", "ephemeral"}};
  r.tools.push_back(std::move(tool));
  r.system = "Support desk.\nThe customer is alice@example.com";
  r.system_blocks = {TextBlock{"Support desk.", nullptr},
                     TextBlock{"The customer is alice@example.com", boost::json::object{{"type", "ephemeral"}}}};
  r.messages.push_back(user("My invoice went to alice@example.com, not dave@example.com."));
  return r;
}

TEST(PromptCacheMasking, EarlierTurnsAreMaskedTheSameWhenTheConversationIsResent) {
  const std::vector<std::string> values{"bob@ops.example.com", "alice@example.com", "dave@example.com",
                                        "carol@example.com"};
  const ChatRequest first = masked(turn_one(), values);

  ChatRequest second_request = turn_one();
  Message answer;
  answer.role = Role::assistant;
  answer.text = "I will resend it to alice@example.com.";
  second_request.messages.push_back(answer);
  second_request.messages.push_back(user("Copy carol@example.com as well."));
  const ChatRequest second = masked(second_request, values);

  // Tools, system and the first turn: identical in both requests.
  EXPECT_EQ(first.tools[0].description, "Escalates to EMAIL_ADDRESS_0");
  EXPECT_EQ(second.tools[0].description, first.tools[0].description);
  EXPECT_EQ(first.system, "Support desk.\nThe customer is EMAIL_ADDRESS_1");
  EXPECT_EQ(second.system, first.system);
  EXPECT_EQ(first.messages[0].text, "My invoice went to EMAIL_ADDRESS_1, not EMAIL_ADDRESS_2.");
  EXPECT_EQ(second.messages[0].text, first.messages[0].text);
  // The new turns reuse known values' placeholders and number new ones after them.
  EXPECT_EQ(second.messages[1].text, "I will resend it to EMAIL_ADDRESS_1.");
  EXPECT_EQ(second.messages[2].text, "Copy EMAIL_ADDRESS_3 as well.");
}

TEST(PromptCacheMasking, BlocksAreMaskedOneByOneAndKeepTheirCacheControl) {
  ChatRequest r = turn_one();
  const ChatRequest m = masked(r, {"bob@ops.example.com", "alice@example.com", "dave@example.com"});
  ASSERT_EQ(m.system_blocks.size(), 2u);
  EXPECT_EQ(m.system_blocks[0].text, "Support desk.");  // no entity: untouched
  EXPECT_TRUE(m.system_blocks[0].cache_control.is_null());
  EXPECT_EQ(m.system_blocks[1].text, "The customer is EMAIL_ADDRESS_1");
  EXPECT_EQ(boost::json::serialize(m.system_blocks[1].cache_control), R"({"type":"ephemeral"})");
  EXPECT_EQ(boost::json::serialize(m.tools[0].cache_control), R"({"type":"ephemeral"})");

  // A message kept as blocks: each block masked, the text joined again.
  Message blocks;
  blocks.role = Role::user;
  blocks.blocks = {TextBlock{"Contract for dave@example.com", boost::json::object{{"type", "ephemeral"}}},
                   TextBlock{"Summarise it.", nullptr}};
  blocks.text = join_blocks(blocks.blocks, text_separator(Role::user));
  r.messages.push_back(blocks);
  const ChatRequest mb = masked(r, {"dave@example.com"});
  const Message& out = mb.messages.back();
  ASSERT_EQ(out.blocks.size(), 2u);
  EXPECT_EQ(out.blocks[0].text, "Contract for EMAIL_ADDRESS_0");
  EXPECT_FALSE(out.blocks[0].cache_control.is_null());
  EXPECT_EQ(out.blocks[1].text, "Summarise it.");
  EXPECT_EQ(out.text, "Contract for EMAIL_ADDRESS_0\nSummarise it.");
}

}  // namespace
}  // namespace aegis::gateway
