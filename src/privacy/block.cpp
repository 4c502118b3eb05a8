#include "privacy/block.hpp"

#include <algorithm>
#include <string>

#include "privacy/vault.hpp"

namespace aegis::privacy {

Result<void> check_blocked(const classify::Classification& classification,
                           const std::vector<classify::Finding>& persons, std::string_view team,
                           const config::PiiConfig& config) {
  std::vector<std::string> blocked;
  for (const auto& t : config.block_entities) blocked.push_back(placeholder_prefix(t));
  if (const auto it = config.team_block_entities.find(std::string(team)); it != config.team_block_entities.end()) {
    for (const auto& t : it->second) blocked.push_back(placeholder_prefix(t));
  }
  if (blocked.empty()) return {};

  std::vector<std::string> found;
  auto consider = [&](const classify::Finding& f) {
    std::string type = placeholder_prefix(f.entity_type);
    if (std::find(blocked.begin(), blocked.end(), type) != blocked.end()) found.push_back(std::move(type));
  };
  for (const auto& f : classification.findings) consider(f);
  for (const auto& p : persons) consider(p);
  if (found.empty()) return {};
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  std::string message = "request blocked: it contains PII of a type the policy blocks (";
  for (std::size_t i = 0; i < found.size(); ++i) {
    if (i > 0) message += ", ";
    message += found[i];
  }
  message += ")";
  return make_error(ErrorCode::pii_blocked, std::move(message));
}

}  // namespace aegis::privacy
