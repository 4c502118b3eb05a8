#pragma once
// The one place that writes audit rows and their spend to SQLite, shared by
// every connection that records a request: the audit store (the audit
// writer's batches) and the job store (a job's row commits in the transaction
// that records the job's outcome, so a crash cannot keep one without the other).
#include <sqlite3.h>

#include <optional>
#include <span>

#include "audit/breach_store.hpp"
#include "audit/chain_writer.hpp"
#include "audit/record.hpp"
#include "store/sqlite/statement.hpp"

// The audit table's columns, in the order insert_audit_rows binds them and
// the store's queries read them.
#define AEGIS_AUDIT_COLUMNS                                                                                  \
  "time_ms, request_id, team, key_id, surface, task, level, entities, placeholders, tier, provider, model, " \
  "locality, reason, fallback_path, status, error_type, input_tokens, output_tokens, cost_micros, "          \
  "budget_period, latency_us, overhead_us, invented_pii, egress_blocked, egress_veto, egress_rule, "         \
  "cache_read_tokens, cache_write_tokens, cache_hit"

namespace aegis::store::sqlite {

// One connection's prepared audit statements, prepared on first use. Owned by
// the connection's store and used under the lock that serialises it.
struct AuditStatements {
  StmtPtr insert;
  StmtPtr chain_head;
  StmtPtr breach;
  StmtPtr spend;
  StmtPtr key_spend;
  StmtPtr insert_pending;
  StmtPtr delete_pending;
};

// Inside the caller's open transaction: links each final row into its chain
// through `chain` (the caller commits the batch once the transaction has
// committed), inserts each row into `audit` and adds
// its cost to `budget_spend` (team, budget_period) and to `key_spend`
// (key_id, budget_period) when the row was booked to a period; a row with an intent_seq also deletes that intent. An
// intent row (AuditRecord::intent) goes to `audit_pending` instead, books nothing. Returns SQLITE_OK, or the failing
// SQLite code (the caller rolls back).
int insert_audit_rows(sqlite3* db, AuditStatements& statements, std::span<const audit::AuditRecord> rows,
                      audit::ChainWriter::Batch& chain);

// Inside the caller's transaction: records a breach register entry unless
// one with its kind and ref exists (`created` says which).
int insert_breach(sqlite3* db, AuditStatements& statements, const audit::Breach& breach, bool& created);

// The last link of a chain: SQLITE_OK and the link (nothing for an empty
// chain), or the failing SQLite code.
int read_chain_head(sqlite3* db, AuditStatements& statements, const std::string& chain_id,
                    std::optional<audit::ChainLink>& head);

// Reads the current row of a SELECT of AEGIS_AUDIT_COLUMNS (from `audit` or
// `audit_pending`); nothing when a stored value is not one this version writes.
std::optional<audit::AuditRecord> read_audit_row(const Use& st);

}  // namespace aegis::store::sqlite
