#include "routing/router.hpp"

#include <algorithm>
#include <array>

namespace aegis::routing {

namespace {

using providers::LLMProvider;
using providers::ModelChoice;

// The order in which a local provider lacking `tier` substitutes another:
// cheaper tiers first (never silently more expensive when a cheaper one
// exists), then upward.
std::array<Tier, 3> nearest_tiers(Tier tier) {
  if (tier == Tier::opus) return {Tier::opus, Tier::sonnet, Tier::haiku};
  if (tier == Tier::haiku) return {Tier::haiku, Tier::sonnet, Tier::opus};
  return {Tier::sonnet, Tier::haiku, Tier::opus};
}

// The tier of a task that routing.task_tiers does not name.
constexpr Tier kDefaultTier = Tier::sonnet;

RouteTarget target(LLMProvider* provider, const std::string& model) {
  return RouteTarget{provider, model, provider->info().locality};
}

std::optional<RouteTarget> target_for_tier(LLMProvider* provider, Tier tier) {
  const auto& models = provider->info().models;
  if (auto it = models.find(tier); it != models.end()) return target(provider, it->second);
  // Only local providers substitute: a RESTRICTED request must still find a
  // home when the local box runs one model, while a cloud provider lacking
  // the tier is simply not a candidate.
  if (provider->info().locality != config::Locality::local) return std::nullopt;
  for (auto near : nearest_tiers(tier)) {
    if (auto it = models.find(near); it != models.end()) return target(provider, it->second);
  }
  return std::nullopt;
}

std::vector<RouteTarget> chain_for_tier(const providers::ProviderSet& set, Tier tier) {
  std::vector<RouteTarget> chain;
  for (auto* p : set.ordered()) {
    if (auto t = target_for_tier(p, tier)) chain.push_back(std::move(*t));
  }
  return chain;
}

void keep_local(std::vector<RouteTarget>& chain) {
  std::erase_if(chain, [](const RouteTarget& t) { return t.locality != config::Locality::local; });
}

// "$0.40": at least cents, more digits only when the amount has them.
std::string usd(Money m) {
  std::string s = m.to_usd_string();
  if (const auto dot = s.find('.'); dot != std::string::npos && s.size() - dot == 2) s += '0';
  return "$" + s;
}

// The task name comes from the client; the reason goes into a response
// header and logs, so only a plain identifier is echoed.
std::string printable_task(const std::string& task) {
  const bool plain = !task.empty() && task.size() <= 64 && std::ranges::all_of(task, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
  return plain ? task : std::string("(invalid)");
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

// The data rule: whether `level` may only go to local providers, and which rule says so.
std::optional<RouteRule> data_rule(Level level, config::ConfidentialPolicy confidential) {
  if (level == Level::RESTRICTED) return RouteRule::restricted_local_only;
  if (level == Level::CONFIDENTIAL && confidential == config::ConfidentialPolicy::local_only) {
    return RouteRule::confidential_local_only;
  }
  return std::nullopt;
}

std::string data_reason(RouteRule rule) {
  return rule == RouteRule::restricted_local_only ? "restricted→local-only" : "confidential→local-only (policy)";
}

// Whether a key's allow-list (RouteInput::key_models) admits `t`.
bool key_allows(const std::vector<std::string>& names, const RouteTarget& t) {
  const auto& info = t.provider->info();
  auto serves = [&](std::string_view tier_name) {
    const auto tier = parse_tier(tier_name);
    if (!tier) return false;
    auto it = info.models.find(*tier);
    return it != info.models.end() && it->second == t.model;
  };
  for (const auto& name : names) {
    if (name == t.model || serves(name)) return true;
    if (const auto slash = name.find('/'); slash != std::string::npos && name.compare(0, slash, info.name) == 0) {
      const std::string_view rest = std::string_view(name).substr(slash + 1);
      if (rest == t.model || serves(rest)) return true;
    }
  }
  return false;
}

Error key_refuses(const std::string& what, const std::vector<std::string>& names) {
  return make_error(ErrorCode::forbidden, what + " is not allowed for this API key; allowed: " + join(names, ", "));
}

bool declares(const config::ProviderConfig* p, std::string_view capability) {
  if (p == nullptr) return false;
  return capability == "vision" ? p->vision : p->documents;
}

// The capabilities the request's media needs, by config name.
std::vector<std::string_view> needed_capabilities(const RouteInput& input) {
  std::vector<std::string_view> out;
  if (input.needs_vision) out.emplace_back("vision");
  if (input.needs_documents) out.emplace_back("documents");
  return out;
}

// Each capability's word for the media it stands for (`image` for vision, `pdf` for documents), joined.
std::string media_words(const std::vector<std::string_view>& capabilities, std::string_view image, std::string_view pdf,
                        std::string_view joiner) {
  std::vector<std::string> parts;
  parts.reserve(capabilities.size());
  for (const auto c : capabilities) parts.emplace_back(c == "vision" ? image : pdf);
  return join(parts, joiner);
}

std::string capability_list(const std::vector<std::string_view>& capabilities) {
  return join(std::vector<std::string>(capabilities.begin(), capabilities.end()), " and ");
}

}  // namespace

std::string_view to_string(RouteRule rule) noexcept {
  switch (rule) {
    case RouteRule::task_default: return "task_default";
    case RouteRule::explicit_model: return "explicit_model";
    case RouteRule::budget_downgrade: return "budget_downgrade";
    case RouteRule::restricted_local_only: return "restricted_local_only";
    case RouteRule::confidential_local_only: return "confidential_local_only";
    case RouteRule::caller_local_only: return "caller_local_only";
  }
  return "task_default";
}

Router::Router(const config::Config& config, const providers::ProviderSet& providers)
    : config_(config), providers_(providers) {}

const config::ProviderConfig* Router::provider_config(const providers::LLMProvider& provider) const {
  const auto it = std::ranges::find(config_.providers, provider.info().name, &config::ProviderConfig::name);
  return it == config_.providers.end() ? nullptr : &*it;
}

Result<RouteDecision> Router::decide(const RouteInput& input) const {
  const auto& routing = config_.routing;
  const std::string& requested = input.requested_model;
  const bool automatic = requested.empty() || requested == "auto";

  const std::vector<std::string>* team_list = nullptr;
  if (auto it = routing.team_models.find(input.team); it != routing.team_models.end()) team_list = &it->second;

  auto allowed_values = [&] {
    if (!team_list) return join(providers_.model_names(), ", ");
    std::vector<std::string> names = {"auto"};
    for (const auto& m : *team_list) {
      if (std::ranges::find(names, m) == names.end()) names.push_back(m);
    }
    return join(names, ", ");
  };

  // Step 1: the tier, or the concrete model asked for.
  std::optional<Tier> tier;  // empty only for a concrete id that serves no tier
  std::optional<ModelChoice> concrete;
  RouteRule rule = RouteRule::task_default;
  std::string tier_part;
  if (automatic) {
    auto it = routing.task_tiers.find(input.task);
    tier = it != routing.task_tiers.end() ? it->second : kDefaultTier;
    tier_part = "task=" + printable_task(input.task) + "→" + std::string(to_string(*tier));
    if (it == routing.task_tiers.end()) tier_part += " (unknown task)";
  } else {
    tier = parse_tier(requested);
    if (!tier) {
      auto choice = providers_.resolve(requested, kDefaultTier);
      if (!choice.ok()) {
        return make_error(ErrorCode::invalid_request,
                          "unknown model '" + requested + "'; allowed: " + allowed_values());
      }
      concrete = std::move(choice).value();
    }
    if (team_list) {
      bool permitted = std::ranges::find(*team_list, requested) != team_list->end();
      // A listed concrete model may also be asked for in its other spelling
      // ("id" vs "provider/id"); tier aliases only match themselves.
      for (auto it = team_list->begin(); concrete && !permitted && it != team_list->end(); ++it) {
        if (*it == "auto" || parse_tier(*it)) continue;
        auto listed = providers_.resolve(*it, kDefaultTier);
        permitted = listed.ok() && listed->provider == concrete->provider && listed->model == concrete->model;
      }
      if (!permitted) {
        return make_error(ErrorCode::invalid_request, "model '" + requested + "' is not allowed for team '" +
                                                          input.team + "'; allowed: " + allowed_values());
      }
    }
    rule = RouteRule::explicit_model;
    if (concrete) {
      tier = concrete->tier;
      tier_part = "explicit model=" + concrete->model + " (" + concrete->provider->info().name + ")";
    } else {
      tier_part = "explicit tier=" + requested;
    }
  }

  // Step 2: budget. Only tier-based choices move; a concrete id is honoured.
  std::string budget_part;
  if (input.remaining_budget) {
    const Money remaining = *input.remaining_budget;
    const bool below_opus = remaining < routing.downgrade_opus_below;
    const bool below_sonnet = routing.downgrade_sonnet_below && remaining < *routing.downgrade_sonnet_below;
    const bool would_downgrade =
        (tier == Tier::opus && (below_opus || below_sonnet)) || (tier == Tier::sonnet && below_sonnet);
    if (!would_downgrade) {
      budget_part = "budget ok";
    } else {
      const Money threshold = below_sonnet ? *routing.downgrade_sonnet_below : routing.downgrade_opus_below;
      const std::string comparison = "budget " + usd(remaining) + " < " + usd(threshold) + ": ";
      if (concrete) {
        budget_part = comparison + "explicit model kept";
      } else {
        const Tier before = *tier;
        tier = below_sonnet ? Tier::haiku : Tier::sonnet;
        budget_part = comparison + std::string(to_string(before)) + "→" + std::string(to_string(*tier));
        rule = RouteRule::budget_downgrade;
      }
    }
  }

  // Step 3: data rules. RESTRICTED is not configurable on purpose.
  const auto forced = data_rule(input.level, routing.confidential);
  const bool local_only = forced.has_value();
  std::string data_part;
  if (forced) {
    rule = *forced;
    data_part = data_reason(*forced);
  }

  // Step 4: the chain.
  const auto tier_chain = [&] { return tier ? chain_for_tier(providers_, *tier) : std::vector<RouteTarget>{}; };
  const std::string tier_name(tier ? to_string(*tier) : "");
  std::vector<RouteTarget> chain;
  if (concrete && local_only && concrete->provider->info().locality != config::Locality::local) {
    chain = tier_chain();
    keep_local(chain);
    if (!chain.empty()) tier_part = "requested " + concrete->model + " is cloud: replaced by " + chain.front().model;
  } else {
    if (concrete) chain.push_back(target(concrete->provider, concrete->model));
    for (auto& t : tier_chain()) {
      if (!concrete || t.provider != concrete->provider) chain.push_back(std::move(t));
    }
    if (local_only) keep_local(chain);
  }
  // The request's media, before the key's allow-list: a model the key may use
  // but that cannot read the request is no candidate either.
  const auto needed = needed_capabilities(input);
  const auto incapable = [&](const RouteTarget& t) {
    const auto* p = provider_config(*t.provider);
    return std::ranges::any_of(needed, [&](std::string_view c) { return !declares(p, c); });
  };
  // The targets of `near` this request may go to, bar the key's allow-list.
  const auto candidates = [&](Tier near) {
    auto other = chain_for_tier(providers_, near);
    if (local_only) keep_local(other);
    std::erase_if(other, incapable);
    return other;
  };
  std::string media_part;
  if (!needed.empty() && !chain.empty()) {
    std::vector<std::string> skipped;
    for (const auto& t : chain) {
      if (incapable(t) && std::ranges::find(skipped, t.provider->info().name) == skipped.end()) {
        skipped.push_back(t.provider->info().name);
      }
    }
    const bool requested_skipped = concrete && chain.front().provider == concrete->provider &&
                                   chain.front().model == concrete->model && incapable(chain.front());
    std::erase_if(chain, incapable);
    if (chain.empty() && automatic && tier) {
      // The task's tier has no provider that can read the request: the nearest tier that has.
      for (const Tier near : nearest_tiers(*tier)) {
        auto other = candidates(near);
        if (other.empty()) continue;
        tier_part += "; " + capability_list(needed) + "→" + std::string(to_string(near));
        tier = near;
        chain = std::move(other);
        break;
      }
    }
    if (chain.empty()) {
      // The capabilities no provider it may go to declares at all; when each
      // is declared somewhere but not where this request can go, all of them.
      std::vector<std::string_view> missing;
      for (const auto c : needed) {
        const bool anywhere = std::ranges::any_of(providers_.ordered(), [&](const LLMProvider* p) {
          return (!local_only || p->info().locality == config::Locality::local) && declares(provider_config(*p), c);
        });
        if (!anywhere) missing.push_back(c);
      }
      const bool nowhere = !missing.empty();
      if (!nowhere) missing = needed;
      // Each is declared somewhere, never together: say so.
      const std::string both = !nowhere && missing.size() > 1 ? "both " : "";
      const std::string capability =
          both + "the " + capability_list(missing) + (missing.size() > 1 ? " capabilities" : " capability");
      if (local_only) {
        const std::string policy = *forced == RouteRule::restricted_local_only
                                       ? "RESTRICTED data is never sent to a cloud provider"
                                       : "CONFIDENTIAL data stays on local providers (routing.confidential: "
                                         "local_only)";
        return make_error(ErrorCode::no_local_provider,
                          "no local provider declares " + capability + " this request needs (it holds " +
                              media_words(missing, "an image", "a PDF document", " and ") + "); " + policy);
      }
      const std::string where = nowhere             ? "no configured provider"
                                : concrete && !tier ? "no provider of model '" + requested + "'"
                                                    : "no provider serving tier '" + tier_name + "'";
      return make_error(ErrorCode::invalid_request,
                        where + " accepts " + both +
                            media_words(missing, "images", "PDF documents", nowhere ? " or " : " and ") + " (" +
                            (missing.size() > 1 ? "capabilities " : "capability ") + capability_list(missing) + ")");
    }
    if (requested_skipped) {
      tier_part =
          "requested " + concrete->model + " lacks " + capability_list(needed) + ": replaced by " + chain.front().model;
    }
    if (!skipped.empty()) media_part = "needs " + capability_list(needed) + ": skipped " + join(skipped, ", ");
  }
  if (input.key_models != nullptr && !chain.empty()) {
    const auto& names = *input.key_models;
    const auto refused = [&](const RouteTarget& t) { return !key_allows(names, t); };
    if (concrete && refused(target(concrete->provider, concrete->model))) {
      return key_refuses("model '" + requested + "'", names);
    }
    std::erase_if(chain, refused);
    if (chain.empty() && automatic && tier) {
      // The task's tier has nothing this key may use: the nearest tier that has.
      for (const Tier near : nearest_tiers(*tier)) {
        auto other = candidates(near);
        std::erase_if(other, refused);
        if (other.empty()) continue;
        tier_part += "; key allow-list→" + std::string(to_string(near));
        tier = near;
        chain = std::move(other);
        break;
      }
    }
    if (chain.empty()) {
      return key_refuses(
          automatic ? std::string("every model that could serve this request") : "model '" + requested + "'", names);
    }
  }
  if (chain.empty()) {
    if (local_only) {
      return make_error(ErrorCode::no_local_provider, std::string(to_string(input.level)) +
                                                          " data may only go to a local provider, and no local " +
                                                          "provider serves tier '" + tier_name + "' or any other");
    }
    return make_error(ErrorCode::unavailable, "no provider serves tier '" + tier_name + "'");
  }

  RouteDecision decision;
  decision.local_only =
      std::ranges::all_of(chain, [](const RouteTarget& t) { return t.locality == config::Locality::local; });
  if (input.level == Level::CONFIDENTIAL && !decision.local_only) data_part = "confidential→masked for cloud";
  decision.tier = tier;
  decision.chain = std::move(chain);
  decision.rule = rule;
  decision.reason = join({data_part, tier_part, media_part, budget_part}, "; ");
  return decision;
}

Result<RouteDecision> Router::decide_embedding(const RouteInput& input) const {
  const std::string& requested = input.requested_model;
  const bool automatic = requested.empty() || requested == "auto";
  RouteDecision decision;
  const auto forced = data_rule(input.level, config_.routing.confidential);
  if (forced || input.local_only) {
    for (auto* provider : providers_.ordered()) {
      if (provider->info().locality != config::Locality::local) continue;
      for (const auto& p : config_.providers) {
        if (p.name == provider->info().name && !p.embedding_model.empty()) {
          decision.chain.push_back(RouteTarget{provider, p.embedding_model, config::Locality::local});
        }
      }
    }
    if (decision.chain.empty()) {
      return make_error(ErrorCode::no_local_provider,
                        std::string(to_string(input.level)) +
                            " data may only go to a local provider, and no local provider has an embedding model");
    }
    decision.rule = forced.value_or(RouteRule::caller_local_only);
    decision.reason = (forced ? data_reason(*forced) : std::string("caller→local-only")) + "; embeddings";
  } else {
    auto choice = providers_.resolve_embedding(requested, config_.providers);
    if (!choice.ok()) return std::move(choice).error();
    decision.chain.push_back(RouteTarget{choice->provider, choice->model, choice->provider->info().locality});
    decision.rule = automatic ? RouteRule::task_default : RouteRule::explicit_model;
    decision.reason = automatic ? "embedding_default" : "explicit_model=" + requested;
  }
  decision.local_only =
      std::ranges::all_of(decision.chain, [](const RouteTarget& t) { return t.locality == config::Locality::local; });
  return decision;
}

}  // namespace aegis::routing
