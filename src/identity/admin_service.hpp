#pragma once
// Team and key administration shared by the HTTP admin API and `aegis admin`.
// These functions call the store directly (they block): the HTTP layer runs
// them through a DbExecutor, the CLI calls them on its own thread.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/record.hpp"
#include "core/classification.hpp"
#include "core/clock.hpp"
#include "core/money.hpp"
#include "core/result.hpp"
#include "identity/api_key.hpp"
#include "store/rate_limits.hpp"
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

// A key's lifecycle fields (issue 19), each optional.
struct KeyFields {
  std::optional<std::vector<std::string>> models;  // allow-list; nullopt: none
  std::optional<Money> monthly_budget;             // sub-budget; at most the team's cap
  std::optional<std::int64_t> expires_at_ms;
  std::string description;
};

// Validation of those fields; errors are invalid_request naming the field.
// models: 1..64 distinct names of 1..128 printable ASCII characters without
// spaces (tier aliases, concrete ids or "provider/id"; routing decides what
// each matches).
Result<std::vector<std::string>> validate_models(std::vector<std::string> models);
// description: at most 256 characters, no control characters.
Result<void> validate_description(std::string_view description);
// expires_at: an RFC 3339 date-time, as Unix epoch milliseconds.
Result<std::int64_t> parse_expires_at(std::string_view text);
// A key's sub-budget against its team's cap: invalid_request when above it.
Result<void> check_key_budget(Money key_budget, const store::Team& team);

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
// With lifecycle fields too: a sub-budget above the team's cap, or an expiry
// already past, is invalid_request.
Result<CreatedKey> create_key(store::TeamStore& teams, store::KeyStore& keys, const Clock& clock,
                              const std::string& team, std::optional<Level> clearance, const KeyFields& fields);

// Applies `patch` (fields validated as above; a sub-budget is checked against
// the team's cap as it is now). not_found if the key does not exist. Callers
// with an Authenticator call its invalidate(id) afterwards.
Result<store::ApiKeyRecord> update_key(store::TeamStore& teams, store::KeyStore& keys, const std::string& id,
                                       const store::KeyPatch& patch);

// The longest grace a rotation may give the replaced secret: 30 days.
inline constexpr std::int64_t kMaxRotationGraceS = 30LL * 24 * 3600;
inline constexpr std::int64_t kDefaultRotationGraceS = 24LL * 3600;
struct RotatedKey {
  std::string key;  // the new key, shown once and never stored
  // Until when the replaced secret authenticates; nullopt: revoked at once (grace 0).
  std::optional<std::int64_t> previous_valid_until_ms;
  store::ApiKeyRecord record;
};
// A new secret for the key `id`, the current one kept for `grace_s` seconds
// (0..kMaxRotationGraceS, else invalid_request). not_found if absent,
// conflict if revoked. Callers with an Authenticator call its invalidate(id).
Result<RotatedKey> rotate_key(store::KeyStore& keys, const Clock& clock, const std::string& id, std::int64_t grace_s);

// What listings show: never the key, never its hash.
struct KeyInfo {
  std::string id;
  std::string team;
  std::string prefix;
  std::int64_t created_at_ms = 0;
  std::optional<std::int64_t> revoked_at_ms;
  std::optional<Level> clearance;  // the key's own; nullopt: the team's
  std::optional<std::vector<std::string>> models;
  std::optional<Money> monthly_budget;
  std::optional<std::int64_t> expires_at_ms;
  std::string description;
  std::optional<std::int64_t> last_used_at_ms;          // to the minute, never before created_at_ms; flushed in batches
  std::optional<std::int64_t> previous_valid_until_ms;  // a rotation's grace, while it lasts
};
KeyInfo key_info(const store::ApiKeyRecord& record);
Result<std::vector<KeyInfo>> list_keys(store::KeyStore& keys, const std::optional<std::string>& team);
// not_found if absent; revoking twice is not an error. Callers with an
// Authenticator call its invalidate(id) afterwards.
Result<void> revoke_key(store::KeyStore& keys, const Clock& clock, const std::string& id);

// An admin action on a key in the audit trail (surface admin.keys), as the
// admin API and `aegis admin` write it: who (the key's team and id, and the
// request: the API's request id, or the CLI's "cli_..." one), what (`task`:
// "key_rotate", "key_update") and `reason` (e.g. "grace_s=3600", or the
// names of the fields changed); never a secret, never a value.
audit::AuditRecord key_action_row(const store::ApiKeyRecord& key, std::string request_id, std::string task,
                                  std::string reason, std::int64_t now_ms);
// The reason of a "key_update" row: the names of the fields a change sets, as
// PATCH /admin/v1/keys/{id} names them, comma-separated in that order
// ("models,monthly_budget_usd,expires_at,description,rpm,tpm,max_concurrency").
std::string key_change_fields(const store::KeyPatch& patch, const store::RateLimitsPatch& limits);

}  // namespace aegis::identity
