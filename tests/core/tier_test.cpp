#include "core/tier.hpp"

#include <gtest/gtest.h>

#include <string>

namespace aegis {
namespace {

TEST(Tier, EveryTierRoundTripsThroughItsName) {
  for (const Tier tier : kAllTiers) {
    const auto parsed = parse_tier(to_string(tier));
    ASSERT_TRUE(parsed.has_value()) << to_string(tier);
    EXPECT_EQ(*parsed, tier) << to_string(tier);
  }
}

TEST(Tier, NamesAreTheConfigAndHeaderSpellings) {
  EXPECT_EQ(to_string(Tier::haiku), "haiku");
  EXPECT_EQ(to_string(Tier::sonnet), "sonnet");
  EXPECT_EQ(to_string(Tier::opus), "opus");
}

TEST(Tier, AllTiersAreListedCheapestFirst) {
  std::string names;
  for (const Tier tier : kAllTiers) names += (names.empty() ? "" : ", ") + std::string(to_string(tier));
  EXPECT_EQ(names, "haiku, sonnet, opus");
}

TEST(Tier, UnknownNamesAreRejected) {
  for (const char* name :
       {"", "auto", "large", "sonet", "Opus", "SONNET", " haiku", "haiku ", "anthropic/opus", "claude-opus-4-1"}) {
    EXPECT_FALSE(parse_tier(name).has_value()) << '"' << name << '"';
  }
}

}  // namespace
}  // namespace aegis
