#include "identity/admin_service.hpp"

#include <chrono>

namespace aegis::identity {

namespace {

constexpr std::size_t kMaxTeamName = 64;
constexpr int kKeyIdAttempts = 3;

std::int64_t now_ms(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall_now().time_since_epoch()).count();
}

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
  team.created_at_ms = now_ms(clock);
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
                                   std::optional<Level> clearance) {
  AEGIS_TRY_VOID(validate_team_name(team));
  for (int attempt = 1;; ++attempt) {
    CreatedKey out{generate_key(), {}};
    store::ApiKeyRecord record;
    record.id = out.key.id;
    record.team = team;
    record.prefix = out.key.prefix;
    record.secret_hash = out.key.secret_hash;
    record.created_at_ms = now_ms(clock);
    record.clearance = clearance;
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
  return create_key_with(keys, clock, team, std::nullopt);
}

Result<CreatedKey> create_key(store::TeamStore& teams, store::KeyStore& keys, const Clock& clock,
                              const std::string& team, std::optional<Level> clearance) {
  AEGIS_TRY_VOID(validate_team_name(team));
  if (clearance) {
    AEGIS_TRY(found, teams.get_team(team));
    if (*clearance > found.clearance) {
      return make_error(ErrorCode::invalid_request, "clearance " + std::string(to_string(*clearance)) +
                                                        " is above the team's (" +
                                                        std::string(to_string(found.clearance)) + ")");
    }
  }
  return create_key_with(keys, clock, team, clearance);
}

KeyInfo key_info(const store::ApiKeyRecord& record) {
  return KeyInfo{record.id, record.team, record.prefix, record.created_at_ms, record.revoked_at_ms, record.clearance};
}

Result<std::vector<KeyInfo>> list_keys(store::KeyStore& keys, const std::optional<std::string>& team) {
  AEGIS_TRY(records, keys.list_keys(team));
  std::vector<KeyInfo> out;
  out.reserve(records.size());
  for (const auto& r : records) out.push_back(key_info(r));
  return out;
}

Result<void> revoke_key(store::KeyStore& keys, const Clock& clock, const std::string& id) {
  return keys.revoke_key(id, now_ms(clock));
}

}  // namespace aegis::identity
