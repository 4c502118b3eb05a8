// type: azure_openai — deployments addressed in the URL, `api-version` in the
// query, the key in an `api-key` header.
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "providers/factory.hpp"
#include "providers/openai_family.hpp"

namespace aegis::providers {

namespace {

class AzureOpenAiProvider final : public OpenAiFamilyProvider {
 public:
  AzureOpenAiProvider(const config::ProviderConfig& config, http::HttpClient& client, compliance::EgressGuard* egress)
      : OpenAiFamilyProvider(config, client, egress) {}

 private:
  std::string deployment_url(const std::string& deployment, std::string_view operation) const {
    return config_.base_url + "/openai/deployments/" + boost::urls::encode(deployment, boost::urls::unreserved_chars) +
           "/" + std::string(operation) +
           "?api-version=" + boost::urls::encode(config_.api_version, boost::urls::unreserved_chars);
  }
  std::string chat_url(const std::string& model) const override { return deployment_url(model, "chat/completions"); }
  std::string embeddings_url(const std::string& model) const override { return deployment_url(model, "embeddings"); }
  std::string health_url() const override {
    return config_.base_url +
           "/openai/models?api-version=" + boost::urls::encode(config_.api_version, boost::urls::unreserved_chars);
  }
  std::vector<http::Header> auth_headers() const override { return {{"api-key", config_.api_key}}; }
  bool model_in_body() const override { return false; }
};

}  // namespace

std::unique_ptr<LLMProvider> make_azure_openai_provider(const config::ProviderConfig& config, ProviderDeps deps) {
  return std::make_unique<AzureOpenAiProvider>(config, deps.client, deps.egress);
}

}  // namespace aegis::providers
