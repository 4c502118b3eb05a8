#pragma once
// GET /admin/v1/reports/compliance: the monthly compliance report
// (docs/COMPLIANCE.md) as JSON, HTML or Markdown. Credential::admin_key; the
// month's rows are read on the database executor, never on an I/O thread.
#include <map>
#include <string>
#include <vector>

#include "audit/audit_writer.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "http/router.hpp"
#include "store/database.hpp"
#include "store/db_executor.hpp"

namespace aegis::api {

struct ReportContext {
  store::Database& store;
  store::DbExecutor& db;
  const Clock& clock;
  // The providers the gateway runs with (their locality and residency); the
  // report keeps neither keys nor URLs of them.
  std::vector<config::ProviderConfig> providers;
  // Flushed first, so requests already answered are in the report (not owned; may be null).
  audit::AuditWriter* audit_writer = nullptr;
  // Keys trusted for the audit checkpoints' signatures: key_fingerprint ->
  // raw Ed25519 public key (the gateway's own signing key).
  std::map<std::string, std::string> public_keys;
  // audit.checkpoint_file: the outside copy the chains are also held to.
  std::string checkpoint_file;
};

void register_report_routes(http::Router& router, const ReportContext& context);

}  // namespace aegis::api
