#pragma once
// The one path from every surface (OpenAI/Anthropic-compatible endpoints,
// later jobs and RAG) to a provider. Today it resolves the model and calls
// the provider; the governance stages of DESIGN.md (classify, mask, route,
// budget, breaker/fallback, audit) plug in here and nowhere else.
#include <boost/asio/awaitable.hpp>

#include <string>

#include "config/config.hpp"
#include "core/chat.hpp"
#include "core/result.hpp"
#include "identity/principal.hpp"
#include "providers/provider_set.hpp"

namespace aegis::gateway {

struct Route {
  std::string tier;
  std::string provider;
  std::string model;
  std::string reason;
  config::Locality locality = config::Locality::cloud;

  // "tier=sonnet; provider=anthropic; model=claude-sonnet-4-5; reason=..."
  std::string header_value() const;
};

struct ChatOutcome {
  Completion completion;
  Route route;
};

struct EmbedOutcome {
  Embeddings embeddings;
  Route route;
};

// Facts about a call that the surface needs before the first byte (headers).
struct CallContext {
  const identity::Principal* principal = nullptr;
  std::string task = "chat";
  Route route;  // filled by the gateway once the route is chosen
};

class Gateway {
 public:
  Gateway(const config::Config& config, providers::ProviderSet& providers);

  boost::asio::awaitable<Result<ChatOutcome>> complete(CallContext& context, ChatRequest request);
  // Streams into `sink`; context.route is set before the first event.
  boost::asio::awaitable<Result<void>> stream(CallContext& context, ChatRequest request, providers::DeltaSink& sink);
  boost::asio::awaitable<Result<EmbedOutcome>> embed(CallContext& context, EmbedRequest request);

  const providers::ProviderSet& providers() const { return providers_; }

 private:
  Result<providers::ModelChoice> choose(CallContext& context, const ChatRequest& request) const;

  const config::Config& config_;
  providers::ProviderSet& providers_;
};

}  // namespace aegis::gateway
