#include "providers/provider_set.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace aegis::providers {
namespace {

using config::Locality;

// Only what ProviderSet reads: a name, a locality and the tier map.
class DeclaredOnly final : public LLMProvider {
 public:
  DeclaredOnly(std::string name, Locality locality, std::map<Tier, std::string> models)
      : info_{std::move(name), "fake", locality, std::move(models)} {}

  boost::asio::awaitable<Result<Completion>> complete(const ChatRequest&) override {
    co_return make_error(ErrorCode::internal, "never called");
  }
  boost::asio::awaitable<Result<void>> stream(const ChatRequest&, DeltaSink&) override {
    co_return make_error(ErrorCode::internal, "never called");
  }
  boost::asio::awaitable<Result<Embeddings>> embed(const EmbedRequest&) override {
    co_return make_error(ErrorCode::internal, "never called");
  }
  boost::asio::awaitable<bool> health_check() override { co_return true; }
  const ProviderInfo& info() const override { return info_; }

 private:
  ProviderInfo info_;
};

ProviderSet standard_set() {
  std::vector<std::unique_ptr<LLMProvider>> owned;
  owned.push_back(std::make_unique<DeclaredOnly>(
      "anthropic", Locality::cloud,
      std::map<Tier, std::string>{{Tier::haiku, "claude-haiku-4-5"}, {Tier::opus, "claude-opus-4-1"}}));
  owned.push_back(std::make_unique<DeclaredOnly>(
      "azure", Locality::cloud,
      std::map<Tier, std::string>{{Tier::haiku, "gpt-4o-mini"}, {Tier::sonnet, "gpt-4o"}, {Tier::opus, "o1"}}));
  return ProviderSet(std::move(owned), {"azure", "anthropic"});
}

TEST(ProvidersProviderSet, AutoIsTheDefaultTierAndATierNameIsThatTier) {
  const auto set = standard_set();
  auto automatic = set.resolve("auto", Tier::opus);
  ASSERT_TRUE(automatic.ok()) << automatic.error().message;
  EXPECT_EQ(automatic->tier, Tier::opus);
  EXPECT_EQ(automatic->model, "o1");  // azure comes first in the chain

  auto named = set.resolve("haiku", Tier::opus);
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->tier, Tier::haiku);
  EXPECT_EQ(named->model, "gpt-4o-mini");
}

TEST(ProvidersProviderSet, AConcreteIdCarriesTheTierItIsListedUnder) {
  const auto set = standard_set();
  auto id = set.resolve("claude-opus-4-1", Tier::sonnet);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->provider->info().name, "anthropic");
  EXPECT_EQ(id->tier, Tier::opus);

  auto provider_tier = set.resolve("anthropic/haiku", Tier::sonnet);
  ASSERT_TRUE(provider_tier.ok());
  EXPECT_EQ(provider_tier->model, "claude-haiku-4-5");
  EXPECT_EQ(provider_tier->tier, Tier::haiku);
}

TEST(ProvidersProviderSet, CandidatesForATierFollowTheChainAndSkipProvidersWithoutIt) {
  const auto set = standard_set();
  std::string sonnet;
  for (const auto& c : set.candidates_for_tier(Tier::sonnet)) sonnet += c.provider->info().name + " ";
  EXPECT_EQ(sonnet, "azure ");
  std::string opus;
  for (const auto& c : set.candidates_for_tier(Tier::opus)) opus += c.provider->info().name + " ";
  EXPECT_EQ(opus, "azure anthropic ");
}

TEST(ProvidersProviderSet, ModelNamesListTiersCheapestFirstThenIdsInTierNameOrder) {
  // The ids keep the order /v1/models has always shown: by tier name (haiku, opus, sonnet).
  const auto set = standard_set();
  std::string names;
  for (const auto& n : set.model_names()) names += (names.empty() ? "" : ", ") + n;
  EXPECT_EQ(names, "auto, haiku, sonnet, opus, gpt-4o-mini, o1, gpt-4o, claude-haiku-4-5, claude-opus-4-1");
}

TEST(ProvidersProviderSet, AnUnknownNameListsTheAllowedOnes) {
  const auto set = standard_set();
  auto bad = set.resolve("Opus", Tier::sonnet);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::invalid_request);
  EXPECT_EQ(bad.error().message,
            "unknown model 'Opus'; allowed: auto, haiku, sonnet, opus, gpt-4o-mini, o1, gpt-4o, "
            "claude-haiku-4-5, claude-opus-4-1");
}

TEST(ProvidersProviderSet, AnEmbeddingModelHasNoTier) {
  const auto set = standard_set();
  config::ProviderConfig azure;
  azure.name = "azure";
  azure.embedding_model = "text-embedding-3-small";
  auto e = set.resolve_embedding("auto", {azure});
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->model, "text-embedding-3-small");
  EXPECT_FALSE(e->tier.has_value());
}

}  // namespace
}  // namespace aegis::providers
