// type: ollama — /api/chat (NDJSON stream), /api/embed, /api/tags for health.
#include "wire/ollama.hpp"

#include "core/json.hpp"
#include "providers/factory.hpp"
#include "providers/http_provider.hpp"

namespace aegis::providers {

namespace {

class OllamaStreamDecoding final : public StreamDecoding {
 public:
  Result<std::vector<StreamEvent>> feed(std::string_view bytes) override {
    std::vector<StreamEvent> out;
    for (const auto& line : lines_.feed(bytes)) {
      AEGIS_TRY_VOID(decode(line, out));
    }
    return out;
  }
  Result<std::vector<StreamEvent>> finish() override {
    std::vector<StreamEvent> out;
    const std::string rest = lines_.take_rest();
    if (rest.find_first_not_of(" \t\r\n") != std::string::npos) {
      AEGIS_TRY_VOID(decode(rest, out));
    }
    return out;
  }
  bool complete() const override { return decoder_.finished(); }

 private:
  Result<void> decode(std::string_view line, std::vector<StreamEvent>& out) {
    AEGIS_TRY(events, decoder_.feed(line));
    for (auto& e : events) out.push_back(std::move(e));
    return {};
  }
  http::NdjsonParser lines_;
  wire::ollama::StreamDecoder decoder_;
};

const ErrorMapper kMapError = wire::ollama::map_upstream_error;

class OllamaProvider final : public HttpProvider {
 public:
  OllamaProvider(const config::ProviderConfig& config, http::HttpClient& client, compliance::EgressGuard* egress)
      : HttpProvider(config, client, egress) {}

  boost::asio::awaitable<Result<Completion>> complete(const ChatRequest& request) override {
    ChatRequest upstream = request;
    upstream.stream = false;
    auto http_request = make_request("POST", config_.base_url + "/api/chat",
                                     to_json(wire::ollama::write_chat_request(upstream, request.model)));
    add_auth(http_request);
    co_return co_await exchange_json(std::move(http_request), kMapError, &wire::ollama::parse_chat_response);
  }

  boost::asio::awaitable<Result<void>> stream(const ChatRequest& request, DeltaSink& sink) override {
    ChatRequest upstream = request;
    upstream.stream = true;
    auto http_request = make_request("POST", config_.base_url + "/api/chat",
                                     to_json(wire::ollama::write_chat_request(upstream, request.model)));
    add_auth(http_request);
    OllamaStreamDecoding decoding;
    co_return co_await exchange_stream(std::move(http_request), kMapError, decoding, sink);
  }

  boost::asio::awaitable<Result<Embeddings>> embed(const EmbedRequest& request) override {
    auto http_request = make_request("POST", config_.base_url + "/api/embed",
                                     to_json(wire::ollama::write_embed_request(request, request.model)));
    add_auth(http_request);
    co_return co_await exchange_json(std::move(http_request), kMapError, &wire::ollama::parse_embed_response);
  }

  boost::asio::awaitable<bool> health_check() override {
    std::vector<http::Header> headers;
    if (!config_.api_key.empty()) headers.push_back({"authorization", "Bearer " + config_.api_key});
    co_return co_await probe(config_.base_url + "/api/tags", std::move(headers));
  }

 private:
  // Ollama itself needs no key; one set in config is sent for reverse proxies in front of it.
  void add_auth(http::ClientRequest& request) const {
    if (!config_.api_key.empty()) request.headers.push_back({"authorization", "Bearer " + config_.api_key});
  }
};

}  // namespace

std::unique_ptr<LLMProvider> make_ollama_provider(const config::ProviderConfig& config, ProviderDeps deps) {
  return std::make_unique<OllamaProvider>(config, deps.client, deps.egress);
}

}  // namespace aegis::providers
