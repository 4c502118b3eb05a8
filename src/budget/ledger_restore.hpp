#pragma once
// Start-up: the in-memory ledger forgets everything on restart, so the
// current period's committed spend is read back from the store (where it is
// kept in the same transaction as the audit rows that carry the costs).
#include "audit/audit_store.hpp"
#include "budget/memory_ledger.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace aegis::budget {

// Seeds `ledger` with every team's committed spend for the ledger's current
// period. Blocking (one store call): run it before serving, or through the
// DbExecutor. The store's error is returned unchanged.
Result<void> restore_spend(audit::AuditStore& store, MemoryLedger& ledger);
// The same for the keys' sub-budgets: `ledger` is the key ledger (accounts
// named by key id), seeded from key_spend.
Result<void> restore_key_spend(store::KeyStore& store, MemoryLedger& ledger);

}  // namespace aegis::budget
