#pragma once
// `aegis redact IMAGE|PDF -o OUT [--json] [--config FILE] [--internal-domain D]...`:
// reads an image or a PDF as the gateway does (OCR, the PDF text layer),
// classifies its text, and writes OUT with an opaque box over every value
// found, so a person can check what a cloud provider would be sent. Prints
// the level, each finding's type, placeholder and page, and whether a cloud
// provider would receive the file at all (never with RESTRICTED data); never
// the values or the text.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace aegis::cli {

class RedactCommand {
 public:
  explicit RedactCommand(CLI::App& app);
  bool parsed() const;
  // Returns the process exit code: 0 done, 2 bad usage, config or input.
  int run();

 private:
  CLI::App* redact_ = nullptr;
  bool json_ = false;
  std::string config_path_;
  std::vector<std::string> internal_domains_;
  std::string input_;
  std::string output_;
  int timeout_ms_ = 60'000;
};

}  // namespace aegis::cli
