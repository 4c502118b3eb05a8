#pragma once
// Where audit rows (audit/record.hpp) are kept, and the spend they carry:
// implemented by each store backend (store/sqlite, store/postgres).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "audit/chain.hpp"
#include "audit/record.hpp"
#include "core/money.hpp"
#include "core/result.hpp"

namespace aegis::audit {

// All-time compliance counts of the trail (the console's overview): the
// figures the monthly report (report/compliance_report.hpp) counts per month.
struct ComplianceTotals {
  std::int64_t violations = 0;     // rows of the pipeda_violations view
  std::int64_t egress_vetoes = 0;  // rows with egress_veto: cloud sends the independent detector stopped
  std::int64_t blocked_sends = 0;  // rows with egress_blocked: sends refused outright
};

struct AuditQuery {
  std::optional<std::string> team;
  std::optional<std::int64_t> since_ms;  // rows with time_ms >= since_ms
  int limit = 100;                       // 1..1000; newest first
  // Pages of one listing: an `until_ms` anchor (rows with time_ms <=
  // until_ms) keeps rows written after the first page from shifting the
  // later ones, and `offset` skips that many matching rows.
  std::optional<std::int64_t> until_ms;
  int offset = 0;                    // 0..kMaxAuditQueryOffset
  std::optional<std::string> level;  // "RESTRICTED", ...: rows of that classification only
  // HTTP statuses from..to, inclusive (e.g. 400..599 for errors).
  std::optional<int> status_min;
  std::optional<int> status_max;
};

inline constexpr int kMaxAuditQueryOffset = 1'000'000;

// Committed spend per team and budget period, kept in the same transaction
// as the audit rows that carry the costs, so the two always agree.
struct TeamSpend {
  std::string team;
  std::string period;  // "YYYY-MM"
  Money spent;
  std::int64_t requests = 0;
};

// Rows to visit in order. With chain_id: that chain's rows with seq >
// after_seq in seq order (the verifier, the SIEM export). Without: every
// chain's rows in [since_ms, until_ms) ordered by time_ms (reports).
struct AuditScan {
  std::optional<std::int64_t> since_ms;
  std::optional<std::int64_t> until_ms;
  std::optional<std::string> team;
  std::optional<std::string> chain_id;
  std::int64_t after_seq = 0;
  std::int64_t limit = 0;  // 0: no limit
};

// A chain as the store holds it: its rows' seq range, and the time_ms of its
// first and last rows (a chain's rows are in commit order, their times in
// arrival order: close, not sorted).
struct ChainSummary {
  std::string chain_id;
  std::int64_t first_seq = 0;
  std::int64_t last_seq = 0;
  std::int64_t rows = 0;
  std::int64_t first_time_ms = 0;
  std::int64_t last_time_ms = 0;
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
  // The three counts in one read. Not pure: only the store backends keep a
  // trail worth counting; test doubles answer that they do not.
  virtual Result<ComplianceTotals> compliance_totals() {
    return make_error(ErrorCode::unavailable, "this audit store keeps no compliance totals");
  }
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

  // Calls visit for each row the scan selects, in its order, until visit
  // returns false. Runs on the caller's thread; rows are read in pages, so a
  // scan of millions of rows holds few in memory.
  virtual Result<void> scan_audit(const AuditScan& scan, const std::function<bool(const StoredAuditRow&)>& visit) = 0;
  // Every chain with at least one row, by chain id.
  virtual Result<std::vector<ChainSummary>> list_chains() = 0;
  // The last committed link of a chain, or nothing when it has no row: where
  // a writer resumes its chain after a restart.
  virtual Result<std::optional<ChainLink>> chain_head(const std::string& chain_id) = 0;
  // Stores a signed checkpoint (its id is assigned); returns it with the id.
  virtual Result<Checkpoint> append_checkpoint(const Checkpoint& checkpoint) = 0;
  // Checkpoints by id; of one chain when chain_id is set.
  virtual Result<std::vector<Checkpoint>> list_checkpoints(const std::optional<std::string>& chain_id) = 0;
};

}  // namespace aegis::audit
