#pragma once
// store/budget_pool.hpp on PostgreSQL: each take is one transaction that
// locks the team's pool row, so replicas taking at once are serialised there
// and the sum of their slices never passes the cap.
#include <functional>
#include <string>

#include "store/budget_pool.hpp"
#include "store/postgres/pg.hpp"

namespace aegis::store::postgres {

// The tables a pool lives in: the teams' (budget_pool, budget_leases,
// budget_spend by team) or the keys' sub-budgets (key_budget_pool,
// key_budget_leases, key_spend by key_id; migration 8). Same shape, same SQL.
struct PoolTables {
  const char* pool;
  const char* leases;
  const char* spend;
  const char* account;  // the column naming whose budget it is
};
inline constexpr PoolTables kTeamPoolTables{"budget_pool", "budget_leases", "budget_spend", "team"};
inline constexpr PoolTables kKeyPoolTables{"key_budget_pool", "key_budget_leases", "key_spend", "key_id"};

class PostgresBudgetPool final : public BudgetPool {
 public:
  // `owner` names this replica's leases (the store's owner, whose heartbeat
  // tells the others it is alive); `replicas` counts the live ones. The
  // `team` arguments of BudgetPool name the tables' account (a key id for
  // kKeyPoolTables).
  PostgresBudgetPool(pg::Pool& pool, std::string owner, std::function<std::int64_t()> replicas,
                     PoolTables tables = kTeamPoolTables);

  Result<Lease> take(std::string_view team, std::string_view period, Money cap, Money need, Money want) override;
  Result<bool> give_back(std::string_view team, std::string_view period, Money unused) override;
  Result<PoolTotals> totals(std::string_view team, std::string_view period) override;
  std::int64_t replicas() override;
  const std::string& owner() const override { return owner_; }

 private:
  pg::Pool& pool_;
  const std::string owner_;
  const std::function<std::int64_t()> replicas_;
  // The statements, written once for the pool's tables.
  std::string totals_sql_, seed_sql_, grant_sql_, lease_sql_, give_lease_sql_, give_pool_sql_, spent_sql_;
};

// Run inside recover_pending's transaction, after the dead owners' intents
// became rows (and their costs were booked to their leases): gives back to
// the pool what each lease of an owner presumed dead did not spend, and drops
// those leases. An owner whose intents are still being recovered elsewhere
// keeps its leases until the next pass.
Result<std::int64_t> reclaim_dead_leases(pg::Session& session, const pg::Pool& pool, const std::string& self,
                                         std::int64_t stale_before_ms, const PoolTables& tables = kTeamPoolTables);

// `sql` with {pool}, {leases}, {spend} and {acct} replaced by the tables' names.
std::string pool_sql(const PoolTables& tables, std::string sql);

}  // namespace aegis::store::postgres
