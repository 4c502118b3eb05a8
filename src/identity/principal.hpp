#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "core/classification.hpp"
#include "core/money.hpp"

namespace aegis::identity {

// Who is calling: resolved from a virtual key on every /v1 request.
struct Principal {
  std::string team;
  std::string key_id;
  Level clearance = Level::INTERNAL;
  Money monthly_budget;  // the team's cap, as of the (cached) lookup
  // The team's exact response cache as the admin API set it (store::Team):
  // seconds, 0 off; nullopt: the config's response_cache.teams decides.
  std::optional<std::int64_t> response_cache_ttl_s = std::nullopt;
};

}  // namespace aegis::identity
