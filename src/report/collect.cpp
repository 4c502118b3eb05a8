#include "report/collect.hpp"

#include <algorithm>

#include "audit/checkpoint_file.hpp"

namespace aegis::report {

ChainSection chain_section(const Result<audit::VerifyReport>& verified) {
  ChainSection out;
  if (!verified.ok()) {
    out.status = "unavailable";
    out.error = verified.error().message;
    return out;
  }
  const audit::VerifyReport& report = verified.value();
  out.chains = report.chains;
  out.rows = report.rows;
  out.checkpoint_ids = report.checkpoint_ids;
  for (const auto& finding : report.findings) {
    out.findings.push_back(ChainSection::Finding{std::string(audit::to_string(finding.kind)), finding.chain_id,
                                                 finding.seq, finding.checkpoint_id, finding.message});
  }
  out.status = !report.intact() ? "tampered" : report.exit_code() == 0 ? "intact" : "unsigned_tail";
  return out;
}

Result<ComplianceReport> collect_compliance_report(store::Database& store, const ReportSources& sources,
                                                   const ReportRequest& request) {
  ReportBuilder builder(request.month, request.team);
  audit::AuditScan scan;
  scan.since_ms = request.month.since_ms;
  scan.until_ms = request.month.until_ms;
  scan.team = request.team;
  AEGIS_TRY_VOID(store.scan_audit(scan, [&builder](const audit::StoredAuditRow& row) {
    builder.add(row.record);
    return true;
  }));

  AEGIS_TRY(teams, store.list_teams());
  AEGIS_TRY(spend, store.load_spend(request.month.text));
  std::map<std::string, TeamBudget> budgets;
  for (const auto& team : teams) budgets[team.name] = TeamBudget{team.name, team.monthly_budget, Money{}, 0};
  for (const auto& booked : spend) {
    TeamBudget& budget = budgets[booked.team];
    budget.team = booked.team;
    budget.spent = booked.spent;
    budget.requests = booked.requests;
  }

  ReportInputs inputs;
  inputs.month = request.month;
  inputs.team = request.team;
  inputs.providers = sources.providers;
  for (auto& [name, budget] : budgets) inputs.budgets.push_back(std::move(budget));
  inputs.generated_at_ms = request.now_ms;
  // The chains whose rows meet the month, each walked whole.
  audit::VerifyOptions options;
  options.since_ms = request.month.since_ms;
  options.until_ms = request.month.until_ms;
  options.public_keys = sources.public_keys;
  auto outside = audit::read_configured_checkpoint_file(sources.checkpoint_file);
  if (outside.ok()) options.outside_checkpoints = std::move(*outside);
  inputs.chain = chain_section(outside.ok() ? audit::verify_audit_chains(store, options)
                                            : Result<audit::VerifyReport>(outside.error()));
  return builder.finish(inputs);
}

}  // namespace aegis::report
