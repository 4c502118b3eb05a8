#pragma once
// The model tiers: the one vocabulary config, providers and routing share for
// "how capable (and how expensive) a model to use". Inside the gateway a tier
// is this enum; its name appears only where people or stored rows see it
// (config files, x-aegis-route, audit, metrics, the CLI), through to_string and
// parse_tier, so a misspelt tier cannot travel between modules unnoticed.
#include <array>
#include <optional>
#include <string_view>

namespace aegis {

// Declared cheapest first, so the budget rules and the nearest-tier fallback
// can reason about cost by order.
enum class Tier { haiku, sonnet, opus };

// Every tier, cheapest first: the order config messages and /v1/models list them in.
inline constexpr std::array<Tier, 3> kAllTiers = {Tier::haiku, Tier::sonnet, Tier::opus};

constexpr std::string_view to_string(Tier tier) noexcept {
  switch (tier) {
    case Tier::haiku: return "haiku";
    case Tier::sonnet: return "sonnet";
    case Tier::opus: return "opus";
  }
  return "sonnet";
}

// Exact names only: config keys and request model names have always been
// lower case, and "Opus" as a model name may be some provider's concrete id.
constexpr std::optional<Tier> parse_tier(std::string_view name) noexcept {
  for (const Tier tier : kAllTiers) {
    if (to_string(tier) == name) return tier;
  }
  return std::nullopt;
}

}  // namespace aegis
