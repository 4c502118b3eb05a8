#pragma once
// One database: teams and keys (store.hpp), and the audit trail with the
// spend it carries (audit/audit_store.hpp). A backend implements both, so the
// rows and the spend they book commit in one transaction.
#include "audit/audit_store.hpp"
#include "store/store.hpp"

namespace aegis::store {

class Database : public Store, public audit::AuditStore {
 public:
  // Other gateway processes writing to this database now (a shared backend's
  // replicas); 0 for a database one process owns.
  virtual std::int64_t live_peers() { return 0; }
};

}  // namespace aegis::store
