#pragma once
// `aegis classify [--json] [--jsonl] [--config FILE] [--internal-domain D]... [FILE|-]`:
// the classification level and findings (type, level, byte offsets, rule) of
// a text; never the values themselves.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace aegis::cli {

class ClassifyCommand {
 public:
  explicit ClassifyCommand(CLI::App& app);
  bool parsed() const;
  // Returns the process exit code: 0 classified, 2 bad usage, config or input.
  int run();

 private:
  CLI::App* classify_ = nullptr;
  bool json_ = false;
  bool jsonl_ = false;
  bool marked_public_ = false;
  std::string config_path_;
  std::vector<std::string> internal_domains_;
  std::string input_ = "-";
};

}  // namespace aegis::cli
