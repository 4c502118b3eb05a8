#include "cli/audit_command.hpp"

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <iostream>
#include <memory>

#include "audit/export/exporter.hpp"
#include "cli/config_file.hpp"
#include "core/system_clock.hpp"
#include "store/factory.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::cli {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitIncomplete = 1;
constexpr int kExitConfig = 2;
constexpr int kExitStartup = 3;

}  // namespace

AuditCommand::AuditCommand(CLI::App& app) {
  audit_ = app.add_subcommand("audit", "The audit trail: export it to a SIEM");
  audit_->require_subcommand(1);
  export_ = audit_->add_subcommand(
      "export", "Stream audit rows and checkpoints to the sink audit.export configures, from the saved cursor");
  export_->add_option("--config", config_path_, "YAML config file (default: serve's --config, else built-in)");
  export_->add_flag("--once", once_, "export what the store holds now, then exit (retrying a failing sink)");
  export_->add_option("--retry-for", once_limit_s_, "with --once: seconds to keep retrying a failing sink")
      ->check(CLI::Range(1, 86'400));
}

bool AuditCommand::parsed() const { return audit_->parsed(); }

int AuditCommand::run(const std::string& fallback_config_path) {
  const std::string path = config_path_.empty() ? fallback_config_path : config_path_;
  if (export_->parsed()) return run_export(path);
  return kExitConfig;
}

int AuditCommand::run_export(const std::string& config_path) {
  config::Config cfg;
  try {
    cfg = config_path.empty() ? config::default_config() : load_config(config_path);
  } catch (const config::ConfigError& e) {
    for (const auto& issue : e.issues()) std::cerr << issue.to_string() << "\n";
    return kExitConfig;
  }
  if (cfg.audit.export_to.type.empty()) {
    std::cerr << "aegis audit export: audit.export.type is not set in " << cfg.source << "\n";
    return kExitConfig;
  }
  if (!telemetry::init_logging(cfg.logging.level)) {
    std::cerr << "aegis audit export: unknown logging.level '" << cfg.logging.level << "'\n";
    return kExitConfig;
  }
  // SIGINT and SIGTERM are taken by sigwait below, not by a handler: blocked
  // here, before the exporter's thread starts, so that thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (!once_) pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  telemetry::Registry metrics;
  std::unique_ptr<store::Database> store;
  std::unique_ptr<audit::siem::AuditExporter> exporter;
  try {
    store = store::open_store(cfg.storage);
    exporter = audit::siem::make_audit_exporter(cfg, *store, metrics, SystemClock::instance());
  } catch (const std::exception& e) {
    std::cerr << "aegis audit export: " << e.what() << "\n";
    return kExitStartup;
  }

  const auto started = std::chrono::steady_clock::now();
  if (once_) {
    auto done = exporter->export_pending_retrying(std::chrono::seconds(once_limit_s_));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const auto total = exporter->exported();
    std::cout << "exported " << total.rows << " rows and " << total.checkpoints << " checkpoints in " << seconds
              << " s";
    if (seconds > 0 && total.rows > 0)
      std::cout << " (" << static_cast<std::int64_t>(total.rows / seconds) << " rows/s)";
    std::cout << "\n";
    if (!done.ok()) {
      std::cerr << "aegis audit export: " << done.error().message << "\n";
      return kExitIncomplete;
    }
    return kExitOk;
  }

  telemetry::log(telemetry::LogLevel::info, "audit_export_started", {{"type", cfg.audit.export_to.type}});
  exporter->start();
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  telemetry::log(telemetry::LogLevel::info, "shutdown", {{"signal", signal_number}});
  exporter->stop();
  const auto total = exporter->exported();
  telemetry::log(telemetry::LogLevel::info, "audit_export_stopped",
                 {{"rows", total.rows}, {"checkpoints", total.checkpoints}});
  telemetry::flush_logs();
  return kExitOk;
}

}  // namespace aegis::cli
