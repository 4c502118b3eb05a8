#pragma once
// Providers are created from their config `type` string. Adding a provider
// is one implementation file plus one line in factory.cpp.
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "core/result.hpp"
#include "http/client.hpp"
#include "providers/provider.hpp"

namespace boost::asio {
class io_context;
}

namespace aegis::compliance {
class EgressGuard;
}

namespace aegis::providers {

struct ProviderDeps {
  http::HttpClient& client;
  // For providers that run something in-process (type sim, app/provider_types.hpp); may be null otherwise.
  boost::asio::io_context* io = nullptr;
  // Checks every outbound send of HTTP adapters (compliance/egress_guard.hpp); null: no check.
  compliance::EgressGuard* egress = nullptr;
};

using ProviderMaker = std::function<std::unique_ptr<LLMProvider>(const config::ProviderConfig&, ProviderDeps)>;

class ProviderFactory {
 public:
  // The adapters: anthropic, azure_openai, openai_compat, ollama. The
  // program adds `sim` (app/provider_types.hpp).
  static const ProviderFactory& builtin();

  void register_type(std::string type, ProviderMaker maker);
  // invalid_request naming the known types when `type` is not registered.
  Result<std::unique_ptr<LLMProvider>> create(const config::ProviderConfig& config, ProviderDeps deps) const;
  std::vector<std::string> types() const;

 private:
  std::map<std::string, ProviderMaker> makers_;
};

// One line each in factory.cpp; defined in the provider's own file.
std::unique_ptr<LLMProvider> make_anthropic_provider(const config::ProviderConfig&, ProviderDeps);
std::unique_ptr<LLMProvider> make_azure_openai_provider(const config::ProviderConfig&, ProviderDeps);
std::unique_ptr<LLMProvider> make_openai_compat_provider(const config::ProviderConfig&, ProviderDeps);
std::unique_ptr<LLMProvider> make_ollama_provider(const config::ProviderConfig&, ProviderDeps);

}  // namespace aegis::providers
