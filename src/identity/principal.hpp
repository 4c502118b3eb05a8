#pragma once
#include <string>

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
  // Rate and concurrency limits (ratelimit/rate_limiter.hpp), as of the lookup.
  store::RateLimits team_limits{};
  store::RateLimits key_limits{};
};

}  // namespace aegis::identity
