#include "routing/router.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aegis::routing {
namespace {

using config::Locality;

class FakeProvider final : public providers::LLMProvider {
 public:
  FakeProvider(std::string name, Locality locality, std::map<Tier, std::string> models)
      : info_{std::move(name), "fake", locality, std::move(models)} {}

  boost::asio::awaitable<Result<Completion>> complete(const ChatRequest&) override {
    co_return make_error(ErrorCode::internal, "fake provider is never called by the router");
  }
  boost::asio::awaitable<Result<void>> stream(const ChatRequest&, providers::DeltaSink&) override {
    co_return make_error(ErrorCode::internal, "fake provider is never called by the router");
  }
  boost::asio::awaitable<Result<Embeddings>> embed(const EmbedRequest&) override {
    co_return make_error(ErrorCode::internal, "fake provider is never called by the router");
  }
  boost::asio::awaitable<bool> health_check() override { co_return true; }
  const providers::ProviderInfo& info() const override { return info_; }

 private:
  providers::ProviderInfo info_;
};

struct Spec {
  std::string name;
  Locality locality;
  std::map<Tier, std::string> models;
};

Spec anthropic_spec() {
  return {"anthropic",
          Locality::cloud,
          {{Tier::haiku, "claude-haiku-4-5"}, {Tier::sonnet, "claude-sonnet-4-5"}, {Tier::opus, "claude-opus-4-1"}}};
}
Spec azure_spec() {
  return {"azure", Locality::cloud, {{Tier::haiku, "gpt-4o-mini"}, {Tier::sonnet, "gpt-4o"}, {Tier::opus, "o1"}}};
}
Spec ollama_spec() {
  return {"ollama",
          Locality::local,
          {{Tier::haiku, "llama3.2:3b"}, {Tier::sonnet, "qwen2.5:14b"}, {Tier::opus, "llama3.3:70b"}}};
}

config::Config base_config() {
  config::Config cfg;
  cfg.routing.task_tiers = {{"code_review", Tier::sonnet},
                            {"security_audit", Tier::opus},
                            {"commit_summary", Tier::haiku},
                            {"chat", Tier::sonnet}};
  cfg.routing.fallback_chain = {"anthropic", "azure", "ollama"};
  cfg.routing.downgrade_opus_below = Money::from_dollars(1);
  cfg.routing.downgrade_sonnet_below = Money::from_micros(100'000);  // $0.10
  return cfg;
}

// A config plus the providers it routes over; the router keeps references to both.
struct Fixture {
  config::Config cfg;
  std::unique_ptr<providers::ProviderSet> set;
  std::unique_ptr<Router> router;

  explicit Fixture(const std::vector<Spec>& specs, config::Config c = base_config()) : cfg(std::move(c)) {
    std::vector<std::unique_ptr<providers::LLMProvider>> owned;
    owned.reserve(specs.size());
    for (const auto& s : specs) owned.push_back(std::make_unique<FakeProvider>(s.name, s.locality, s.models));
    set = std::make_unique<providers::ProviderSet>(std::move(owned), cfg.routing.fallback_chain);
    router = std::make_unique<Router>(cfg, *set);
  }

  Result<RouteDecision> decide(std::string task, Level level, std::string model = "",
                               std::optional<Money> budget = std::nullopt, std::string team = "") const {
    return router->decide(RouteInput{std::move(task), level, std::move(model), std::move(team), budget});
  }
};

Fixture standard() { return Fixture({anthropic_spec(), azure_spec(), ollama_spec()}); }

// "anthropic/claude-sonnet-4-5 ollama/qwen2.5:14b" for compact comparisons.
std::string chain_of(const RouteDecision& d) {
  std::string out;
  for (const auto& t : d.chain) {
    if (!out.empty()) out += ' ';
    out += t.provider->info().name + "/" + t.model;
  }
  return out;
}

Money cents(std::int64_t c) { return Money::from_micros(c * 10'000); }

TEST(RoutingRouter, TaskDefaultFollowsTaskTiersAndChainOrder) {
  auto f = standard();
  auto d = f.decide("code_review", Level::INTERNAL);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->tier, Tier::sonnet);
  EXPECT_EQ(chain_of(*d), "anthropic/claude-sonnet-4-5 azure/gpt-4o ollama/qwen2.5:14b");
  EXPECT_EQ(d->chain[0].locality, Locality::cloud);
  EXPECT_EQ(d->chain[2].locality, Locality::local);
  EXPECT_EQ(d->rule, RouteRule::task_default);
  EXPECT_EQ(d->reason, "task=code_review→sonnet");
  EXPECT_FALSE(d->local_only);

  auto h = f.decide("commit_summary", Level::PUBLIC, "auto");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->tier, Tier::haiku);
  EXPECT_EQ(chain_of(*h), "anthropic/claude-haiku-4-5 azure/gpt-4o-mini ollama/llama3.2:3b");
}

TEST(RoutingRouter, UnknownTaskIsSonnetAndOddTaskNamesAreNotEchoed) {
  auto f = standard();
  auto d = f.decide("poetry", Level::INTERNAL);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->tier, Tier::sonnet);
  EXPECT_EQ(d->rule, RouteRule::task_default);
  EXPECT_EQ(d->reason, "task=poetry→sonnet (unknown task)");

  auto odd = f.decide("x\r\nSet-Cookie: a=b", Level::INTERNAL);
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->reason.find('\n'), std::string::npos);
  EXPECT_EQ(odd->reason.find("Set-Cookie"), std::string::npos);
}

TEST(RoutingRouter, ChainFollowsFallbackChainNotDeclarationOrder) {
  auto cfg = base_config();
  cfg.routing.fallback_chain = {"ollama", "azure"};  // anthropic not named: after the named ones
  Fixture f({anthropic_spec(), azure_spec(), ollama_spec()}, cfg);
  auto d = f.decide("code_review", Level::INTERNAL);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(chain_of(*d), "ollama/qwen2.5:14b azure/gpt-4o anthropic/claude-sonnet-4-5");
  EXPECT_FALSE(d->local_only);
}

TEST(RoutingRouter, BudgetOkAndUnknownBudget) {
  auto f = standard();
  auto ok = f.decide("security_audit", Level::INTERNAL, "", Money::from_dollars(5));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->tier, Tier::opus);
  EXPECT_EQ(ok->reason, "task=security_audit→opus; budget ok");

  auto unknown = f.decide("security_audit", Level::INTERNAL, "", std::nullopt);
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->tier, Tier::opus);
  EXPECT_EQ(unknown->rule, RouteRule::task_default);
  EXPECT_EQ(unknown->reason.find("budget"), std::string::npos);
}

TEST(RoutingRouter, OpusThresholdTurnsOpusIntoSonnet) {
  auto f = standard();
  auto d = f.decide("security_audit", Level::INTERNAL, "", cents(40));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->tier, Tier::sonnet);
  EXPECT_EQ(chain_of(*d), "anthropic/claude-sonnet-4-5 azure/gpt-4o ollama/qwen2.5:14b");
  EXPECT_EQ(d->rule, RouteRule::budget_downgrade);
  EXPECT_EQ(d->reason, "task=security_audit→opus; budget $0.40 < $1.00: opus→sonnet");

  // Strictly below: exactly the threshold keeps opus.
  auto at = f.decide("security_audit", Level::INTERNAL, "", Money::from_dollars(1));
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at->tier, Tier::opus);
  EXPECT_EQ(at->rule, RouteRule::task_default);

  // Sonnet is untouched by the opus threshold.
  auto sonnet = f.decide("code_review", Level::INTERNAL, "", cents(40));
  ASSERT_TRUE(sonnet.ok());
  EXPECT_EQ(sonnet->tier, Tier::sonnet);
  EXPECT_EQ(sonnet->reason, "task=code_review→sonnet; budget ok");
}

TEST(RoutingRouter, SonnetThresholdTurnsSonnetAndOpusIntoHaiku) {
  auto f = standard();
  auto opus = f.decide("security_audit", Level::INTERNAL, "", cents(5));
  ASSERT_TRUE(opus.ok());
  EXPECT_EQ(opus->tier, Tier::haiku);
  EXPECT_EQ(opus->rule, RouteRule::budget_downgrade);
  EXPECT_EQ(opus->reason, "task=security_audit→opus; budget $0.05 < $0.10: opus→haiku");
  EXPECT_EQ(chain_of(*opus), "anthropic/claude-haiku-4-5 azure/gpt-4o-mini ollama/llama3.2:3b");

  auto sonnet = f.decide("code_review", Level::INTERNAL, "", cents(5));
  ASSERT_TRUE(sonnet.ok());
  EXPECT_EQ(sonnet->tier, Tier::haiku);
  EXPECT_EQ(sonnet->reason, "task=code_review→sonnet; budget $0.05 < $0.10: sonnet→haiku");

  auto at = f.decide("code_review", Level::INTERNAL, "", cents(10));
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at->tier, Tier::sonnet);

  // An overspent team (negative remaining) is below both thresholds.
  auto over = f.decide("security_audit", Level::INTERNAL, "", Money::from_micros(-1));
  ASSERT_TRUE(over.ok());
  EXPECT_EQ(over->tier, Tier::haiku);
}

TEST(RoutingRouter, SonnetThresholdIsOffUnlessSet) {
  auto cfg = base_config();
  cfg.routing.downgrade_sonnet_below.reset();
  Fixture f({anthropic_spec(), azure_spec(), ollama_spec()}, cfg);
  auto opus = f.decide("security_audit", Level::INTERNAL, "", Money{});
  ASSERT_TRUE(opus.ok());
  EXPECT_EQ(opus->tier, Tier::sonnet);
  auto sonnet = f.decide("code_review", Level::INTERNAL, "", Money{});
  ASSERT_TRUE(sonnet.ok());
  EXPECT_EQ(sonnet->tier, Tier::sonnet);
  EXPECT_EQ(sonnet->rule, RouteRule::task_default);
}

TEST(RoutingRouter, ExplicitTierAliasIsDowngradedLikeATaskTier) {
  auto f = standard();
  auto plain = f.decide("commit_summary", Level::INTERNAL, "opus");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->tier, Tier::opus);
  EXPECT_EQ(plain->rule, RouteRule::explicit_model);
  EXPECT_EQ(plain->reason, "explicit tier=opus");
  EXPECT_EQ(chain_of(*plain), "anthropic/claude-opus-4-1 azure/o1 ollama/llama3.3:70b");

  auto poor = f.decide("commit_summary", Level::INTERNAL, "opus", cents(40));
  ASSERT_TRUE(poor.ok());
  EXPECT_EQ(poor->tier, Tier::sonnet);
  EXPECT_EQ(poor->rule, RouteRule::budget_downgrade);
  EXPECT_EQ(poor->reason, "explicit tier=opus; budget $0.40 < $1.00: opus→sonnet");
}

TEST(RoutingRouter, ConcreteModelGoesFirstThenSameTierFallbacks) {
  auto f = standard();
  auto d = f.decide("commit_summary", Level::PUBLIC, "gpt-4o");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->tier, Tier::sonnet);
  EXPECT_EQ(chain_of(*d), "azure/gpt-4o anthropic/claude-sonnet-4-5 ollama/qwen2.5:14b");
  EXPECT_EQ(d->rule, RouteRule::explicit_model);
  EXPECT_EQ(d->reason, "explicit model=gpt-4o (azure)");

  auto pinned = f.decide("chat", Level::PUBLIC, "ollama/llama3.3:70b");
  ASSERT_TRUE(pinned.ok());
  EXPECT_EQ(chain_of(*pinned), "ollama/llama3.3:70b anthropic/claude-opus-4-1 azure/o1");
  EXPECT_EQ(pinned->reason, "explicit model=llama3.3:70b (ollama)");

  auto provider_tier = f.decide("chat", Level::PUBLIC, "azure/haiku");
  ASSERT_TRUE(provider_tier.ok());
  EXPECT_EQ(chain_of(*provider_tier), "azure/gpt-4o-mini anthropic/claude-haiku-4-5 ollama/llama3.2:3b");
}

TEST(RoutingRouter, ConcreteModelIsHonouredWhateverTheBudget) {
  auto f = standard();
  auto d = f.decide("chat", Level::PUBLIC, "claude-opus-4-1", cents(5));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->tier, Tier::opus);
  EXPECT_EQ(d->chain.front().model, "claude-opus-4-1");
  EXPECT_EQ(d->rule, RouteRule::explicit_model);
  EXPECT_EQ(d->reason, "explicit model=claude-opus-4-1 (anthropic); budget $0.05 < $0.10: explicit model kept");

  auto rich = f.decide("chat", Level::PUBLIC, "claude-opus-4-1", Money::from_dollars(50));
  ASSERT_TRUE(rich.ok());
  EXPECT_EQ(rich->reason, "explicit model=claude-opus-4-1 (anthropic); budget ok");
}

TEST(RoutingRouter, UnknownModelIs400ListingAllowedValues) {
  auto f = standard();
  auto d = f.decide("chat", Level::INTERNAL, "gpt-5-turbo");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, ErrorCode::invalid_request);
  EXPECT_EQ(http_status(d.error().code), 400);
  const auto& msg = d.error().message;
  EXPECT_NE(msg.find("gpt-5-turbo"), std::string::npos);
  for (const char* name : {"auto", "haiku", "sonnet", "opus", "gpt-4o", "claude-opus-4-1", "qwen2.5:14b"}) {
    EXPECT_NE(msg.find(name), std::string::npos) << name << " in " << msg;
  }
  auto bad_provider = f.decide("chat", Level::INTERNAL, "nobody/gpt-4o");
  ASSERT_FALSE(bad_provider.ok());
  EXPECT_EQ(bad_provider.error().code, ErrorCode::invalid_request);
}

config::Config with_team_models() {
  auto cfg = base_config();
  cfg.routing.team_models["interns"] = {"auto", "haiku", "sonnet", "anthropic/claude-sonnet-4-5"};
  return cfg;
}

TEST(RoutingRouter, TeamModelsAllowListedNames) {
  Fixture f({anthropic_spec(), azure_spec(), ollama_spec()}, with_team_models());
  for (const char* model :
       {"", "auto", "haiku", "sonnet", "anthropic/claude-sonnet-4-5", "claude-sonnet-4-5", "anthropic/sonnet"}) {
    auto d = f.decide("chat", Level::INTERNAL, model, std::nullopt, "interns");
    EXPECT_TRUE(d.ok()) << model << ": " << (d.ok() ? "" : d.error().message);
  }
  // "auto" still follows the task, even to a tier the team may not name.
  auto audit = f.decide("security_audit", Level::INTERNAL, "auto", std::nullopt, "interns");
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(audit->tier, Tier::opus);
}

TEST(RoutingRouter, TeamModelsDenyEverythingElseListingOnlyTheTeamsValues) {
  Fixture f({anthropic_spec(), azure_spec(), ollama_spec()}, with_team_models());
  for (const char* model : {"opus", "gpt-4o", "azure/gpt-4o", "claude-opus-4-1", "anthropic/opus", "made-up"}) {
    auto d = f.decide("chat", Level::INTERNAL, model, std::nullopt, "interns");
    ASSERT_FALSE(d.ok()) << model;
    EXPECT_EQ(d.error().code, ErrorCode::invalid_request) << model;
    EXPECT_NE(d.error().message.find("allowed: auto, haiku, sonnet, anthropic/claude-sonnet-4-5"), std::string::npos)
        << d.error().message;
    EXPECT_EQ(d.error().message.find("gpt-4o-mini"), std::string::npos) << d.error().message;
  }
  // Teams not listed may name any configured model.
  auto other = f.decide("chat", Level::INTERNAL, "opus", std::nullopt, "platform");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->tier, Tier::opus);
}

TEST(RoutingRouter, RestrictedKeepsOnlyLocalProviders) {
  auto f = standard();
  auto d = f.decide("code_review", Level::RESTRICTED, "", Money::from_dollars(5));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(chain_of(*d), "ollama/qwen2.5:14b");
  EXPECT_TRUE(d->local_only);
  EXPECT_EQ(d->rule, RouteRule::restricted_local_only);
  EXPECT_EQ(d->reason, "restricted→local-only; task=code_review→sonnet; budget ok");
}

TEST(RoutingRouter, RestrictedReplacesEveryFormOfRequestedCloudModel) {
  auto f = standard();
  struct Case {
    const char* requested;
    const char* chain;
    const char* reason;
  };
  const Case cases[] = {
      {"claude-opus-4-1", "ollama/llama3.3:70b",
       "restricted→local-only; requested claude-opus-4-1 is cloud: replaced by llama3.3:70b"},
      {"anthropic/claude-opus-4-1", "ollama/llama3.3:70b",
       "restricted→local-only; requested claude-opus-4-1 is cloud: replaced by llama3.3:70b"},
      {"azure/gpt-4o-mini", "ollama/llama3.2:3b",
       "restricted→local-only; requested gpt-4o-mini is cloud: replaced by llama3.2:3b"},
      {"azure/sonnet", "ollama/qwen2.5:14b",
       "restricted→local-only; requested gpt-4o is cloud: replaced by qwen2.5:14b"},
      {"opus", "ollama/llama3.3:70b", "restricted→local-only; explicit tier=opus"},
      {"auto", "ollama/qwen2.5:14b", "restricted→local-only; task=chat→sonnet"},
      {"", "ollama/qwen2.5:14b", "restricted→local-only; task=chat→sonnet"},
      {"qwen2.5:14b", "ollama/qwen2.5:14b", "restricted→local-only; explicit model=qwen2.5:14b (ollama)"},
      {"ollama/llama3.2:3b", "ollama/llama3.2:3b", "restricted→local-only; explicit model=llama3.2:3b (ollama)"},
  };
  for (const auto& c : cases) {
    auto d = f.decide("chat", Level::RESTRICTED, c.requested);
    ASSERT_TRUE(d.ok()) << c.requested << ": " << d.error().message;
    EXPECT_EQ(chain_of(*d), c.chain) << c.requested;
    EXPECT_EQ(d->reason, c.reason) << c.requested;
    EXPECT_EQ(d->rule, RouteRule::restricted_local_only) << c.requested;
    EXPECT_TRUE(d->local_only);
  }
}

TEST(RoutingRouter, RestrictedWithoutLocalProviderIs503WhateverTheConfig) {
  for (auto policy : {config::ConfidentialPolicy::cloud_masked, config::ConfidentialPolicy::local_only}) {
    auto cfg = base_config();
    cfg.routing.confidential = policy;
    cfg.routing.fallback_chain = {"anthropic", "azure"};
    Fixture f({anthropic_spec(), azure_spec()}, cfg);
    for (const char* model : {"", "opus", "gpt-4o", "anthropic/claude-haiku-4-5"}) {
      auto d = f.decide("chat", Level::RESTRICTED, model, Money::from_dollars(100));
      ASSERT_FALSE(d.ok()) << model;
      EXPECT_EQ(d.error().code, ErrorCode::no_local_provider) << model;
      EXPECT_EQ(http_status(d.error().code), 503);
    }
    // The same request at INTERNAL goes to the cloud.
    EXPECT_TRUE(f.decide("chat", Level::INTERNAL).ok());
  }
}

TEST(RoutingRouter, ConfidentialLocalOnlyPolicy) {
  auto cfg = base_config();
  cfg.routing.confidential = config::ConfidentialPolicy::local_only;
  Fixture f({anthropic_spec(), azure_spec(), ollama_spec()}, cfg);
  auto d = f.decide("chat", Level::CONFIDENTIAL);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(chain_of(*d), "ollama/qwen2.5:14b");
  EXPECT_EQ(d->rule, RouteRule::confidential_local_only);
  EXPECT_EQ(d->reason, "confidential→local-only (policy); task=chat→sonnet");
  EXPECT_TRUE(d->local_only);

  auto explicit_cloud = f.decide("chat", Level::CONFIDENTIAL, "gpt-4o");
  ASSERT_TRUE(explicit_cloud.ok());
  EXPECT_EQ(chain_of(*explicit_cloud), "ollama/qwen2.5:14b");
  EXPECT_EQ(explicit_cloud->reason,
            "confidential→local-only (policy); requested gpt-4o is cloud: replaced by qwen2.5:14b");

  cfg.routing.fallback_chain = {"anthropic"};
  Fixture cloud_only({anthropic_spec()}, cfg);
  auto none = cloud_only.decide("chat", Level::CONFIDENTIAL);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::no_local_provider);
}

TEST(RoutingRouter, ConfidentialCloudMaskedKeepsCloudAndAsksForMasking) {
  auto f = standard();  // routing.confidential defaults to cloud_masked
  auto d = f.decide("chat", Level::CONFIDENTIAL, "", Money::from_dollars(5));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(chain_of(*d), "anthropic/claude-sonnet-4-5 azure/gpt-4o ollama/qwen2.5:14b");
  EXPECT_FALSE(d->local_only);
  EXPECT_EQ(d->rule, RouteRule::task_default);
  EXPECT_EQ(d->reason, "confidential→masked for cloud; task=chat→sonnet; budget ok");

  auto explicit_cloud = f.decide("chat", Level::CONFIDENTIAL, "gpt-4o");
  ASSERT_TRUE(explicit_cloud.ok());
  EXPECT_EQ(explicit_cloud->chain.front().model, "gpt-4o");
  EXPECT_FALSE(explicit_cloud->local_only);

  // Nothing to mask for when every target is local.
  Fixture local({ollama_spec()});
  auto l = local.decide("chat", Level::CONFIDENTIAL);
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(l->local_only);
}

TEST(RoutingRouter, LocalProviderWithOneModelServesTheNearestTier) {
  const Spec sonnet_only{"ollama", Locality::local, {{Tier::sonnet, "qwen2.5:14b"}}};
  Fixture f({anthropic_spec(), sonnet_only});
  for (const char* tier : {"haiku", "sonnet", "opus"}) {
    auto d = f.decide("chat", Level::RESTRICTED, tier);
    ASSERT_TRUE(d.ok()) << tier;
    EXPECT_EQ(chain_of(*d), "ollama/qwen2.5:14b") << tier;
  }
  // In a mixed chain the local stand-in comes after the cloud provider that really serves the tier.
  auto opus = f.decide("security_audit", Level::INTERNAL);
  ASSERT_TRUE(opus.ok());
  EXPECT_EQ(chain_of(*opus), "anthropic/claude-opus-4-1 ollama/qwen2.5:14b");
}

TEST(RoutingRouter, NearestTierPrefersDownwardThenUpward) {
  const Spec haiku_and_opus{"ollama", Locality::local, {{Tier::haiku, "small"}, {Tier::opus, "big"}}};
  Fixture f({haiku_and_opus});
  auto sonnet = f.decide("chat", Level::RESTRICTED, "sonnet");
  ASSERT_TRUE(sonnet.ok());
  EXPECT_EQ(chain_of(*sonnet), "ollama/small");  // down before up

  const Spec opus_only{"ollama", Locality::local, {{Tier::opus, "big"}}};
  Fixture g({opus_only});
  auto haiku = g.decide("commit_summary", Level::RESTRICTED);
  ASSERT_TRUE(haiku.ok());
  EXPECT_EQ(chain_of(*haiku), "ollama/big");  // nothing below: up
}

TEST(RoutingRouter, CloudProviderWithoutTheTierIsNoCandidate) {
  const Spec no_opus{"anthropic", Locality::cloud, {{Tier::sonnet, "claude-sonnet-4-5"}}};
  auto cfg = base_config();
  cfg.routing.fallback_chain = {"anthropic"};
  Fixture f({no_opus}, cfg);
  auto d = f.decide("security_audit", Level::INTERNAL);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, ErrorCode::unavailable);
  EXPECT_EQ(http_status(d.error().code), 503);
}

// For every combination, a RESTRICTED decision holds only local targets; it
// either succeeds that way or fails, never with a cloud target.
TEST(RoutingRouter, PropertyRestrictedChainsAreAlwaysLocal) {
  const Spec sonnet_only{"local-small", Locality::local, {{Tier::sonnet, "qwen2.5:14b"}}};
  const std::vector<std::vector<Spec>> provider_sets = {{anthropic_spec(), azure_spec(), ollama_spec()},
                                                        {ollama_spec(), anthropic_spec()},
                                                        {anthropic_spec(), sonnet_only},
                                                        {anthropic_spec(), azure_spec()}};
  const std::vector<std::string> tasks = {"code_review", "security_audit", "commit_summary", "chat", "unknown", ""};
  const std::vector<std::optional<Money>> budgets = {
      std::nullopt, Money{}, cents(5), cents(50), Money::from_dollars(100), Money::from_micros(-5)};
  const Level levels[] = {Level::PUBLIC, Level::INTERNAL, Level::CONFIDENTIAL, Level::RESTRICTED};
  int restricted_ok = 0;
  int checked = 0;
  for (const auto policy : {config::ConfidentialPolicy::cloud_masked, config::ConfidentialPolicy::local_only}) {
    for (const auto& specs : provider_sets) {
      auto cfg = base_config();
      cfg.routing.confidential = policy;
      cfg.routing.fallback_chain.clear();
      cfg.routing.team_models["interns"] = {"haiku", "sonnet", "gpt-4o", "anthropic/claude-opus-4-1"};
      Fixture f(specs, cfg);
      std::vector<std::string> models = {"", "auto", "haiku", "sonnet", "opus", "nonexistent", "ghost/opus"};
      for (const auto& s : specs) {
        for (const auto& [tier, model] : s.models) {
          models.push_back(model);
          models.push_back(s.name + "/" + model);
          models.push_back(s.name + "/" + std::string(to_string(tier)));
        }
      }
      bool has_local = false;
      for (const auto& s : specs) has_local = has_local || s.locality == Locality::local;
      for (const auto& task : tasks) {
        for (const auto level : levels) {
          for (const auto& model : models) {
            for (const auto& budget : budgets) {
              for (const char* team : {"", "interns"}) {
                auto d = f.decide(task, level, model, budget, team);
                ++checked;
                if (!d.ok()) {
                  if (level == Level::RESTRICTED && d.error().code != ErrorCode::invalid_request) {
                    EXPECT_EQ(d.error().code, ErrorCode::no_local_provider);
                    EXPECT_FALSE(has_local);
                  }
                  continue;
                }
                EXPECT_FALSE(d->chain.empty());
                EXPECT_EQ(d->reason.find('\n'), std::string::npos);
                for (const auto& t : d->chain) {
                  EXPECT_EQ(t.locality, t.provider->info().locality);
                }
                if (level == Level::RESTRICTED) {
                  ++restricted_ok;
                  EXPECT_TRUE(d->local_only);
                  EXPECT_EQ(d->rule, RouteRule::restricted_local_only);
                  for (const auto& t : d->chain) {
                    ASSERT_EQ(t.locality, Locality::local) << "task=" << task << " model=" << model << " team=" << team
                                                           << " -> " << t.provider->info().name << "/" << t.model;
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 10'000);
  EXPECT_GT(restricted_ok, 1'000);  // the property was exercised, not vacuously true
}

}  // namespace
}  // namespace aegis::routing

namespace aegis::routing {
namespace {

// A key's model allow-list (issue 19, RouteInput::key_models).
Result<RouteDecision> decide_for_key(const Fixture& f, const std::vector<std::string>& models, std::string task,
                                     Level level, std::string model = "") {
  RouteInput input;
  input.task = std::move(task);
  input.level = level;
  input.requested_model = std::move(model);
  input.key_models = &models;
  return f.router->decide(input);
}

std::vector<std::string> chain_models(const RouteDecision& d) {
  std::vector<std::string> out;
  for (const auto& t : d.chain) out.push_back(t.model);
  return out;
}

TEST(RoutingRouter, KeyAllowListKeepsOnlyAllowedTargetsInTheChain) {
  const auto f = standard();
  const std::vector<std::string> models = {"claude-sonnet-4-5", "azure/gpt-4o"};
  auto d = decide_for_key(f, models, "code_review", Level::INTERNAL);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(chain_models(*d), (std::vector<std::string>{"claude-sonnet-4-5", "gpt-4o"}));  // ollama's is not listed
  // A tier alias admits every provider's model of that tier.
  const std::vector<std::string> tier = {"haiku"};
  auto haiku = decide_for_key(f, tier, "commit_summary", Level::INTERNAL);
  ASSERT_TRUE(haiku.ok()) << haiku.error().message;
  EXPECT_EQ(chain_models(*haiku), (std::vector<std::string>{"claude-haiku-4-5", "gpt-4o-mini", "llama3.2:3b"}));
}

TEST(RoutingRouter, KeyAllowListRefusesAnExplicitModelOutsideIt) {
  const auto f = standard();
  const std::vector<std::string> models = {"haiku"};
  for (const std::string requested : {"claude-opus-4-1", "sonnet", "anthropic/claude-sonnet-4-5", "gpt-4o"}) {
    auto d = decide_for_key(f, models, "chat", Level::INTERNAL, requested);
    ASSERT_FALSE(d.ok()) << requested;
    EXPECT_EQ(d.error().code, ErrorCode::forbidden) << requested;
    EXPECT_NE(d.error().message.find("not allowed for this API key; allowed: haiku"), std::string::npos)
        << d.error().message;
  }
  auto ok = decide_for_key(f, models, "chat", Level::INTERNAL, "gpt-4o-mini");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->chain.front().model, "gpt-4o-mini");
  // An explicitly requested model is never silently replaced by another allowed one.
  const std::vector<std::string> one = {"claude-haiku-4-5"};
  auto explicit_other = decide_for_key(f, one, "chat", Level::INTERNAL, "gpt-4o-mini");
  ASSERT_FALSE(explicit_other.ok());
  EXPECT_EQ(explicit_other.error().code, ErrorCode::forbidden);
}

TEST(RoutingRouter, AutoRoutingForAKeyPicksTheNearestAllowedTierOrRefuses) {
  const auto f = standard();
  const std::vector<std::string> models = {"gpt-4o-mini"};
  // chat is sonnet; the key may only use a haiku model: auto takes it.
  auto d = decide_for_key(f, models, "chat", Level::INTERNAL, "auto");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(chain_models(*d), std::vector<std::string>{"gpt-4o-mini"});
  EXPECT_EQ(d->tier, std::optional<Tier>(Tier::haiku));
  EXPECT_NE(d->reason.find("key allow-list"), std::string::npos) << d->reason;
  // RESTRICTED data may only go local, and the key may use no local model: refused, never sent to the cloud.
  auto restricted = decide_for_key(f, models, "chat", Level::RESTRICTED, "auto");
  ASSERT_FALSE(restricted.ok());
  EXPECT_EQ(restricted.error().code, ErrorCode::forbidden);
  // With a local model allowed, RESTRICTED data goes there.
  const std::vector<std::string> local = {"gpt-4o-mini", "ollama/llama3.2:3b"};
  auto kept_local = decide_for_key(f, local, "chat", Level::RESTRICTED, "auto");
  ASSERT_TRUE(kept_local.ok()) << kept_local.error().message;
  EXPECT_EQ(chain_models(*kept_local), std::vector<std::string>{"llama3.2:3b"});
  EXPECT_TRUE(kept_local->local_only);
  // Without a list nothing changes.
  auto free = f.decide("chat", Level::INTERNAL);
  ASSERT_TRUE(free.ok());
  EXPECT_EQ(free->chain.size(), 3u);
}

// Capabilities (issue 20, RouteInput::needs_vision / needs_documents).
struct Declared {
  std::string name;
  bool vision = false;
  bool documents = false;
};

// The standard three providers, declaring what `declared` says in the config.
Fixture with_capabilities(const std::vector<Declared>& declared, config::Config cfg = base_config()) {
  for (const auto& d : declared) {
    config::ProviderConfig p;
    p.name = d.name;
    p.vision = d.vision;
    p.documents = d.documents;
    cfg.providers.push_back(p);
  }
  return Fixture({anthropic_spec(), azure_spec(), ollama_spec()}, std::move(cfg));
}

Result<RouteDecision> decide_media(const Fixture& f, Level level, bool vision, bool documents, std::string model = "",
                                   std::string task = "chat") {
  RouteInput input;
  input.task = std::move(task);
  input.level = level;
  input.requested_model = std::move(model);
  input.needs_vision = vision;
  input.needs_documents = documents;
  return f.router->decide(input);
}

TEST(RoutingCapabilities, AnImageGoesOnlyToProvidersDeclaringVision) {
  const auto f = with_capabilities({{"anthropic", true, false}, {"azure", false, true}, {"ollama", false, false}});
  auto d = decide_media(f, Level::INTERNAL, true, false);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(chain_of(*d), "anthropic/claude-sonnet-4-5");
  EXPECT_EQ(d->rule, RouteRule::task_default);
  EXPECT_EQ(d->reason, "task=chat→sonnet; needs vision: skipped azure, ollama");
  auto pdf = decide_media(f, Level::INTERNAL, false, true);
  ASSERT_TRUE(pdf.ok()) << pdf.error().message;
  EXPECT_EQ(chain_of(*pdf), "azure/gpt-4o");
  auto both = decide_media(f, Level::INTERNAL, true, true);
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.error().code, ErrorCode::invalid_request);
  EXPECT_EQ(both.error().message,
            "no provider serving tier 'sonnet' accepts both images and PDF documents (capabilities vision and "
            "documents)");
}

TEST(RoutingCapabilities, RestrictedImageGoesToTheLocalVisionProvider) {
  const auto f = with_capabilities({{"anthropic", true, true}, {"azure", true, true}, {"ollama", true, false}});
  auto d = decide_media(f, Level::RESTRICTED, true, false);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(chain_of(*d), "ollama/qwen2.5:14b");
  EXPECT_TRUE(d->local_only);
  EXPECT_EQ(d->rule, RouteRule::restricted_local_only);
  EXPECT_EQ(d->reason, "restricted→local-only; task=chat→sonnet");
}

TEST(RoutingCapabilities, RestrictedImageWithoutALocalVisionProviderIs503NamingVision) {
  const auto f = with_capabilities({{"anthropic", true, true}, {"azure", true, true}, {"ollama", false, false}});
  auto d = decide_media(f, Level::RESTRICTED, true, false);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, ErrorCode::no_local_provider);
  EXPECT_EQ(http_status(d.error().code), 503);
  EXPECT_EQ(d.error().message,
            "no local provider declares the vision capability this request needs (it holds an image); RESTRICTED "
            "data is never sent to a cloud provider");
  // An explicitly requested cloud model that reads images changes nothing.
  auto asked = decide_media(f, Level::RESTRICTED, true, false, "claude-sonnet-4-5");
  ASSERT_FALSE(asked.ok());
  EXPECT_EQ(asked.error().code, ErrorCode::no_local_provider);

  config::Config policy = base_config();
  policy.routing.confidential = config::ConfidentialPolicy::local_only;
  const auto g = with_capabilities({{"anthropic", true, true}, {"azure", true, true}, {"ollama", true, false}}, policy);
  auto pdf = decide_media(g, Level::CONFIDENTIAL, false, true);
  ASSERT_FALSE(pdf.ok());
  EXPECT_EQ(pdf.error().code, ErrorCode::no_local_provider);
  EXPECT_EQ(pdf.error().message,
            "no local provider declares the documents capability this request needs (it holds a PDF document); "
            "CONFIDENTIAL data stays on local providers (routing.confidential: local_only)");
}

TEST(RoutingCapabilities, CloudAllowedPdfWithoutADocumentsProviderIs400) {
  const auto f = with_capabilities({{"anthropic", true, false}, {"azure", true, false}, {"ollama", true, false}});
  auto d = decide_media(f, Level::PUBLIC, false, true);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, ErrorCode::invalid_request);
  EXPECT_EQ(http_status(d.error().code), 400);
  EXPECT_EQ(d.error().message, "no configured provider accepts PDF documents (capability documents)");
  // Providers built without a config entry declare nothing.
  auto bare = decide_media(standard(), Level::INTERNAL, true, true);
  ASSERT_FALSE(bare.ok());
  EXPECT_EQ(bare.error().message,
            "no configured provider accepts images or PDF documents (capabilities vision and documents)");
}

TEST(RoutingCapabilities, TextOnlyRequestsAreUnchanged) {
  const auto f = with_capabilities({{"anthropic", false, false}, {"azure", true, true}, {"ollama", false, false}});
  const auto plain = standard();
  for (const Level level : {Level::PUBLIC, Level::CONFIDENTIAL, Level::RESTRICTED}) {
    for (const std::string model : {"", "opus", "gpt-4o"}) {
      auto d = decide_media(f, level, false, false, model, "code_review");
      auto e = plain.decide("code_review", level, model);
      ASSERT_EQ(d.ok(), e.ok()) << model;
      if (!d.ok()) continue;
      EXPECT_EQ(chain_of(*d), chain_of(*e)) << model;
      EXPECT_EQ(d->reason, e->reason) << model;
      EXPECT_EQ(d->rule, e->rule) << model;
    }
  }
}

TEST(RoutingCapabilities, AutoTakesTheNearestTierThatReadsTheMediaAnExplicitTierDoesNot) {
  // Only anthropic reads images, and only through its haiku model.
  config::Config cfg = base_config();
  config::ProviderConfig vision;
  vision.name = "anthropic";
  vision.vision = true;
  cfg.providers.push_back(vision);
  const Fixture f({{"anthropic", Locality::cloud, {{Tier::haiku, "claude-haiku-4-5"}}}, azure_spec(), ollama_spec()},
                  cfg);
  auto d = decide_media(f, Level::INTERNAL, true, false);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(chain_of(*d), "anthropic/claude-haiku-4-5");
  EXPECT_EQ(d->tier, std::optional<Tier>(Tier::haiku));
  EXPECT_EQ(d->reason, "task=chat→sonnet; vision→haiku; needs vision: skipped azure, ollama");
  auto sonnet = decide_media(f, Level::INTERNAL, true, false, "sonnet");
  ASSERT_FALSE(sonnet.ok());
  EXPECT_EQ(sonnet.error().message, "no provider serving tier 'sonnet' accepts images (capability vision)");
}

TEST(RoutingCapabilities, ARequestedModelThatCannotReadTheImageIsReplaced) {
  const auto f = with_capabilities({{"anthropic", true, false}, {"azure", false, false}, {"ollama", false, false}});
  auto d = decide_media(f, Level::INTERNAL, true, false, "gpt-4o");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(chain_of(*d), "anthropic/claude-sonnet-4-5");
  EXPECT_EQ(d->reason,
            "requested gpt-4o lacks vision: replaced by claude-sonnet-4-5; needs vision: skipped azure, "
            "ollama");
}

TEST(RoutingCapabilities, EmbeddingsIgnoreThem) {
  config::Config cfg = base_config();
  config::ProviderConfig local;
  local.name = "ollama";
  local.embedding_model = "nomic-embed-text";
  cfg.providers.push_back(local);
  const Fixture f({anthropic_spec(), azure_spec(), ollama_spec()}, cfg);
  RouteInput input;
  input.level = Level::RESTRICTED;
  input.needs_vision = true;
  input.needs_documents = true;
  auto d = f.router->decide_embedding(input);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(chain_of(*d), "ollama/nomic-embed-text");
}

}  // namespace
}  // namespace aegis::routing
