#include "store/sqlite/audit_rows.hpp"

#include <map>
#include <string>
#include <vector>

#include "audit/record_json.hpp"
#include "core/classification.hpp"

namespace aegis::store::sqlite {

namespace {

constexpr const char* kInsertAudit =
    "INSERT INTO audit(" AEGIS_AUDIT_COLUMNS
    ", chain_id, chain_seq, prev_hash, row_hash"
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
    "?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34)";
constexpr const char* kInsertBreach =
    "INSERT INTO breaches(detected_at_ms, kind, ref, team, key_id, provider, entities, request_id, detail, "
    "updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (kind, ref) DO NOTHING";
constexpr const char* kChainHead =
    "SELECT chain_seq, prev_hash, row_hash FROM audit WHERE chain_id = ?1 AND chain_id <> '' "
    "ORDER BY chain_seq DESC LIMIT 1";  // the second term lets SQLite use the partial index audit_chain
constexpr const char* kInsertPending =
    "INSERT OR REPLACE INTO audit_pending(seq, " AEGIS_AUDIT_COLUMNS
    ") VALUES (?31, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
    "?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30)";
constexpr const char* kDeletePending = "DELETE FROM audit_pending WHERE seq = ?1";
constexpr const char* kUpsertSpend =
    "INSERT INTO budget_spend(team, period, spent_micros, requests) VALUES (?1, ?2, ?3, 1) "
    "ON CONFLICT(team, period) DO UPDATE SET spent_micros = spent_micros + excluded.spent_micros, "
    "requests = requests + 1";
constexpr const char* kUpsertKeySpend =
    "INSERT INTO key_spend(key_id, period, spent_micros, requests) VALUES (?1, ?2, ?3, 1) "
    "ON CONFLICT(key_id, period) DO UPDATE SET spent_micros = spent_micros + excluded.spent_micros, "
    "requests = requests + 1";

void bind_audit(Use& st, const audit::AuditRecord& r) {
  st.bind(1, r.time_ms);
  st.bind(2, r.request_id);
  st.bind(3, r.team);
  st.bind(4, r.key_id);
  st.bind(5, r.surface);
  st.bind(6, r.task);
  st.bind(7, to_string(r.level));
  st.bind(8, audit::entities_to_json(r.entities));
  st.bind(9, static_cast<std::int64_t>(r.placeholders));
  st.bind(10, r.tier);
  st.bind(11, r.provider);
  st.bind(12, r.model);
  st.bind(13, r.locality);
  st.bind(14, r.reason);
  st.bind(15, audit::fallback_path_to_json(r.fallback_path));
  st.bind(16, static_cast<std::int64_t>(r.status));
  st.bind(17, r.error_type);
  st.bind(18, r.input_tokens);
  st.bind(19, r.output_tokens);
  st.bind(20, r.cost.micros);
  st.bind(21, r.budget_period);
  st.bind(22, r.latency_us);
  st.bind(23, r.overhead_us);
  st.bind(24, static_cast<std::int64_t>(r.invented_pii ? 1 : 0));
  st.bind(25, static_cast<std::int64_t>(r.egress_blocked ? 1 : 0));
  st.bind(26, static_cast<std::int64_t>(r.egress_veto ? 1 : 0));
  st.bind(27, r.egress_rule);
  st.bind(28, r.cache_read_tokens);
  st.bind(29, r.cache_write_tokens);
  st.bind(30, static_cast<std::int64_t>(r.cache_hit ? 1 : 0));
}

int prepare(sqlite3* db, StmtPtr& slot, const char* sql) {
  if (slot) return SQLITE_OK;
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return rc;
  }
  slot.reset(raw);
  return SQLITE_OK;
}

}  // namespace

std::optional<audit::AuditRecord> read_audit_row(const Use& st) {
  audit::AuditRecord r;
  r.time_ms = st.int64(0);
  r.request_id = st.text(1);
  r.team = st.text(2);
  r.key_id = st.text(3);
  r.surface = st.text(4);
  r.task = st.text(5);
  const auto level = parse_level(st.text(6));
  if (!level) return std::nullopt;
  r.level = *level;

  auto entities = audit::entities_from_json(st.text(7));
  if (!entities) return std::nullopt;
  r.entities = std::move(*entities);
  r.placeholders = static_cast<int>(st.int64(8));
  r.tier = st.text(9);
  r.provider = st.text(10);
  r.model = st.text(11);
  r.locality = st.text(12);
  r.reason = st.text(13);
  auto path = audit::fallback_path_from_json(st.text(14));
  if (!path) return std::nullopt;
  r.fallback_path = std::move(*path);
  r.status = static_cast<int>(st.int64(15));
  r.error_type = st.text(16);
  r.input_tokens = st.int64(17);
  r.output_tokens = st.int64(18);
  r.cost = Money::from_micros(st.int64(19));
  r.budget_period = st.text(20);
  r.latency_us = st.int64(21);
  r.overhead_us = st.int64(22);
  r.invented_pii = st.int64(23) != 0;
  r.egress_blocked = st.int64(24) != 0;
  r.egress_veto = st.int64(25) != 0;
  r.egress_rule = st.text(26);
  r.cache_read_tokens = st.int64(27);
  r.cache_write_tokens = st.int64(28);
  r.cache_hit = st.int64(29) != 0;
  return r;
}

int insert_breach(sqlite3* db, AuditStatements& statements, const audit::Breach& b, bool& created) {
  if (int rc = prepare(db, statements.breach, kInsertBreach); rc != SQLITE_OK) return rc;
  Use st(statements.breach.get());
  st.bind(1, b.detected_at_ms);
  st.bind(2, b.kind);
  st.bind(3, b.ref);
  st.bind(4, b.team);
  st.bind(5, b.key_id);
  st.bind(6, b.provider);
  st.bind(7, audit::entities_to_json(b.entities));
  st.bind(8, b.request_id);
  st.bind(9, b.detail);
  st.bind(10, b.updated_at_ms);
  const int rc = st.step();
  if (rc != SQLITE_DONE) return rc;
  created = sqlite3_changes(db) > 0;
  return SQLITE_OK;
}

int read_chain_head(sqlite3* db, AuditStatements& statements, const std::string& chain_id,
                    std::optional<audit::ChainLink>& head) {
  head.reset();
  if (int rc = prepare(db, statements.chain_head, kChainHead); rc != SQLITE_OK) return rc;
  Use st(statements.chain_head.get());
  st.bind(1, chain_id);
  const int rc = st.step();
  if (rc == SQLITE_DONE) return SQLITE_OK;
  if (rc != SQLITE_ROW) return rc;
  head = audit::ChainLink{chain_id, st.int64(0), st.text(1), st.text(2)};
  return SQLITE_OK;
}

int insert_audit_rows(sqlite3* db, AuditStatements& statements, std::span<const audit::AuditRecord> rows,
                      audit::ChainWriter::Batch& chain) {
  if (rows.empty()) return SQLITE_OK;
  int head_rc = SQLITE_OK;
  const audit::ChainWriter::HeadLoader load_head =
      [&](const std::string& chain_id) -> Result<std::optional<audit::ChainLink>> {
    std::optional<audit::ChainLink> head;
    head_rc = read_chain_head(db, statements, chain_id, head);
    if (head_rc != SQLITE_OK) return make_error(ErrorCode::unavailable, "cannot read the audit chain's head");
    return head;
  };
  if (int rc = prepare(db, statements.insert, kInsertAudit); rc != SQLITE_OK) return rc;
  if (int rc = prepare(db, statements.spend, kUpsertSpend); rc != SQLITE_OK) return rc;
  if (int rc = prepare(db, statements.key_spend, kUpsertKeySpend); rc != SQLITE_OK) return rc;
  for (const auto& row : rows) {
    if (row.intent) {
      if (int rc = prepare(db, statements.insert_pending, kInsertPending); rc != SQLITE_OK) return rc;
      Use st(statements.insert_pending.get());
      bind_audit(st, row);
      st.bind(31, row.intent_seq);
      if (int rc = st.step(); rc != SQLITE_DONE) return rc;
      continue;
    }
    {
      auto link = chain.link(row, load_head);
      if (!link.ok()) return head_rc != SQLITE_OK ? head_rc : SQLITE_ERROR;
      Use st(statements.insert.get());
      bind_audit(st, row);
      st.bind(31, link->chain_id);
      st.bind(32, link->seq);
      st.bind(33, link->prev_hash);
      st.bind(34, link->row_hash);
      if (int rc = st.step(); rc != SQLITE_DONE) return rc;
    }
    if (const auto breach = audit::breach_for_row(row)) {
      bool created = false;
      if (int rc = insert_breach(db, statements, *breach, created); rc != SQLITE_OK) return rc;
    }
    if (row.intent_seq != 0) {
      if (int rc = prepare(db, statements.delete_pending, kDeletePending); rc != SQLITE_OK) return rc;
      Use st(statements.delete_pending.get());
      st.bind(1, row.intent_seq);
      if (int rc = st.step(); rc != SQLITE_DONE) return rc;
    }
    if (row.budget_period.empty()) continue;
    {
      Use st(statements.spend.get());
      st.bind(1, row.team);
      st.bind(2, row.budget_period);
      st.bind(3, row.cost.micros);
      if (int rc = st.step(); rc != SQLITE_DONE) return rc;
    }
    // The key's own spend (its monthly sub-budget), booked alike.
    if (row.key_id.empty()) continue;
    Use st(statements.key_spend.get());
    st.bind(1, row.key_id);
    st.bind(2, row.budget_period);
    st.bind(3, row.cost.micros);
    if (int rc = st.step(); rc != SQLITE_DONE) return rc;
  }
  return SQLITE_OK;
}

}  // namespace aegis::store::sqlite
