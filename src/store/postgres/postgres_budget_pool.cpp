#include "store/postgres/postgres_budget_pool.hpp"

#include <algorithm>

namespace aegis::store::postgres {
namespace {

constexpr const char* kTotals =
    "SELECT p.cap_micros, p.granted_micros, COALESCE(s.spent_micros, 0), COALESCE(s.requests, 0) "
    "FROM budget_pool p LEFT JOIN budget_spend s ON s.team = p.team AND s.period = p.period "
    "WHERE p.team = $1 AND p.period = $2";

Error corrupt(std::string_view op) {
  return make_error(ErrorCode::internal,
                    "the stored budget pool holds a value this version cannot read (" + std::string(op) + ")");
}

}  // namespace

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
  if (!session
           .exec("INSERT INTO budget_pool(team, period, cap_micros, granted_micros) VALUES ($1, $2, $3, "
                 "COALESCE((SELECT spent_micros FROM budget_spend WHERE team = $1 AND period = $2), 0)) "
                 "ON CONFLICT (team, period) DO UPDATE SET cap_micros = EXCLUDED.cap_micros",
                 pg::Params().add(team).add(period).add(cap.micros))
           .ok())
    return fail();
  auto grant = session.exec(
      "UPDATE budget_pool p SET granted_micros = p.granted_micros + x.g FROM (SELECT CASE WHEN cap_micros - "
      "granted_micros >= $3 THEN LEAST(GREATEST($4, $3), cap_micros - granted_micros) ELSE 0 END AS g FROM "
      "budget_pool WHERE team = $1 AND period = $2) x WHERE p.team = $1 AND p.period = $2 RETURNING x.g",
      pg::Params().add(team).add(period).add(need.micros).add(want.micros));
  if (!grant.ok() || grant->empty()) return fail();
  Lease lease;
  lease.granted = Money::from_micros(grant->int64(0, 0).value_or(0));
  if (lease.granted.micros > 0) {
    auto row = session.exec(
        "INSERT INTO budget_leases(owner, team, period, granted_micros) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (owner, team, period) DO UPDATE SET granted_micros = budget_leases.granted_micros + "
        "EXCLUDED.granted_micros RETURNING (xmax = 0)",
        pg::Params().add(owner_).add(team).add(period).add(lease.granted.micros));
    if (!row.ok() || row->empty()) return fail();
    lease.renewed = !row->boolean(0, 0);
  }
  auto totals = session.exec(kTotals, pg::Params().add(team).add(period));
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
  auto lease = session.exec(
      "UPDATE budget_leases SET granted_micros = granted_micros - $4 WHERE owner = $1 AND team = $2 AND period = $3",
      pg::Params().add(owner_).add(team).add(period).add(unused.micros));
  if (!lease.ok()) return fail();
  const bool held = lease->affected() > 0;
  if (held && !session
                   .exec("UPDATE budget_pool SET granted_micros = granted_micros - $3 WHERE team = $1 AND period = $2",
                         pg::Params().add(team).add(period).add(unused.micros))
                   .ok())
    return fail();
  if (!session.commit().ok()) return fail();
  return held;
}

Result<PoolTotals> PostgresBudgetPool::totals(std::string_view team, std::string_view period) {
  constexpr std::string_view op = "budget_totals";
  AEGIS_TRY(session, pool_.acquire());
  auto rows = session.exec(kTotals, pg::Params().add(team).add(period));
  if (!rows.ok()) return pool_.error(op, session.last_failure());
  if (rows->empty()) {
    // No replica leased anything yet: the spend may still exist (booked before).
    auto spent = session.exec("SELECT spent_micros, requests FROM budget_spend WHERE team = $1 AND period = $2",
                              pg::Params().add(team).add(period));
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
                                         std::int64_t stale_before_ms) {
  // DELETE ... RETURNING takes each dead lease once, even when two replicas
  // recover at the same time (the second finds the rows gone). A lease whose
  // owner spent more than it was granted adds the difference to granted.
  auto rows = session.exec(
      "WITH gone AS (DELETE FROM budget_leases l WHERE l.owner <> $1 AND NOT EXISTS (SELECT 1 FROM store_owners o "
      "WHERE o.owner = l.owner AND o.heartbeat_ms >= $2) AND NOT EXISTS (SELECT 1 FROM audit_pending p WHERE "
      "p.owner = l.owner) RETURNING team, period, granted_micros - spent_micros AS unused), sums AS (SELECT team, "
      "period, SUM(unused) AS unused FROM gone GROUP BY team, period) UPDATE budget_pool p SET granted_micros = "
      "p.granted_micros - s.unused FROM sums s WHERE p.team = s.team AND p.period = s.period",
      pg::Params().add(self).add(stale_before_ms));
  if (!rows.ok()) return pool.error("budget_reclaim", session.last_failure());
  return rows->affected();
}

}  // namespace aegis::store::postgres
