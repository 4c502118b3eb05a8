#pragma once
// The budget ledger: per team, per budget month, in integer micro-dollars.
//
// Flow per request: reserve(estimate) before any provider is called; then
// commit(actual) on success or release() on failure. A reservation neither
// committed nor released (its owner crashed) expires after its TTL; expiry is
// checked lazily on every call against the injected clock's steady time.
// A reservation belongs to the period (month) it was made in, so committing it
// after a rollover books the spend to the old month.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/money.hpp"
#include "core/result.hpp"

namespace aegis::budget {

struct ReservationId {
  std::uint64_t value = 0;
  friend bool operator==(ReservationId, ReservationId) = default;
  friend auto operator<=>(ReservationId, ReservationId) = default;
};

struct SpendSnapshot {
  std::string period;         // "YYYY-MM"
  Money cap;                  // the cap last given to reserve() for this team; 0 if none yet
  Money spent;                // committed actual costs
  Money reserved;             // outstanding (live) reservations
  Money remaining;            // max(0, cap - spent - reserved)
  std::int64_t requests = 0;  // committed requests
};

class Ledger {
 public:
  virtual ~Ledger() = default;

  // Reserves `amount` against `team`'s current period. Fails with
  // ErrorCode::budget_exceeded (402) when spent + reserved + amount > cap;
  // atomic with respect to concurrent reservers. invalid_request for a
  // negative amount or a non-positive ttl.
  virtual Result<ReservationId> reserve(std::string_view team, Money cap, Money amount,
                                        std::chrono::nanoseconds ttl) = 0;

  // Books `actual` as spent in the reservation's period and releases the
  // reservation; `actual` may exceed the reserved amount (recorded as is).
  // Returns that period ("YYYY-MM"). not_found when the id is unknown, already
  // settled, or expired; invalid_request for a negative amount.
  virtual Result<std::string> commit(ReservationId id, Money actual) = 0;

  // Books `actual` as one settled request of `team` in `period` with no
  // reservation and no cap check: the money is already spent (its reservation
  // expired before the call finished). invalid_request for a negative amount.
  virtual Result<void> record_spend(std::string_view team, std::string_view period, Money actual) = 0;

  // Drops the reservation without spending anything. not_found as for commit.
  virtual Result<void> release(ReservationId id) = 0;

  // Totals for `team` in `period` ("YYYY-MM"), after expiring stale reservations.
  virtual SpendSnapshot spend(std::string_view team, std::string_view period) = 0;
  // Totals for the period the clock is in now.
  virtual SpendSnapshot spend(std::string_view team) = 0;
  // The current period key according to the ledger's clock and zone.
  virtual std::string current_period() const = 0;

  // A ledger that leases its money from a store shared by several replicas
  // (budget/leased_ledger.hpp) reserves only against what it holds. When a
  // reservation of `amount` failed for want of it, top_up brings in enough
  // if the team has that much left: true when reserving again may succeed.
  // Blocking (a database round trip): run it on a database thread. A ledger
  // that holds all of its money has nothing to fetch.
  virtual Result<bool> top_up(std::string_view /*team*/, Money /*cap*/, Money /*amount*/) { return false; }

  // The current period's totals as far as known without waiting: for gauges
  // and routing on an I/O thread. spend() may block on a shared ledger.
  virtual SpendSnapshot recent_spend(std::string_view team) { return spend(team); }

  // Whether other replicas share this ledger's budgets.
  virtual bool shared() const { return false; }
};

}  // namespace aegis::budget
