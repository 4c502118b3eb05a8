#include "providers/provider_set.hpp"

#include <algorithm>

namespace aegis::providers {

ProviderSet::ProviderSet(std::vector<std::unique_ptr<LLMProvider>> providers, const std::vector<std::string>& chain)
    : owned_(std::move(providers)) {
  for (const auto& name : chain) {
    for (const auto& p : owned_) {
      if (p->info().name == name && std::ranges::find(ordered_, p.get()) == ordered_.end()) ordered_.push_back(p.get());
    }
  }
  for (const auto& p : owned_) {
    if (std::ranges::find(ordered_, p.get()) == ordered_.end()) ordered_.push_back(p.get());
  }
}

LLMProvider* ProviderSet::find(std::string_view name) const {
  for (auto* p : ordered_) {
    if (p->info().name == name) return p;
  }
  return nullptr;
}

std::vector<ModelChoice> ProviderSet::candidates_for_tier(std::string_view tier) const {
  std::vector<ModelChoice> out;
  for (auto* p : ordered_) {
    if (auto it = p->info().models.find(std::string(tier)); it != p->info().models.end()) {
      out.push_back({p, it->second, std::string(tier)});
    }
  }
  return out;
}

Result<ModelChoice> ProviderSet::resolve(std::string_view requested, std::string_view default_tier) const {
  const std::string_view tier_or_model = (requested.empty() || requested == "auto") ? default_tier : requested;
  if (std::ranges::find(kTiers, tier_or_model) != std::end(kTiers)) {
    auto candidates = candidates_for_tier(tier_or_model);
    if (!candidates.empty()) return candidates.front();
    return make_error(ErrorCode::invalid_request, "no provider serves tier '" + std::string(tier_or_model) + "'");
  }
  // A concrete model id some provider lists.
  for (auto* p : ordered_) {
    for (const auto& [tier, model] : p->info().models) {
      if (model == tier_or_model) return ModelChoice{p, model, tier};
    }
  }
  // "provider/model" picks a provider explicitly.
  if (auto slash = tier_or_model.find('/'); slash != std::string_view::npos) {
    if (auto* p = find(tier_or_model.substr(0, slash))) {
      const std::string_view rest = tier_or_model.substr(slash + 1);
      if (std::ranges::find(kTiers, rest) != std::end(kTiers)) {
        if (auto it = p->info().models.find(std::string(rest)); it != p->info().models.end()) {
          return ModelChoice{p, it->second, std::string(rest)};
        }
      }
      for (const auto& [tier, model] : p->info().models) {
        if (model == rest) return ModelChoice{p, model, tier};
      }
    }
  }
  std::string allowed;
  for (const auto& name : model_names()) allowed += (allowed.empty() ? "" : ", ") + name;
  return make_error(ErrorCode::invalid_request,
                    "unknown model '" + std::string(requested) + "'; allowed: " + allowed);
}

Result<ModelChoice> ProviderSet::resolve_embedding(std::string_view requested,
                                                   const std::vector<config::ProviderConfig>& configs) const {
  auto embedding_model_of = [&](const LLMProvider* p) -> std::string {
    for (const auto& c : configs) {
      if (c.name == p->info().name) return c.embedding_model;
    }
    return {};
  };
  for (auto* p : ordered_) {
    const std::string model = embedding_model_of(p);
    if (model.empty()) continue;
    if (requested.empty() || requested == "auto" || requested == model ||
        requested == p->info().name + "/" + model) {
      return ModelChoice{p, model, ""};
    }
  }
  std::string allowed = "auto";
  for (auto* p : ordered_) {
    if (auto m = embedding_model_of(p); !m.empty()) allowed += ", " + m;
  }
  return make_error(ErrorCode::invalid_request,
                    "unknown embedding model '" + std::string(requested) + "'; allowed: " + allowed);
}

std::vector<std::string> ProviderSet::model_names() const {
  std::vector<std::string> names = {"auto"};
  for (auto tier : kTiers) {
    if (!candidates_for_tier(tier).empty()) names.emplace_back(tier);
  }
  for (auto* p : ordered_) {
    for (const auto& [tier, model] : p->info().models) {
      if (std::ranges::find(names, model) == names.end()) names.push_back(model);
    }
  }
  return names;
}

}  // namespace aegis::providers
