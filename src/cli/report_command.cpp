#include "cli/report_command.hpp"

#include <chrono>
#include <fstream>
#include <iostream>

#include "audit/signing_key.hpp"
#include "cli/local_store.hpp"
#include "core/json.hpp"
#include "core/system_clock.hpp"
#include "report/collect.hpp"
#include "report/render.hpp"
#include "store/factory.hpp"

namespace aegis::cli {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

}  // namespace

ReportCommand::ReportCommand(CLI::App& app) {
  report_ = app.add_subcommand("report", "Reports for auditors, read from the local store");
  report_->require_subcommand(1);
  compliance_ =
      report_->add_subcommand("compliance",
                              "The monthly compliance report: where RESTRICTED data ran, violations, masking, vetoes, "
                              "incidents, budgets and the audit chain's verification");
  compliance_->add_option("--month", month_, "UTC calendar month, YYYY-MM (e.g. 2026-11)")->required();
  compliance_->add_option("--team", team_, "only this team's requests and spend");
  compliance_->add_option("--format", format_, "html | json | md")
      ->required()
      ->check(CLI::IsMember({"html", "json", "md"}));
  compliance_->add_option("--config", config_path_, "YAML config file naming the store (default: built-in)");
  compliance_->add_option("-o,--output", output_path_, "write the report to this file instead of stdout");
}

bool ReportCommand::parsed() const { return report_->parsed(); }

int ReportCommand::run(const std::string& fallback_config_path) {
  auto month = report::parse_month(month_);
  if (!month.ok()) {
    std::cerr << "aegis report: " << month.error().message << "\n";
    return kExitUsage;
  }
  int exit_code = kExitOk;
  auto local = open_local_store(config_path_.empty() ? fallback_config_path : config_path_, "aegis report", exit_code);
  if (!local) return exit_code;

  report::ReportRequest request;
  request.month = std::move(month).value();
  if (!team_.empty()) request.team = team_;
  request.now_ms = SystemClock::instance().wall_ms();
  report::ReportSources sources;
  sources.providers = local->config.providers;
  sources.checkpoint_file = local->config.audit.checkpoint_file;
  try {
    sources.public_keys =
        audit::configured_public_keys(local->config.audit, store::audit_key_path(local->config.storage));
  } catch (const std::exception& e) {
    std::cerr << "aegis report: " << e.what() << "\n";
    return kExitUsage;
  }
  auto built = report::collect_compliance_report(*local->store, sources, request);
  if (!built.ok()) {
    std::cerr << "aegis report: " << built.error().message << "\n";
    return kExitFailed;
  }

  std::string text;
  if (format_ == "html") {
    text = report::render_html(built.value());
  } else if (format_ == "md") {
    text = report::render_markdown(built.value());
  } else {
    text = to_json(report::report_json(built.value())) + "\n";
  }
  if (output_path_.empty()) {
    std::cout << text;
    std::cout.flush();
    return std::cout ? kExitOk : kExitFailed;
  }
  std::ofstream out(output_path_, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) {
    std::cerr << "aegis report: cannot write " << output_path_ << "\n";
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace aegis::cli
