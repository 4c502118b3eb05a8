#pragma once
// Stage 5 (preflight) and stage 9 (reconcile) for the gateway: a Ledger plus
// the budget metrics. Every surface (chat, messages, embeddings, jobs, RAG)
// goes through the same preflight; there is no route around it.
//
//   aegis_budget_spent_usd{team}       committed spend this period
//   aegis_budget_remaining_usd{team}   cap - spent - reserved, floored at 0
//   aegis_budget_cap_usd{team}         the monthly cap (alerts compare spent with it)
//   aegis_budget_rejections_total{team}
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "budget/ledger.hpp"
#include "core/money.hpp"
#include "core/result.hpp"
#include "store/db_executor.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::budget {

// A key's monthly sub-budget (issue 19), reserved beside its team's cap.
struct KeyBudget {
  std::string key_id;
  Money cap;
};

class BudgetService {
 public:
  // Registers the three metric families; throws std::invalid_argument for a non-positive ttl (start-up).
  // `db` runs a shared ledger's top-ups (Ledger::top_up) off the I/O
  // threads; without it a shared ledger reserves only what it already holds.
  // `key_ledger` (not owned) holds the keys' sub-budgets, its accounts named
  // by key id: a reservation with a KeyBudget is taken in both ledgers, and
  // commit/release settle both. Null: keys have no sub-budgets (a KeyBudget
  // is then ignored).
  BudgetService(Ledger& ledger, telemetry::Registry& metrics, std::chrono::nanoseconds reservation_ttl,
                store::DbExecutor* db = nullptr, Ledger* key_ledger = nullptr);

  // Reserves `estimate` against the team's cap, or 402 budget_exceeded (counted).
  Result<ReservationId> preflight(const std::string& team, Money cap, Money estimate);
  // The same with a lifetime of its own: a job's reservation is held while it waits in the queue.
  Result<ReservationId> preflight(const std::string& team, Money cap, Money estimate, std::chrono::nanoseconds ttl);
  // Stage 5 as the gateway runs it: preflight, and when a shared ledger is
  // short of its slice, a top-up on a database thread and one more try.
  // unavailable (503) when the shared store cannot be reached.
  boost::asio::awaitable<Result<ReservationId>> reserve(std::string team, Money cap, Money estimate,
                                                        std::optional<std::chrono::nanoseconds> ttl);
  // The same with the calling key's sub-budget: the team's cap first, then
  // the key's; 402 budget_exceeded when either would be exceeded (the team's
  // reservation is then given back), so a key cannot spend past its own cap
  // while its team still has money, nor past the team's.
  boost::asio::awaitable<Result<ReservationId>> reserve(std::string team, Money cap, Money estimate,
                                                        std::optional<std::chrono::nanoseconds> ttl,
                                                        std::optional<KeyBudget> key);
  // Books the actual cost and frees the rest of the reservation; returns the
  // period it was booked to (put it in the audit row so the store's spend
  // agrees). When the reservation had expired (or is unknown) the cost is
  // booked to the current period as a fresh, already-settled spend, with no
  // cap check, so nothing is lost; that period is returned. Negative actuals count as 0.
  std::string commit(ReservationId id, const std::string& team, Money cap, Money actual);
  // Frees the whole reservation (the call failed or was blocked); an expired
  // one is already free, so that is not an error.
  void release(ReservationId id, const std::string& team, Money cap);

  // What is left this period: cap - spent - reserved, floored at 0.
  Money remaining(const std::string& team, Money cap);
  // The lower of the team's and the key's remaining (the key's as far as
  // known without waiting).
  Money remaining(const std::string& team, Money cap, const std::optional<KeyBudget>& key);
  // A key's totals this period (its cap as last reserved against); zeros without a key ledger.
  SpendSnapshot key_spend(const std::string& key_id);
  Ledger* key_ledger() { return key_ledger_; }
  SpendSnapshot spend(const std::string& team) { return ledger_.spend(team); }
  Ledger& ledger() { return ledger_; }

 private:
  void publish(const std::string& team, Money cap);
  // The outcome of a reservation attempt: rejections counted, gauges updated.
  void note_attempt(const std::string& team, Money cap, const Result<ReservationId>& reservation);

  // Reserves against the key's sub-budget (a shared ledger tops up first).
  boost::asio::awaitable<Result<ReservationId>> reserve_key(const KeyBudget& key, Money estimate,
                                                            std::chrono::nanoseconds ttl);
  // The key reservation that goes with a team reservation, if any (and forgets it).
  std::optional<std::pair<std::string, ReservationId>> take_key_hold(ReservationId id);

  Ledger& ledger_;
  Ledger* key_ledger_;
  std::mutex holds_mu_;
  // Team reservation id -> (key id, its reservation in the key ledger).
  std::unordered_map<std::uint64_t, std::pair<std::string, ReservationId>> key_holds_;
  std::chrono::nanoseconds ttl_;
  store::DbExecutor* db_;
  telemetry::GaugeFamily& spent_;
  telemetry::GaugeFamily& remaining_;
  telemetry::GaugeFamily& cap_;
  telemetry::CounterFamily& rejections_;
  // Snapshot and gauge update happen under one lock so a slow publisher can
  // never overwrite a newer value with an older snapshot.
  std::mutex publish_mu_;
};

}  // namespace aegis::budget
