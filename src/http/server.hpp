#pragma once
// The inbound HTTP/1.1 server: Beast + Asio C++20 coroutines, a strand per
// connection, keep-alive, header/body limits (431/413), read and idle
// timeouts, x-request-id on every response, and a bounded graceful drain.
// Beast stays inside server.cpp.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "http/message.hpp"

namespace boost::asio {
class io_context;
}

namespace aegis::http {

// Answers one request (the product's is Router::dispatch).
using RequestHandler = std::function<boost::asio::awaitable<HttpResponse>(HttpRequest&)>;

// What the server tells the outside world about each finished exchange
// (access log, request metrics). Called on the connection's strand.
struct Exchange {
  const HttpRequest& request;
  int status;
  std::size_t response_bytes;
  std::chrono::nanoseconds duration;
};
using ExchangeObserver = std::function<void(const Exchange&)>;

class Server {
 public:
  // Accepts on `io`; each connection then lives on one of `session_contexts`
  // (the least busy), or on `io` when none are given.
  Server(boost::asio::io_context& io, config::ServerConfig config, RequestHandler handler,
         ExchangeObserver observer = {}, std::vector<boost::asio::io_context*> session_contexts = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting; returns the bound port (useful with port 0).
  // Throws at start-up when the address cannot be bound.
  std::uint16_t start();

  // Stops accepting, closes idle keep-alive connections, lets in-flight
  // requests finish, then calls `on_drained` (from an I/O thread) when all
  // connections are gone or drain_timeout has passed. Safe to call twice.
  void drain(std::function<void(bool clean)> on_drained);

  std::size_t active_connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// "req_" + 24 random hex digits.
std::string generate_request_id();
// A client-supplied x-request-id is kept only if it is 1..128 chars of [A-Za-z0-9._:-].
bool acceptable_request_id(std::string_view id) noexcept;

}  // namespace aegis::http
