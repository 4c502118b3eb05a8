#pragma once
// Stage 4: which tier, which providers in which order, and why.
//
// The decision is a pure function of (task, data level, requested model,
// team, remaining budget, media held) and the config snapshot, so `aegis route --explain`
// and the gateway give the same answer for the same inputs.
//
// The rules (tier, budget, data, chain, media) and the embedding data rule are
// written once, in docs/ARCHITECTURE.md ("4 route"); the tests in
// tests/routing/router_test.cpp follow that text.
//
// `rule` is the most significant rule that applied (RouteRule); it is the
// only part used as a metric label.
#include "config/config.hpp"
#include "core/classification.hpp"
#include "core/money.hpp"
#include "core/result.hpp"
#include "core/tier.hpp"
#include "providers/provider_set.hpp"

namespace aegis::routing {

enum class RouteRule {
  task_default,
  explicit_model,
  budget_downgrade,
  restricted_local_only,
  confidential_local_only,
  caller_local_only,  // an embedding call its caller keeps local (RouteInput::local_only)
};

std::string_view to_string(RouteRule rule) noexcept;

// The rules under which the data, not the configuration, keeps a request on local providers.
constexpr bool data_forced_local(RouteRule rule) noexcept {
  return rule == RouteRule::restricted_local_only || rule == RouteRule::confidential_local_only;
}

struct RouteInput {
  std::string task = "chat";
  Level level = Level::INTERNAL;
  std::string requested_model;            // "", "auto", tier alias, concrete id or "provider/id"
  std::string team;                       // for routing.team_models
  std::optional<Money> remaining_budget;  // nullopt: unknown / unlimited (no downgrade)
  // The caller keeps this embedding call on local providers whatever its
  // level: retrieval's local index (rag/rag_service.hpp) holds a local vector
  // of every chunk, so that a query of any level can search all of them.
  bool local_only = false;
  // The calling key's model allow-list (identity::Principal::models; not
  // owned), or null for none. Each name is a tier alias ("haiku"), a
  // concrete id ("gpt-4o") or "provider/id" / "provider/tier"; a target is
  // allowed when a name matches its model. The chain keeps only allowed
  // targets; an explicitly requested model outside the list, or a request
  // left with no allowed target, is 403 permission_denied. An automatic
  // request whose tier has no allowed target takes the nearest tier that has
  // one (cheaper first, as a local provider substitutes). Chat only:
  // decide_embedding ignores it.
  const std::vector<std::string>* key_models = nullptr;
  // What the request holds besides text (an image; a PDF document). The
  // chain keeps only targets whose provider declares the matching
  // capability (providers[].capabilities: vision, documents). Chat only.
  bool needs_vision = false;
  bool needs_documents = false;
};

struct RouteTarget {
  providers::LLMProvider* provider = nullptr;
  std::string model;                                    // the provider's concrete model id / deployment
  config::Locality locality = config::Locality::cloud;  // as declared in config
};

struct RouteDecision {
  std::optional<Tier> tier;        // after downgrade; empty for embeddings (no tiers)
  std::vector<RouteTarget> chain;  // try in order; never empty on success
  bool local_only = false;         // every target is declared local
  RouteRule rule = RouteRule::task_default;
  // One line, e.g. "restricted→local-only; task=code_review→sonnet; budget ok"
  std::string reason;
};

class Router {
 public:
  Router(const config::Config& config, const providers::ProviderSet& providers);
  // Virtual so that tests can put a faulty router in front of the gateway's
  // own locality re-check and show that the re-check alone holds.
  virtual ~Router() = default;

  virtual Result<RouteDecision> decide(const RouteInput& input) const;
  // `input.task` and `remaining_budget` play no part: embeddings have no tiers.
  virtual Result<RouteDecision> decide_embedding(const RouteInput& input) const;

 private:
  // The provider's entry in the config, or null (a provider built in code).
  const config::ProviderConfig* provider_config(const providers::LLMProvider& provider) const;

  const config::Config& config_;
  const providers::ProviderSet& providers_;
};

// The alphabet of routing.task_tiers keys, x-aegis-task and a job's
// task_type: 1..64 of [A-Za-z0-9_.-].
constexpr bool is_valid_task_name(std::string_view task) noexcept {
  if (task.empty() || task.size() > 64) return false;
  for (char c : task) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace aegis::routing
