#pragma once
// One database: teams and keys (store.hpp), and the audit trail with the
// spend it carries (audit/audit_store.hpp). A backend implements both, so the
// rows and the spend they book commit in one transaction.
#include "audit/audit_store.hpp"
#include "store/store.hpp"

namespace aegis::store {

class Database : public Store, public audit::AuditStore {};

}  // namespace aegis::store
