#include "app/http_document_fetcher.hpp"

#include "identity/document_fetcher.hpp"

namespace aegis::app {

namespace {

constexpr std::size_t kMaxBytes = std::size_t{1024} * 1024;

class HttpDocumentFetcher final : public identity::DocumentFetcher {
 public:
  explicit HttpDocumentFetcher(http::HttpClient& client) : client_(client) {}

  boost::asio::awaitable<Result<std::string>> fetch(std::string url) override {
    http::ClientRequest request;
    request.method = "GET";
    request.url = std::move(url);
    request.headers.push_back({"accept", "application/json, application/jwk-set+json"});
    request.max_response_bytes = kMaxBytes;
    request.timeouts.connect = std::chrono::seconds(3);
    request.timeouts.first_byte = std::chrono::seconds(5);
    request.timeouts.idle = std::chrono::seconds(5);
    request.timeouts.total = std::chrono::seconds(10);
    auto response = co_await client_.send(request);
    if (!response.ok()) co_return std::move(response).error();
    if (response->status != 200) {
      co_return make_error(ErrorCode::upstream_error,
                           "the identity provider answered HTTP " + std::to_string(response->status));
    }
    co_return std::move(response->body);
  }

 private:
  http::HttpClient& client_;
};

}  // namespace

std::unique_ptr<identity::DocumentFetcher> make_http_document_fetcher(http::HttpClient& client) {
  return std::make_unique<HttpDocumentFetcher>(client);
}

}  // namespace aegis::app
