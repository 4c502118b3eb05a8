// libFuzzer target: the config loader (config/loader.hpp) on arbitrary YAML
// text, with an environment of fixed values (set, empty, unset, a 256-bit
// key, a value that is itself a ${REF}) and a recognizer-pattern check that
// refuses some patterns. parse_config returns a Config or throws ConfigError;
// anything else (another exception, a crash, undefined behaviour) is a bug.
// A ConfigError carries at least one issue, each naming the file with a
// message, sorted by position, and what() lists them all; a Config names its
// source. Parsing the same text twice gives the same outcome.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "config/loader.hpp"

namespace {

using aegis::config::ConfigError;

constexpr const char* kFile = "fuzz.yaml";

[[noreturn]] void fail(std::string_view what) {
  std::fprintf(stderr, "config_fuzz: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

const char* fixed_env(const char* name) {
  const std::string_view n(name);
  if (n.find("UNSET") != std::string_view::npos) return nullptr;
  if (n.find("EMPTY") != std::string_view::npos) return "";
  if (n.find("REF") != std::string_view::npos) return "${REF}";  // never substituted again
  if (n.find("KEY") != std::string_view::npos)
    return "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  if (n.find("URL") != std::string_view::npos) return "https://llm.example.test:8443/v1";
  return "fixed value";
}

const aegis::config::ValueChecks& checks() {
  static const aegis::config::ValueChecks c{[](const std::string& pattern) -> std::optional<std::string> {
    if (pattern.empty() || pattern.find("(?<") != std::string::npos) return "not a pattern the engine takes";
    return std::nullopt;
  }};
  return c;
}

// The outcome as text: every issue, or a summary of the Config.
std::string outcome(const std::string& text) {
  try {
    const auto cfg = aegis::config::parse_config(text, kFile, &fixed_env, checks());
    if (cfg.source != kFile) fail("a Config that does not name its source");
    std::string out = "ok:" + cfg.server.host + ":" + std::to_string(cfg.server.port);
    for (const auto& p : cfg.providers) out += "|" + p.name;
    out += "|chain:";
    for (const auto& name : cfg.routing.fallback_chain) out += name + ",";
    return out;
  } catch (const ConfigError& e) {
    const auto& issues = e.issues();
    if (issues.empty()) fail("a ConfigError without issues");
    std::string joined;
    for (std::size_t i = 0; i < issues.size(); ++i) {
      const auto& issue = issues[i];
      if (issue.file != kFile || issue.message.empty() || issue.line < 0 || issue.column < 0) {
        fail("an issue without its file, its message or a valid position");
      }
      if (i > 0 && std::pair(issue.line, issue.column) < std::pair(issues[i - 1].line, issues[i - 1].column)) {
        fail("issues not sorted by position");
      }
      if (i > 0) joined += '\n';
      joined += issue.to_string();
    }
    // what() is a C string: it ends at the first NUL a key or value brought in.
    if (std::string_view(e.what()) != std::string_view(joined).substr(0, joined.find('\0'))) {
      fail("what() is not the issues");
    }
    return joined;
  } catch (const std::exception& e) {
    fail(std::string("an exception other than ConfigError: ") + e.what());
  } catch (...) {
    fail("an exception other than ConfigError");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (outcome(text) != outcome(text)) fail("two parses of the same text disagree");
  return 0;
}
