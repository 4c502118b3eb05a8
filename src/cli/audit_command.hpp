#pragma once
// `aegis audit ...`: the audit trail of a local install, straight against its
// store. `export` runs the SIEM export loop (audit/export/exporter.hpp) the
// gateway runs in process, for deployments that export from one place (with
// PostgreSQL and several replicas: docs/OPERATIONS.md, "SIEM export").
// Further subcommands (verify) sit beside it, each with its own run_*.
#include <CLI/CLI.hpp>

#include <string>

namespace aegis::cli {

class AuditCommand {
 public:
  explicit AuditCommand(CLI::App& app);
  bool parsed() const;
  // Returns the process exit code: 0 ok; 1 the export did not finish (--once:
  // the sink kept failing); 2 bad configuration; 3 the store or the sink
  // could not be opened.
  int run(const std::string& fallback_config_path);

 private:
  int run_export(const std::string& config_path);

  CLI::App* audit_ = nullptr;
  CLI::App* export_ = nullptr;
  std::string config_path_;
  bool once_ = false;
  int once_limit_s_ = 300;
};

}  // namespace aegis::cli
