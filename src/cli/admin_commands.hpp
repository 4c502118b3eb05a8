#pragma once
// `aegis admin teams|keys ...`: administration straight against the store of
// a local install (the same functions the /admin/v1 API uses).
#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "core/result.hpp"
#include "store/store.hpp"

namespace aegis::cli {

class AdminCommands {
 public:
  explicit AdminCommands(CLI::App& app);
  bool parsed() const;
  // Returns the process exit code: 0 ok, 1 the operation failed, 2 bad config.
  int run(const std::string& fallback_config_path);

 private:
  // A key's lifecycle options (--models, --monthly-budget-usd, --expires-at,
  // --description) on `keys create` and `keys update`.
  struct KeyFieldOptions {
    CLI::Option* models = nullptr;
    CLI::Option* budget = nullptr;
    CLI::Option* expires = nullptr;
    CLI::Option* description = nullptr;
  };
  KeyFieldOptions add_key_field_options(CLI::App* command);
  // The options given, as PATCH /admin/v1/keys/{id} would set them: an empty
  // value clears the allow-list, budget or expiry.
  Result<store::KeyPatch> key_patch(const KeyFieldOptions& given) const;

  CLI::App* admin_ = nullptr;
  CLI::App* teams_create_ = nullptr;
  CLI::App* teams_list_ = nullptr;
  CLI::App* keys_create_ = nullptr;
  CLI::App* keys_list_ = nullptr;
  CLI::App* keys_revoke_ = nullptr;
  CLI::App* keys_rotate_ = nullptr;
  CLI::App* keys_update_ = nullptr;
  KeyFieldOptions create_fields_;
  KeyFieldOptions update_fields_;
  CLI::App* teams_limits_ = nullptr;
  CLI::App* keys_limits_ = nullptr;
  // --rpm, --tpm, --max-concurrency: a positive number, or "none" to remove the limit.
  std::optional<std::string> rpm_;
  std::optional<std::string> tpm_;
  std::optional<std::string> max_concurrency_;
  std::string config_path_;
  bool json_ = false;
  std::string team_name_;
  std::string budget_usd_;
  std::string clearance_ = "INTERNAL";
  std::string key_clearance_;  // empty: the team's
  std::string key_team_;
  std::string list_team_;
  std::string key_id_;
  std::int64_t grace_s_ = 86'400;
  std::string models_;
  std::string key_budget_usd_;
  std::string expires_at_;
  std::string description_;
};

}  // namespace aegis::cli
