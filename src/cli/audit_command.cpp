#include "cli/audit_command.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <tuple>

#include "audit/chain_verifier.hpp"
#include "audit/checkpoint_file.hpp"
#include "audit/export/exporter.hpp"
#include "audit/signing_key.hpp"
#include "cli/local_store.hpp"
#include "core/system_clock.hpp"
#include "core/time_format.hpp"
#include "store/factory.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::cli {

namespace {

namespace json = boost::json;

constexpr int kExitUsage = 2;
// `aegis audit export`'s other exit codes.
constexpr int kExitExportIncomplete = 1;
constexpr int kExitExportStartup = 3;

// RFC 3339, or a date (YYYY-MM-DD, midnight UTC).
std::optional<std::int64_t> parse_time(const std::string& text) {
  if (auto t = parse_rfc3339_ms(text)) return t;
  return parse_rfc3339_ms(text + "T00:00:00Z");
}

json::object report_json(const audit::VerifyReport& report) {
  json::array findings;
  for (const auto& f : report.findings) {
    json::object item{{"kind", std::string(audit::to_string(f.kind))},
                      {"chain_id", f.chain_id},
                      {"seq", f.seq},
                      {"message", f.message}};
    if (f.checkpoint_id != 0) item["checkpoint_id"] = f.checkpoint_id;
    findings.push_back(std::move(item));
  }
  json::array ids;
  for (auto id : report.checkpoint_ids) ids.push_back(id);
  return json::object{{"intact", report.intact()},
                      {"exit_code", report.exit_code()},
                      {"chains", report.chains},
                      {"rows", report.rows},
                      {"retired_chains", report.retired_chains},
                      {"checkpoint_ids", std::move(ids)},
                      {"findings", std::move(findings)},
                      {"seconds", report.seconds}};
}

}  // namespace

AuditCommand::AuditCommand(CLI::App& app) {
  audit_ = app.add_subcommand("audit", "Check the tamper-evident audit trail, or export it to a SIEM");
  audit_->require_subcommand(1);
  verify_ = audit_->add_subcommand(
      "verify", "Walk every audit chain: row hashes, links, order, checkpoints and their signatures");
  verify_->add_option("--config", config_path_, "YAML config file naming the store (default: built-in)");
  verify_->add_option("--since", since_, "only chains with rows at or after this time (RFC 3339 or YYYY-MM-DD)");
  verify_->add_option("--until", until_, "only chains with rows before this time (RFC 3339 or YYYY-MM-DD)");
  verify_->add_option("--public-key", public_key_files_,
                      "PEM public key to trust for checkpoint signatures (repeatable; default: the configured "
                      "signing key's)");
  verify_->add_option("--checkpoint-file", checkpoint_file_,
                      "the outside copy of the checkpoints to hold the store to (default: audit.checkpoint_file "
                      "when that file exists)");
  verify_->add_flag("--json", json_, "print the result as one JSON object");
  verify_->add_flag("--record", record_,
                    "record each tampering found in the breach register (aegis breaches list), once per finding");

  export_ = audit_->add_subcommand(
      "export", "Stream audit rows and checkpoints to the sink audit.export configures, from the saved cursor");
  export_->add_option("--config", config_path_, "YAML config file naming the store and audit.export");
  export_->add_flag("--once", once_, "export what the store holds now, then exit (retrying a failing sink)");
  export_->add_option("--retry-for", once_limit_s_, "with --once: seconds to keep retrying a failing sink")
      ->check(CLI::Range(1, 86'400));
}

bool AuditCommand::parsed() const { return audit_->parsed(); }

int AuditCommand::run() {
  if (verify_->parsed()) return verify();
  if (export_->parsed()) return export_trail();
  return kExitUsage;
}

int AuditCommand::verify() {
  audit::VerifyOptions options;
  for (const auto& [flag, text, slot] :
       {std::tuple{"--since", &since_, &options.since_ms}, std::tuple{"--until", &until_, &options.until_ms}}) {
    if (text->empty()) continue;
    *slot = parse_time(*text);
    if (!*slot) {
      std::cerr << "aegis audit verify: " << flag << " expects RFC 3339 or YYYY-MM-DD, got '" << *text << "'\n";
      return kExitUsage;
    }
  }
  int exit_code = 0;
  auto local = open_local_store(config_path_, "aegis audit verify", exit_code);
  if (!local) return exit_code == 1 ? kExitUsage : exit_code;
  try {
    if (public_key_files_.empty()) {
      options.public_keys =
          audit::configured_public_keys(local->config.audit, store::audit_key_path(local->config.storage));
    }
    for (const auto& file : public_key_files_) {
      std::ifstream in(file);
      std::stringstream pem;
      pem << in.rdbuf();
      auto raw = audit::public_key_from_pem(pem.str());
      if (!in || !raw.ok()) {
        std::cerr << "aegis audit verify: --public-key " << file << ": not a readable PEM Ed25519 key\n";
        return kExitUsage;
      }
      options.public_keys.emplace(audit::key_fingerprint(*raw), *raw);
    }
  } catch (const std::exception& e) {
    std::cerr << "aegis audit verify: " << e.what() << "\n";
    return kExitUsage;
  }
  options.retained_from_ms = audit::retained_from_ms(
      local->config.storage.audit_retention_months,
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  // Checkpoints the store no longer has (deleted with the rows they sealed)
  // show only against the copy kept outside it.
  const bool named = !checkpoint_file_.empty();
  auto outside = named ? audit::read_checkpoint_file(checkpoint_file_)
                       : audit::read_configured_checkpoint_file(local->config.audit.checkpoint_file);
  if (!outside.ok()) {
    std::cerr << "aegis audit verify: " << outside.error().message << "\n";
    return kExitUsage;
  }
  options.outside_checkpoints = std::move(*outside);
  auto report = audit::verify_audit_chains(*local->store, options);
  if (!report.ok()) {
    std::cerr << "aegis audit verify: " << report.error().message << "\n";
    return kExitUsage;
  }
  if (record_) {
    const auto now =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    auto recorded = audit::record_chain_failures(*local->store, *report, now, /*include_unknown_keys=*/true);
    if (!recorded.ok()) {
      std::cerr << "aegis audit verify: cannot record in the breach register: " << recorded.error().message << "\n";
      return kExitUsage;
    }
    if (!json_ && *recorded > 0) std::cout << "recorded " << *recorded << " new breach register entries\n";
  }
  if (json_) {
    std::cout << json::serialize(report_json(*report)) << "\n";
    return report->exit_code();
  }
  for (const auto& f : report->findings) {
    std::cout << (f.kind == audit::FindingKind::unsigned_tail ? "note: " : "FAILED: ") << f.message << "\n";
  }
  std::cout << (report->intact() ? "intact: " : "TAMPERED: ") << report->rows << " rows in " << report->chains
            << " chains, " << report->checkpoint_ids.size() << " checkpoints";
  if (named || !options.outside_checkpoints.empty()) {
    std::cout << " (held to " << options.outside_checkpoints.size() << " in the outside copy)";
  }
  std::cout << ", verified in " << report->seconds << " s\n";
  return report->exit_code();
}

int AuditCommand::export_trail() {
  // SIGINT and SIGTERM are taken by sigwait below, not by a handler: blocked
  // here, before the exporter's thread starts, so that thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (!once_) pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  int exit_code = 0;
  auto local = open_local_store(config_path_, "aegis audit export", exit_code);
  if (!local) return exit_code == 1 ? kExitExportStartup : exit_code;
  const auto& cfg = local->config;
  if (cfg.audit.export_to.type.empty()) {
    std::cerr << "aegis audit export: audit.export.type is not set in " << cfg.source << "\n";
    return kExitUsage;
  }
  if (!telemetry::init_logging(cfg.logging.level)) {
    std::cerr << "aegis audit export: unknown logging.level '" << cfg.logging.level << "'\n";
    return kExitUsage;
  }
  telemetry::Registry metrics;
  std::unique_ptr<audit::siem::AuditExporter> exporter;
  try {
    exporter = audit::siem::make_audit_exporter(cfg, *local->store, metrics, SystemClock::instance());
  } catch (const std::exception& e) {
    std::cerr << "aegis audit export: " << e.what() << "\n";
    return kExitExportStartup;
  }

  if (once_) {
    const auto started = std::chrono::steady_clock::now();
    auto done = exporter->export_pending_retrying(std::chrono::seconds(once_limit_s_));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const auto total = exporter->exported();
    std::cout << "exported " << total.rows << " rows and " << total.checkpoints << " checkpoints in " << seconds
              << " s";
    if (seconds > 0 && total.rows > 0) {
      std::cout << " (" << static_cast<std::int64_t>(static_cast<double>(total.rows) / seconds) << " rows/s)";
    }
    std::cout << "\n";
    if (!done.ok()) {
      std::cerr << "aegis audit export: " << done.error().message << "\n";
      return kExitExportIncomplete;
    }
    return 0;
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
  return 0;
}

}  // namespace aegis::cli
