#pragma once
// Test helpers for config loader tests: the issues a YAML document produces.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.hpp"

namespace aegis::test_support {

// The issues a document produces; fails the test when it parses cleanly.
inline std::vector<config::ConfigIssue> config_issues(const std::string& yaml, config::EnvLookup env) {
  try {
    config::parse_config(yaml, "t.yaml", env);
  } catch (const config::ConfigError& e) {
    return e.issues();
  }
  ADD_FAILURE() << "expected a ConfigError for:\n" << yaml;
  return {};
}

// Exactly one issue, returned formatted.
inline std::string one_config_issue(const std::string& yaml, config::EnvLookup env) {
  const auto issues = config_issues(yaml, env);
  if (issues.size() != 1) {
    std::string all;
    for (const auto& i : issues) all += "\n  " + i.to_string();
    ADD_FAILURE() << "expected exactly one issue, got " << issues.size() << ":" << all;
    return issues.empty() ? std::string() : issues[0].to_string();
  }
  return issues[0].to_string();
}

}  // namespace aegis::test_support
