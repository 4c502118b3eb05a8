#include "cli/audit_command.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <tuple>

#include "audit/chain_verifier.hpp"
#include "audit/signing_key.hpp"
#include "cli/local_store.hpp"
#include "core/time_format.hpp"
#include "store/factory.hpp"

namespace aegis::cli {

namespace {

namespace json = boost::json;

constexpr int kExitUsage = 2;

// RFC 3339, or a date (YYYY-MM-DD, midnight UTC).
std::optional<std::int64_t> parse_time(const std::string& text) {
  if (auto t = parse_rfc3339_ms(text)) return t;
  return parse_rfc3339_ms(text + "T00:00:00Z");
}

// The first day of the oldest month retention keeps (storage.audit_retention_months).
std::optional<std::int64_t> retained_from(const config::StorageConfig& storage) {
  if (storage.audit_retention_months <= 0) return std::nullopt;
  using namespace std::chrono;
  const year_month_day today(floor<days>(system_clock::now()));
  const year_month oldest = year_month(today.year(), today.month()) - months(storage.audit_retention_months);
  return duration_cast<milliseconds>(sys_days(oldest / 1).time_since_epoch()).count();
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
  audit_ = app.add_subcommand("audit", "Check the tamper-evident audit trail");
  audit_->require_subcommand(1);
  verify_ = audit_->add_subcommand(
      "verify", "Walk every audit chain: row hashes, links, order, checkpoints and their signatures");
  verify_->add_option("--config", config_path_, "YAML config file naming the store (default: built-in)");
  verify_->add_option("--since", since_, "only chains with rows at or after this time (RFC 3339 or YYYY-MM-DD)");
  verify_->add_option("--until", until_, "only chains with rows before this time (RFC 3339 or YYYY-MM-DD)");
  verify_->add_option("--public-key", public_key_files_,
                      "PEM public key to trust for checkpoint signatures (repeatable; default: the configured "
                      "signing key's)");
  verify_->add_flag("--json", json_, "print the result as one JSON object");
}

bool AuditCommand::parsed() const { return audit_->parsed(); }

int AuditCommand::run() {
  if (verify_->parsed()) return verify();
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
  options.retained_from_ms = retained_from(local->config.storage);
  auto report = audit::verify_audit_chains(*local->store, options);
  if (!report.ok()) {
    std::cerr << "aegis audit verify: " << report.error().message << "\n";
    return kExitUsage;
  }
  if (json_) {
    std::cout << json::serialize(report_json(*report)) << "\n";
    return report->exit_code();
  }
  for (const auto& f : report->findings) {
    std::cout << (f.kind == audit::FindingKind::unsigned_tail ? "note: " : "FAILED: ") << f.message << "\n";
  }
  std::cout << (report->intact() ? "intact: " : "TAMPERED: ") << report->rows << " rows in " << report->chains
            << " chains, " << report->checkpoint_ids.size() << " checkpoints, verified in " << report->seconds
            << " s\n";
  return report->exit_code();
}

}  // namespace aegis::cli
