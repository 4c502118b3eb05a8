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

  // Key lifecycle (issue 19). Model allow-list: the models this key may be
  // routed to (tier aliases or concrete ids); nullopt: whatever its team may use.
  std::optional<std::vector<std::string>> models = std::nullopt;
  // A monthly sub-budget within the team's cap; nullopt: only the team's cap.
  std::optional<Money> monthly_budget = std::nullopt;
  // After this instant the key authenticates no more (answered like an unknown key).
  std::optional<std::int64_t> expires_at_ms = std::nullopt;
  std::string description = {};
  // When the key last authenticated, to the minute; written in batches
  // (KeyStore::touch_keys), never once per request.
  std::optional<std::int64_t> last_used_at_ms = std::nullopt;
  // The secret a rotation replaced, still accepted until previous_valid_until_ms.
  std::string previous_secret_hash = {};  // "" when there is none
  std::optional<std::int64_t> previous_valid_until_ms = std::nullopt;
};

// A change to a key's lifecycle fields. Each member: absent = unchanged; for
// the nullable ones the inner nullopt clears the value (JSON null). Another
// set of fields is added as more members (and columns), nothing else.
struct KeyPatch {
  std::optional<std::optional<std::vector<std::string>>> models;
  std::optional<std::optional<Money>> monthly_budget;
  std::optional<std::optional<std::int64_t>> expires_at_ms;
  std::optional<std::string> description;

  bool empty() const { return !models && !monthly_budget && !expires_at_ms && !description; }
};

// A key's new secret (KeyStore::rotate_key).
struct KeyRotation {
  std::string prefix;
  std::string secret_hash;
  // Until when the replaced secret still authenticates; nullopt: not at all.
  std::optional<std::int64_t> previous_valid_until_ms;
};

// A key's committed spend in one budget month (KeyStore::load_key_spend).
struct KeySpend {
  std::string key_id;
  std::string period;  // "YYYY-MM"
  Money spent;
  std::int64_t requests = 0;
};

// One key's last authentication (KeyStore::touch_keys).
struct KeyUse {
  std::string id;
  std::int64_t used_at_ms = 0;
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
  // not_found if absent; returns the updated key. Every replica's key cache
  // drops the key (as for a revocation).
  virtual Result<ApiKeyRecord> update_key(const std::string& id, const KeyPatch& patch) = 0;
  // Replaces the key's secret, keeping the current one as the previous secret
  // (see KeyRotation). not_found if absent, conflict if revoked. Every
  // replica's key cache drops the key.
  virtual Result<ApiKeyRecord> rotate_key(const std::string& id, const KeyRotation& rotation) = 0;
  // Records last use times in one transaction; a time never moves back, and
  // unknown ids are skipped.
  virtual Result<void> touch_keys(const std::vector<KeyUse>& uses) = 0;
  // Every key's committed spend in `period`: the costs of its audit rows,
  // booked to `key_spend` in the rows' transaction (as budget_spend for teams).
  virtual Result<std::vector<KeySpend>> load_key_spend(const std::string& period) = 0;
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
