#include "store/postgres/postgres_budget_pool.hpp"

#include <algorithm>

namespace aegis::store::postgres {
namespace {

constexpr const char* kTotals =
    "SELECT p.cap_micros, p.granted_micros, COALESCE(s.spent_micros, 0), COALESCE(s.requests, 0) "
    "FROM {pool} p LEFT JOIN {spend} s ON s.{acct} = p.{acct} AND s.period = p.period "
    "WHERE p.{acct} = $1 AND p.period = $2";

Error corrupt(std::string_view op) {
  return make_error(ErrorCode::internal,
                    "the stored budget pool holds a value this version cannot read (" + std::string(op) + ")");
}

}  // namespace

std::string pool_sql(const PoolTables& tables, std::string sql) {
  const std::pair<std::string_view, std::string_view> names[] = {
      {"{pool}", tables.pool}, {"{leases}", tables.leases}, {"{spend}", tables.spend}, {"{acct}", tables.account}};
  for (const auto& [from, to] : names) {
    for (auto at = sql.find(from); at != std::string::npos; at = sql.find(from, at + to.size())) {
      sql.replace(at, from.size(), to);
    }
  }
  return sql;
}

PostgresBudgetPool::PostgresBudgetPool(pg::Pool& pool, std::string owner, std::function<std::int64_t()> replicas,
                                       PoolTables tables)
    : pool_(pool),
      owner_(std::move(owner)),
      replicas_(std::move(replicas)),
      totals_sql_(pool_sql(tables, kTotals)),
      seed_sql_(pool_sql(tables,
                         "INSERT INTO {pool}({acct}, period, cap_micros, granted_micros) VALUES ($1, $2, $3, "
                         "COALESCE((SELECT spent_micros FROM {spend} WHERE {acct} = $1 AND period = $2), 0)) "
                         "ON CONFLICT ({acct}, period) DO UPDATE SET cap_micros = EXCLUDED.cap_micros")),
      grant_sql_(pool_sql(tables,
                          "UPDATE {pool} p SET granted_micros = p.granted_micros + x.g FROM (SELECT CASE WHEN "
                          "cap_micros - granted_micros >= $3 THEN LEAST(GREATEST($4, $3), cap_micros - "
                          "granted_micros) ELSE 0 END AS g FROM {pool} WHERE {acct} = $1 AND period = $2) x WHERE "
                          "p.{acct} = $1 AND p.period = $2 RETURNING x.g")),
      lease_sql_(pool_sql(tables,
                          "INSERT INTO {leases}(owner, {acct}, period, granted_micros) VALUES ($1, $2, $3, $4) "
                          "ON CONFLICT (owner, {acct}, period) DO UPDATE SET granted_micros = "
                          "{leases}.granted_micros + EXCLUDED.granted_micros RETURNING (xmax = 0)")),
      give_lease_sql_(pool_sql(tables,
                               "UPDATE {leases} SET granted_micros = granted_micros - $4 WHERE owner = $1 AND "
                               "{acct} = $2 AND period = $3")),
      give_pool_sql_(
          pool_sql(tables, "UPDATE {pool} SET granted_micros = granted_micros - $3 WHERE {acct} = $1 AND period = $2")),
      spent_sql_(pool_sql(tables, "SELECT spent_micros, requests FROM {spend} WHERE {acct} = $1 AND period = $2")) {}

Result<Lease> PostgresBudgetPool::take(std::string_view team, std::string_view period, Money cap, Money need,
                                       Money want) {
  constexpr std::string_view op = "budget_take";
  AEGIS_TRY(session, pool_.acquire());
  auto fail = [&] {
    Error e = pool_.error(op, session.last_failure());
    session.rollback();
    return e;
  };
  if (!session.begin().ok()) return fail();
  // The upsert locks the team's row until COMMIT: concurrent takers queue
  // here. A month's first lease starts from what was already booked to it
  // without one (spend from before this schema).
  if (!session.exec(seed_sql_, pg::Params().add(team).add(period).add(cap.micros)).ok()) return fail();
  auto grant = session.exec(grant_sql_, pg::Params().add(team).add(period).add(need.micros).add(want.micros));
  if (!grant.ok() || grant->empty()) return fail();
  Lease lease;
  lease.granted = Money::from_micros(grant->int64(0, 0).value_or(0));
  if (lease.granted.micros > 0) {
    auto row = session.exec(lease_sql_, pg::Params().add(owner_).add(team).add(period).add(lease.granted.micros));
    if (!row.ok() || row->empty()) return fail();
    lease.renewed = !row->boolean(0, 0);
  }
  auto totals = session.exec(totals_sql_, pg::Params().add(team).add(period));
  if (!totals.ok() || totals->empty()) return fail();
  if (!session.commit().ok()) return fail();
  auto c = totals->int64(0, 0), g = totals->int64(0, 1), s = totals->int64(0, 2), n = totals->int64(0, 3);
  if (!c || !g || !s || !n) return corrupt(op);
  lease.totals = PoolTotals{Money::from_micros(*c), Money::from_micros(*g), Money::from_micros(*s), *n};
  return lease;
}

Result<bool> PostgresBudgetPool::give_back(std::string_view team, std::string_view period, Money unused) {
  constexpr std::string_view op = "budget_give_back";
  AEGIS_TRY(session, pool_.acquire());
  auto fail = [&] {
    Error e = pool_.error(op, session.last_failure());
    session.rollback();
    return e;
  };
  if (!session.begin().ok()) return fail();
  // The lease first: when another replica reclaimed it (this one was
  // presumed dead), the pool already has the money back.
  auto lease = session.exec(give_lease_sql_, pg::Params().add(owner_).add(team).add(period).add(unused.micros));
  if (!lease.ok()) return fail();
  const bool held = lease->affected() > 0;
  if (held && !session.exec(give_pool_sql_, pg::Params().add(team).add(period).add(unused.micros)).ok()) return fail();
  if (!session.commit().ok()) return fail();
  return held;
}

Result<PoolTotals> PostgresBudgetPool::totals(std::string_view team, std::string_view period) {
  constexpr std::string_view op = "budget_totals";
  AEGIS_TRY(session, pool_.acquire());
  auto rows = session.exec(totals_sql_, pg::Params().add(team).add(period));
  if (!rows.ok()) return pool_.error(op, session.last_failure());
  if (rows->empty()) {
    // No replica leased anything yet: the spend may still exist (booked before).
    auto spent = session.exec(spent_sql_, pg::Params().add(team).add(period));
    if (!spent.ok()) return pool_.error(op, session.last_failure());
    PoolTotals t;
    if (!spent->empty()) {
      t.spent = Money::from_micros(spent->int64(0, 0).value_or(0));
      t.requests = spent->int64(0, 1).value_or(0);
    }
    return t;
  }
  auto c = rows->int64(0, 0), g = rows->int64(0, 1), s = rows->int64(0, 2), n = rows->int64(0, 3);
  if (!c || !g || !s || !n) return corrupt(op);
  return PoolTotals{Money::from_micros(*c), Money::from_micros(*g), Money::from_micros(*s), *n};
}

std::int64_t PostgresBudgetPool::replicas() { return std::max<std::int64_t>(1, replicas_()); }

Result<std::int64_t> reclaim_dead_leases(pg::Session& session, const pg::Pool& pool, const std::string& self,
                                         std::int64_t stale_before_ms, const PoolTables& tables) {
  // DELETE ... RETURNING takes each dead lease once, even when two replicas
  // recover at the same time (the second finds the rows gone). A lease whose
  // owner spent more than it was granted adds the difference to granted.
  auto rows = session.exec(
      pool_sql(tables,
               "WITH gone AS (DELETE FROM {leases} l WHERE l.owner <> $1 AND NOT EXISTS (SELECT 1 FROM store_owners "
               "o WHERE o.owner = l.owner AND o.heartbeat_ms >= $2) AND NOT EXISTS (SELECT 1 FROM audit_pending p "
               "WHERE p.owner = l.owner) RETURNING {acct}, period, granted_micros - spent_micros AS unused), sums AS "
               "(SELECT {acct}, period, SUM(unused) AS unused FROM gone GROUP BY {acct}, period) UPDATE {pool} p SET "
               "granted_micros = p.granted_micros - s.unused FROM sums s WHERE p.{acct} = s.{acct} AND p.period = "
               "s.period"),
      pg::Params().add(self).add(stale_before_ms));
  if (!rows.ok()) return pool.error("budget_reclaim", session.last_failure());
  return rows->affected();
}

}  // namespace aegis::store::postgres
