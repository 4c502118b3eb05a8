// The `limits:` section (core/request_limits.hpp): defaults, values, errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "config/loader.hpp"

namespace aegis::config {
namespace {

using ::testing::HasSubstr;

const char* no_env(const char*) { return nullptr; }

std::vector<std::string> issues_of(const std::string& yaml) {
  try {
    parse_config(yaml, "l.yaml", &no_env);
  } catch (const ConfigError& e) {
    std::vector<std::string> out;
    for (const auto& issue : e.issues()) out.push_back(issue.to_string());
    return out;
  }
  ADD_FAILURE() << "expected a ConfigError for:\n" << yaml;
  return {};
}

TEST(ConfigLimits, DefaultsAreTheDocumentedOnes) {
  const Config c = parse_config("", "l.yaml", &no_env);
  EXPECT_EQ(c.limits.max_messages, 2048u);
  EXPECT_EQ(c.limits.max_tools, 128u);
  EXPECT_EQ(c.limits.max_stop_sequences, 16u);
  EXPECT_EQ(c.limits.max_embedding_inputs, 2048u);
  EXPECT_EQ(c.limits.max_text_bytes, 4u * 1024 * 1024);
  const Config empty_section = parse_config("limits:\n", "l.yaml", &no_env);
  EXPECT_EQ(empty_section.limits.max_embedding_inputs, 2048u);
}

TEST(ConfigLimits, EveryKeyIsRead) {
  const Config c = parse_config(
      "limits:\n  max_messages: 10\n  max_tools: 2\n  max_stop_sequences: 1\n  max_embedding_inputs: 3\n"
      "  max_text_bytes: 1024\n",
      "l.yaml", &no_env);
  EXPECT_EQ(c.limits.max_messages, 10u);
  EXPECT_EQ(c.limits.max_tools, 2u);
  EXPECT_EQ(c.limits.max_stop_sequences, 1u);
  EXPECT_EQ(c.limits.max_embedding_inputs, 3u);
  EXPECT_EQ(c.limits.max_text_bytes, 1024u);
}

TEST(ConfigLimits, ExampleFileSpellsOutTheDefaults) {
  // Every secret the example references: a key, or the Azure endpoint URL.
  const Config c = load_config_file(std::string(AEGIS_SOURCE_DIR) + "/examples/aegis.yaml", [](const char* name) {
    return std::string_view(name) == "AZURE_OPENAI_ENDPOINT" ? "https://unit.openai.azure.com" : "k";
  });
  EXPECT_EQ(c.limits.max_messages, RequestLimits{}.max_messages);
  EXPECT_EQ(c.limits.max_tools, RequestLimits{}.max_tools);
  EXPECT_EQ(c.limits.max_stop_sequences, RequestLimits{}.max_stop_sequences);
  EXPECT_EQ(c.limits.max_embedding_inputs, RequestLimits{}.max_embedding_inputs);
  EXPECT_EQ(c.limits.max_text_bytes, RequestLimits{}.max_text_bytes);
}

TEST(ConfigLimits, OutOfRangeValuesArePositionedIssues) {
  EXPECT_EQ(issues_of("limits:\n  max_embedding_inputs: 0\n"),
            std::vector<std::string>{
                "l.yaml:2:25: limits.max_embedding_inputs: expected an integer in 1..1000000, got \"0\""});
  EXPECT_EQ(issues_of("limits:\n  max_text_bytes: 100\n"),
            std::vector<std::string>{
                "l.yaml:2:19: limits.max_text_bytes: expected an integer in 1024..1073741824, got \"100\""});
  EXPECT_THAT(issues_of("limits:\n  max_messages: many\n").at(0), HasSubstr("l.yaml:2:17: limits.max_messages"));
  EXPECT_THAT(issues_of("limits:\n  max_tools: -1\n").at(0), HasSubstr("limits.max_tools"));
  EXPECT_THAT(issues_of("limits:\n  max_stop_sequences: 1.5\n").at(0), HasSubstr("limits.max_stop_sequences"));
  EXPECT_THAT(issues_of("limits: 5\n").at(0), HasSubstr("limits: expected a mapping"));
}

TEST(ConfigLimits, UnknownKeysAreRejectedWithASuggestion) {
  const auto issues = issues_of("limits:\n  max_message: 10\n  max_inputs: 5\n");
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0], "l.yaml:2:3: limits.max_message: unknown key; did you mean \"max_messages\"?");
  EXPECT_THAT(issues[1], HasSubstr("l.yaml:3:3: limits.max_inputs: unknown key"));
}

}  // namespace
}  // namespace aegis::config
