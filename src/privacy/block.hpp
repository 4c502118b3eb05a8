#pragma once
// Block mode: configuration (pii.block_entities for everyone,
// pii.team_block_entities per team) can reject a request that contains given
// entity types, with 422 pii_blocked. The message names the entity types,
// never the values.
#include <string_view>
#include <vector>

#include "classify/finding.hpp"
#include "config/config.hpp"
#include "core/result.hpp"

namespace aegis::privacy {

// Entity type names compare ignoring case and punctuation ("ca-sin" == "CA_SIN").
Result<void> check_blocked(const classify::Classification& classification,
                           const std::vector<classify::Finding>& persons, std::string_view team,
                           const config::PiiConfig& config);

}  // namespace aegis::privacy
