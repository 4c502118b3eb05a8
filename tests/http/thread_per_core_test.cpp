// Thread per core (ARCHITECTURE.md "Process model"): a connection stays on one
// io_context from accept to close, connections are spread over the contexts,
// and a provider call made while serving a request runs on the request's own
// io_context, with its upstream connection pooled there.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/client.hpp"
#include "http/router.hpp"
#include "http/server.hpp"

namespace aegis::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

std::string this_thread_name() { return std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id())); }

// An io_context run by a thread of its own until the object goes.
class RunningContext {
 public:
  RunningContext() : guard_(io.get_executor()), thread_([this] { io.run(); }) {}
  ~RunningContext() {
    guard_.reset();
    io.stop();
    thread_.join();
  }
  std::string thread_name() {
    auto name = asio::co_spawn(
        io, []() -> asio::awaitable<std::string> { co_return this_thread_name(); }, asio::use_future);
    return name.get();
  }

  asio::io_context io{1};

 private:
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// Answers every request with the name of the thread that ran its handler.
Router thread_naming_router() {
  Router router;
  router.add("GET", "/thread", Credential::none, [](HttpRequest&, const Caller&) -> asio::awaitable<HttpResponse> {
    HttpResponse response;
    response.body = this_thread_name();
    co_return response;
  });
  return router;
}

config::ServerConfig loopback() {
  config::ServerConfig cfg;
  cfg.host = "127.0.0.1";
  cfg.port = 0;
  return cfg;
}

// One keep-alive client connection, synchronous.
class KeepAliveConnection {
 public:
  explicit KeepAliveConnection(std::uint16_t port) : socket_(io_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
  }
  std::string get(const std::string& target) {
    beast::http::request<beast::http::empty_body> request{beast::http::verb::get, target, 11};
    request.set(beast::http::field::host, "x");
    request.keep_alive(true);
    beast::http::write(socket_, request);
    beast::http::response<beast::http::string_body> response;
    beast::http::read(socket_, buffer_, response);
    EXPECT_EQ(response.result_int(), 200u);
    return response.body();
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

TEST(ThreadPerCore, EachConnectionStaysOnOneSessionContextAndTheLeastBusyTakesTheNext) {
  RunningContext acceptor;
  RunningContext first;
  RunningContext second;
  Router router = thread_naming_router();
  Server server(acceptor.io, loopback(), [&router](HttpRequest& r) { return router.dispatch(r); }, {},
                {&first.io, &second.io});
  const auto port = server.start();

  KeepAliveConnection a(port);
  const std::string a_thread = a.get("/thread");
  KeepAliveConnection b(port);  // `first` holds a's session: b goes to `second`
  const std::string b_thread = b.get("/thread");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(a.get("/thread"), a_thread);
    EXPECT_EQ(b.get("/thread"), b_thread);
  }
  EXPECT_EQ(a_thread, first.thread_name());
  EXPECT_EQ(b_thread, second.thread_name());
  EXPECT_NE(a_thread, acceptor.thread_name());  // the accepting context serves no session

  std::promise<void> drained;
  server.drain([&drained](bool) { drained.set_value(); });
  // Both keep-alive connections are idle: the drain closes them.
  EXPECT_EQ(drained.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

TEST(ThreadPerCore, AClientCallRunsOnTheCallersContextAndPoolsItsConnectionThere) {
  RunningContext upstream_io;
  Router router = thread_naming_router();
  Server upstream(upstream_io.io, loopback(), [&router](HttpRequest& r) { return router.dispatch(r); });
  const auto port = upstream.start();

  // The client's own executor belongs to a context nobody runs: a call that
  // did its I/O there would never finish.
  asio::io_context never_run;
  auto client = make_http_client(never_run.get_executor(), ClientOptions{});
  RunningContext first;
  RunningContext second;
  const auto call = [&](RunningContext& context) {
    auto result = asio::co_spawn(
        context.io,
        [&]() -> asio::awaitable<int> {
          ClientRequest request;
          request.method = "GET";
          request.url = "http://127.0.0.1:" + std::to_string(port) + "/thread";
          request.timeouts.total = std::chrono::seconds(5);
          auto response = co_await client->send(request);
          co_return response.ok() ? response.value().status : -1;
        },
        asio::use_future);
    EXPECT_EQ(result.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return result.get();
  };

  EXPECT_EQ(call(first), 200);
  EXPECT_EQ(call(first), 200);
  EXPECT_EQ(upstream.active_connections(), 1u);  // the second call reused the first one's connection
  EXPECT_EQ(call(second), 200);
  EXPECT_EQ(upstream.active_connections(), 2u);  // another context: a connection of its own

  client.reset();  // closes the pooled connections while their contexts still run
  std::promise<void> drained;
  upstream.drain([&drained](bool) { drained.set_value(); });
  EXPECT_EQ(drained.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

}  // namespace
}  // namespace aegis::http
