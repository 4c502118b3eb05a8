#pragma once
// The budget shared by several replicas of one database (storage.postgres_dsn):
// each replica leases slices of a team's monthly cap and reserves against its
// own slices in memory (budget/leased_ledger.hpp), so the database sees a few
// writes per team per second instead of one per request, and the slices
// granted never add up to more than the cap.
//
// Per (team, period) the pool keeps the cap and `granted`: the money handed to
// replicas and not given back. A replica's lease records what it holds and
// what its audit rows have booked against it, so the slice of a replica that
// died is reclaimed (less what it spent) by whichever replica recovers its
// unfinished rows.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/money.hpp"
#include "core/result.hpp"

namespace aegis::store {

struct PoolTotals {
  Money cap;      // the cap the last lease was taken under
  Money granted;  // held by replicas or spent through them
  Money spent;    // committed spend of every replica (the audit rows' costs)
  std::int64_t requests = 0;
};

struct Lease {
  Money granted;        // what this take added to the replica's slice (0: not enough left)
  bool renewed = true;  // false when the replica's lease row was gone (reclaimed) before this take
  PoolTotals totals;    // the pool after the take
};

class BudgetPool {
 public:
  virtual ~BudgetPool() = default;

  // Atomically takes between `need` and `want` from what is left of `cap` in
  // (team, period), or nothing when less than `need` is left. Stores `cap` as
  // the pool's cap. unavailable (503) when the database cannot be reached.
  virtual Result<Lease> take(std::string_view team, std::string_view period, Money cap, Money need, Money want) = 0;

  // Gives `unused` back to the pool; a negative amount books spend beyond the
  // slices (an actual cost above its reservation) as granted. Returns false
  // when the lease was reclaimed meanwhile (the pool is already settled).
  virtual Result<bool> give_back(std::string_view team, std::string_view period, Money unused) = 0;

  virtual Result<PoolTotals> totals(std::string_view team, std::string_view period) = 0;

  // Replicas sharing the pool now, this one included (at least 1).
  virtual std::int64_t replicas() = 0;

  // The name this replica's leases go by: a job store that books a run's
  // cost in its own transaction books it against this replica's lease.
  virtual const std::string& owner() const = 0;
};

}  // namespace aegis::store
