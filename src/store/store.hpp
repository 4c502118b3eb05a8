#pragma once
// Storage interfaces. Implementations (store/sqlite, later store/postgres) are
// blocking and thread-safe; the server calls them through a DbExecutor
// (store/db_executor.hpp) so that no database call runs on an I/O thread.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/classification.hpp"
#include "core/money.hpp"
#include "core/result.hpp"
#include "telemetry/audit.hpp"

namespace aegis::store {

struct Team {
  std::string name;
  Money monthly_budget;
  Level clearance = Level::INTERNAL;
  std::int64_t created_at_ms = 0;  // Unix epoch milliseconds
};

struct TeamPatch {
  std::optional<Money> monthly_budget;
  std::optional<Level> clearance;
};

struct ApiKeyRecord {
  std::string id;           // public identifier, e.g. "4f9c0a1b2c3d4e5f"
  std::string team;
  std::string prefix;       // what people see in listings, e.g. "aeg_4f9c0a1b2c3d4e5f_Xy3q"
  std::string secret_hash;  // hex SHA-256 of the whole key; the key itself is never stored
  std::int64_t created_at_ms = 0;
  std::optional<std::int64_t> revoked_at_ms;
};

class TeamStore {
 public:
  virtual ~TeamStore() = default;
  // conflict if the name exists.
  virtual Result<Team> create_team(const Team& team) = 0;
  // not_found if absent.
  virtual Result<Team> get_team(const std::string& name) = 0;
  virtual Result<std::vector<Team>> list_teams() = 0;
  // not_found if absent; returns the updated team.
  virtual Result<Team> update_team(const std::string& name, const TeamPatch& patch) = 0;
};

class KeyStore {
 public:
  virtual ~KeyStore() = default;
  // not_found if the team does not exist; conflict on a duplicate id.
  virtual Result<ApiKeyRecord> create_key(const ApiKeyRecord& key) = 0;
  // not_found if no key has this id (revoked keys are returned, with revoked_at_ms set).
  virtual Result<ApiKeyRecord> get_key(const std::string& id) = 0;
  // All keys, or one team's, oldest first.
  virtual Result<std::vector<ApiKeyRecord>> list_keys(const std::optional<std::string>& team) = 0;
  // not_found if absent; revoking twice is not an error.
  virtual Result<void> revoke_key(const std::string& id, std::int64_t revoked_at_ms) = 0;
};

struct AuditQuery {
  std::optional<std::string> team;
  std::optional<std::int64_t> since_ms;  // rows with time_ms >= since_ms
  int limit = 100;                       // 1..1000; newest first
};

// Committed spend per team and budget period, kept in the same transaction
// as the audit rows that carry the costs, so the two always agree.
struct TeamSpend {
  std::string team;
  std::string period;  // "YYYY-MM"
  Money spent;
  std::int64_t requests = 0;
};

class AuditStore {
 public:
  virtual ~AuditStore() = default;
  // Appends the rows in one transaction and adds each row's cost (when its
  // budget_period is set) to that team's spend for the period.
  virtual Result<void> append_audit(const std::vector<telemetry::AuditRecord>& rows) = 0;
  virtual Result<std::vector<telemetry::AuditRecord>> query_audit(const AuditQuery& query) = 0;
  // Rows of the pipeda_violations view (RESTRICTED rows sent to a non-local provider).
  virtual Result<std::int64_t> count_pipeda_violations() = 0;
  // Committed spend of every team in `period`.
  virtual Result<std::vector<TeamSpend>> load_spend(const std::string& period) = 0;
};

// Everything the gateway stores. Later issues add jobs and vectors.
class Store : public TeamStore, public KeyStore, public AuditStore {
 public:
  // A cheap round trip that proves the store answers (for /readyz).
  virtual Result<void> ping() = 0;
  // Applied migration version, for diagnostics.
  virtual int schema_version() = 0;
};

}  // namespace aegis::store
