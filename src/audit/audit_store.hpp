#pragma once
// Where audit rows (audit/record.hpp) are kept, and the spend they carry:
// implemented by each store backend (store/sqlite, store/postgres).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/record.hpp"
#include "core/money.hpp"
#include "core/result.hpp"

namespace aegis::audit {

struct AuditQuery {
  std::optional<std::string> team;
  std::optional<std::int64_t> since_ms;  // rows with time_ms >= since_ms
  int limit = 100;                       // 1..1000; newest first
};

// Committed spend per team and budget period, kept in the same transaction
// as the audit rows that carry the costs, so the two always agree.
struct TeamSpend {
  std::string team;
  std::string period;  // "YYYY-MM"
  Money spent;
  std::int64_t requests = 0;
};

class AuditStore {
 public:
  virtual ~AuditStore() = default;
  // Appends the rows in one transaction and adds each row's cost (when its
  // budget_period is set) to that team's spend for the period.
  virtual Result<void> append_audit(const std::vector<AuditRecord>& rows) = 0;
  virtual Result<std::vector<AuditRecord>> query_audit(const AuditQuery& query) = 0;
  // Rows of the pipeda_violations view (RESTRICTED rows sent to a non-local provider).
  virtual Result<std::int64_t> count_pipeda_violations() = 0;
  // Committed spend of every team in `period`.
  virtual Result<std::vector<TeamSpend>> load_spend(const std::string& period) = 0;
  // At start-up, before spend is loaded: turns every intent left by a process
  // that died (AuditRecord::intent) into an audit row with status 0 and
  // error_type "outcome_unknown", booking its reservation as the cost (the
  // provider may have billed; over-booking is the safe side of a cap). A
  // store one process owns takes every intent it finds (all are orphaned);
  // a shared one only those of processes presumed dead.
  // Returns how many rows it recovered.
  virtual Result<std::int64_t> recover_pending() = 0;
};

}  // namespace aegis::audit
