#pragma once
// The JSON an audit row or a checkpoint is exported as: every column under
// its column name (money as integer micro-dollars), plus the row's place in
// its chain. Never content: rows hold none.
#include <string>

#include "audit/chain.hpp"
#include "audit/export/export_sink.hpp"

namespace aegis::audit::siem {

// {"type":"audit_row", "chain_id", "seq", "prev_hash", "row_hash", "time_ms", "request_id", ...}
ExportEvent row_event(const StoredAuditRow& row);
// {"type":"checkpoint", "id", "chain_id", "seq", "head_hash", "sealed_at_ms", "key_id", "signature"}
ExportEvent checkpoint_event(const Checkpoint& checkpoint);

}  // namespace aegis::audit::siem
