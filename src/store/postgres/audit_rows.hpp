#pragma once
// The one place that writes audit rows and their spend to PostgreSQL, shared
// by every store that records a request: the audit store (the audit writer's
// batches) and the job store (a job run's row commits in the transaction that
// records the run). The PostgreSQL counterpart of store/sqlite/audit_rows.hpp.
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "audit/breach_store.hpp"
#include "audit/chain_writer.hpp"
#include "audit/record.hpp"
#include "store/postgres/pg.hpp"

namespace aegis::store::postgres {

// The audit columns as a SELECT reads them back (JSON as text), in the order
// read_audit_row expects.
inline constexpr const char* kAuditSelect =
    "time_ms, request_id, team, key_id, surface, task, level, entities::text, placeholders, tier, provider, model, "
    "locality, reason, fallback_path::text, status, error_type, input_tokens, output_tokens, cost_micros, "
    "budget_period, latency_us, overhead_us, invented_pii, egress_blocked, egress_veto, egress_rule, "
    "cache_read_tokens, cache_write_tokens, cache_hit";

// Inside the caller's open transaction: links each final row into its chain
// through `chain` (committed by the caller once the transaction has), inserts the final rows into `audit`
// (multi-row statements) and adds their costs to `budget_spend`; a row with an
// intent_seq deletes that intent of `intent_owner`; an intent row goes to
// `audit_pending` under `intent_owner` and books nothing. The costs are also
// booked against `lease_owner`'s budget leases (store/budget_pool.hpp), where
// it holds one: the replica whose slice paid for them (empty: none). Each
// final row's month partition must exist (AuditPartitions::ensure).
// What insert_audit_rows runs, for a caller that frames them in a pipeline
// of its own (PostgresStore::append_audit: BEGIN, these, COMMIT in one round trip).
Result<std::vector<pg::Statement>> audit_row_statements(std::span<const audit::AuditRecord> rows,
                                                        const std::string& intent_owner, const std::string& lease_owner,
                                                        audit::ChainWriter::Batch& chain,
                                                        const audit::ChainWriter::HeadLoader& load_head);
Result<void> insert_audit_rows(pg::Session& session, const pg::Pool& pool, std::span<const audit::AuditRecord> rows,
                               const std::string& intent_owner, const std::string& lease_owner,
                               audit::ChainWriter::Batch& chain);

// Records a breach register entry unless one with its kind and ref exists.
pg::Statement breach_statement(const audit::Breach& breach);

// The last link of a chain (AuditStore::chain_head), on `session`.
Result<std::optional<audit::ChainLink>> read_chain_head(pg::Session& session, const pg::Pool& pool,
                                                        const std::string& chain_id);

// Row `i`'s kAuditSelect columns, starting at column `first`; nothing when a
// stored value is not one this version writes.
std::optional<audit::AuditRecord> read_audit_row(const pg::Rows& rows, int i, int first = 0);

// [start, end) of the UTC calendar month holding `time_ms`, in epoch milliseconds.
std::pair<std::int64_t, std::int64_t> month_bounds(std::int64_t time_ms);

// The monthly partitions of `audit` this process knows exist.
class AuditPartitions {
 public:
  // Creates the month's partition of `time_ms` unless known. Serialised
  // across replicas by a transaction advisory lock, since two concurrent
  // CREATE TABLE IF NOT EXISTS can still collide in the catalog. Outside a
  // transaction it runs in one of its own; inside the caller's it commits
  // with it (and is not remembered, in case that one rolls back).
  Result<void> ensure(pg::Session& session, const pg::Pool& pool, std::int64_t time_ms, bool in_transaction = false);

  // Retention by whole months: detaches and drops every monthly partition
  // that ends before the `keep_months` months preceding the one holding
  // `now_ms` (the current month is always kept). Rows are never deleted one
  // by one, so the append-only rule holds. Returns the partitions dropped.
  Result<std::vector<std::string>> retire(pg::Session& session, const pg::Pool& pool, std::int64_t now_ms,
                                          int keep_months);

 private:
  std::mutex mu_;
  std::set<std::int64_t> known_;  // month starts
};

}  // namespace aegis::store::postgres
