#pragma once
// In-memory Ledger: one mutex guards everything, which makes reserve's
// check-and-add atomic. Not durable by itself: committed spend is persisted
// with the audit rows, and restore_spend (budget/ledger_restore.hpp) seeds it
// back at start-up.
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "budget/ledger.hpp"
#include "budget/period.hpp"
#include "core/clock.hpp"

namespace aegis::budget {

class MemoryLedger final : public Ledger {
 public:
  explicit MemoryLedger(const Clock& clock, BudgetZone zone = BudgetZone::utc());

  Result<ReservationId> reserve(std::string_view team, Money cap, Money amount, std::chrono::nanoseconds ttl) override;
  Result<std::string> commit(ReservationId id, Money actual) override;
  Result<void> record_spend(std::string_view team, std::string_view period, Money actual) override;
  Result<void> release(ReservationId id) override;
  SpendSnapshot spend(std::string_view team, std::string_view period) override;
  SpendSnapshot spend(std::string_view team) override;
  std::string current_period() const override;

  // reserve() in a given period rather than the clock's: a caller that picked
  // the period (and the cap that goes with it) under its own lock.
  Result<ReservationId> reserve_in_period(std::string_view team, std::string period, Money cap, Money amount,
                                          std::chrono::nanoseconds ttl);

  // Start-up restore: sets the committed totals of (team, period), replacing
  // what was there; live reservations are untouched. Negative values count as 0.
  void seed(std::string_view team, std::string_view period, Money spent, std::int64_t requests);

  // Number of live reservations (after expiring stale ones); for tests and gauges.
  std::size_t live_reservations();
  // Reservations expired by TTL so far.
  std::uint64_t expired_total() const;

 private:
  struct Totals {
    __int128 spent = 0;  // 128-bit so "committed more than reserved" can never wrap
    __int128 reserved = 0;
    std::int64_t requests = 0;
  };
  struct Reservation {
    std::string team;
    std::string period;
    Money amount;
    std::multimap<std::chrono::steady_clock::time_point, std::uint64_t>::iterator expiry;
  };
  using Key = std::pair<std::string, std::string>;  // team, period

  void expire_locked();
  Totals& totals_locked(const std::string& team, const std::string& period);
  void drop_locked(std::unordered_map<std::uint64_t, Reservation>::iterator it);
  SpendSnapshot snapshot_locked(std::string_view team, std::string_view period) const;

  const Clock& clock_;
  const BudgetZone zone_;
  mutable std::mutex mu_;
  std::uint64_t next_id_ = 1;
  std::uint64_t expired_total_ = 0;
  std::map<Key, Totals, std::less<>> totals_;
  std::map<std::string, Money, std::less<>> caps_;
  std::unordered_map<std::uint64_t, Reservation> reservations_;
  std::multimap<std::chrono::steady_clock::time_point, std::uint64_t> expiries_;
};

}  // namespace aegis::budget
