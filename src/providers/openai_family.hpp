#pragma once
// The OpenAI chat-completions protocol as spoken by OpenAI, vLLM and other
// compatible servers (openai_compat.cpp) and by Azure OpenAI
// (azure_openai.cpp). The two differ only in URLs and authentication.
#include "providers/http_provider.hpp"

namespace aegis::providers {

class OpenAiFamilyProvider : public HttpProvider {
 public:
  boost::asio::awaitable<Result<Completion>> complete(const ChatRequest& request) override;
  boost::asio::awaitable<Result<void>> stream(const ChatRequest& request, DeltaSink& sink) override;
  boost::asio::awaitable<Result<Embeddings>> embed(const EmbedRequest& request) override;
  boost::asio::awaitable<bool> health_check() override;

 protected:
  using HttpProvider::HttpProvider;

  virtual std::string chat_url(const std::string& model) const = 0;
  virtual std::string embeddings_url(const std::string& model) const = 0;
  virtual std::string health_url() const = 0;
  virtual std::vector<http::Header> auth_headers() const = 0;
  // Azure addresses the model by deployment in the URL; the body then carries no model.
  virtual bool model_in_body() const { return true; }
};

}  // namespace aegis::providers
