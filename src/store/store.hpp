#pragma once
// Storage interfaces. Implementations (store/sqlite, store/postgres) are
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

namespace aegis::store {

struct Team {
  std::string name;
  Money monthly_budget;
  Level clearance = Level::INTERNAL;
  std::int64_t created_at_ms = 0;  // Unix epoch milliseconds
  // The exact response cache as the admin API set it: seconds an answer
  // stays cached, 0 off; nullopt: never set (the config's
  // response_cache.teams decides).
  std::optional<std::int64_t> response_cache_ttl_s = std::nullopt;
};

struct TeamPatch {
  std::optional<Money> monthly_budget;
  std::optional<Level> clearance;
  std::optional<std::int64_t> response_cache_ttl_s = std::nullopt;  // set: the new value (0 turns the cache off)
};

struct ApiKeyRecord {
  std::string id;  // public identifier, e.g. "4f9c0a1b2c3d4e5f"
  std::string team;
  std::string prefix;       // what people see in listings, e.g. "aeg_4f9c0a1b2c3d4e5f_Xy3q"
  std::string secret_hash;  // hex SHA-256 of the whole key; the key itself is never stored
  std::int64_t created_at_ms = 0;
  std::optional<std::int64_t> revoked_at_ms;
  // A clearance of this key's own, at most its team's: the caller's is the
  // lower of the two. nullopt: the team's.
  std::optional<Level> clearance;
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

// Teams and keys. The audit trail and the spend it carries live in the same
// database (store/factory.hpp opens both) behind audit::AuditStore.
class Store : public TeamStore, public KeyStore {
 public:
  // A cheap round trip that proves the store answers (for /readyz).
  virtual Result<void> ping() = 0;
  // Applied migration version, for diagnostics.
  virtual int schema_version() = 0;
};

}  // namespace aegis::store
