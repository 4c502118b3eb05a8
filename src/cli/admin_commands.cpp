#include "cli/admin_commands.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <iostream>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "cli/local_store.hpp"
#include "core/json.hpp"
#include "core/system_clock.hpp"
#include "core/time_format.hpp"
#include "http/server.hpp"
#include "identity/admin_json.hpp"
#include "identity/admin_service.hpp"

namespace aegis::cli {

namespace json = boost::json;

namespace {

// "a,b" -> {"a", "b"}; validation is identity::validate_models'.
std::vector<std::string> split_models(const std::string& text) {
  std::vector<std::string> names;
  for (std::size_t at = 0; at <= text.size();) {
    const auto comma = std::min(text.find(',', at), text.size());
    names.push_back(text.substr(at, comma - at));
    at = comma + 1;
  }
  return names;
}

// A lifecycle option of `keys create|update` into its patch field: not given,
// no change; given empty, cleared; else what `parse` makes of the text.
template <class T, class Parse>
Result<void> set_clearable(const CLI::Option& option, const std::string& text, std::optional<std::optional<T>>& field,
                           Parse parse) {
  if (option.count() == 0) return {};
  if (text.empty()) {
    field.emplace(std::nullopt);
    return {};
  }
  AEGIS_TRY(value, parse(text));
  field.emplace(std::move(value));
  return {};
}

// What a key's lifecycle fields are in `keys list`'s text lines.
std::string key_line(const identity::KeyInfo& k) {
  std::string models = "any";
  if (k.models) {
    models.clear();
    for (const auto& m : *k.models) models += (models.empty() ? "" : ",") + m;
  }
  auto time = [](const std::optional<std::int64_t>& ms, const char* none) {
    return ms ? format_rfc3339_ms(*ms) : std::string(none);
  };
  return k.id + "\t" + k.team + "\t" + k.prefix + "…\t" + (k.revoked_at_ms ? "revoked" : "active") +
         "\tmodels=" + models +
         "\tbudget_usd=" + (k.monthly_budget ? k.monthly_budget->to_usd_string() : std::string("none")) +
         "\texpires_at=" + time(k.expires_at_ms, "never") + "\tlast_used_at=" + time(k.last_used_at_ms, "never") +
         "\tdescription=" + k.description;
}

}  // namespace

AdminCommands::AdminCommands(CLI::App& app) {
  admin_ = app.add_subcommand("admin", "Administer teams and virtual keys in the local store");
  admin_->require_subcommand(1);
  admin_->add_option("--config", config_path_, "YAML config file naming the store (default: built-in)");
  admin_->add_flag("--json", json_, "Print JSON instead of text");

  auto* teams = admin_->add_subcommand("teams", "Teams");
  teams->require_subcommand(1);
  teams_create_ = teams->add_subcommand("create", "Create a team");
  teams_create_->add_option("NAME", team_name_, "team name: 1..64 of [A-Za-z0-9_.-]")->required();
  teams_create_->add_option("--budget-usd", budget_usd_, "monthly budget in USD, e.g. 250 or 12.5")->required();
  teams_create_->add_option("--clearance", clearance_, "PUBLIC | INTERNAL | CONFIDENTIAL | RESTRICTED")
      ->capture_default_str();
  teams_list_ = teams->add_subcommand("list", "List teams");

  auto* keys = admin_->add_subcommand("keys", "Virtual API keys");
  keys->require_subcommand(1);
  keys_create_ = keys->add_subcommand("create", "Create a key for a team; the key is printed once");
  keys_create_->add_option("TEAM", key_team_, "team name")->required();
  create_fields_ = add_key_field_options(keys_create_);
  keys_create_->add_option("--clearance", key_clearance_,
                           "PUBLIC | INTERNAL | CONFIDENTIAL | RESTRICTED, at most the team's (default: the team's)");
  keys_list_ = keys->add_subcommand("list", "List keys (ids and prefixes, never keys)");
  keys_list_->add_option("--team", list_team_, "only this team's keys");
  keys_revoke_ = keys->add_subcommand("revoke", "Revoke a key by id");
  keys_revoke_->add_option("ID", key_id_, "key id")->required();
  keys_rotate_ = keys->add_subcommand(
      "rotate",
      "Issue a new secret for a key id; the old one stays valid for the grace period. The key is printed once");
  keys_rotate_->add_option("ID", key_id_, "key id")->required();
  keys_rotate_->add_option("--grace-s", grace_s_, "seconds the old secret stays valid (0: revoked at once)")
      ->capture_default_str();
  keys_update_ =
      keys->add_subcommand("update", "Change a key's model allow-list, monthly budget, expiry or description");
  keys_update_->add_option("ID", key_id_, "key id")->required();
  update_fields_ = add_key_field_options(keys_update_);

  // Rate and concurrency limits (issue 19), as PATCH /admin/v1/teams/{name} and /admin/v1/keys/{id} set them.
  auto add_limit_options = [this](CLI::App* command) {
    command->add_option("--rpm", rpm_, "requests per minute, or 'none' to remove the limit");
    command->add_option("--tpm", tpm_, "tokens (input + output) per minute, or 'none'");
    command->add_option("--max-concurrency", max_concurrency_, "requests in flight at once, or 'none'");
  };
  teams_limits_ = teams->add_subcommand("limits", "Show or set a team's rate and concurrency limits");
  teams_limits_->add_option("NAME", team_name_, "team name")->required();
  add_limit_options(teams_limits_);
  keys_limits_ = keys->add_subcommand("limits", "Show or set a key's own rate and concurrency limits");
  keys_limits_->add_option("ID", key_id_, "key id")->required();
  add_limit_options(keys_limits_);
}

AdminCommands::KeyFieldOptions AdminCommands::add_key_field_options(CLI::App* command) {
  KeyFieldOptions options;
  options.models =
      command->add_option("--models", models_, "comma-separated models the key may use, e.g. haiku,gpt-4o ('': any)");
  options.budget = command->add_option("--monthly-budget-usd", key_budget_usd_,
                                       "the key's monthly budget within its team's, e.g. 25 ('': none)");
  options.expires = command->add_option("--expires-at", expires_at_,
                                        "RFC 3339 time the key stops working, e.g. 2027-01-31T00:00:00Z ('': never)");
  options.description = command->add_option("--description", description_, "free text shown in listings");
  return options;
}

Result<store::KeyPatch> AdminCommands::key_patch(const KeyFieldOptions& given) const {
  store::KeyPatch patch;
  auto models = [](const std::string& text) -> Result<std::vector<std::string>> { return split_models(text); };
  auto budget = [](const std::string& text) { return identity::parse_monthly_budget(text); };
  AEGIS_TRY_VOID(set_clearable(*given.models, models_, patch.models, models));
  AEGIS_TRY_VOID(set_clearable(*given.budget, key_budget_usd_, patch.monthly_budget, budget));
  AEGIS_TRY_VOID(set_clearable(*given.expires, expires_at_, patch.expires_at_ms, identity::parse_expires_at));
  if (given.description->count() > 0) patch.description = description_;
  return patch;
}

bool AdminCommands::parsed() const { return admin_->parsed(); }

int AdminCommands::run(const std::string& fallback_config_path) {
  const std::string path = config_path_.empty() ? fallback_config_path : config_path_;
  int exit_code = 0;
  auto local = open_local_store(path, "aegis admin", exit_code);
  if (!local) return exit_code;
  std::unique_ptr<store::Database> store = std::move(local->store);
  const Clock& clock = SystemClock::instance();
  auto report = [](const Error& error) {
    std::cerr << "aegis admin: " << error.message << "\n";
    return 1;
  };
  // A change to a key is on record as the admin API's is (the same row:
  // identity::key_action_row), through the store's audit append path and so
  // in the tamper-evident chain, the CLI's own (store/factory.hpp); the
  // request id "cli_..." tells the CLI's rows from the API's "req_...".
  auto audit_key_change = [&](const store::ApiKeyRecord& key, std::string task, std::string reason) -> int {
    const std::string request_id = "cli_" + http::generate_request_id().substr(4);
    auto written = store->append_audit(
        {identity::key_action_row(key, request_id, std::move(task), std::move(reason), clock.wall_ms())});
    if (written.ok()) return 0;
    std::cerr << "aegis admin: the change was made, but its audit row could not be written: " << written.error().message
              << "\n";
    return 1;
  };
  auto print_team = [this](const store::Team& t) {
    if (json_) {
      std::cout << to_json(json::object{{"name", t.name},
                                        {"monthly_budget_usd", usd_json(t.monthly_budget)},
                                        {"clearance", to_string(t.clearance)},
                                        {"created_at", format_rfc3339_ms(t.created_at_ms)}})
                << "\n";
    } else {
      std::cout << t.name << "\tbudget_usd=" << t.monthly_budget.to_usd_string()
                << "\tclearance=" << to_string(t.clearance) << "\n";
    }
  };

  if (teams_create_->parsed()) {
    AEGIS_TRY(budget, identity::parse_monthly_budget(budget_usd_), report);
    AEGIS_TRY(level, identity::parse_clearance(clearance_), report);
    AEGIS_TRY(team, identity::create_team(*store, clock, identity::TeamInput{team_name_, budget, level}), report);
    print_team(team);
    return 0;
  }
  if (teams_list_->parsed()) {
    AEGIS_TRY(teams, identity::list_teams(*store), report);
    for (const auto& t : teams) print_team(t);
    return 0;
  }
  if (keys_create_->parsed()) {
    // As POST /admin/v1/keys: an empty value is no value.
    AEGIS_TRY(patch, key_patch(create_fields_), report);
    identity::KeyFields fields;
    if (patch.models) fields.models = std::move(*patch.models);
    if (patch.monthly_budget) fields.monthly_budget = *patch.monthly_budget;
    if (patch.expires_at_ms) fields.expires_at_ms = *patch.expires_at_ms;
    if (patch.description) fields.description = std::move(*patch.description);
    std::optional<Level> clearance;
    if (!key_clearance_.empty()) {
      AEGIS_TRY(level, identity::parse_clearance(key_clearance_), report);
      clearance = level;
    }
    AEGIS_TRY(created, identity::create_key(*store, *store, clock, key_team_, clearance, fields), report);
    const auto info = identity::key_info(created.record);
    if (json_) {
      json::object out = identity::key_json(info, clock.wall_ms());
      out["key"] = created.key.key;
      std::cout << to_json(out) << "\n";
    } else {
      std::cout << "id:   " << created.record.id << "\nteam: " << key_team_ << "\nkey:  " << created.key.key
                << "\n(the key is shown only now; store it in a secret manager)\n";
    }
    return 0;
  }
  if (keys_list_->parsed()) {
    std::optional<std::string> team;
    if (!list_team_.empty()) team = list_team_;
    AEGIS_TRY(keys, identity::list_keys(*store, team), report);
    // Each key as GET /admin/v1/keys?team= shows it. last_used_at is what the
    // gateways have flushed (each every minute, and when the API lists keys).
    AEGIS_TRY(limits, store->list_rate_limits(store::LimitScope::key), report);
    const std::int64_t now = clock.wall_ms();
    for (const auto& k : keys) {
      if (json_) {
        auto own = limits.find(k.id);
        std::cout << to_json(identity::key_json(k, now, own == limits.end() ? store::RateLimits{} : own->second))
                  << "\n";
      } else {
        std::cout << key_line(k) << "\n";
      }
    }
    return 0;
  }
  if (keys_rotate_->parsed()) {
    AEGIS_TRY(rotated, identity::rotate_key(*store, clock, key_id_, grace_s_), report);
    // On record before the new key is shown, as the API's.
    const int audited = audit_key_change(rotated.record, "key_rotate", "grace_s=" + std::to_string(grace_s_));
    if (json_) {
      std::cout << to_json(identity::rotated_key_json(key_id_, rotated)) << "\n";
    } else {
      std::cout << "id:   " << key_id_ << "\nkey:  " << rotated.key << "\nold secret valid until: "
                << (rotated.previous_valid_until_ms ? format_rfc3339_ms(*rotated.previous_valid_until_ms)
                                                    : std::string("revoked now"))
                << "\n(the key is shown only now; store it in a secret manager)\n";
    }
    // The new key is shown even so: it is the only copy.
    return audited;
  }
  if (keys_update_->parsed()) {
    AEGIS_TRY(patch, key_patch(update_fields_), report);
    if (patch.empty()) {
      return report(
          make_error(ErrorCode::invalid_request,
                     "nothing to change: give --models, --monthly-budget-usd, --expires-at or --description"));
    }
    AEGIS_TRY(updated, identity::update_key(*store, *store, key_id_, patch), report);
    if (const int audited = audit_key_change(updated, "key_update", identity::key_change_fields(patch, {}));
        audited != 0) {
      return audited;
    }
    AEGIS_TRY(limits, store->get_rate_limits(store::LimitScope::key, key_id_), report);
    if (json_) {
      std::cout << to_json(identity::key_json(identity::key_info(updated), clock.wall_ms(), limits)) << "\n";
    } else {
      std::cout << "updated " << updated.id << "\n";
    }
    return 0;
  }
  if (teams_limits_->parsed() || keys_limits_->parsed()) {
    const bool team = teams_limits_->parsed();
    // Each flag is checked as the admin API checks its PATCH field: the same
    // validator (identity/admin_json), the flag named in its message.
    store::RateLimitsPatch patch;
    const std::tuple<std::string_view, const std::optional<std::string>*, std::optional<std::optional<std::int64_t>>*>
        options[] = {{"--rpm", &rpm_, &patch.rpm},
                     {"--tpm", &tpm_, &patch.tpm},
                     {"--max-concurrency", &max_concurrency_, &patch.max_concurrency}};
    for (const auto& [flag, text, field] : options) {
      if (!*text) continue;
      const std::string& t = **text;
      std::int64_t number = 0;
      auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), number);
      // 'none' removes the limit (the API's null); what is not a whole number is refused as the API refuses a string.
      const json::value given = t == "none"                                         ? json::value(nullptr)
                                : (ec == std::errc() && end == t.data() + t.size()) ? json::value(number)
                                                                                    : json::value(t);
      auto value = identity::parse_rate_limit(flag, given);
      if (!value) {
        std::cerr << "aegis admin: " << value.error().message << " ('none' removes it)\n";
        return 1;
      }
      *field = *value;
    }
    const std::string& name = team ? team_name_ : key_id_;
    const auto scope = team ? store::LimitScope::team : store::LimitScope::key;
    AEGIS_TRY(limits, store->update_rate_limits(scope, name, patch), report);
    // A key's limits are a PATCH /admin/v1/keys/{id}, audited as one; a team's are not.
    if (!team && !patch.empty()) {
      AEGIS_TRY(key, store->get_key(name), report);
      if (const int audited = audit_key_change(key, "key_update", identity::key_change_fields({}, patch));
          audited != 0) {
        return audited;
      }
    }
    auto text = [](const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : std::string("none"); };
    if (json_) {
      json::object out{{team ? "team" : "id", name}};
      identity::add_rate_limits_json(out, limits);
      std::cout << to_json(out) << "\n";
    } else {
      std::cout << name << "\trpm=" << text(limits.rpm) << "\ttpm=" << text(limits.tpm)
                << "\tmax_concurrency=" << text(limits.max_concurrency) << "\n";
    }
    return 0;
  }
  if (keys_revoke_->parsed()) {
    AEGIS_TRY_VOID(identity::revoke_key(*store, clock, key_id_), report);
    std::cout << (json_ ? to_json(json::object{{"id", key_id_}, {"revoked", true}}) : "revoked " + key_id_) << "\n";
    return 0;
  }
  return 2;
}

}  // namespace aegis::cli
