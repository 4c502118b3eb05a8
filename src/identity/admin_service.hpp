#pragma once
// Team and key administration shared by the HTTP admin API and `aegis admin`.
// These functions call the store directly (they block): the HTTP layer runs
// them through a DbExecutor, the CLI calls them on its own thread.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/classification.hpp"
#include "core/clock.hpp"
#include "core/money.hpp"
#include "core/result.hpp"
#include "identity/api_key.hpp"
#include "store/store.hpp"

namespace aegis::identity {

// Field validation; errors are invalid_request with a message naming the field.
// Team names: 1..64 characters of [A-Za-z0-9_.-].
Result<void> validate_team_name(std::string_view name);
// One of PUBLIC, INTERNAL, CONFIDENTIAL, RESTRICTED (any case).
Result<Level> parse_clearance(std::string_view text);
// Non-negative dollars: "12", "12.5", at most 6 decimals (Money::parse_usd).
Result<Money> parse_monthly_budget(std::string_view usd);
// The same for a JSON number.
Result<Money> parse_monthly_budget(double usd);

struct TeamInput {
  std::string name;
  Money monthly_budget;
  Level clearance = Level::INTERNAL;
};

// invalid_request on bad fields, conflict if the name exists.
Result<store::Team> create_team(store::TeamStore& teams, const Clock& clock, const TeamInput& input);
Result<store::Team> get_team(store::TeamStore& teams, const std::string& name);
Result<std::vector<store::Team>> list_teams(store::TeamStore& teams);
// invalid_request on a negative budget, not_found if absent.
Result<store::Team> update_team(store::TeamStore& teams, const std::string& name, const store::TeamPatch& patch);

struct CreatedKey {
  NewKey key;                  // key.key is shown once and never stored
  store::ApiKeyRecord record;  // what was stored
};
// not_found if the team does not exist.
Result<CreatedKey> create_key(store::KeyStore& keys, const Clock& clock, const std::string& team);
// With a clearance of the key's own: invalid_request when it is above the
// team's (a key can narrow what its team may see, never widen it).
Result<CreatedKey> create_key(store::TeamStore& teams, store::KeyStore& keys, const Clock& clock,
                              const std::string& team, std::optional<Level> clearance);

// What listings show: never the key, never its hash.
struct KeyInfo {
  std::string id;
  std::string team;
  std::string prefix;
  std::int64_t created_at_ms = 0;
  std::optional<std::int64_t> revoked_at_ms;
  std::optional<Level> clearance;  // the key's own; nullopt: the team's
};
KeyInfo key_info(const store::ApiKeyRecord& record);
Result<std::vector<KeyInfo>> list_keys(store::KeyStore& keys, const std::optional<std::string>& team);
// not_found if absent; revoking twice is not an error. Callers with an
// Authenticator call its invalidate(id) afterwards.
Result<void> revoke_key(store::KeyStore& keys, const Clock& clock, const std::string& id);

}  // namespace aegis::identity
