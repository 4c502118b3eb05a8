#pragma once
// The provider extension point: an interface, a factory keyed by the config
// `type` string (providers/factory.hpp), one file per implementation.
#include <boost/asio/awaitable.hpp>

#include <map>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/chat.hpp"
#include "core/result.hpp"
#include "core/tier.hpp"

namespace aegis::providers {

struct ProviderInfo {
  std::string name;  // from config, e.g. "anthropic"
  std::string type;  // anthropic | azure_openai | openai_compat | ollama
  config::Locality locality = config::Locality::cloud;
  std::map<Tier, std::string> models;  // tier -> model id / deployment
};

// Receives a streamed answer. Returning false stops the stream (the client
// went away); the provider then abandons the upstream response.
class DeltaSink {
 public:
  virtual ~DeltaSink() = default;
  virtual boost::asio::awaitable<bool> on_event(const StreamEvent& event) = 0;
};

class LLMProvider {
 public:
  virtual ~LLMProvider() = default;
  // request.model is already the provider's concrete model id (or deployment).
  virtual boost::asio::awaitable<Result<Completion>> complete(const ChatRequest& request) = 0;
  // Emits start, deltas and exactly one finish on success. On an error after
  // events were emitted, returns the error without a finish event.
  virtual boost::asio::awaitable<Result<void>> stream(const ChatRequest& request, DeltaSink& sink) = 0;
  virtual boost::asio::awaitable<Result<Embeddings>> embed(const EmbedRequest& request) = 0;
  virtual boost::asio::awaitable<bool> health_check() = 0;
  virtual const ProviderInfo& info() const = 0;
};

}  // namespace aegis::providers
