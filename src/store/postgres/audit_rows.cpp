#include "store/postgres/audit_rows.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <vector>

#include "audit/record_json.hpp"
#include "core/classification.hpp"

namespace aegis::store::postgres {

namespace {

// Rows per multi-row INSERT: 34 parameters each, well under libpq's 65535.
constexpr std::size_t kRowsPerInsert = 200;

constexpr const char* kAuditColumns =
    "time_ms, request_id, team, key_id, surface, task, level, entities, placeholders, tier, provider, model, "
    "locality, reason, fallback_path, status, error_type, input_tokens, output_tokens, cost_micros, "
    "budget_period, latency_us, overhead_us, invented_pii, egress_blocked, egress_veto, egress_rule, "
    "cache_read_tokens, cache_write_tokens, cache_hit";
constexpr int kAuditColumnCount = 30;
constexpr int kChainColumnCount = 4;  // chain_id, chain_seq, prev_hash, row_hash

void add_audit_params(pg::Params& p, const audit::AuditRecord& r) {
  p.add(r.time_ms)
      .add(r.request_id)
      .add(r.team)
      .add(r.key_id)
      .add(r.surface)
      .add(r.task)
      .add(to_string(r.level))
      .add(audit::entities_to_json(r.entities))
      .add(r.placeholders)
      .add(r.tier)
      .add(r.provider)
      .add(r.model)
      .add(r.locality)
      .add(r.reason)
      .add(audit::fallback_path_to_json(r.fallback_path))
      .add(r.status)
      .add(r.error_type)
      .add(r.input_tokens)
      .add(r.output_tokens)
      .add(r.cost.micros)
      .add(r.budget_period)
      .add(r.latency_us)
      .add(r.overhead_us)
      .add(r.invented_pii)
      .add(r.egress_blocked)
      .add(r.egress_veto)
      .add(r.egress_rule)
      .add(r.cache_read_tokens)
      .add(r.cache_write_tokens)
      .add(r.cache_hit);
}

// "($1, $2, ...), ($28, ...)" for `rows` rows of `columns` parameters, after `offset` parameters.
std::string placeholders(std::size_t rows, int columns, int offset = 0, std::string_view prefix = "") {
  std::string out;
  int n = offset;
  for (std::size_t r = 0; r < rows; ++r) {
    out += r == 0 ? "(" : ", (";
    out += prefix;
    for (int c = 0; c < columns; ++c) {
      if (c > 0) out += ", ";
      out += "$" + std::to_string(++n);
    }
    out += ")";
  }
  return out;
}

std::string partition_name(std::int64_t month_start_ms) {
  using namespace std::chrono;
  const year_month_day ymd(floor<days>(sys_time<milliseconds>(milliseconds(month_start_ms))));
  char name[32];
  std::snprintf(name, sizeof name, "audit_y%04dm%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()));
  return name;
}

}  // namespace

std::optional<audit::AuditRecord> read_audit_row(const pg::Rows& rows, int i, int first) {
  audit::AuditRecord r;
  auto int_at = [&](int column) { return rows.int64(i, first + column); };
  auto time = int_at(0);
  if (!time) return std::nullopt;
  r.time_ms = *time;
  r.request_id = rows.text(i, first + 1);
  r.team = rows.text(i, first + 2);
  r.key_id = rows.text(i, first + 3);
  r.surface = rows.text(i, first + 4);
  r.task = rows.text(i, first + 5);
  const auto level = parse_level(rows.text(i, first + 6));
  if (!level) return std::nullopt;
  r.level = *level;
  auto entities = audit::entities_from_json(rows.text(i, first + 7));
  if (!entities) return std::nullopt;
  r.entities = std::move(*entities);
  r.tier = rows.text(i, first + 9);
  r.provider = rows.text(i, first + 10);
  r.model = rows.text(i, first + 11);
  r.locality = rows.text(i, first + 12);
  r.reason = rows.text(i, first + 13);
  auto path = audit::fallback_path_from_json(rows.text(i, first + 14));
  if (!path) return std::nullopt;
  r.fallback_path = std::move(*path);
  r.error_type = rows.text(i, first + 16);
  r.budget_period = rows.text(i, first + 20);
  const auto placeholders = int_at(8), status = int_at(15), in = int_at(17), out = int_at(18), cost = int_at(19),
             latency = int_at(21), overhead = int_at(22);
  if (!placeholders || !status || !in || !out || !cost || !latency || !overhead) return std::nullopt;
  r.placeholders = static_cast<int>(*placeholders);
  r.status = static_cast<int>(*status);
  r.input_tokens = *in;
  r.output_tokens = *out;
  r.cost = Money::from_micros(*cost);
  r.latency_us = *latency;
  r.overhead_us = *overhead;
  r.invented_pii = rows.boolean(i, first + 23);
  r.egress_blocked = rows.boolean(i, first + 24);
  r.egress_veto = rows.boolean(i, first + 25);
  r.egress_rule = rows.text(i, first + 26);
  const auto cache_read = int_at(27), cache_write = int_at(28);
  if (!cache_read || !cache_write) return std::nullopt;
  r.cache_read_tokens = *cache_read;
  r.cache_write_tokens = *cache_write;
  r.cache_hit = rows.boolean(i, first + 29);
  return r;
}

std::pair<std::int64_t, std::int64_t> month_bounds(std::int64_t time_ms) {
  using namespace std::chrono;
  const sys_days day = floor<days>(sys_time<milliseconds>(milliseconds(time_ms)));
  const year_month ym{year_month_day(day).year(), year_month_day(day).month()};
  const sys_days first = sys_days(ym / 1);
  const sys_days next = sys_days((ym + months(1)) / 1);
  return {duration_cast<milliseconds>(first.time_since_epoch()).count(),
          duration_cast<milliseconds>(next.time_since_epoch()).count()};
}

Result<void> AuditPartitions::ensure(pg::Session& session, const pg::Pool& pool, std::int64_t time_ms,
                                     bool in_transaction) {
  const auto [start, end] = month_bounds(time_ms);
  {
    std::lock_guard lock(mu_);
    if (known_.contains(start)) return {};
  }
  constexpr std::string_view op = "create_audit_partition";
  const std::string sql = "SELECT pg_advisory_xact_lock(4703388017512850); CREATE TABLE IF NOT EXISTS " +
                          partition_name(start) + " PARTITION OF audit FOR VALUES FROM (" + std::to_string(start) +
                          ") TO (" + std::to_string(end) + ")";
  if (in_transaction) {
    if (!session.exec(sql).ok()) return pool.error(op, session.last_failure());
    return {};
  }
  if (!session.begin().ok()) return pool.error(op, session.last_failure());
  if (!session.exec(sql).ok() || !session.commit().ok()) {
    const Error e = pool.error(op, session.last_failure());
    session.rollback();
    return e;
  }
  std::lock_guard lock(mu_);
  known_.insert(start);
  return {};
}

Result<std::vector<std::string>> AuditPartitions::retire(pg::Session& session, const pg::Pool& pool,
                                                         std::int64_t now_ms, int keep_months) {
  constexpr std::string_view op = "retire_audit_partitions";
  using namespace std::chrono;
  const year_month_day today(floor<days>(sys_time<milliseconds>(milliseconds(now_ms))));
  const year_month oldest_kept = year_month(today.year(), today.month()) - months(keep_months);
  const std::int64_t keep_from = duration_cast<milliseconds>(sys_days(oldest_kept / day(1)).time_since_epoch()).count();
  auto fail = [&] {
    Error e = pool.error(op, session.last_failure());
    session.rollback();
    return e;
  };
  if (!session.begin().ok()) return fail();
  // The same lock as ensure(): a replica creating a partition and another retiring one do not collide.
  auto children = session.exec(
      "SELECT pg_advisory_xact_lock(4703388017512850); SELECT c.relname FROM pg_inherits i JOIN pg_class c ON "
      "c.oid = i.inhrelid WHERE i.inhparent = 'audit'::regclass ORDER BY c.relname");
  if (!children.ok()) return fail();
  std::vector<std::string> dropped;
  for (int i = 0; i < children->size(); ++i) {
    const std::string name = children->text(i, 0);
    int year = 0;
    unsigned month = 0;
    char tail = 0;
    // Only the monthly partitions this code names (not audit_default, not a table someone added).
    if (std::sscanf(name.c_str(), "audit_y%4dm%2u%c", &year, &month, &tail) != 2 || month < 1 || month > 12) continue;
    const std::int64_t start =
        duration_cast<milliseconds>(
            sys_days(std::chrono::year(year) / std::chrono::month(month) / day(1)).time_since_epoch())
            .count();
    if (start >= keep_from) continue;
    std::string drop = "ALTER TABLE audit DETACH PARTITION ";
    drop.append(name).append("; DROP TABLE ").append(name);
    if (!session.exec(drop).ok()) return fail();
    dropped.push_back(name);
    std::lock_guard lock(mu_);
    known_.erase(start);
  }
  if (!session.commit().ok()) return fail();
  return dropped;
}

pg::Statement breach_statement(const audit::Breach& b) {
  return {
      "INSERT INTO breaches(detected_at_ms, kind, ref, team, key_id, provider, entities, request_id, detail, "
      "updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (kind, ref) DO NOTHING",
      pg::Params()
          .add(b.detected_at_ms)
          .add(b.kind)
          .add(b.ref)
          .add(b.team)
          .add(b.key_id)
          .add(b.provider)
          .add(audit::entities_to_json(b.entities))
          .add(b.request_id)
          .add(b.detail)
          .add(b.updated_at_ms)};
}

Result<std::optional<audit::ChainLink>> read_chain_head(pg::Session& session, const pg::Pool& pool,
                                                        const std::string& chain_id) {
  auto rows = session.exec(
      "SELECT chain_seq, prev_hash, row_hash FROM audit WHERE chain_id = $1 ORDER BY chain_seq DESC LIMIT 1",
      pg::Params().add(chain_id));
  if (!rows.ok()) return pool.error("chain_head", session.last_failure());
  if (rows->empty()) return std::optional<audit::ChainLink>();
  const auto seq = rows->int64(0, 0);
  if (!seq)
    return make_error(ErrorCode::internal, "storage: chain_head: a stored value is not one this version writes");
  return std::optional<audit::ChainLink>(audit::ChainLink{chain_id, *seq, rows->text(0, 1), rows->text(0, 2)});
}

Result<std::vector<pg::Statement>> audit_row_statements(std::span<const audit::AuditRecord> rows,
                                                        const std::string& intent_owner, const std::string& lease_owner,
                                                        audit::ChainWriter::Batch& chain,
                                                        const audit::ChainWriter::HeadLoader& load_head) {
  std::vector<const audit::AuditRecord*> intents, finals;
  std::vector<std::int64_t> resolved;
  std::map<std::pair<std::string, std::string>, std::pair<std::int64_t, std::int64_t>> spend;
  std::map<std::pair<std::string, std::string>, std::pair<std::int64_t, std::int64_t>> key_spend;
  for (const auto& row : rows) {
    if (row.intent) {
      intents.push_back(&row);
      continue;
    }
    finals.push_back(&row);
    if (row.intent_seq != 0) resolved.push_back(row.intent_seq);
    if (!row.budget_period.empty()) {
      auto& [micros, requests] = spend[{row.team, row.budget_period}];
      micros += row.cost.micros;
      requests += 1;
      if (!row.key_id.empty()) {
        auto& [key_micros, key_requests] = key_spend[{row.key_id, row.budget_period}];
        key_micros += row.cost.micros;
        key_requests += 1;
      }
    }
  }
  std::vector<pg::Statement> out;
  for (std::size_t i = 0; i < intents.size(); i += kRowsPerInsert) {
    const std::size_t n = std::min(kRowsPerInsert, intents.size() - i);
    pg::Statement& s = out.emplace_back();
    s.params.add(intent_owner);
    for (std::size_t j = 0; j < n; ++j) {
      s.params.add(intents[i + j]->intent_seq);
      add_audit_params(s.params, *intents[i + j]);
    }
    s.sql = "INSERT INTO audit_pending(owner, seq, ";
    s.sql.append(kAuditColumns).append(") VALUES ");
    for (std::size_t j = 0; j < n; ++j) {
      s.sql += j == 0 ? "($1, " : ", ($1, ";
      const int base = 1 + static_cast<int>(j) * (kAuditColumnCount + 1);
      for (int c = 0; c <= kAuditColumnCount; ++c) s.sql += (c ? ", $" : "$") + std::to_string(base + c + 1);
      s.sql += ")";
    }
    s.sql += " ON CONFLICT (owner, seq) DO NOTHING";
  }
  for (std::size_t i = 0; i < finals.size(); i += kRowsPerInsert) {
    const std::size_t n = std::min(kRowsPerInsert, finals.size() - i);
    pg::Statement& s = out.emplace_back();
    for (std::size_t j = 0; j < n; ++j) {
      add_audit_params(s.params, *finals[i + j]);
      auto link = chain.link(*finals[i + j], load_head);
      if (!link.ok()) return link.error();
      s.params.add(link->chain_id).add(link->seq).add(link->prev_hash).add(link->row_hash);
    }
    s.sql = "INSERT INTO audit(";
    s.sql.append(kAuditColumns)
        .append(", chain_id, chain_seq, prev_hash, row_hash) VALUES ")
        .append(placeholders(n, kAuditColumnCount + kChainColumnCount));
  }
  for (const auto* row : finals) {
    if (const auto breach = audit::breach_for_row(*row)) out.push_back(breach_statement(*breach));
  }
  if (!resolved.empty()) {
    std::string list = "{";
    for (std::size_t i = 0; i < resolved.size(); ++i) list += (i ? "," : "") + std::to_string(resolved[i]);
    list += "}";
    out.push_back({"DELETE FROM audit_pending WHERE owner = $1 AND seq = ANY($2::bigint[])",
                   pg::Params().add(intent_owner).add(list)});
  }
  for (const auto& [key, value] : spend) {
    out.push_back(
        {"WITH booked AS (INSERT INTO budget_spend(team, period, spent_micros, requests) VALUES ($1, $2, $3, "
         "$4) ON CONFLICT (team, period) DO UPDATE SET spent_micros = budget_spend.spent_micros + "
         "EXCLUDED.spent_micros, requests = budget_spend.requests + EXCLUDED.requests RETURNING 1) "
         "UPDATE budget_leases SET spent_micros = spent_micros + $3 WHERE owner = $5 AND team = $1 AND "
         "period = $2",
         pg::Params().add(key.first).add(key.second).add(value.first).add(value.second).add(lease_owner)});
  }
  // The key's own spend (its monthly sub-budget) and its lease, alike.
  for (const auto& [key, value] : key_spend) {
    out.push_back(
        {"WITH booked AS (INSERT INTO key_spend(key_id, period, spent_micros, requests) VALUES ($1, $2, $3, "
         "$4) ON CONFLICT (key_id, period) DO UPDATE SET spent_micros = key_spend.spent_micros + "
         "EXCLUDED.spent_micros, requests = key_spend.requests + EXCLUDED.requests RETURNING 1) "
         "UPDATE key_budget_leases SET spent_micros = spent_micros + $3 WHERE owner = $5 AND key_id = $1 AND "
         "period = $2",
         pg::Params().add(key.first).add(key.second).add(value.first).add(value.second).add(lease_owner)});
  }
  return out;
}

Result<void> insert_audit_rows(pg::Session& session, const pg::Pool& pool, std::span<const audit::AuditRecord> rows,
                               const std::string& intent_owner, const std::string& lease_owner,
                               audit::ChainWriter::Batch& chain) {
  const audit::ChainWriter::HeadLoader load_head = [&](const std::string& chain_id) {
    return read_chain_head(session, pool, chain_id);
  };
  auto statements = audit_row_statements(rows, intent_owner, lease_owner, chain, load_head);
  if (!statements.ok()) return statements.error();
  if (!session.pipeline(*statements).ok()) return pool.error("append_audit", session.last_failure());
  return {};
}

}  // namespace aegis::store::postgres
