#include "app/http_media_fetcher.hpp"

namespace aegis::app {

boost::asio::awaitable<Result<std::string>> HttpMediaFetcher::fetch(const std::string& url) {
  http::ClientRequest request;
  request.method = "GET";
  request.url = url;
  request.headers.push_back({"accept", "image/png, image/jpeg, image/webp, image/gif, application/pdf"});
  request.max_response_bytes = max_bytes_;
  request.timeouts.connect = std::chrono::seconds(5);
  request.timeouts.first_byte = std::chrono::seconds(10);
  request.timeouts.idle = std::chrono::seconds(10);
  request.timeouts.total = std::chrono::seconds(30);
  request.before_send = [this](std::string_view remote_ip, std::string_view) -> Result<void> {
    if (!allow_local_ && guard_.is_local_address(remote_ip)) {
      return make_error(ErrorCode::invalid_request,
                        "it leads into the gateway's own network, which is not fetched (media.fetch_local)");
    }
    return {};
  };
  auto response = co_await client_.send(request);
  if (!response.ok()) {
    Error e = std::move(response).error();
    e.code = ErrorCode::invalid_request;  // the client's URL, not an upstream of ours
    co_return e;
  }
  if (response->status != 200) {
    co_return make_error(ErrorCode::invalid_request, "it answered HTTP " + std::to_string(response->status));
  }
  co_return std::move(response->body);
}

}  // namespace aegis::app
