#include "cli/config_file.hpp"

#include <exception>
#include <iostream>

#include "classify/classifier.hpp"

namespace aegis::cli {

config::ValueChecks serve_checks() {
  return config::ValueChecks{.recognizer_pattern = &classify::custom_pattern_problem};
}

config::Config load_config(const std::string& path) { return config::load_config_file(path, nullptr, serve_checks()); }

int check_config(const std::string& path) {
  try {
    const auto cfg = load_config(path);
    // What serve builds from the classification section at start-up; a
    // problem no single value shows (the pattern database as a whole) is the
    // file's.
    classify::make_classifier(cfg.classification);
    std::cout << path << ": ok (" << cfg.providers.size() << " providers)\n";
    return 0;
  } catch (const config::ConfigError& e) {
    for (const auto& issue : e.issues()) std::cerr << issue.to_string() << "\n";
  } catch (const std::exception& e) {
    std::cerr << config::ConfigIssue{path, 0, 0, e.what()}.to_string() << "\n";
  }
  return 2;
}

}  // namespace aegis::cli
