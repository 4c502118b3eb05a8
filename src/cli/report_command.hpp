#pragma once
// `aegis report compliance --month YYYY-MM [--team T] --format html|json|md
// [--config FILE] [-o FILE]`: the monthly compliance report
// (docs/COMPLIANCE.md) straight from the store the config names, as
// `aegis admin` opens it. Exit 0 written, 1 the store could not be read or the
// output not written, 2 bad usage or config.
#include <CLI/CLI.hpp>

#include <string>

namespace aegis::cli {

class ReportCommand {
 public:
  explicit ReportCommand(CLI::App& app);
  bool parsed() const;
  int run(const std::string& fallback_config_path);

 private:
  CLI::App* report_ = nullptr;
  CLI::App* compliance_ = nullptr;
  std::string month_;
  std::string team_;
  std::string format_;
  std::string config_path_;
  std::string output_path_;
};

}  // namespace aegis::cli
