#include "budget/leased_ledger.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <vector>

#include "telemetry/log.hpp"

namespace aegis::budget {
namespace {

Money clamp_money(__int128 v) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  if (v > kMax) return Money::from_micros(kMax);
  if (v < 0) return Money{};
  return Money::from_micros(static_cast<std::int64_t>(v));
}

}  // namespace

LeasedLedger::LeasedLedger(const Clock& clock, BudgetZone zone, store::BudgetPool& pool, Options options)
    : clock_(clock), pool_(pool), options_(options), local_(clock, zone) {
  if (options_.maintain_every.count() > 0) {
    maintainer_ = std::thread([this] {
      std::unique_lock lock(stop_mu_);
      while (!stop_cv_.wait_for(lock, options_.maintain_every, [this] { return stopping_; })) {
        lock.unlock();
        maintain();
        lock.lock();
      }
    });
  }
}

LeasedLedger::~LeasedLedger() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (maintainer_.joinable()) maintainer_.join();
  maintain(/*everything=*/true);
}

std::string LeasedLedger::current_period() const { return local_.current_period(); }

__int128 LeasedLedger::unused_locked(const Key& key, const Slice& slice) {
  const SpendSnapshot mine = local_.spend(key.first, key.second);
  return slice.granted - mine.spent.micros - mine.reserved.micros;
}

Result<ReservationId> LeasedLedger::reserve(std::string_view team, Money cap, Money amount,
                                            std::chrono::nanoseconds ttl) {
  std::string period = current_period();
  std::lock_guard lock(mu_);
  auto [it, added] = slices_.try_emplace(Key{std::string(team), period});
  it->second.last_reserved = clock_.steady_now();
  // The slice is the local cap: spent + reserved + amount <= granted.
  auto reserved = local_.reserve_in_period(team, period, clamp_money(it->second.granted), amount, ttl);
  if (reserved.ok() || reserved.error().code != ErrorCode::budget_exceeded) return reserved;
  const auto& seen = it->second.totals;
  return make_error(ErrorCode::budget_exceeded,
                    "team '" + std::string(team) + "' monthly budget of $" + cap.to_usd_string() +
                        " would be exceeded (" + period + ": spent $" + seen.spent.to_usd_string() +
                        " across all gateways, this request needs up to $" + amount.to_usd_string() + ")");
}

Result<std::string> LeasedLedger::commit(ReservationId id, Money actual) { return local_.commit(id, actual); }

Result<void> LeasedLedger::record_spend(std::string_view team, std::string_view period, Money actual) {
  std::lock_guard lock(mu_);
  slices_.try_emplace(Key{std::string(team), std::string(period)});  // its debt is given back by maintain()
  return local_.record_spend(team, period, actual);
}

Result<void> LeasedLedger::release(ReservationId id) { return local_.release(id); }

Result<bool> LeasedLedger::top_up(std::string_view team, Money cap, Money amount) {
  std::lock_guard take(pool_mu_);
  const std::string period = current_period();
  const Key key{std::string(team), period};
  __int128 need = 0;
  __int128 extra = 0;
  {
    std::lock_guard lock(mu_);
    auto& slice = slices_[key];
    const __int128 unused = unused_locked(key, slice);
    if (unused >= amount.micros) return true;  // a concurrent shortfall's take already covered it
    need = amount.micros - unused;
    // A bounded share of what is left, so the next requests need no take
    // and the other replicas still find money in the pool.
    const __int128 left = static_cast<__int128>(cap.micros) - slice.totals.granted.micros - need;
    const __int128 replicas = std::max<std::int64_t>(1, replicas_.load());
    extra = std::clamp<__int128>(left / (4 * replicas), 0, cap.micros / 10);
  }
  auto lease = pool_.take(team, period, cap, clamp_money(need), clamp_money(need + extra));
  if (!lease.ok()) return lease.error();
  std::lock_guard lock(mu_);
  auto& slice = slices_[key];
  if (!lease->renewed && slice.granted != 0) {
    // Another replica presumed this one dead and reclaimed its lease: what
    // this replica thought it held is back in the pool.
    const SpendSnapshot mine = local_.spend(team, period);
    slice.granted = static_cast<__int128>(mine.spent.micros) + mine.reserved.micros;
    telemetry::log(telemetry::LogLevel::warn, "budget_lease_reclaimed",
                   {{"team", std::string(team)}, {"period", period}});
  }
  slice.granted += lease->granted.micros;
  slice.totals = lease->totals;
  return lease->granted.micros > 0;
}

void LeasedLedger::maintain(bool everything) {
  std::lock_guard take(pool_mu_);
  replicas_.store(pool_.replicas());
  const auto now = clock_.steady_now();
  const std::string period = current_period();
  struct Due {
    Key key;
    __int128 unused;
  };
  std::vector<Due> due;
  std::set<std::string> teams_now;
  {
    std::lock_guard lock(mu_);
    for (auto it = slices_.begin(); it != slices_.end();) {
      const auto& [key, slice] = *it;
      const bool past = key.second != period;
      if (!past) teams_now.insert(key.first);
      const __int128 unused = unused_locked(key, slice);
      if (unused == 0) {
        // A past month with nothing left in it is done with.
        it = (past && local_.spend(key.first, key.second).reserved.micros == 0) ? slices_.erase(it) : std::next(it);
        continue;
      }
      // Spend beyond the slice (unused < 0) is booked at once; an unused
      // slice goes back when idle. Either way this replica's unused becomes
      // 0 now, before the database call, so no reservation can take what is
      // being given back.
      const bool idle = past || everything || now - slice.last_reserved >= options_.give_back_idle_after;
      if (unused < 0 || idle) {
        it->second.granted -= unused;
        due.push_back({key, unused});
      }
      ++it;
    }
  }
  for (const auto& d : due) {
    const Money unused = d.unused < 0 ? Money::from_micros(-static_cast<std::int64_t>(clamp_money(-d.unused).micros))
                                      : clamp_money(d.unused);
    auto given = pool_.give_back(d.key.first, d.key.second, unused);
    if (!given.ok()) {
      std::lock_guard lock(mu_);
      slices_[d.key].granted += d.unused;  // still held: tried again at the next pass
      continue;
    }
    if (!*given) {
      telemetry::log(telemetry::LogLevel::warn, "budget_lease_reclaimed",
                     {{"team", d.key.first}, {"period", d.key.second}});
    }
  }
  for (const auto& team : teams_now) {
    auto totals = pool_.totals(team, period);
    if (!totals.ok()) continue;
    std::lock_guard lock(mu_);
    slices_[Key{team, period}].totals = *totals;
  }
}

Money LeasedLedger::held(std::string_view team) {
  std::lock_guard lock(mu_);
  auto it = slices_.find(Key{std::string(team), current_period()});
  return it == slices_.end() ? Money{} : clamp_money(unused_locked(it->first, it->second));
}

SpendSnapshot LeasedLedger::snapshot_of(const store::PoolTotals& totals, std::string_view period,
                                        __int128 unused) const {
  SpendSnapshot s;
  s.period = std::string(period);
  s.cap = totals.cap;
  s.spent = totals.spent;
  s.requests = totals.requests;
  s.reserved = clamp_money(static_cast<__int128>(totals.granted.micros) - totals.spent.micros);
  s.remaining = clamp_money(std::max<__int128>(0, static_cast<__int128>(totals.cap.micros) - totals.granted.micros) +
                            std::max<__int128>(0, unused));
  return s;
}

SpendSnapshot LeasedLedger::spend(std::string_view team, std::string_view period) {
  auto totals = pool_.totals(team, period);
  if (!totals.ok()) {
    // The database is away: what was last seen, rather than zeros.
    std::lock_guard lock(mu_);
    auto it = slices_.find(Key{std::string(team), std::string(period)});
    return snapshot_of(it == slices_.end() ? store::PoolTotals{} : it->second.totals, period, 0);
  }
  return snapshot_of(*totals, period, 0);
}

SpendSnapshot LeasedLedger::spend(std::string_view team) { return spend(team, current_period()); }

SpendSnapshot LeasedLedger::recent_spend(std::string_view team) {
  const std::string period = current_period();
  std::lock_guard lock(mu_);
  auto it = slices_.find(Key{std::string(team), period});
  if (it == slices_.end()) return snapshot_of(store::PoolTotals{}, period, 0);
  return snapshot_of(it->second.totals, period, unused_locked(it->first, it->second));
}

}  // namespace aegis::budget
