#pragma once
// Reads what the compliance report needs from a store: the month's audit rows
// (AuditStore::scan_audit), every team's cap and committed spend for the
// month, and the verification of the month's audit chains
// (audit::verify_audit_chains). Blocking: call it on a database thread
// (store::DbExecutor) or from the command line, never on an I/O thread.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "audit/chain_verifier.hpp"
#include "config/config.hpp"
#include "report/compliance_report.hpp"
#include "store/database.hpp"

namespace aegis::report {

struct ReportRequest {
  ReportMonth month;
  std::optional<std::string> team;
  std::int64_t now_ms = 0;
};

struct ReportSources {
  // The providers as configured: their locality and residency.
  std::vector<config::ProviderConfig> providers;
  // The keys trusted for checkpoint signatures: key_fingerprint -> raw
  // Ed25519 public key (audit::configured_public_keys, or the gateway's own).
  std::map<std::string, std::string> public_keys;
  // audit.checkpoint_file (empty for none): the outside copy of the
  // checkpoints that the chains are held to as well.
  std::string checkpoint_file;
};

// The chain section for a verification's outcome.
ChainSection chain_section(const Result<audit::VerifyReport>& verified);

// An error only when the rows or the spend cannot be read: a failed chain
// verification is a finding of the report, not a failure to make it.
Result<ComplianceReport> collect_compliance_report(store::Database& store, const ReportSources& sources,
                                                   const ReportRequest& request);

}  // namespace aegis::report
