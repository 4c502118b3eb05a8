#pragma once
// The monthly compliance report (docs/COMPLIANCE.md): what a privacy officer
// or an auditor reads to see that RESTRICTED data stayed on the local network
// in a month, what was masked, vetoed or refused, and whether the audit trail
// behind those figures verifies.
//
// The figures are a pure function of the month's audit rows and a few side
// inputs (the providers as configured, each team's cap and committed spend,
// the chain verification's outcome), so they can be checked without a store;
// report/collect.hpp reads those inputs from a store, report/render.hpp writes
// the report as HTML or Markdown, and report_json() as JSON.
#include <boost/json/object.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/record.hpp"
#include "config/config.hpp"
#include "core/money.hpp"
#include "core/result.hpp"

namespace aegis::report {

// A UTC calendar month: the rows whose time_ms is in [since_ms, until_ms).
struct ReportMonth {
  std::string text;  // "YYYY-MM"
  std::int64_t since_ms = 0;
  std::int64_t until_ms = 0;
  int days = 0;
};

// "YYYY-MM" (years 1970..9999); invalid_request with a message that says
// what was expected otherwise.
Result<ReportMonth> parse_month(std::string_view text);

// A team's cap (its monthly budget now: caps are not kept per month) and what
// it committed in the report's budget period.
struct TeamBudget {
  std::string team;
  std::optional<Money> cap;  // none: spend booked to a team the store no longer lists
  Money spent;
  std::int64_t requests = 0;
};

// The audit chain verification of the month's chains, as the report shows it.
struct ChainSection {
  // "intact": every row links and every checkpoint verifies; "unsigned_tail":
  // intact, with rows after the last checkpoint; "tampered": a finding other
  // than an unsigned tail; "unavailable": verification could not run (error).
  std::string status = "unavailable";
  std::int64_t chains = 0;
  std::int64_t rows = 0;
  std::vector<std::int64_t> checkpoint_ids;
  struct Finding {
    std::string kind;  // audit::to_string(FindingKind)
    std::string chain_id;
    std::int64_t seq = 0;
    std::int64_t checkpoint_id = 0;
    std::string message;
  };
  std::vector<Finding> findings;
  std::string error;  // why verification did not run
};

// What the report is of, and what it takes besides the rows.
struct ReportInputs {
  ReportMonth month;
  std::optional<std::string> team;  // only this team's rows and spend
  std::vector<config::ProviderConfig> providers;
  std::vector<TeamBudget> budgets;
  ChainSection chain;
  std::int64_t generated_at_ms = 0;
};

// A RESTRICTED row sent to a provider that is not local (the
// pipeda_violations view): who, when, where, and which entity types. Never
// content: the row holds none.
struct Violation {
  std::int64_t time_ms = 0;
  std::string request_id;
  std::string team;
  std::string key_id;
  std::string provider;
  std::string model;
  std::string locality;
  std::map<std::string, int> entities;
};

struct ProviderUse {
  std::string name;
  bool configured = false;      // named in the configuration the report was made with
  std::string type;             // as configured; "" when not configured
  std::string locality;         // as configured: "local" | "cloud"; "" when not configured
  std::string residency;        // as configured; "unspecified" when not declared
  std::int64_t requests = 0;    // rows that name it as the provider that answered or was last tried
  std::int64_t sent_local = 0;  // of those, rows whose data went to a local provider
  std::int64_t sent_cloud = 0;  // ... and to a cloud one
  std::int64_t restricted = 0;  // RESTRICTED rows among them
};

struct DayMix {
  std::string date;                        // "YYYY-MM-DD" (UTC)
  std::array<std::int64_t, 4> by_level{};  // indexed by Level
  std::int64_t restricted_local = 0;
  std::int64_t restricted_non_local = 0;
};

inline constexpr std::size_t kMaxListedViolations = 1000;

struct ComplianceReport {
  ReportMonth month;
  std::optional<std::string> team;
  std::int64_t generated_at_ms = 0;

  std::int64_t requests = 0;
  std::array<std::int64_t, 4> requests_by_level{};  // indexed by Level
  std::map<std::string, std::int64_t> requests_by_surface;
  // Administrators' actions on record (surfaces "admin.*": a key's rotation or
  // change, a breach register update), by surface: not requests, counted apart.
  std::map<std::string, std::int64_t> admin_actions;

  struct Restricted {
    std::int64_t total = 0;
    std::int64_t local = 0;
    std::int64_t non_local = 0;  // the invariant: must be 0
    std::int64_t not_sent = 0;   // refused or failed before any provider got data
  } restricted;
  std::vector<Violation> violations;  // the first kMaxListedViolations, in time order

  std::int64_t egress_vetoes = 0;  // cloud sends the independent detector stopped (the request then ran locally)
  std::map<std::string, std::int64_t> vetoes_by_rule;
  std::int64_t blocked_sends = 0;  // sends refused outright (egress_blocked)
  std::map<std::string, std::int64_t> blocked_by_provider;

  // Entity types found in requests whose values were masked before a cloud
  // send (rows with placeholders), type -> count; masked_values sums the
  // placeholders themselves.
  std::map<std::string, std::int64_t> masked_entities;
  std::int64_t masked_requests = 0;
  std::int64_t masked_values = 0;
  std::int64_t invented_pii = 0;

  std::vector<ProviderUse> providers;

  // Every step of a fallback path that is not "ok", by "provider:outcome".
  std::map<std::string, std::int64_t> incidents;
  std::int64_t incident_requests = 0;   // rows with at least one such step
  std::int64_t breaker_open_steps = 0;  // steps skipped because a circuit breaker was open

  std::int64_t budget_rejections = 0;  // 402 / budget_exceeded
  std::map<std::string, std::int64_t> budget_rejections_by_team;
  std::vector<TeamBudget> spend;

  std::vector<DayMix> daily;  // one per day of the month, zeros included
  ChainSection chain;

  bool invariant_holds() const noexcept { return restricted.non_local == 0; }
};

// Adds the rows of a month one at a time (a month may hold millions: nothing
// but the counts is kept), then finishes the report with the side inputs.
class ReportBuilder {
 public:
  ReportBuilder(ReportMonth month, std::optional<std::string> team);
  // Rows outside the month, or of another team when the report is one team's,
  // are ignored: the figures are the month's whatever a caller hands in.
  void add(const audit::AuditRecord& row);
  ComplianceReport finish(const ReportInputs& inputs) const;

 private:
  ComplianceReport report_;
  std::map<std::string, ProviderUse> providers_;
};

ComplianceReport build_compliance_report(const ReportInputs& inputs, const std::vector<audit::AuditRecord>& rows);

// The JSON form (docs/COMPLIANCE.md lists its fields).
boost::json::object report_json(const ComplianceReport& report);

// "RESTRICTED" etc. in Level order, for the renderers.
inline constexpr std::array<Level, 4> kLevels{Level::PUBLIC, Level::INTERNAL, Level::CONFIDENTIAL, Level::RESTRICTED};

// True when a row's data went somewhere that is not the local network: the
// pipeda_violations view's rule (locality neither "local" nor "", nothing sent).
bool sent_off_the_local_network(const audit::AuditRecord& row) noexcept;

}  // namespace aegis::report
