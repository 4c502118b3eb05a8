#pragma once
// `aegis audit verify`: walks every audit chain of the configured store and
// checks each row's hash, each link and every checkpoint's signature
// (audit/chain_verifier.hpp). Exit codes for scripts: 0 intact and sealed,
// 3 intact with rows not yet sealed, 1 tampering found, 2 could not verify.
//
// `aegis audit export [--once]`: the SIEM export loop (audit/export/exporter.hpp)
// the gateway runs in process, against the configured store, for deployments
// that export from one place (PostgreSQL with several replicas: docs/CONFIG.md,
// audit). Until SIGINT/SIGTERM, or with --once until what the store holds now
// is exported. Exit codes: 0 done, 1 the sink kept failing (--once), 2 bad
// configuration, 3 the store or the sink could not be opened.
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
  int export_trail();

  CLI::App* audit_ = nullptr;
  CLI::App* verify_ = nullptr;
  CLI::App* export_ = nullptr;
  std::string config_path_;
  std::string since_;
  std::string until_;
  std::vector<std::string> public_key_files_;
  std::string checkpoint_file_;
  bool json_ = false;
  bool once_ = false;
  int once_limit_s_ = 300;
  bool record_ = false;
};

}  // namespace aegis::cli
