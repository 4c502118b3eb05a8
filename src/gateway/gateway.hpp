#pragma once
// The one path from every surface (OpenAI/Anthropic-compatible endpoints,
// later jobs and RAG) to a provider. Today it resolves the model and calls
// the provider; the governance stages of DESIGN.md (classify, mask, route,
// budget, breaker/fallback, audit) plug in here and nowhere else.
#include <boost/asio/awaitable.hpp>

#include <string>

#include "classify/classifier.hpp"
#include "config/config.hpp"
#include "core/chat.hpp"
#include "core/result.hpp"
#include "identity/principal.hpp"
#include "providers/provider_set.hpp"
#include "telemetry/metrics.hpp"

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
  bool marked_public = false;      // the caller marked the content public (header / field)
  Level level = Level::INTERNAL;   // filled by the gateway: the assembled prompt's classification
  Route route;                     // filled by the gateway once the route is chosen
};

class Gateway {
 public:
  Gateway(const config::Config& config, providers::ProviderSet& providers, const classify::Classifier& classifier,
          telemetry::Registry& metrics);

  boost::asio::awaitable<Result<ChatOutcome>> complete(CallContext& context, ChatRequest request);
  // Streams into `sink`; context.route is set before the first event.
  boost::asio::awaitable<Result<void>> stream(CallContext& context, ChatRequest request, providers::DeltaSink& sink);
  boost::asio::awaitable<Result<EmbedOutcome>> embed(CallContext& context, EmbedRequest request);

  const providers::ProviderSet& providers() const { return providers_; }

 private:
  Result<providers::ModelChoice> choose(CallContext& context, const ChatRequest& request) const;
  // Stage 2 (and block mode): classify the assembled prompt; 422 when it holds a blocked entity type.
  Result<void> inspect(CallContext& context, const ChatRequest& request) const;
  // Stage 7's scan: PII in the answer that the request did not contain.
  std::string scan_answer(const std::string& answer, const ChatRequest& request) const;

  const config::Config& config_;
  providers::ProviderSet& providers_;
  const classify::Classifier& classifier_;
  telemetry::CounterFamily& invented_pii_;
  telemetry::CounterFamily& classifications_;
};

}  // namespace aegis::gateway
