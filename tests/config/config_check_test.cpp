// `aegis config check` and `aegis serve` load the file the same way
// (cli/config_file.hpp): custom recognizer patterns are compiled as the
// classifier compiles them, and a refusal is positioned at the pattern.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "classify/classifier.hpp"
#include "cli/config_file.hpp"

namespace aegis::cli {
namespace {

class ConfigFileTest : public ::testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove(path_); }

  // The issues loading `yaml` gives, formatted; empty when it loads.
  std::vector<std::string> issues_of(const std::string& yaml) {
    std::ofstream(path_) << yaml;
    try {
      load_config(path_.string());
    } catch (const config::ConfigError& e) {
      std::vector<std::string> out;
      for (const auto& issue : e.issues()) out.push_back(issue.to_string());
      return out;
    }
    return {};
  }

  std::string recognizer(const std::string& pattern) {
    return "classification:\n  custom_recognizers:\n    - name: employee_id\n      pattern: '" + pattern +
           "'\n      entity_type: EMPLOYEE_ID\n";
  }

  std::filesystem::path path_ =
      std::filesystem::temp_directory_path() / ("aegis-config-file-" + std::to_string(::getpid()) + ".yaml");
};

TEST_F(ConfigFileTest, PatternsRe2RefusesAreIssuesAtThePattern) {
  const auto issues = issues_of(recognizer("EMP-(\\d{6}"));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0], path_.string() +
                           ":4:16: classification.custom_recognizers[0].pattern: invalid pattern: missing ): "
                           "EMP-(\\d{6}");
}

TEST_F(ConfigFileTest, PatternsThatMatchTheEmptyStringAreRefusedAsServeRefusesThem) {
  const auto issues = issues_of(recognizer("x*"));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0],
            path_.string() + ":4:16: classification.custom_recognizers[0].pattern: pattern matches the empty string");
}

TEST_F(ConfigFileTest, WhatTheCheckAcceptsTheClassifierBuilds) {
  // RE2 syntax Vectorscan cannot compile still loads: the classifier runs it on RE2 alone.
  for (const std::string pattern : {"EMP-\\d{6}", "(?U)TKT-\\d+", "[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}"}) {
    EXPECT_TRUE(issues_of(recognizer(pattern)).empty()) << pattern;
    EXPECT_FALSE(classify::custom_pattern_problem(pattern).has_value()) << pattern;
  }
  std::ofstream(path_) << recognizer("(?U)TKT-\\d+");
  EXPECT_NO_THROW(classify::make_classifier(load_config(path_.string()).classification));
}

TEST_F(ConfigFileTest, TheCheckAndTheClassifierGiveTheSameReason) {
  for (const std::string pattern : {"EMP-(\\d{6}", "(a)\\1", "x*"}) {
    const auto problem = classify::custom_pattern_problem(pattern);
    ASSERT_TRUE(problem.has_value()) << pattern;
    config::ClassificationConfig cfg;
    cfg.custom_recognizers.push_back(config::CustomRecognizer{"r", pattern, "R", Level::INTERNAL, "", {}});
    try {
      classify::make_classifier(cfg);
      ADD_FAILURE() << "the classifier accepted " << pattern;
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()), "custom recognizer 'r': " + *problem);
    }
  }
}

}  // namespace
}  // namespace aegis::cli
