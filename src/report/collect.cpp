#include "report/collect.hpp"

#include <algorithm>

namespace aegis::report {

namespace {

// The verifier's finding kinds by name (audit/chain_verifier.hpp).
std::string finding_kind_name(audit::FindingKind kind) {
  switch (kind) {
    case audit::FindingKind::edited: return "edited";
    case audit::FindingKind::broken_link: return "broken_link";
    case audit::FindingKind::missing_row: return "missing_row";
    case audit::FindingKind::reordered: return "reordered";
    case audit::FindingKind::truncated: return "truncated";
    case audit::FindingKind::head_mismatch: return "head_mismatch";
    case audit::FindingKind::bad_signature: return "bad_signature";
    case audit::FindingKind::unknown_key: return "unknown_key";
    case audit::FindingKind::unsigned_tail: return "unsigned_tail";
  }
  return "unknown";
}

}  // namespace

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
  bool tampered = false;
  bool unsigned_tail = false;
  for (const auto& finding : report.findings) {
    if (finding.kind == audit::FindingKind::unsigned_tail) {
      unsigned_tail = true;
    } else {
      tampered = true;
    }
    out.findings.push_back(ChainSection::Finding{finding_kind_name(finding.kind), finding.chain_id, finding.seq,
                                                 finding.checkpoint_id, finding.message});
  }
  out.status = tampered ? "tampered" : unsigned_tail ? "unsigned_tail" : "intact";
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
  if (sources.verify) {
    audit::VerifyOptions options;
    options.since_ms = request.month.since_ms;
    options.until_ms = request.month.until_ms;
    options.public_keys = sources.public_keys;
    inputs.chain = chain_section(sources.verify(options));
  } else {
    inputs.chain.error = "the audit chain verifier is not available to this report";
  }
  return builder.finish(inputs);
}

}  // namespace aegis::report
