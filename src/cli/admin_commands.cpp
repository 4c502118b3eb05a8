#include "cli/admin_commands.hpp"

#include <algorithm>
#include <charconv>
#include <iostream>
#include <vector>

#include "cli/local_store.hpp"
#include "config/loader.hpp"
#include "core/json.hpp"
#include "core/system_clock.hpp"
#include "core/time_format.hpp"
#include "identity/admin_service.hpp"
#include "store/factory.hpp"

namespace aegis::cli {

namespace json = boost::json;

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
  update_models_ = keys_update_->add_option("--models", models_,
                                            "comma-separated models the key may use, e.g. haiku,gpt-4o ('': any)");
  update_budget_ = keys_update_->add_option("--monthly-budget-usd", key_budget_usd_,
                                            "the key's monthly budget within its team's, e.g. 25 ('': none)");
  update_expires_ = keys_update_->add_option(
      "--expires-at", expires_at_, "RFC 3339 time the key stops working, e.g. 2027-01-31T00:00:00Z ('': never)");
  update_description_ = keys_update_->add_option("--description", description_, "free text shown in listings");

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
    AEGIS_TRY(created, identity::create_key(*store, clock, key_team_), report);
    if (json_) {
      std::cout << to_json(json::object{{"id", created.record.id}, {"key", created.key.key}, {"team", key_team_}})
                << "\n";
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
    for (const auto& k : keys) {
      if (json_) {
        json::object out{{"id", k.id},
                         {"team", k.team},
                         {"prefix", k.prefix},
                         {"created_at", format_rfc3339_ms(k.created_at_ms)},
                         {"revoked", k.revoked_at_ms.has_value()}};
        std::cout << to_json(out) << "\n";
      } else {
        std::cout << k.id << "\t" << k.team << "\t" << k.prefix << "…\t" << (k.revoked_at_ms ? "revoked" : "active")
                  << "\n";
      }
    }
    return 0;
  }
  if (keys_rotate_->parsed()) {
    AEGIS_TRY(rotated, identity::rotate_key(*store, clock, key_id_, grace_s_), report);
    const json::value until = rotated.previous_valid_until_ms
                                  ? json::value(format_rfc3339_ms(*rotated.previous_valid_until_ms))
                                  : json::value(nullptr);
    if (json_) {
      std::cout << to_json(json::object{{"id", key_id_}, {"key", rotated.key}, {"previous_valid_until", until}})
                << "\n";
    } else {
      std::cout << "id:   " << key_id_ << "\nkey:  " << rotated.key << "\nold secret valid until: "
                << (rotated.previous_valid_until_ms ? format_rfc3339_ms(*rotated.previous_valid_until_ms)
                                                    : std::string("revoked now"))
                << "\n(the key is shown only now; store it in a secret manager)\n";
    }
    return 0;
  }
  if (keys_update_->parsed()) {
    store::KeyPatch patch;
    if (update_models_->count() > 0) {
      if (models_.empty()) {
        patch.models.emplace(std::nullopt);
      } else {
        std::vector<std::string> names;
        for (std::size_t at = 0; at <= models_.size();) {
          const auto comma = std::min(models_.find(',', at), models_.size());
          names.push_back(models_.substr(at, comma - at));
          at = comma + 1;
        }
        patch.models.emplace(std::move(names));
      }
    }
    if (update_budget_->count() > 0) {
      if (key_budget_usd_.empty()) {
        patch.monthly_budget.emplace(std::nullopt);
      } else {
        AEGIS_TRY(budget, identity::parse_monthly_budget(key_budget_usd_), report);
        patch.monthly_budget.emplace(budget);
      }
    }
    if (update_expires_->count() > 0) {
      if (expires_at_.empty()) {
        patch.expires_at_ms.emplace(std::nullopt);
      } else {
        AEGIS_TRY(at, identity::parse_expires_at(expires_at_), report);
        patch.expires_at_ms.emplace(at);
      }
    }
    if (update_description_->count() > 0) patch.description = description_;
    if (patch.empty()) {
      return report(
          make_error(ErrorCode::invalid_request,
                     "nothing to change: give --models, --monthly-budget-usd, --expires-at or --description"));
    }
    AEGIS_TRY(updated, identity::update_key(*store, *store, key_id_, patch), report);
    const auto info = identity::key_info(updated);
    if (json_) {
      json::object out{{"id", info.id}, {"team", info.team}, {"description", info.description}};
      if (info.models) {
        json::array models;
        for (const auto& m : *info.models) models.emplace_back(m);
        out["models"] = std::move(models);
      } else {
        out["models"] = nullptr;
      }
      out["monthly_budget_usd"] = info.monthly_budget ? usd_json(*info.monthly_budget) : json::value(nullptr);
      out["expires_at"] =
          info.expires_at_ms ? json::value(format_rfc3339_ms(*info.expires_at_ms)) : json::value(nullptr);
      std::cout << to_json(out) << "\n";
    } else {
      std::cout << "updated " << info.id << "\n";
    }
    return 0;
  }
  if (teams_limits_->parsed() || keys_limits_->parsed()) {
    const bool team = teams_limits_->parsed();
    store::RateLimitsPatch patch;
    const std::pair<const char*,
                    std::pair<const std::optional<std::string>*, std::optional<std::optional<std::int64_t>>*>>
        options[] = {{"--rpm", {&rpm_, &patch.rpm}},
                     {"--tpm", {&tpm_, &patch.tpm}},
                     {"--max-concurrency", {&max_concurrency_, &patch.max_concurrency}}};
    for (const auto& [flag, slots] : options) {
      const auto& [text, field] = slots;
      if (!*text) continue;
      if (**text == "none") {
        *field = std::optional<std::int64_t>{};
        continue;
      }
      std::int64_t value = 0;
      const std::string& t = **text;
      auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
      if (ec != std::errc() || end != t.data() + t.size() || value < 1) {
        std::cerr << "aegis admin: " << flag << " must be a positive whole number or 'none'\n";
        return 1;
      }
      *field = std::optional<std::int64_t>{value};
    }
    const std::string& name = team ? team_name_ : key_id_;
    const auto scope = team ? store::LimitScope::team : store::LimitScope::key;
    AEGIS_TRY(limits, store->update_rate_limits(scope, name, patch), report);
    auto field = [](const std::optional<std::int64_t>& v) { return v ? json::value(*v) : json::value(nullptr); };
    auto text = [](const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : std::string("none"); };
    if (json_) {
      std::cout << to_json(json::object{{team ? "team" : "id", name},
                                        {"rpm", field(limits.rpm)},
                                        {"tpm", field(limits.tpm)},
                                        {"max_concurrency", field(limits.max_concurrency)}})
                << "\n";
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
