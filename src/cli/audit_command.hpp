#pragma once
// `aegis audit verify`: walks every audit chain of the configured store and
// checks each row's hash, each link and every checkpoint's signature
// (audit/chain_verifier.hpp). Exit codes for scripts: 0 intact and sealed,
// 3 intact with rows not yet sealed, 1 tampering found, 2 could not verify.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace aegis::cli {

class AuditCommand {
 public:
  explicit AuditCommand(CLI::App& app);
  bool parsed() const;
  int run();

 private:
  int verify();

  CLI::App* audit_ = nullptr;
  CLI::App* verify_ = nullptr;
  std::string config_path_;
  std::string since_;
  std::string until_;
  std::vector<std::string> public_key_files_;
  bool json_ = false;
};

}  // namespace aegis::cli
