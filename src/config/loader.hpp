#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace aegis::config {

// One problem in a config file, positioned for people: "file:line:col: message".
struct ConfigIssue {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string message;
  std::string to_string() const;
};

// Thrown only at start-up; carries every issue found, not just the first.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<ConfigIssue> issues);
  const std::vector<ConfigIssue>& issues() const noexcept { return issues_; }

 private:
  std::vector<ConfigIssue> issues_;
};

// The URLs oidc.issuers[] may name (issuer, discovery_url), and the jwks_uri
// a discovery document may: https, or plain http to 127.0.0.1, [::1] or
// localhost only; no query, fragment or user info.
bool is_oidc_url(std::string_view s);

// The built-in default (no file): SQLite at ./data/aegis.db, 127.0.0.1:8080.
Config default_config();

// Checks on values that need more than config/ has (a regex engine). Each
// returns why a value is refused, or nothing; a refusal is an issue at the
// value's position. cli/config_file.hpp passes the ones `aegis serve` applies.
struct ValueChecks {
  // classification.custom_recognizers[].pattern
  std::function<std::optional<std::string>(const std::string& pattern)> recognizer_pattern;
};

// Parse YAML text; `file` names it in messages. `${VAR}` references are
// resolved through `getenv` (injectable for tests). Throws ConfigError.
using EnvLookup = const char* (*)(const char*);
Config parse_config(const std::string& yaml_text, const std::string& file, EnvLookup getenv_fn = nullptr,
                    const ValueChecks& checks = {});
Config load_config_file(const std::string& path, EnvLookup getenv_fn = nullptr, const ValueChecks& checks = {});

}  // namespace aegis::config
