#pragma once
// store/budget_pool.hpp on PostgreSQL: each take is one transaction that
// locks the team's pool row, so replicas taking at once are serialised there
// and the sum of their slices never passes the cap.
#include <functional>
#include <string>

#include "store/budget_pool.hpp"
#include "store/postgres/pg.hpp"

namespace aegis::store::postgres {

class PostgresBudgetPool final : public BudgetPool {
 public:
  // `owner` names this replica's leases (the store's owner, whose heartbeat
  // tells the others it is alive); `replicas` counts the live ones.
  PostgresBudgetPool(pg::Pool& pool, std::string owner, std::function<std::int64_t()> replicas)
      : pool_(pool), owner_(std::move(owner)), replicas_(std::move(replicas)) {}

  Result<Lease> take(std::string_view team, std::string_view period, Money cap, Money need, Money want) override;
  Result<bool> give_back(std::string_view team, std::string_view period, Money unused) override;
  Result<PoolTotals> totals(std::string_view team, std::string_view period) override;
  std::int64_t replicas() override;
  const std::string& owner() const override { return owner_; }

 private:
  pg::Pool& pool_;
  const std::string owner_;
  const std::function<std::int64_t()> replicas_;
};

// Run inside recover_pending's transaction, after the dead owners' intents
// became rows (and their costs were booked to their leases): gives back to
// the pool what each lease of an owner presumed dead did not spend, and drops
// those leases. An owner whose intents are still being recovered elsewhere
// keeps its leases until the next pass.
Result<std::int64_t> reclaim_dead_leases(pg::Session& session, const pg::Pool& pool, const std::string& self,
                                         std::int64_t stale_before_ms);

}  // namespace aegis::store::postgres
