// type: anthropic — the Messages API (x-api-key, anthropic-version) and its
// SSE events. Anthropic has no embeddings endpoint.
#include "wire/anthropic.hpp"

#include "core/json.hpp"
#include "providers/factory.hpp"
#include "providers/http_provider.hpp"

namespace aegis::providers {

namespace {

constexpr std::string_view kApiVersion = "2023-06-01";

const ErrorMapper kMapError = wire::anthropic::map_upstream_error;

class AnthropicProvider final : public HttpProvider {
 public:
  AnthropicProvider(const config::ProviderConfig& config, http::HttpClient& client, compliance::EgressGuard* egress)
      : HttpProvider(config, client, egress) {}

  boost::asio::awaitable<Result<Completion>> complete(const ChatRequest& request) override {
    ChatRequest upstream = request;
    upstream.stream = false;
    auto http_request = make_request("POST", config_.base_url + "/v1/messages",
                                     to_json(wire::anthropic::write_chat_request(upstream, request.model)));
    add_auth(http_request);
    co_return co_await exchange_json(std::move(http_request), kMapError, &wire::anthropic::parse_chat_response);
  }

  boost::asio::awaitable<Result<void>> stream(const ChatRequest& request, DeltaSink& sink) override {
    ChatRequest upstream = request;
    upstream.stream = true;
    auto http_request = make_request("POST", config_.base_url + "/v1/messages",
                                     to_json(wire::anthropic::write_chat_request(upstream, request.model)));
    http_request.headers.push_back({"accept", "text/event-stream"});
    add_auth(http_request);
    SseStreamDecoding<wire::anthropic::StreamDecoder> decoding;
    co_return co_await exchange_stream(std::move(http_request), kMapError, decoding, sink);
  }

  boost::asio::awaitable<Result<Embeddings>> embed(const EmbedRequest&) override {
    co_return make_error(ErrorCode::invalid_request,
                         "provider '" + config_.name + "' (anthropic) does not offer embeddings");
  }

  boost::asio::awaitable<bool> health_check() override {
    std::vector<http::Header> headers{{"x-api-key", config_.api_key}, {"anthropic-version", std::string(kApiVersion)}};
    co_return co_await probe(config_.base_url + "/v1/models", std::move(headers));
  }

 private:
  void add_auth(http::ClientRequest& request) const {
    request.headers.push_back({"x-api-key", config_.api_key});
    request.headers.push_back({"anthropic-version", std::string(kApiVersion)});
  }
};

}  // namespace

std::unique_ptr<LLMProvider> make_anthropic_provider(const config::ProviderConfig& config, ProviderDeps deps) {
  return std::make_unique<AnthropicProvider>(config, deps.client, deps.egress);
}

}  // namespace aegis::providers
