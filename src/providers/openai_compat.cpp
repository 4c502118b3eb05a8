// type: openai_compat — OpenAI itself, vLLM, and any server that speaks
// /v1/chat/completions and /v1/embeddings with a Bearer key.
#include "providers/factory.hpp"
#include "providers/openai_family.hpp"

namespace aegis::providers {

namespace {

class OpenAiCompatProvider final : public OpenAiFamilyProvider {
 public:
  OpenAiCompatProvider(const config::ProviderConfig& config, http::HttpClient& client, compliance::EgressGuard* egress)
      : OpenAiFamilyProvider(config, client, egress), root_(api_root(config.base_url)) {}

 private:
  // base_url may be given with or without the /v1 suffix.
  static std::string api_root(const std::string& base_url) {
    return base_url.ends_with("/v1") ? base_url : base_url + "/v1";
  }
  std::string chat_url(const std::string&) const override { return root_ + "/chat/completions"; }
  std::string embeddings_url(const std::string&) const override { return root_ + "/embeddings"; }
  std::string health_url() const override { return root_ + "/models"; }
  std::vector<http::Header> auth_headers() const override {
    if (config_.api_key.empty()) return {};
    return {{"authorization", "Bearer " + config_.api_key}};
  }

  std::string root_;
};

}  // namespace

std::unique_ptr<LLMProvider> make_openai_compat_provider(const config::ProviderConfig& config, ProviderDeps deps) {
  return std::make_unique<OpenAiCompatProvider>(config, deps.client, deps.egress);
}

}  // namespace aegis::providers
