#include "budget/ledger_restore.hpp"

namespace aegis::budget {

Result<void> restore_spend(audit::AuditStore& store, MemoryLedger& ledger) {
  const std::string period = ledger.current_period();
  AEGIS_TRY(rows, store.load_spend(period));
  for (const auto& row : rows) {
    // A store that ignored the filter must not leak another month's spend into this one.
    if (row.period != period) continue;
    ledger.seed(row.team, period, row.spent, row.requests);
  }
  return {};
}

Result<void> restore_key_spend(store::KeyStore& store, MemoryLedger& ledger) {
  const std::string period = ledger.current_period();
  AEGIS_TRY(rows, store.load_key_spend(period));
  for (const auto& row : rows) {
    if (row.period != period) continue;
    ledger.seed(row.key_id, period, row.spent, row.requests);
  }
  return {};
}

}  // namespace aegis::budget
