// The inbound server in-process on port 0: behaviours that need a handler
// the product does not have (one that throws, one that streams and fails).
#include "http/server.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>

#include "http/json_response.hpp"
#include "http/router.hpp"

namespace aegis::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class ServerTest : public ::testing::Test {
 protected:
  void start(config::ServerConfig cfg = {}) {
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    server_ = std::make_unique<Server>(io_, cfg, [this](HttpRequest& r) { return router_.dispatch(r); });
    port_ = server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) {
      server_->drain([this](bool) { io_.stop(); });
    } else {
      io_.stop();
    }
    if (thread_.joinable()) thread_.join();
  }
  // Sends raw bytes, returns everything until the server closes (or 5 s).
  std::string exchange(const std::string& raw) {
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), port_});
    asio::write(socket, asio::buffer(raw));
    std::string out;
    boost::system::error_code ec;
    char buf[4096];
    for (;;) {
      const std::size_t n = socket.read_some(asio::buffer(buf), ec);
      if (ec) break;
      out.append(buf, n);
    }
    return out;
  }

  asio::io_context io_;
  Router router_;
  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

TEST_F(ServerTest, AThrowingHandlerIs500WithoutInternals) {
  router_.add("GET", "/boom", Credential::none, [](HttpRequest&, const Caller&) -> asio::awaitable<HttpResponse> {
    throw std::runtime_error("secret internal detail /etc/passwd");
    co_return HttpResponse{};
  });
  start();
  const auto response = exchange("GET /boom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(response.starts_with("HTTP/1.1 500")) << response;
  EXPECT_NE(response.find("\"internal_error\""), std::string::npos);
  EXPECT_EQ(response.find("secret internal detail"), std::string::npos);
  EXPECT_NE(response.find("x-request-id: req_"), std::string::npos);
}

TEST_F(ServerTest, SlowHeadersAreCutOffByTheReadTimeout) {
  config::ServerConfig cfg;
  cfg.read_timeout = std::chrono::milliseconds(300);
  router_.add("GET", "/x", Credential::none,
              [](HttpRequest&, const Caller&) -> asio::awaitable<HttpResponse> { co_return HttpResponse{}; });
  start(cfg);
  const auto started = std::chrono::steady_clock::now();
  // Never finishes its headers: the server must close the connection, not wait forever.
  const auto response = exchange("GET /x HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(response, "");
  EXPECT_LT(waited, std::chrono::seconds(4));
}

TEST_F(ServerTest, AStreamThatNeverWritesBecomesAPlainResponse) {
  router_.add("GET", "/s", Credential::none, [](HttpRequest&, const Caller&) -> asio::awaitable<HttpResponse> {
    HttpResponse response;
    response.stream_body = [](ResponseWriter& writer) -> asio::awaitable<void> {
      writer.set_status(503);
      writer.set_header("content-type", "application/json");
      writer.set_body(R"({"error":"before first byte"})");
      co_return;
    };
    co_return response;
  });
  router_.add("GET", "/t", Credential::none, [](HttpRequest&, const Caller&) -> asio::awaitable<HttpResponse> {
    HttpResponse response;
    response.stream_body = [](ResponseWriter& writer) -> asio::awaitable<void> {
      co_await writer.write("first;");
      co_await writer.write("second;");
    };
    co_return response;
  });
  start();
  auto plain = exchange("GET /s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(plain.starts_with("HTTP/1.1 503")) << plain;
  EXPECT_NE(plain.find("Content-Length: 29"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("chunked"), std::string::npos);
  auto streamed = exchange("GET /t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(streamed.starts_with("HTTP/1.1 200")) << streamed;
  EXPECT_NE(streamed.find("Transfer-Encoding: chunked"), std::string::npos) << streamed;
  EXPECT_NE(streamed.find("6\r\nfirst;\r\n"), std::string::npos) << streamed;
  EXPECT_TRUE(streamed.ends_with("0\r\n\r\n")) << streamed;
}

TEST_F(ServerTest, ExpectContinueIsAnswered) {
  router_.add("POST", "/e", Credential::none, [](HttpRequest& r, const Caller&) -> asio::awaitable<HttpResponse> {
    HttpResponse response;
    response.body = r.body;
    co_return response;
  });
  start();
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port_});
  asio::write(
      socket,
      asio::buffer(std::string(
          "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")));
  char buf[256];
  const std::size_t n = socket.read_some(asio::buffer(buf));
  EXPECT_EQ(std::string(buf, n).substr(0, 25), "HTTP/1.1 100 Continue\r\n\r\n");
  asio::write(socket, asio::buffer(std::string("hello")));
  std::string rest;
  boost::system::error_code ec;
  for (;;) {
    const std::size_t m = socket.read_some(asio::buffer(buf), ec);
    if (ec) break;
    rest.append(buf, m);
  }
  EXPECT_TRUE(rest.ends_with("hello")) << rest;
}

}  // namespace
}  // namespace aegis::http
