#pragma once
// The outbound HTTP client providers use: per-host keep-alive pools, TLS with
// certificate and host-name verification, HTTPS_PROXY/NO_PROXY, and timeouts
// for connect, first byte, idle gap between chunks and the whole exchange.
// Beast stays inside client.cpp; this header holds only value types.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "http/message.hpp"

namespace aegis::http {

struct ClientTimeouts {
  std::chrono::milliseconds connect{5'000};
  std::chrono::milliseconds first_byte{60'000};  // request sent -> response headers
  std::chrono::milliseconds idle{30'000};        // longest gap between body bytes
  std::chrono::milliseconds total{300'000};
};

struct ClientRequest {
  std::string method = "POST";
  std::string url;  // absolute http:// or https:// URL
  std::vector<Header> headers;
  std::string body;
  ClientTimeouts timeouts;
  std::size_t max_response_bytes = 64 * 1024 * 1024;
  // Called once the connection is established (after any proxy CONNECT),
  // with the peer IP actually connected to and the body about to be sent,
  // before a byte of the request is written. An error aborts the send: this
  // is where the egress guard sits.
  std::function<Result<void>(std::string_view remote_ip, std::string_view body)> before_send;
};

struct ClientResponse {
  int status = 0;
  std::vector<Header> headers;
  std::string body;
  std::string remote_ip;

  std::optional<std::string_view> header(std::string_view name) const noexcept;
};

// Receives a streamed response body as it arrives.
class BodySink {
 public:
  virtual ~BodySink() = default;
  // Status and headers; return false to stop reading.
  virtual bool on_headers(int status, const std::vector<Header>& headers) = 0;
  // A piece of the body (chunked framing already removed); return false to stop.
  virtual boost::asio::awaitable<bool> on_data(std::string_view data) = 0;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Buffers the whole response (bounded by max_response_bytes).
  virtual boost::asio::awaitable<Result<ClientResponse>> send(const ClientRequest& request) = 0;
  // Streams the body to the sink; the result says how the exchange ended
  // (ok: the body ended properly; upstream_error: truncated/reset; upstream_timeout).
  virtual boost::asio::awaitable<Result<void>> stream(const ClientRequest& request, BodySink& sink) = 0;
};

struct ClientOptions {
  std::size_t max_idle_per_host = 32;
  std::chrono::seconds idle_keepalive{30};
  std::string ca_file;  // empty: system default trust store
  // Proxy settings, normally from HTTPS_PROXY / HTTP_PROXY / NO_PROXY.
  std::string https_proxy;
  std::string http_proxy;
  std::string no_proxy;
  static ClientOptions from_environment();
};

// Each exchange runs on its own strand of `executor`; send() and stream() may
// be called concurrently from any number of threads and coroutines. A
// stream()'s sink is called on the caller's executor, never concurrently with
// itself. For a request through a proxy, before_send sees the proxy's IP (the
// address the socket is actually connected to); https is tunnelled with
// CONNECT and verified end to end against the target host name.
std::unique_ptr<HttpClient> make_http_client(boost::asio::any_io_executor executor, ClientOptions options);

// Whether a request to host:port goes direct instead of through the proxy:
// loopback hosts (localhost, 127.0.0.0/8, ::1) always do; otherwise the
// NO_PROXY list decides. Entries are comma-separated, case-insensitive:
// `*` (everything), a host or domain (`example.com` and `.example.com` both
// match example.com and its subdomains), an IP address, a CIDR block
// (`10.0.0.0/8`), each optionally with `:port` to match only that port.
bool bypass_proxy(std::string_view no_proxy, std::string_view host, std::uint16_t port);

// localhost, *.localhost, 127.0.0.0/8 or ::1.
bool is_loopback_name(std::string_view host);

// Incremental parsers that never buffer a whole stream.
// Server-Sent Events: feed bytes, get (event, data) for each complete event.
class SseParser {
 public:
  struct Event {
    std::string event;  // "message" when the stream gave no event: line
    std::string data;   // data: lines joined with '\n'
    std::string id;
  };
  // Returns the events completed by this chunk.
  std::vector<Event> feed(std::string_view chunk);
  // Bytes held waiting for the rest of a line/event.
  std::size_t buffered() const noexcept { return line_.size() + data_.size(); }

 private:
  void take_line(std::string_view line, std::vector<Event>& out);
  std::string line_;
  std::string event_;
  std::string data_;
  std::string id_;
  bool has_data_ = false;
  bool skip_lf_ = false;
};

// Newline-delimited JSON: feed bytes, get each complete line.
class NdjsonParser {
 public:
  std::vector<std::string> feed(std::string_view chunk);
  std::size_t buffered() const noexcept { return partial_.size(); }
  // The unterminated tail at end of stream (empty if none).
  std::string take_rest() { return std::exchange(partial_, std::string()); }

 private:
  std::string partial_;
};

}  // namespace aegis::http
