#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/classification.hpp"
#include "core/money.hpp"
#include "store/rate_limits.hpp"

namespace aegis::identity {

// Who is calling: resolved from a virtual key on every /v1 request.
struct Principal {
  std::string team;
  std::string key_id;
  Level clearance = Level::INTERNAL;
  Money monthly_budget;  // the team's cap, as of the (cached) lookup
  // The key's own limits (issue 19), as of the (cached) lookup: the models it
  // may be routed to (null: whatever the team may use) and its monthly
  // sub-budget within the team's cap.
  std::shared_ptr<const std::vector<std::string>> models = nullptr;
  std::optional<Money> key_monthly_budget = std::nullopt;
  // Rate and concurrency limits (ratelimit/rate_limiter.hpp), as of the lookup.
  store::RateLimits team_limits{};
  store::RateLimits key_limits{};
  // The team's exact response cache as the admin API set it (store::Team):
  // seconds, 0 off; nullopt: the config's response_cache.teams decides.
  std::optional<std::int64_t> response_cache_ttl_s = std::nullopt;
};

}  // namespace aegis::identity
