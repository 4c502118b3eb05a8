#include "budget/budget_service.hpp"

#include <algorithm>
#include <stdexcept>

#include "telemetry/log.hpp"

namespace aegis::budget {
namespace {

Money remaining_of(Money cap, const SpendSnapshot& s) {
  // 128-bit so that an over-committed period (actual > estimate) cannot wrap.
  const __int128 rem = static_cast<__int128>(cap.micros) - s.spent.micros - s.reserved.micros;
  return rem <= 0 ? Money{} : Money::from_micros(static_cast<std::int64_t>(rem));  // <= cap, fits
}

}  // namespace

BudgetService::BudgetService(Ledger& ledger, telemetry::Registry& metrics, std::chrono::nanoseconds reservation_ttl,
                             store::DbExecutor* db, Ledger* key_ledger)
    : ledger_(ledger),
      key_ledger_(key_ledger),
      ttl_(reservation_ttl),
      db_(db),
      spent_(metrics.gauge("aegis_budget_spent_usd", "Committed spend of the team in the current budget period (USD)",
                           {"team"})),
      remaining_(metrics.gauge("aegis_budget_remaining_usd",
                               "Monthly budget left in the current period: cap - spent - reserved, floored at 0 (USD)",
                               {"team"})),
      cap_(metrics.gauge("aegis_budget_cap_usd", "The team's monthly budget cap (USD)", {"team"})),
      rejections_(metrics.counter("aegis_budget_rejections_total",
                                  "Requests refused with 402 because the team's monthly budget would be exceeded",
                                  {"team"})) {
  if (ttl_ <= std::chrono::nanoseconds::zero()) throw std::invalid_argument("budget reservation ttl must be positive");
}

Result<ReservationId> BudgetService::preflight(const std::string& team, Money cap, Money estimate) {
  return preflight(team, cap, estimate, ttl_);
}

Result<ReservationId> BudgetService::preflight(const std::string& team, Money cap, Money estimate,
                                               std::chrono::nanoseconds ttl) {
  auto reservation = ledger_.reserve(team, cap, estimate, ttl);
  note_attempt(team, cap, reservation);
  return reservation;
}

void BudgetService::note_attempt(const std::string& team, Money cap, const Result<ReservationId>& reservation) {
  if (!reservation.ok() && reservation.error().code == ErrorCode::budget_exceeded) rejections_.with({team}).inc();
  // Remaining drops with every reservation, not only on commit.
  publish(team, cap);
}

boost::asio::awaitable<Result<ReservationId>> BudgetService::reserve(std::string team, Money cap, Money estimate,
                                                                     std::optional<std::chrono::nanoseconds> ttl) {
  const auto lifetime = ttl.value_or(ttl_);
  auto reservation = ledger_.reserve(team, cap, estimate, lifetime);
  const bool may_top_up =
      !reservation.ok() && reservation.error().code == ErrorCode::budget_exceeded && ledger_.shared() && db_ != nullptr;
  if (may_top_up) {
    auto fetch = [&] { return ledger_.top_up(team, cap, estimate); };
    auto fetched = co_await db_->run(fetch);
    if (!fetched.ok()) co_return std::move(fetched).error();  // fail closed: nothing runs unbudgeted
    if (*fetched) reservation = ledger_.reserve(team, cap, estimate, lifetime);
  }
  note_attempt(team, cap, reservation);
  co_return reservation;
}

boost::asio::awaitable<Result<ReservationId>> BudgetService::reserve(std::string team, Money cap, Money estimate,
                                                                     std::optional<std::chrono::nanoseconds> ttl,
                                                                     std::optional<KeyBudget> key) {
  auto reservation = co_await reserve(team, cap, estimate, ttl);
  if (!reservation.ok() || !key || key_ledger_ == nullptr) co_return reservation;
  const auto lifetime = ttl.value_or(ttl_);
  const KeyBudget& key_budget = *key;
  auto held = co_await reserve_key(key_budget, estimate, lifetime);
  if (!held.ok()) {
    (void)ledger_.release(*reservation);
    if (held.error().code == ErrorCode::budget_exceeded) rejections_.with({team}).inc();
    publish(team, cap);
    co_return std::move(held).error();
  }
  {
    std::lock_guard lock(holds_mu_);
    key_holds_.insert_or_assign(reservation->value, std::make_pair(key->key_id, *held));
  }
  co_return reservation;
}

boost::asio::awaitable<Result<ReservationId>> BudgetService::reserve_key(const KeyBudget& key, Money estimate,
                                                                         std::chrono::nanoseconds ttl) {
  Ledger& keys = *key_ledger_;
  auto reservation = keys.reserve(key.key_id, key.cap, estimate, ttl);
  if (!reservation.ok() && reservation.error().code == ErrorCode::budget_exceeded && keys.shared() && db_ != nullptr) {
    auto fetch = [&] { return keys.top_up(key.key_id, key.cap, estimate); };
    auto fetched = co_await db_->run(fetch);
    if (!fetched.ok()) co_return std::move(fetched).error();  // fail closed: nothing runs unbudgeted
    if (*fetched) reservation = keys.reserve(key.key_id, key.cap, estimate, ttl);
  }
  if (!reservation.ok() && reservation.error().code == ErrorCode::budget_exceeded) {
    // The ledgers name their accounts "team"; this one is a key's.
    const SpendSnapshot s = keys.recent_spend(key.key_id);
    co_return make_error(ErrorCode::budget_exceeded,
                         "API key '" + key.key_id + "' monthly budget of $" + key.cap.to_usd_string() +
                             " would be exceeded (" + s.period + ": spent $" + s.spent.to_usd_string() +
                             ", this request needs up to $" + estimate.to_usd_string() + ")");
  }
  co_return reservation;
}

std::optional<std::pair<std::string, ReservationId>> BudgetService::take_key_hold(ReservationId id) {
  std::lock_guard lock(holds_mu_);
  auto it = key_holds_.find(id.value);
  if (it == key_holds_.end()) return std::nullopt;
  auto hold = std::move(it->second);
  key_holds_.erase(it);
  return hold;
}

Money BudgetService::remaining(const std::string& team, Money cap, const std::optional<KeyBudget>& key) {
  const Money left = remaining(team, cap);
  if (!key || key_ledger_ == nullptr) return left;
  return std::min(left, remaining_of(key->cap, key_ledger_->recent_spend(key->key_id)));
}

SpendSnapshot BudgetService::key_spend(const std::string& key_id) {
  if (key_ledger_ == nullptr) return SpendSnapshot{ledger_.current_period(), {}, {}, {}, {}, 0};
  return key_ledger_->recent_spend(key_id);
}

std::string BudgetService::commit(ReservationId id, const std::string& team, Money cap, Money actual) {
  if (actual.micros < 0) actual = Money{};
  if (auto hold = take_key_hold(id)) {
    if (!key_ledger_->commit(hold->second, actual).ok()) {
      // Expired meanwhile: booked all the same, as for the team below.
      (void)key_ledger_->record_spend(hold->first, key_ledger_->current_period(), actual);
    }
  }
  auto booked = ledger_.commit(id, actual);
  std::string period;
  if (booked.ok()) {
    period = std::move(booked).value();
  } else {
    // The reservation expired while the provider was still answering (or the
    // id is stale); the provider bills regardless, so the money is booked.
    period = ledger_.current_period();
    (void)ledger_.record_spend(team, period, actual);  // cannot fail: actual >= 0
    telemetry::log(telemetry::LogLevel::warn, "budget_reservation_expired",
                   {{"team", team}, {"reservation", id.value}, {"period", period}, {"actual_micros", actual.micros}});
  }
  publish(team, cap);
  return period;
}

void BudgetService::release(ReservationId id, const std::string& team, Money cap) {
  if (auto hold = take_key_hold(id)) (void)key_ledger_->release(hold->second);
  (void)ledger_.release(id);  // not_found: already expired, nothing left to free
  publish(team, cap);
}

Money BudgetService::remaining(const std::string& team, Money cap) {
  return remaining_of(cap, ledger_.recent_spend(team));
}

void BudgetService::publish(const std::string& team, Money cap) {
  std::lock_guard lock(publish_mu_);
  const SpendSnapshot s = ledger_.recent_spend(team);
  spent_.with({team}).set(s.spent.to_usd_double());
  remaining_.with({team}).set(remaining_of(cap, s).to_usd_double());
  cap_.with({team}).set(cap.to_usd_double());
  // Exists at 0 before the first rejection, so increase() sees that one too.
  rejections_.with({team});
}

}  // namespace aegis::budget
