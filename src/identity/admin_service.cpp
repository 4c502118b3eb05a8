#include "identity/admin_service.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/time_format.hpp"

namespace aegis::identity {

namespace {

constexpr std::size_t kMaxTeamName = 64;
constexpr int kKeyIdAttempts = 3;

bool is_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

Error bad_budget() {
  return make_error(ErrorCode::invalid_request,
                    "monthly_budget_usd must be a non-negative amount in dollars with at most 6 decimals");
}

}  // namespace

Result<void> validate_team_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxTeamName) {
    return make_error(ErrorCode::invalid_request, "team name must be 1 to 64 characters long");
  }
  for (char c : name) {
    if (!is_name_char(c)) {
      return make_error(ErrorCode::invalid_request, "team name may contain only letters, digits, '_', '.' and '-'");
    }
  }
  return {};
}

Result<Level> parse_clearance(std::string_view text) {
  if (auto level = parse_level(text)) return *level;
  return make_error(ErrorCode::invalid_request, "clearance must be one of PUBLIC, INTERNAL, CONFIDENTIAL, RESTRICTED");
}

Result<Money> parse_monthly_budget(std::string_view usd) {
  if (auto m = Money::parse_usd(usd)) return *m;
  return bad_budget();
}

Result<Money> parse_monthly_budget(double usd) {
  if (auto m = Money::from_usd_double(usd)) return *m;
  return bad_budget();
}

Result<store::Team> create_team(store::TeamStore& teams, const Clock& clock, const TeamInput& input) {
  AEGIS_TRY_VOID(validate_team_name(input.name));
  if (input.monthly_budget.micros < 0) return bad_budget();
  store::Team team;
  team.name = input.name;
  team.monthly_budget = input.monthly_budget;
  team.clearance = input.clearance;
  team.created_at_ms = clock.wall_ms();
  return teams.create_team(team);
}

Result<store::Team> get_team(store::TeamStore& teams, const std::string& name) { return teams.get_team(name); }

Result<std::vector<store::Team>> list_teams(store::TeamStore& teams) { return teams.list_teams(); }

Result<store::Team> update_team(store::TeamStore& teams, const std::string& name, const store::TeamPatch& patch) {
  if (patch.monthly_budget && patch.monthly_budget->micros < 0) return bad_budget();
  return teams.update_team(name, patch);
}

namespace {

Result<CreatedKey> create_key_with(store::KeyStore& keys, const Clock& clock, const std::string& team,
                                   std::optional<Level> clearance, const KeyFields& fields) {
  AEGIS_TRY_VOID(validate_team_name(team));
  for (int attempt = 1;; ++attempt) {
    CreatedKey out{generate_key(), {}};
    store::ApiKeyRecord record;
    record.id = out.key.id;
    record.team = team;
    record.prefix = out.key.prefix;
    record.secret_hash = out.key.secret_hash;
    record.created_at_ms = clock.wall_ms();
    record.clearance = clearance;
    record.models = fields.models;
    record.monthly_budget = fields.monthly_budget;
    record.expires_at_ms = fields.expires_at_ms;
    record.description = fields.description;
    auto stored = keys.create_key(record);
    if (stored) {
      out.record = std::move(stored).value();
      return out;
    }
    // A 64-bit id collision is astronomically unlikely; draw again rather than fail.
    if (stored.error().code != ErrorCode::conflict || attempt == kKeyIdAttempts) return std::move(stored).error();
  }
}

}  // namespace

Result<CreatedKey> create_key(store::KeyStore& keys, const Clock& clock, const std::string& team) {
  return create_key_with(keys, clock, team, std::nullopt, KeyFields{});
}

Result<CreatedKey> create_key(store::TeamStore& teams, store::KeyStore& keys, const Clock& clock,
                              const std::string& team, std::optional<Level> clearance) {
  return create_key(teams, keys, clock, team, clearance, KeyFields{});
}

Result<CreatedKey> create_key(store::TeamStore& teams, store::KeyStore& keys, const Clock& clock,
                              const std::string& team, std::optional<Level> clearance, const KeyFields& fields) {
  AEGIS_TRY_VOID(validate_team_name(team));
  KeyFields checked = fields;
  if (checked.models) {
    AEGIS_TRY(models, validate_models(std::move(*checked.models)));
    checked.models = std::move(models);
  }
  AEGIS_TRY_VOID(validate_description(checked.description));
  if (checked.monthly_budget && checked.monthly_budget->micros < 0) return bad_budget();
  if (checked.expires_at_ms && *checked.expires_at_ms <= clock.wall_ms()) {
    return make_error(ErrorCode::invalid_request, "expires_at is in the past");
  }
  if (clearance || checked.monthly_budget) {
    AEGIS_TRY(found, teams.get_team(team));
    if (clearance && *clearance > found.clearance) {
      return make_error(ErrorCode::invalid_request, "clearance " + std::string(to_string(*clearance)) +
                                                        " is above the team's (" +
                                                        std::string(to_string(found.clearance)) + ")");
    }
    if (checked.monthly_budget) AEGIS_TRY_VOID(check_key_budget(*checked.monthly_budget, found));
  }
  return create_key_with(keys, clock, team, clearance, checked);
}

Result<std::vector<std::string>> validate_models(std::vector<std::string> models) {
  constexpr std::size_t kMaxModels = 64;
  constexpr std::size_t kMaxModelName = 128;
  if (models.empty() || models.size() > kMaxModels) {
    return make_error(ErrorCode::invalid_request,
                      "models must list 1 to 64 model names (send null to remove the allow-list)");
  }
  std::vector<std::string> out;
  for (auto& name : models) {
    const bool printable = std::ranges::all_of(name, [](char c) { return c > ' ' && c < 0x7f; });
    if (name.empty() || name.size() > kMaxModelName || !printable) {
      return make_error(ErrorCode::invalid_request,
                        "models: each name must be 1 to 128 printable characters without spaces");
    }
    if (std::ranges::find(out, name) == out.end()) out.push_back(std::move(name));
  }
  return out;
}

Result<void> validate_description(std::string_view description) {
  constexpr std::size_t kMaxDescription = 256;
  if (description.size() > kMaxDescription) {
    return make_error(ErrorCode::invalid_request, "description must be at most 256 bytes");
  }
  if (std::ranges::any_of(description, [](char c) { return (c >= 0 && c < ' ') || c == 0x7f; })) {
    return make_error(ErrorCode::invalid_request, "description must not contain control characters");
  }
  return {};
}

Result<std::int64_t> parse_expires_at(std::string_view text) {
  if (auto ms = parse_rfc3339_ms(text)) return *ms;
  return make_error(ErrorCode::invalid_request, "expires_at must be an RFC 3339 date-time, e.g. 2026-12-31T23:59:59Z");
}

Result<void> check_key_budget(Money key_budget, const store::Team& team) {
  if (key_budget.micros < 0) return bad_budget();
  if (key_budget > team.monthly_budget) {
    return make_error(ErrorCode::invalid_request, "monthly_budget_usd $" + key_budget.to_usd_string() +
                                                      " is above team '" + team.name + "''s monthly budget of $" +
                                                      team.monthly_budget.to_usd_string());
  }
  return {};
}

Result<store::ApiKeyRecord> update_key(store::TeamStore& teams, store::KeyStore& keys, const std::string& id,
                                       const store::KeyPatch& patch) {
  store::KeyPatch checked = patch;
  if (checked.models && *checked.models) {
    AEGIS_TRY(models, validate_models(std::move(**checked.models)));
    *checked.models = std::move(models);
  }
  if (checked.description) AEGIS_TRY_VOID(validate_description(*checked.description));
  if (checked.monthly_budget && *checked.monthly_budget) {
    AEGIS_TRY(key, keys.get_key(id));
    AEGIS_TRY(team, teams.get_team(key.team));
    AEGIS_TRY_VOID(check_key_budget(**checked.monthly_budget, team));
  }
  return keys.update_key(id, checked);
}

Result<RotatedKey> rotate_key(store::KeyStore& keys, const Clock& clock, const std::string& id, std::int64_t grace_s) {
  if (grace_s < 0 || grace_s > kMaxRotationGraceS) {
    return make_error(ErrorCode::invalid_request,
                      "grace_s must be a whole number of seconds from 0 to " + std::to_string(kMaxRotationGraceS));
  }
  NewKey fresh = generate_key_for(id);
  store::KeyRotation rotation;
  rotation.prefix = fresh.prefix;
  rotation.secret_hash = fresh.secret_hash;
  if (grace_s > 0) rotation.previous_valid_until_ms = clock.wall_ms() + grace_s * 1000;
  AEGIS_TRY(record, keys.rotate_key(id, rotation));
  return RotatedKey{std::move(fresh.key), rotation.previous_valid_until_ms, std::move(record)};
}

KeyInfo key_info(const store::ApiKeyRecord& record) {
  KeyInfo info;
  info.id = record.id;
  info.team = record.team;
  info.prefix = record.prefix;
  info.created_at_ms = record.created_at_ms;
  info.revoked_at_ms = record.revoked_at_ms;
  info.clearance = record.clearance;
  info.models = record.models;
  info.monthly_budget = record.monthly_budget;
  info.expires_at_ms = record.expires_at_ms;
  info.description = record.description;
  // Noted to the minute (rounded down), so a key used in the minute it was
  // made would read as used before it existed: never earlier than its creation.
  if (record.last_used_at_ms) info.last_used_at_ms = std::max(*record.last_used_at_ms, record.created_at_ms);
  info.previous_valid_until_ms = record.previous_valid_until_ms;
  return info;
}

Result<std::vector<KeyInfo>> list_keys(store::KeyStore& keys, const std::optional<std::string>& team) {
  AEGIS_TRY(records, keys.list_keys(team));
  std::vector<KeyInfo> out;
  out.reserve(records.size());
  for (const auto& r : records) out.push_back(key_info(r));
  return out;
}

Result<void> revoke_key(store::KeyStore& keys, const Clock& clock, const std::string& id) {
  return keys.revoke_key(id, clock.wall_ms());
}

audit::AuditRecord key_action_row(const store::ApiKeyRecord& key, std::string request_id, std::string task,
                                  std::string reason, std::int64_t now_ms) {
  audit::AuditRecord row;
  row.time_ms = now_ms;
  row.request_id = std::move(request_id);
  row.team = key.team;
  row.key_id = key.id;
  row.surface = "admin.keys";
  row.task = std::move(task);
  row.reason = std::move(reason);
  row.status = 200;
  return row;
}

std::string key_change_fields(const store::KeyPatch& patch, const store::RateLimitsPatch& limits) {
  const std::pair<std::string_view, bool> fields[] = {{"models", patch.models.has_value()},
                                                      {"monthly_budget_usd", patch.monthly_budget.has_value()},
                                                      {"expires_at", patch.expires_at_ms.has_value()},
                                                      {"description", patch.description.has_value()},
                                                      {"rpm", limits.rpm.has_value()},
                                                      {"tpm", limits.tpm.has_value()},
                                                      {"max_concurrency", limits.max_concurrency.has_value()}};
  std::string out;
  for (const auto& [name, set] : fields) {
    if (set) out += (out.empty() ? "" : ",") + std::string(name);
  }
  return out;
}

}  // namespace aegis::identity
