#include "budget/memory_ledger.hpp"

#include <limits>
#include <utility>

namespace aegis::budget {
namespace {

Money clamp_money(__int128 v) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  if (v > kMax) return Money::from_micros(kMax);
  if (v < kMin) return Money::from_micros(kMin);
  return Money::from_micros(static_cast<std::int64_t>(v));
}

Error unknown_reservation(ReservationId id) {
  return make_error(ErrorCode::not_found,
                    "budget reservation " + std::to_string(id.value) + " is unknown, already settled, or expired");
}

}  // namespace

MemoryLedger::MemoryLedger(const Clock& clock, BudgetZone zone) : clock_(clock), zone_(zone) {}

std::string MemoryLedger::current_period() const { return period_key(clock_.wall_now(), zone_); }

void MemoryLedger::expire_locked() {
  const auto now = clock_.steady_now();
  // Expire once the TTL has fully elapsed: deadline <= now.
  while (!expiries_.empty() && expiries_.begin()->first <= now) {
    auto it = reservations_.find(expiries_.begin()->second);
    if (it == reservations_.end()) {  // cannot happen: drop_locked erases both
      expiries_.erase(expiries_.begin());
      continue;
    }
    ++expired_total_;
    drop_locked(it);
  }
}

MemoryLedger::Totals& MemoryLedger::totals_locked(const std::string& team, const std::string& period) {
  return totals_[Key{team, period}];
}

void MemoryLedger::drop_locked(std::unordered_map<std::uint64_t, Reservation>::iterator it) {
  Reservation& r = it->second;
  totals_locked(r.team, r.period).reserved -= r.amount.micros;
  expiries_.erase(r.expiry);
  reservations_.erase(it);
}

Result<ReservationId> MemoryLedger::reserve(std::string_view team, Money cap, Money amount,
                                            std::chrono::nanoseconds ttl) {
  return reserve_in_period(team, current_period(), cap, amount, ttl);
}

Result<ReservationId> MemoryLedger::reserve_in_period(std::string_view team, std::string period, Money cap,
                                                      Money amount, std::chrono::nanoseconds ttl) {
  if (amount.micros < 0) return make_error(ErrorCode::invalid_request, "budget reservation amount is negative");
  if (ttl <= std::chrono::nanoseconds::zero()) {
    return make_error(ErrorCode::invalid_request, "budget reservation ttl must be positive");
  }
  std::lock_guard lock(mu_);
  expire_locked();
  caps_.insert_or_assign(std::string(team), cap);
  std::string team_s(team);
  Totals& t = totals_locked(team_s, period);
  const __int128 after = t.spent + t.reserved + amount.micros;
  if (after > cap.micros) {
    return make_error(ErrorCode::budget_exceeded, "team '" + team_s + "' monthly budget of $" + cap.to_usd_string() +
                                                      " would be exceeded (" + period + ": spent $" +
                                                      clamp_money(t.spent).to_usd_string() + ", reserved $" +
                                                      clamp_money(t.reserved).to_usd_string() +
                                                      ", this request needs up to $" + amount.to_usd_string() + ")");
  }
  t.reserved += amount.micros;
  const std::uint64_t id = next_id_++;
  // Saturate the deadline rather than overflow for absurd TTLs.
  const auto now = clock_.steady_now();
  const auto headroom = std::chrono::steady_clock::time_point::max() - now;
  const auto deadline = ttl >= headroom ? std::chrono::steady_clock::time_point::max()
                                        : now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(ttl);
  auto exp = expiries_.emplace(deadline, id);
  reservations_.emplace(id, Reservation{std::move(team_s), std::move(period), amount, exp});
  return ReservationId{id};
}

Result<std::string> MemoryLedger::commit(ReservationId id, Money actual) {
  if (actual.micros < 0) return make_error(ErrorCode::invalid_request, "actual cost is negative");
  std::lock_guard lock(mu_);
  expire_locked();
  auto it = reservations_.find(id.value);
  if (it == reservations_.end()) return unknown_reservation(id);
  Totals& t = totals_locked(it->second.team, it->second.period);
  t.spent += actual.micros;
  ++t.requests;
  std::string period = it->second.period;
  drop_locked(it);
  return period;
}

Result<void> MemoryLedger::record_spend(std::string_view team, std::string_view period, Money actual) {
  if (actual.micros < 0) return make_error(ErrorCode::invalid_request, "actual cost is negative");
  std::lock_guard lock(mu_);
  expire_locked();
  Totals& t = totals_locked(std::string(team), std::string(period));
  t.spent += actual.micros;
  ++t.requests;
  return {};
}

void MemoryLedger::seed(std::string_view team, std::string_view period, Money spent, std::int64_t requests) {
  std::lock_guard lock(mu_);
  Totals& t = totals_locked(std::string(team), std::string(period));
  t.spent = spent.micros < 0 ? 0 : spent.micros;
  t.requests = requests < 0 ? 0 : requests;
}

Result<void> MemoryLedger::release(ReservationId id) {
  std::lock_guard lock(mu_);
  expire_locked();
  auto it = reservations_.find(id.value);
  if (it == reservations_.end()) return unknown_reservation(id);
  drop_locked(it);
  return {};
}

SpendSnapshot MemoryLedger::snapshot_locked(std::string_view team, std::string_view period) const {
  SpendSnapshot s;
  s.period = std::string(period);
  if (auto c = caps_.find(team); c != caps_.end()) s.cap = c->second;
  __int128 spent = 0, reserved = 0;
  if (auto it = totals_.find(Key{std::string(team), std::string(period)}); it != totals_.end()) {
    spent = it->second.spent;
    reserved = it->second.reserved;
    s.requests = it->second.requests;
  }
  s.spent = clamp_money(spent);
  s.reserved = clamp_money(reserved);
  const __int128 rem = static_cast<__int128>(s.cap.micros) - spent - reserved;
  s.remaining = clamp_money(rem < 0 ? 0 : rem);
  return s;
}

SpendSnapshot MemoryLedger::spend(std::string_view team, std::string_view period) {
  std::lock_guard lock(mu_);
  expire_locked();
  return snapshot_locked(team, period);
}

SpendSnapshot MemoryLedger::spend(std::string_view team) {
  const std::string period = current_period();
  return spend(team, period);
}

std::size_t MemoryLedger::live_reservations() {
  std::lock_guard lock(mu_);
  expire_locked();
  return reservations_.size();
}

std::uint64_t MemoryLedger::expired_total() const {
  std::lock_guard lock(mu_);
  return expired_total_;
}

}  // namespace aegis::budget
