#pragma once
// The ledger of a replica that shares its budgets with others through the
// store (store/budget_pool.hpp, PostgreSQL). Reservations, commits and
// releases stay in memory, against slices of each team's cap leased from the
// pool in one atomic statement; the database sees a take when a slice runs
// short and a give-back when it falls idle, not one write per request. The
// slices granted never add up to more than the cap, so the replicas together
// never reserve past it.
//
// A slice is the shortfall plus a share of what is left: at most a tenth of
// the cap and a quarter of the rest divided among the live replicas, so one
// busy replica cannot starve the others. A slice unused for
// give_back_idle_after (and every slice of a past month) goes back to the
// pool. Near the cap a request can be refused (402) while another replica
// still holds an unused slice; never the reverse.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "budget/ledger.hpp"
#include "budget/memory_ledger.hpp"
#include "budget/period.hpp"
#include "core/clock.hpp"
#include "store/budget_pool.hpp"

namespace aegis::budget {

struct LeasedLedgerOptions {
  // How often idle slices are given back and the pool's totals refreshed
  // (0: never by itself; tests call maintain()).
  std::chrono::milliseconds maintain_every{1'000};
  // A slice with no reservation taken against it for this long goes back.
  std::chrono::milliseconds give_back_idle_after{2'000};
};

class LeasedLedger final : public Ledger {
 public:
  using Options = LeasedLedgerOptions;
  // `pool` and `clock` must outlive the ledger.
  LeasedLedger(const Clock& clock, BudgetZone zone, store::BudgetPool& pool, Options options = {});
  // Stops maintenance and gives back every slice with nothing reserved against it.
  ~LeasedLedger() override;
  LeasedLedger(const LeasedLedger&) = delete;
  LeasedLedger& operator=(const LeasedLedger&) = delete;

  Result<ReservationId> reserve(std::string_view team, Money cap, Money amount, std::chrono::nanoseconds ttl) override;
  Result<std::string> commit(ReservationId id, Money actual) override;
  Result<void> record_spend(std::string_view team, std::string_view period, Money actual) override;
  Result<void> release(ReservationId id) override;
  // From the pool, as every replica sees it: spent is every replica's
  // committed spend, reserved what replicas hold beyond it (slices and
  // reservations), remaining what is left to lease. Blocking.
  SpendSnapshot spend(std::string_view team, std::string_view period) override;
  SpendSnapshot spend(std::string_view team) override;
  std::string current_period() const override;
  Result<bool> top_up(std::string_view team, Money cap, Money amount) override;
  SpendSnapshot recent_spend(std::string_view team) override;
  bool shared() const override { return true; }

  // Gives back idle slices (all that have nothing reserved when `everything`)
  // and refreshes the cached totals. Blocking; the maintenance thread's work.
  void maintain(bool everything = false);
  // What this replica holds unused for `team` this period; for tests.
  Money held(std::string_view team);

 private:
  struct Slice {
    __int128 granted = 0;  // leased to this replica and not given back
    std::chrono::steady_clock::time_point last_reserved{};
    store::PoolTotals totals;  // the pool as last seen
  };
  using Key = std::pair<std::string, std::string>;  // team, period

  // granted - (spent + reserved) of this replica for (team, period).
  __int128 unused_locked(const Key& key, const Slice& slice);
  SpendSnapshot snapshot_of(const store::PoolTotals& totals, std::string_view period, __int128 unused) const;

  const Clock& clock_;
  store::BudgetPool& pool_;
  const Options options_;
  MemoryLedger local_;
  std::mutex mu_;       // slices_, and a reservation's check against its slice
  std::mutex pool_mu_;  // one take or give-back at a time: concurrent shortfalls share one take
  std::map<Key, Slice, std::less<>> slices_;
  std::atomic<std::int64_t> replicas_{1};  // as last counted by maintain()

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread maintainer_;
};

}  // namespace aegis::budget
