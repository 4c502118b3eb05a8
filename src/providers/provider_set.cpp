#include "providers/provider_set.hpp"

#include <algorithm>
#include <utility>

namespace aegis::providers {

namespace {

// A provider's (tier, model id) pairs in the alphabetical order of the tier
// names: the order /v1/models and the "allowed:" messages have always listed
// the ids in, and so which tier an id listed under two tiers is taken for.
std::vector<std::pair<Tier, const std::string*>> models_by_tier_name(const ProviderInfo& info) {
  std::vector<std::pair<Tier, const std::string*>> out;
  for (const auto& [tier, model] : info.models) out.emplace_back(tier, &model);
  std::ranges::sort(out, {}, [](const auto& entry) { return to_string(entry.first); });
  return out;
}

}  // namespace

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

std::vector<ModelChoice> ProviderSet::candidates_for_tier(Tier tier) const {
  std::vector<ModelChoice> out;
  for (auto* p : ordered_) {
    if (auto it = p->info().models.find(tier); it != p->info().models.end()) out.push_back({p, it->second, tier});
  }
  return out;
}

Result<ModelChoice> ProviderSet::resolve(std::string_view requested, Tier default_tier) const {
  const bool automatic = requested.empty() || requested == "auto";
  if (const auto tier = automatic ? default_tier : parse_tier(requested)) {
    auto candidates = candidates_for_tier(*tier);
    if (!candidates.empty()) return candidates.front();
    return make_error(ErrorCode::invalid_request, "no provider serves tier '" + std::string(to_string(*tier)) + "'");
  }
  // A concrete model id some provider lists.
  for (auto* p : ordered_) {
    for (const auto& [tier, model] : models_by_tier_name(p->info())) {
      if (*model == requested) return ModelChoice{p, *model, tier};
    }
  }
  // "provider/model" picks a provider explicitly.
  if (auto slash = requested.find('/'); slash != std::string_view::npos) {
    if (auto* p = find(requested.substr(0, slash))) {
      const std::string_view rest = requested.substr(slash + 1);
      if (const auto tier = parse_tier(rest)) {
        if (auto it = p->info().models.find(*tier); it != p->info().models.end()) {
          return ModelChoice{p, it->second, tier};
        }
      }
      for (const auto& [tier, model] : models_by_tier_name(p->info())) {
        if (*model == rest) return ModelChoice{p, *model, tier};
      }
    }
  }
  std::string allowed;
  for (const auto& name : model_names()) allowed += (allowed.empty() ? "" : ", ") + name;
  return make_error(ErrorCode::invalid_request, "unknown model '" + std::string(requested) + "'; allowed: " + allowed);
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
    if (requested.empty() || requested == "auto" || requested == model || requested == p->info().name + "/" + model) {
      return ModelChoice{p, model, std::nullopt};
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
  for (const Tier tier : kAllTiers) {
    if (!candidates_for_tier(tier).empty()) names.emplace_back(to_string(tier));
  }
  for (auto* p : ordered_) {
    for (const auto& [tier, model] : models_by_tier_name(p->info())) {
      if (std::ranges::find(names, *model) == names.end()) names.push_back(*model);
    }
  }
  return names;
}

}  // namespace aegis::providers
