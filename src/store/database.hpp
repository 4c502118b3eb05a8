#pragma once
// One database: teams and keys (store.hpp), stored Responses API
// conversations (response_store.hpp), console sign-outs
// (console_session_store.hpp), and the audit trail with the
// spend it carries (audit/audit_store.hpp). A backend implements both, so the
// rows and the spend they book commit in one transaction.
#include <functional>
#include <string>

#include "audit/audit_store.hpp"
#include "audit/breach_store.hpp"
#include "audit/chain_writer.hpp"
#include "store/budget_pool.hpp"
#include "store/console_session_store.hpp"
#include "store/rate_limits.hpp"
#include "store/response_store.hpp"
#include "store/store.hpp"

namespace aegis::store {

class Database : public Store,
                 public audit::AuditStore,
                 public audit::BreachStore,
                 public RateLimitStore,
                 public ResponseStore,
                 public ConsoleSessionStore {
 public:
  // Other gateway processes writing to this database now (a shared backend's
  // replicas); 0 for a database one process owns.
  virtual std::int64_t live_peers() { return 0; }

  // Calls on_key_revoked(key id) when a key is revoked, updated or rotated, and on_teams_changed()
  // when a team changes (or changes may have been missed), through whichever
  // process did it, from a thread of the store's own, until stop_watching():
  // what lets every replica drop a cached key at once. A database one process
  // owns has nothing to report (its own revocations invalidate directly).
  virtual void watch_changes(const std::function<void(const std::string&)>& /*on_key_revoked*/,
                             const std::function<void()>& /*on_teams_changed*/) {}
  // Returns once no callback runs or will run.
  virtual void stop_watching() {}

  // The budget shared with other replicas (store/budget_pool.hpp), or null
  // for a database one process owns: its ledger lives in memory. Owned by the
  // database; created on first use (not thread-safe: call at start-up).
  virtual BudgetPool* budget_pool() { return nullptr; }
  // The same for the keys' monthly sub-budgets: its accounts are key ids.
  virtual BudgetPool* key_budget_pool() { return nullptr; }

  // The rate-limit buckets shared with other replicas (store/rate_limits.hpp),
  // or null for a database one process owns: its buckets live in memory.
  // Owned by the database; created on first use (call at start-up).
  virtual RatePool* rate_pool() { return nullptr; }

  // The chain this process links its audit rows into (audit/chain_writer.hpp),
  // whose heads the gateway seals in checkpoints. Owned by the database.
  virtual audit::ChainWriter* chain_writer() = 0;
};

}  // namespace aegis::store
