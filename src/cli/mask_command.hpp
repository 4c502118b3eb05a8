#pragma once
// `aegis mask [--json] [--config FILE] [--internal-domain D]... [--vault FILE] [--vault-out FILE] [FILE|-]`:
// the text with every detected value replaced by a typed placeholder (stdout)
// and the entities (stderr; with --json one object on stdout:
// {"masked","entities":[{"placeholder","type","start","end","value"}]}).
// `aegis unmask --vault FILE [FILE|-]`: the placeholders of the vault back to
// their values (tolerant of the ways models alter them).
// The vault file holds the original values: it is written with mode 0600.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace aegis::cli {

class MaskCommand {
 public:
  explicit MaskCommand(CLI::App& app);
  bool parsed() const;
  // Returns the process exit code: 0 done, 2 bad usage, config, vault or input.
  int run();

 private:
  int run_mask();
  int run_unmask();

  CLI::App* mask_ = nullptr;
  CLI::App* unmask_ = nullptr;
  bool json_ = false;
  std::string config_path_;
  std::vector<std::string> internal_domains_;
  std::string vault_in_;
  std::string vault_out_;
  std::string input_ = "-";
  std::string unmask_vault_;
  std::string unmask_input_ = "-";
};

}  // namespace aegis::cli
