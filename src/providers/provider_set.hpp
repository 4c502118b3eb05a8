#pragma once
// The configured providers, in fallback-chain order, and how a requested
// model name ("auto", a tier alias, a concrete id, or "provider/id") maps to
// a provider and its concrete model.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/tier.hpp"
#include "providers/provider.hpp"

namespace aegis::providers {

struct ModelChoice {
  LLMProvider* provider = nullptr;
  std::string model;         // concrete model id / deployment
  std::optional<Tier> tier;  // the tier it serves; empty for a concrete id outside the tiers (embeddings)
};

class ProviderSet {
 public:
  // `chain` names providers in preference order; providers not named come after, in config order.
  ProviderSet(std::vector<std::unique_ptr<LLMProvider>> providers, const std::vector<std::string>& chain);

  const std::vector<LLMProvider*>& ordered() const { return ordered_; }
  LLMProvider* find(std::string_view name) const;

  // "auto" and "" mean `default_tier`. invalid_request listing the accepted names otherwise.
  Result<ModelChoice> resolve(std::string_view requested, Tier default_tier) const;
  // Every provider that serves this tier, in chain order.
  std::vector<ModelChoice> candidates_for_tier(Tier tier) const;
  // The embedding model: "auto"/"" = the first provider with embedding_model,
  // else a concrete embedding model id or "provider/id".
  Result<ModelChoice> resolve_embedding(std::string_view requested,
                                        const std::vector<config::ProviderConfig>& configs) const;
  // "auto", the tiers, and every concrete id, for /v1/models and error messages.
  std::vector<std::string> model_names() const;

 private:
  std::vector<std::unique_ptr<LLMProvider>> owned_;
  std::vector<LLMProvider*> ordered_;
};

}  // namespace aegis::providers
