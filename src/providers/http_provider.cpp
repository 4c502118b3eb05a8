#include "providers/http_provider.hpp"

#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>

#include "telemetry/log.hpp"

namespace aegis::providers {

namespace {
constexpr std::size_t kMaxErrorBodyBytes = std::size_t{64} * 1024;

bool is_success(int status) { return status >= 200 && status < 300; }

// host[:port] of the configured base URL, for the log (never credentials or paths).
std::string upstream_of(const std::string& base_url) {
  auto url = boost::urls::parse_uri(base_url);
  return url ? std::string(url->encoded_host_and_port()) : std::string("(invalid base_url)");
}
}  // namespace

class HttpProvider::Permit {
 public:
  explicit Permit(std::shared_ptr<std::atomic<unsigned>> counter) : counter_(std::move(counter)) {}
  Permit(Permit&& other) noexcept : counter_(std::move(other.counter_)) {}
  Permit& operator=(Permit&&) = delete;
  ~Permit() {
    if (counter_) counter_->fetch_sub(1, std::memory_order_relaxed);
  }

 private:
  std::shared_ptr<std::atomic<unsigned>> counter_;
};

HttpProvider::HttpProvider(const config::ProviderConfig& config, http::HttpClient& client,
                           compliance::EgressGuard* egress)
    : config_(config),
      info_{config.name, config.type, config.locality, config.models},
      client_(client),
      egress_(egress),
      upstream_(upstream_of(config.base_url)) {}

// The client's message names only the kind of failure (it reaches API
// clients); which upstream it was goes to the log.
Error HttpProvider::transport_failure(Error error) const {
  if (error.code == ErrorCode::egress_blocked) return error;  // not a transport failure: the guard counts it
  telemetry::log(telemetry::LogLevel::warn, "provider_transport_error",
                 {{"provider", config_.name},
                  {"upstream", upstream_},
                  {"type", std::string(error_type(error.code))},
                  {"detail", error.message}});
  return error;
}

std::optional<HttpProvider::Permit> HttpProvider::try_acquire() {
  const unsigned previous = in_flight_->fetch_add(1, std::memory_order_relaxed);
  if (previous >= config_.max_concurrency) {
    in_flight_->fetch_sub(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  return Permit(in_flight_);
}

Error HttpProvider::saturated() const {
  Error error = make_error(ErrorCode::unavailable, "provider '" + config_.name + "' is at its max_concurrency (" +
                                                       std::to_string(config_.max_concurrency) + ")");
  error.retry_after_seconds = 1;
  return error;
}

http::ClientRequest HttpProvider::make_request(std::string method, std::string url, std::string body) const {
  http::ClientRequest request;
  request.method = std::move(method);
  request.url = std::move(url);
  request.body = std::move(body);
  if (!request.body.empty()) request.headers.push_back({"content-type", "application/json"});
  request.timeouts.connect = config_.connect_timeout;
  request.timeouts.first_byte = config_.first_byte_timeout;
  request.timeouts.idle = config_.idle_timeout;
  request.timeouts.total = config_.total_timeout;
  if (egress_ != nullptr) {
    // Two pointers: fits std::function's small buffer, no allocation per request.
    // The provider outlives every request it makes.
    request.before_send = [guard = egress_, info = &info_](std::string_view remote_ip, std::string_view body) {
      return guard->check(info->name, info->locality, remote_ip, body);
    };
  }
  return request;
}

boost::asio::awaitable<Result<http::ClientResponse>> HttpProvider::exchange(http::ClientRequest request,
                                                                            const ErrorMapper& map_error) {
  auto permit = try_acquire();
  if (!permit) co_return saturated();
  AEGIS_CO_TRY(response, co_await client_.send(request), transport_failure);
  if (!is_success(response.status)) {
    co_return map_error(response.status, response.body, response.header("retry-after"));
  }
  co_return response;
}

Error HttpProvider::malformed_answer() const {
  return make_error(ErrorCode::upstream_error,
                    "malformed " + config_.type + " response from provider '" + config_.name + "': not JSON");
}

namespace {

// Feeds body bytes through the protocol decoding into the caller's sink.
class PumpSink final : public http::BodySink {
 public:
  PumpSink(StreamDecoding& decoding, DeltaSink& sink) : decoding_(decoding), sink_(sink) {}

  bool on_headers(int status, const std::vector<http::Header>& headers) override {
    status_ = status;
    for (const auto& h : headers) {
      if (http::iequals(h.name, "retry-after")) retry_after_ = h.value;
    }
    return true;
  }

  boost::asio::awaitable<bool> on_data(std::string_view data) override {
    if (!is_success(status_)) {
      // An error answer: keep (a bounded part of) it for the error mapper.
      error_body_.append(data.substr(0, kMaxErrorBodyBytes - std::min(kMaxErrorBodyBytes, error_body_.size())));
      co_return true;
    }
    auto events = decoding_.feed(data);
    co_return co_await deliver(std::move(events));
  }

  boost::asio::awaitable<bool> deliver(Result<std::vector<StreamEvent>> events) {
    if (!events.ok()) {
      error_ = std::move(events).error();
      co_return false;
    }
    for (const auto& event : *events) {
      if (!co_await sink_.on_event(event)) {
        client_gone_ = true;
        co_return false;
      }
    }
    co_return true;
  }

  int status_ = 0;
  std::optional<std::string> retry_after_;
  std::string error_body_;
  std::optional<Error> error_;
  bool client_gone_ = false;

 private:
  StreamDecoding& decoding_;
  DeltaSink& sink_;
};

}  // namespace

boost::asio::awaitable<Result<void>> HttpProvider::exchange_stream(http::ClientRequest request,
                                                                   const ErrorMapper& map_error,
                                                                   StreamDecoding& decoding, DeltaSink& sink) {
  auto permit = try_acquire();
  if (!permit) co_return saturated();
  PumpSink pump(decoding, sink);
  auto outcome = co_await client_.stream(request, pump);
  if (pump.client_gone_) co_return Result<void>{};
  if (pump.status_ != 0 && !is_success(pump.status_)) {
    std::optional<std::string_view> retry_after;
    if (pump.retry_after_) retry_after = *pump.retry_after_;
    co_return map_error(pump.status_, pump.error_body_, retry_after);
  }
  if (pump.error_) co_return std::move(*pump.error_);
  if (!outcome.ok()) co_return transport_failure(std::move(outcome).error());
  if (!co_await pump.deliver(decoding.finish())) {
    if (pump.client_gone_) co_return Result<void>{};
    co_return std::move(*pump.error_);
  }
  if (!decoding.complete()) {
    co_return make_error(ErrorCode::upstream_error,
                         "stream from provider '" + config_.name + "' ended before its final event (truncated)");
  }
  co_return Result<void>{};
}

boost::asio::awaitable<bool> HttpProvider::probe(std::string url, std::vector<http::Header> headers) {
  auto request = make_request("GET", std::move(url), "");
  request.headers = std::move(headers);
  request.timeouts.first_byte = std::min(request.timeouts.first_byte, std::chrono::milliseconds(5'000));
  request.timeouts.total = std::min(request.timeouts.total, std::chrono::milliseconds(10'000));
  auto response = co_await client_.send(request);
  co_return response.ok() && is_success(response->status);
}

}  // namespace aegis::providers
