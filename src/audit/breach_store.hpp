#pragma once
// The breach register: PIPEDA requires an organisation to keep a record of
// every breach of security safeguards. An entry is made, in the transaction
// that writes the audit row, for a RESTRICTED row sent to a non-local
// provider (a pipeda_violations row) and for an egress block; and for every
// tampering the audit chain's verifier finds. Entries hold what the audit
// row holds (types and counts, never values); an officer moves them through
// assessed, reported and closed, each change kept in an append-only history.
#include <boost/json/object.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/record.hpp"
#include "core/result.hpp"

namespace aegis::audit {

inline constexpr std::string_view kBreachPipedaViolation = "pipeda_violation";
inline constexpr std::string_view kBreachEgressBlock = "egress_block";
inline constexpr std::string_view kBreachChainFailure = "chain_failure";

// "open" when recorded; then what an officer sets.
bool is_breach_status(std::string_view status) noexcept;           // open | assessed | reported | closed
bool is_settable_breach_status(std::string_view status) noexcept;  // assessed | reported | closed

struct Breach {
  std::int64_t id = 0;
  std::int64_t detected_at_ms = 0;
  std::string kind;  // one of the kBreach* names
  // What makes an entry unique: the request id for a row, the chain and
  // finding for a chain failure, so recording it twice keeps one entry.
  std::string ref;
  std::string team;
  std::string key_id;
  std::string provider;
  std::map<std::string, int> entities;  // entity type -> count
  std::string request_id;
  std::string detail;  // one line: the finding, or what the row says happened
  std::string status = "open";
  std::string note;  // the officer's latest note
  std::int64_t updated_at_ms = 0;
  std::string updated_by;
};

struct BreachUpdate {
  std::int64_t breach_id = 0;
  std::int64_t time_ms = 0;
  std::string status;
  std::string note;
  std::string actor;  // who changed it, e.g. "admin_key" or "cli"
};

struct BreachQuery {
  std::optional<std::string> status;
  std::optional<std::string> team;
  std::optional<std::string> kind;
  int limit = 100;  // newest first
};

// The JSON an entry and a change are shown as (admin API, `aegis breaches --json`).
boost::json::object breach_json(const Breach& breach);
boost::json::object breach_update_json(const BreachUpdate& update);

// The audit row of an officer's change to an entry (surface admin.breaches,
// task breach_update), so the change is in the tamper-evident trail too:
// the entry's team, its id and the new status, never the note.
AuditRecord breach_update_row(const Breach& breach, const BreachUpdate& update, std::string request_id);

// The entry an audit row calls for, if any: a RESTRICTED row whose data went
// to a non-local provider, or an egress block.
std::optional<Breach> breach_for_row(const AuditRecord& row);

class BreachStore {
 public:
  virtual ~BreachStore() = default;
  // Records an entry unless one with its kind and ref exists; true when new.
  virtual Result<bool> record_breach(const Breach& breach) = 0;
  virtual Result<std::vector<Breach>> list_breaches(const BreachQuery& query) = 0;
  // not_found if absent.
  virtual Result<Breach> get_breach(std::int64_t id) = 0;
  // Sets status and note and appends the change to the history, in one
  // transaction; not_found if absent.
  virtual Result<Breach> update_breach(const BreachUpdate& update) = 0;
  // Every change of an entry, oldest first.
  virtual Result<std::vector<BreachUpdate>> breach_history(std::int64_t id) = 0;
};

}  // namespace aegis::audit
