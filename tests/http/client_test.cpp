// The outbound client against real sockets on 127.0.0.1: our own http::Server,
// hand-written raw servers (for faults the real server cannot produce), an
// in-process TLS server with a certificate made by the openssl CLI at test
// time, and a tiny CONNECT proxy.
#include "http/client.hpp"

#include <arpa/inet.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "config/config.hpp"
#include "http/server.hpp"

namespace aegis::http {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// --- raw servers --------------------------------------------------------------

// Accepts on 127.0.0.1:0 and runs `script` for each connection (index from 0).
class RawServer {
 public:
  using Script = std::function<asio::awaitable<void>(tcp::socket&, int index)>;

  RawServer(asio::io_context& io, Script script) : state_(std::make_shared<State>(io, std::move(script))) {
    state_->acceptor.open(tcp::v4());
    state_->acceptor.set_option(asio::socket_base::reuse_address(true));
    state_->acceptor.bind({asio::ip::make_address("127.0.0.1"), 0});
    state_->acceptor.listen();
    port_ = state_->acceptor.local_endpoint().port();
    asio::co_spawn(state_->strand, accept_loop(state_), asio::detached);
  }
  ~RawServer() {
    auto state = state_;
    asio::post(state->strand, [state] {
      boost::system::error_code ignored;
      state->acceptor.close(ignored);
    });
  }
  std::uint16_t port() const { return port_; }
  int accepted() const { return state_->accepted.load(); }

 private:
  struct State {
    State(asio::io_context& io, Script s) : strand(asio::make_strand(io)), acceptor(strand), script(std::move(s)) {}
    asio::strand<asio::io_context::executor_type> strand;
    tcp::acceptor acceptor;
    Script script;
    std::atomic<int> accepted{0};
  };
  static asio::awaitable<void> connection(std::shared_ptr<State> state, tcp::socket socket, int index) {
    co_await state->script(socket, index);
  }
  static asio::awaitable<void> accept_loop(std::shared_ptr<State> state) {
    for (;;) {
      auto [ec, socket] = co_await state->acceptor.async_accept(kNoThrow);
      if (ec) co_return;
      const int index = state->accepted++;
      auto executor = socket.get_executor();
      asio::co_spawn(executor, connection(state, std::move(socket), index), asio::detached);
    }
  }
  std::shared_ptr<State> state_;
  std::uint16_t port_ = 0;
};

template <class Stream>
asio::awaitable<bool> read_request(Stream& stream, beast::flat_buffer& buffer,
                                   bhttp::request<bhttp::string_body>* out = nullptr) {
  bhttp::request<bhttp::string_body> request;
  auto [ec, n] = co_await bhttp::async_read(stream, buffer, request, kNoThrow);
  if (ec) co_return false;
  if (out) *out = std::move(request);
  co_return true;
}

template <class Stream>
asio::awaitable<bool> write_text(Stream& stream, std::string_view text) {
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(text.data(), text.size()), kNoThrow);
  co_return !ec;
}

std::string response_text(int status, std::string_view body, std::string_view extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         std::string(extra_headers) + "\r\n" + std::string(body);
}

asio::awaitable<void> pause(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(kNoThrow);
}

// --- fixture ------------------------------------------------------------------------

struct RecordingSink : BodySink {
  int status = 0;
  std::vector<Header> headers;
  std::vector<std::string> pieces;
  std::function<void(std::string_view)> on_piece;
  std::size_t stop_after = 0;  // 0: never stop
  bool accept_headers = true;

  bool on_headers(int s, const std::vector<Header>& h) override {
    status = s;
    headers = h;
    return accept_headers;
  }
  asio::awaitable<bool> on_data(std::string_view data) override {
    pieces.emplace_back(data);
    if (on_piece) on_piece(data);
    co_return stop_after == 0 || pieces.size() < stop_after;
  }
  std::string joined() const {
    std::string out;
    for (const auto& p : pieces) out += p;
    return out;
  }
};

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override { stop(); }
  void stop() {
    guard_.reset();
    io_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  HttpClient& client(ClientOptions options = {}) {
    clients_.push_back(make_http_client(io_.get_executor(), std::move(options)));
    return *clients_.back();
  }

  std::uint16_t serve(RequestHandler handler, config::ServerConfig cfg = {}) {
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    servers_.push_back(std::make_unique<Server>(io_, cfg, std::move(handler)));
    return servers_.back()->start();
  }

  RawServer& raw(RawServer::Script script) {
    raw_servers_.push_back(std::make_unique<RawServer>(io_, std::move(script)));
    return *raw_servers_.back();
  }

  // Runs a coroutine to completion from the test thread.
  template <class T>
  T run(std::function<asio::awaitable<T>()> make, std::chrono::seconds limit = 10s) {
    std::promise<T> promise;
    auto future = promise.get_future();
    auto body = [&promise, &make]() -> asio::awaitable<void> {
      auto op = make();
      promise.set_value(co_await std::move(op));
    };
    asio::co_spawn(io_, body, [&promise](std::exception_ptr e) {
      if (e) promise.set_exception(e);
    });
    if (future.wait_for(limit) != std::future_status::ready) {
      ADD_FAILURE() << "operation did not finish";
      stop();
      std::abort();
    }
    return future.get();
  }

  Result<ClientResponse> send(HttpClient& c, const ClientRequest& request) {
    return run<Result<ClientResponse>>([&] { return c.send(request); });
  }
  Result<void> stream(HttpClient& c, const ClientRequest& request, BodySink& sink) {
    return run<Result<void>>([&] { return c.stream(request, sink); });
  }

  static ClientRequest get(std::string url) {
    ClientRequest r;
    r.method = "GET";
    r.url = std::move(url);
    return r;
  }
  static std::string local(std::uint16_t port, std::string_view path = "/") {
    return "http://127.0.0.1:" + std::to_string(port) + std::string(path);
  }

  asio::io_context io_{2};
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<Server>> servers_;
  std::vector<std::unique_ptr<RawServer>> raw_servers_;
  std::vector<std::unique_ptr<HttpClient>> clients_;

  // State shared with server handlers (fixture members outlive every handler).
  std::atomic<int> handled_{0};
  std::atomic<int> requests_{0};
  std::atomic<bool> acked_{false};
  std::atomic<bool> first_seen_before_second_{false};
  std::atomic<bool> server_write_failed_{false};
  std::mutex mutex_;
  std::vector<std::string> seen_;
};

// --- send ---------------------------------------------------------------------

TEST_F(HttpClientTest, SendReturnsJsonResponseAndSendsRequestFaithfully) {
  const auto port = serve([this](HttpRequest& request) -> asio::awaitable<HttpResponse> {
    ++handled_;
    {
      std::lock_guard lock(mutex_);
      seen_.push_back(request.method + " " + request.target + " " +
                      std::string(request.header("x-api-key").value_or("")) + " " +
                      std::string(request.header("host").value_or("")) + " " + request.body);
    }
    HttpResponse response;
    response.set_header("Content-Type", "application/json");
    response.body = R"({"ok":true})";
    co_return response;
  });
  auto& c = client();
  ClientRequest request;
  request.url = local(port, "/v1/chat/completions?api-version=2024");
  request.headers = {{"x-api-key", "k1"}, {"content-type", "application/json"}};
  request.body = R"({"model":"m"})";
  auto response = send(c, request);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, R"({"ok":true})");
  EXPECT_EQ(response->header("CONTENT-TYPE").value_or(""), "application/json");
  EXPECT_EQ(response->remote_ip, "127.0.0.1");
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0],
            "POST /v1/chat/completions?api-version=2024 k1 127.0.0.1:" + std::to_string(port) + R"( {"model":"m"})");
}

TEST_F(HttpClientTest, NonSuccessStatusIsAResponseNotAnError) {
  const auto port = serve([](HttpRequest&) -> asio::awaitable<HttpResponse> {
    HttpResponse response;
    response.status = 429;
    response.set_header("Retry-After", "7");
    response.body = R"({"error":{"type":"rate_limit_error"}})";
    co_return response;
  });
  auto& c = client();
  auto response = send(c, get(local(port)));
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 429);
  EXPECT_EQ(response->header("retry-after").value_or(""), "7");
  EXPECT_NE(response->body.find("rate_limit_error"), std::string::npos);

  RecordingSink sink;
  ASSERT_TRUE(stream(c, get(local(port)), sink).ok());
  EXPECT_EQ(sink.status, 429);
  EXPECT_NE(sink.joined().find("rate_limit_error"), std::string::npos);
}

// Answers every request on a connection with its body, until the client closes.
RawServer::Script echo_script(std::atomic<int>* requests = nullptr) {
  return [requests](tcp::socket& socket, int) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request<bhttp::string_body> request;
      if (!co_await read_request(socket, buffer, &request)) co_return;
      if (requests) ++*requests;
      const std::string text = response_text(200, request.body());
      if (!co_await write_text(socket, text)) co_return;
    }
  };
}

TEST_F(HttpClientTest, KeepAliveReusesOneConnection) {
  auto& server = raw(echo_script());
  auto& c = client();
  for (int i = 0; i < 5; ++i) {
    ClientRequest request;
    request.url = local(server.port());
    request.body = "n" + std::to_string(i);
    auto response = send(c, request);
    ASSERT_TRUE(response.ok()) << response.error().message;
    EXPECT_EQ(response->body, request.body);
  }
  EXPECT_EQ(server.accepted(), 1);
}

TEST_F(HttpClientTest, IdleConnectionsExpireAfterIdleKeepalive) {
  auto& server = raw(echo_script());
  ClientOptions options;
  options.idle_keepalive = 0s;  // nothing is ever kept
  auto& c = client(options);
  ASSERT_TRUE(send(c, get(local(server.port()))).ok());
  ASSERT_TRUE(send(c, get(local(server.port()))).ok());
  EXPECT_EQ(server.accepted(), 2);
}

TEST_F(HttpClientTest, ConcurrentSendsFromTwoThreads) {
  auto& server = raw(echo_script());
  auto& c = client();
  std::atomic<int> good{0};
  auto worker = [&](int id) {
    for (int i = 0; i < 10; ++i) {
      ClientRequest request;
      request.url = local(server.port());
      request.body = "t" + std::to_string(id) + "-" + std::to_string(i);
      auto response = send(c, request);
      if (response.ok() && response->body == request.body) ++good;
    }
  };
  std::thread a(worker, 1);
  std::thread b(worker, 2);
  a.join();
  b.join();
  EXPECT_EQ(good.load(), 20);
  // At most two exchanges were ever in flight, so at most two connections.
  EXPECT_LE(server.accepted(), 2);
}

TEST_F(HttpClientTest, ConnectionClosedByServerWhileIdleIsReplaced) {
  config::ServerConfig cfg;
  cfg.idle_timeout = 50ms;  // the server closes idle keep-alive connections quickly
  const auto port = serve(
      [this](HttpRequest&) -> asio::awaitable<HttpResponse> {
        ++handled_;
        HttpResponse response;
        response.body = "ok";
        co_return response;
      },
      cfg);
  auto& c = client();
  ASSERT_TRUE(send(c, get(local(port))).ok());
  std::this_thread::sleep_for(150ms);
  auto again = send(c, get(local(port)));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->body, "ok");
  EXPECT_EQ(handled_.load(), 2);
}

TEST_F(HttpClientTest, DeadPooledConnectionIsRetriedOnceOnAFreshOne) {
  // Connection 0 answers one request, then reads the next and closes without
  // a byte of response: exactly what a server closing an idle connection at
  // the moment of reuse looks like. Connection 1 behaves.
  auto& server = raw([this](tcp::socket& socket, int index) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    for (int n = 0;; ++n) {
      if (!co_await read_request(socket, buffer)) co_return;
      ++requests_;
      if (index == 0 && n == 1) {
        boost::system::error_code ignored;
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
        co_return;
      }
      const std::string text = response_text(200, "fine");
      if (!co_await write_text(socket, text)) co_return;
    }
  });
  auto& c = client();
  ASSERT_TRUE(send(c, get(local(server.port()))).ok());
  auto second = send(c, get(local(server.port())));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->body, "fine");
  EXPECT_EQ(server.accepted(), 2);
  EXPECT_EQ(requests_.load(), 3);
}

TEST_F(HttpClientTest, FreshConnectionClosedBeforeResponseIsNotRetried) {
  auto& server = raw([this](tcp::socket& socket, int) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    if (co_await read_request(socket, buffer)) ++requests_;
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  });
  auto& c = client();
  auto response = send(c, get(local(server.port())));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::upstream_error);
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(requests_.load(), 1);
}

TEST_F(HttpClientTest, NoRetryOnceResponseBytesArrived) {
  auto& server = raw([](tcp::socket& socket, int index) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    for (int n = 0;; ++n) {
      if (!co_await read_request(socket, buffer)) co_return;
      if (index == 0 && n == 1) {
        co_await write_text(socket, "HTTP/1.1 200 OK\r\nContent-Le");
        boost::system::error_code ignored;
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        co_return;
      }
      const std::string text = response_text(200, "fine");
      if (!co_await write_text(socket, text)) co_return;
    }
  });
  auto& c = client();
  ASSERT_TRUE(send(c, get(local(server.port()))).ok());
  auto second = send(c, get(local(server.port())));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::upstream_error);
  EXPECT_EQ(server.accepted(), 1);
}

TEST_F(HttpClientTest, FirstByteTimeout) {
  auto& server = raw([](tcp::socket& socket, int) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    co_await read_request(socket, buffer);
    co_await pause(3s);  // never answers in time
  });
  auto& c = client();
  auto request = get(local(server.port()));
  request.timeouts.first_byte = 150ms;
  const auto started = std::chrono::steady_clock::now();
  auto response = send(c, request);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::upstream_timeout);
  EXPECT_NE(response.error().message.find("response headers"), std::string::npos) << response.error().message;
  EXPECT_GE(elapsed, 140ms);
  EXPECT_LT(elapsed, 1500ms);
}

TEST_F(HttpClientTest, IdleTimeoutMidStream) {
  const auto port = serve([](HttpRequest&) -> asio::awaitable<HttpResponse> {
    HttpResponse response;
    response.stream_body = [](ResponseWriter& writer) -> asio::awaitable<void> {
      co_await writer.write("data: first\n\n");
      co_await pause(3s);  // stalls
      co_await writer.write("data: late\n\n");
    };
    co_return response;
  });
  auto& c = client();
  auto request = get(local(port));
  request.timeouts.idle = 150ms;
  RecordingSink sink;
  const auto started = std::chrono::steady_clock::now();
  auto result = stream(c, request, sink);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::upstream_timeout);
  EXPECT_NE(result.error().message.find("idle"), std::string::npos) << result.error().message;
  EXPECT_EQ(sink.status, 200);
  EXPECT_EQ(sink.joined(), "data: first\n\n");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
}

TEST_F(HttpClientTest, TotalTimeoutEvenWhileDataKeepsFlowing) {
  const auto port = serve([](HttpRequest&) -> asio::awaitable<HttpResponse> {
    HttpResponse response;
    response.stream_body = [](ResponseWriter& writer) -> asio::awaitable<void> {
      for (int i = 0; i < 100; ++i) {
        if (!co_await writer.write("tick\n")) co_return;
        co_await pause(30ms);
      }
    };
    co_return response;
  });
  auto& c = client();
  auto request = get(local(port));
  request.timeouts.idle = 1s;
  request.timeouts.total = 300ms;
  const auto started = std::chrono::steady_clock::now();
  auto response = send(c, request);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::upstream_timeout);
  EXPECT_NE(response.error().message.find("total"), std::string::npos) << response.error().message;
  EXPECT_GE(elapsed, 290ms);
  EXPECT_LT(elapsed, 1500ms);
}

TEST_F(HttpClientTest, ConnectTimeoutToABlackHole) {
  // A listening socket whose accept queue is full never completes a handshake;
  // on Linux the SYN is dropped, which is what an unreachable host looks like.
  tcp::acceptor blackhole(io_, {asio::ip::make_address("127.0.0.1"), 0});
  blackhole.listen(0);
  const auto port = blackhole.local_endpoint().port();
  std::vector<int> fillers;  // raw non-blocking connects that fill the queue
  for (int i = 0; i < 8; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    (void)::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    fillers.push_back(fd);
  }
  struct Closer {
    std::vector<int>& fds;
    ~Closer() {
      for (int fd : fds) ::close(fd);
    }
  } closer{fillers};
  auto& c = client();
  auto request = get(local(port));
  request.timeouts.connect = 200ms;
  request.timeouts.first_byte = 300ms;
  const auto started = std::chrono::steady_clock::now();
  auto response = send(c, request);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(response.ok());
  if (response.error().code != ErrorCode::upstream_timeout) {
    GTEST_SKIP() << "this kernel completed the handshake: " << response.error().message;
  }
  EXPECT_NE(response.error().message.find("connecting"), std::string::npos) << response.error().message;
  EXPECT_LT(elapsed, 1500ms);
}

TEST_F(HttpClientTest, ResponseLargerThanLimitIsRejected) {
  const auto port = serve([](HttpRequest& request) -> asio::awaitable<HttpResponse> {
    HttpResponse response;
    if (request.path == "/chunked") {
      response.stream_body = [](ResponseWriter& writer) -> asio::awaitable<void> {
        const std::string piece(64, 'x');
        for (int i = 0; i < 10; ++i) {
          if (!co_await writer.write(piece)) co_return;
        }
      };
    } else {
      response.body = std::string(1000, 'x');
    }
    co_return response;
  });
  auto& c = client();
  auto request = get(local(port, "/sized"));
  request.max_response_bytes = 100;
  auto response = send(c, request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::upstream_error);
  EXPECT_NE(response.error().message.find("response too large"), std::string::npos) << response.error().message;

  auto chunked = get(local(port, "/chunked"));
  chunked.max_response_bytes = 100;
  auto streamed = send(c, chunked);
  ASSERT_FALSE(streamed.ok());
  EXPECT_NE(streamed.error().message.find("response too large"), std::string::npos) << streamed.error().message;

  request.max_response_bytes = 1000;  // exactly the size is fine
  auto fits = send(c, request);
  ASSERT_TRUE(fits.ok()) << fits.error().message;
  EXPECT_EQ(fits->body.size(), 1000u);
}

TEST_F(HttpClientTest, ResetBeforeResponseIsUpstreamError) {
  const auto port = serve([](HttpRequest&) -> asio::awaitable<HttpResponse> {
    HttpResponse response;
    response.reset_connection = true;
    co_return response;
  });
  auto& c = client();
  ClientRequest request;
  request.url = local(port);
  request.body = "SECRET-REQUEST-BODY";
  auto response = send(c, request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::upstream_error);
  EXPECT_NE(response.error().message.find("reset"), std::string::npos) << response.error().message;
  EXPECT_EQ(response.error().message.find("SECRET"), std::string::npos);
}

TEST_F(HttpClientTest, TruncatedChunkedBodyIsUpstreamError) {
  const auto port = serve([](HttpRequest&) -> asio::awaitable<HttpResponse> {
    HttpResponse response;
    response.stream_body = [](ResponseWriter& writer) -> asio::awaitable<void> {
      co_await writer.write("data: partial\n\n");
      co_await pause(20ms);
      writer.abort();
    };
    co_return response;
  });
  auto& c = client();
  auto response = send(c, get(local(port)));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::upstream_error);

  RecordingSink sink;
  auto streamed = stream(c, get(local(port)), sink);
  ASSERT_FALSE(streamed.ok());
  EXPECT_EQ(streamed.error().code, ErrorCode::upstream_error);
  EXPECT_EQ(sink.joined(), "data: partial\n\n");
}

TEST_F(HttpClientTest, CleanCloseInsideBodyIsStreamTruncated) {
  auto& server = raw([](tcp::socket& socket, int) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    if (!co_await read_request(socket, buffer)) co_return;
    co_await write_text(socket, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    co_await pause(200ms);
  });
  auto& c = client();
  RecordingSink sink;
  auto result = stream(c, get(local(server.port())), sink);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::upstream_error);
  EXPECT_NE(result.error().message.find("stream truncated"), std::string::npos) << result.error().message;
  EXPECT_EQ(sink.joined(), "hello");
}

TEST_F(HttpClientTest, MalformedResponseIsUpstreamError) {
  auto& server = raw([](tcp::socket& socket, int) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    if (!co_await read_request(socket, buffer)) co_return;
    co_await write_text(socket, "this is not HTTP\r\n\r\n");
    co_await pause(200ms);
  });
  auto& c = client();
  auto response = send(c, get(local(server.port())));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::upstream_error);
  EXPECT_NE(response.error().message.find("malformed"), std::string::npos) << response.error().message;
}

TEST_F(HttpClientTest, ConnectionRefusedIsUpstreamError) {
  std::uint16_t port;
  {
    tcp::acceptor probe(io_, {asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }
  auto& c = client();
  auto response = send(c, get(local(port)));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::upstream_error);
  EXPECT_NE(response.error().message.find("connection refused"), std::string::npos) << response.error().message;
}

TEST_F(HttpClientTest, UnresolvableHostIsUpstreamError) {
  auto& c = client();
  auto response = send(c, get("http://no-such-host.invalid/"));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::upstream_error);
  EXPECT_NE(response.error().message.find("DNS"), std::string::npos) << response.error().message;
}

TEST_F(HttpClientTest, BeforeSendSeesThePeerAndCanBlockTheSend) {
  auto& server = raw(echo_script(&requests_));
  auto& c = client();
  std::string seen_ip;
  std::string seen_body;
  ClientRequest request;
  request.url = local(server.port());
  request.body = "restricted";
  request.before_send = [&seen_ip, &seen_body](std::string_view ip, std::string_view body) -> Result<void> {
    seen_ip = std::string(ip);
    seen_body = std::string(body);
    return make_error(ErrorCode::egress_blocked, "blocked by egress guard");
  };
  auto response = send(c, request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::egress_blocked);
  EXPECT_EQ(response.error().message, "blocked by egress guard");
  EXPECT_EQ(seen_ip, "127.0.0.1");
  EXPECT_EQ(seen_body, "restricted");  // the guard sees exactly the body that would be sent

  // The blocked connection carried nothing; the next allowed request works.
  request.before_send = [&seen_ip](std::string_view ip, std::string_view) -> Result<void> {
    seen_ip = "allowed " + std::string(ip);
    return {};
  };
  auto allowed = send(c, request);
  ASSERT_TRUE(allowed.ok()) << allowed.error().message;
  EXPECT_EQ(seen_ip, "allowed 127.0.0.1");
  EXPECT_EQ(requests_.load(), 1);  // only the allowed one ever reached the server
}

// --- stream ----------------------------------------------------------------------

TEST_F(HttpClientTest, StreamDeliversPiecesAsTheyArrive) {
  const auto port = serve([this](HttpRequest&) -> asio::awaitable<HttpResponse> {
    HttpResponse response;
    response.set_header("Content-Type", "text/event-stream");
    response.stream_body = [this](ResponseWriter& writer) -> asio::awaitable<void> {
      co_await writer.write("data: one\n\n");
      // Wait (up to 2 s) for the client's sink to report the first piece.
      for (int i = 0; i < 400 && !acked_; ++i) co_await pause(5ms);
      first_seen_before_second_ = acked_.load();
      co_await writer.write("data: two\n\n");
    };
    co_return response;
  });
  auto& c = client();
  RecordingSink sink;
  sink.on_piece = [this](std::string_view piece) {
    if (piece.find("one") != std::string_view::npos) acked_ = true;
  };
  auto result = stream(c, get(local(port)), sink);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_TRUE(first_seen_before_second_.load());
  EXPECT_EQ(sink.status, 200);
  EXPECT_EQ(sink.joined(), "data: one\n\ndata: two\n\n");
  EXPECT_GE(sink.pieces.size(), 2u);
  bool content_type = false;
  for (const auto& h : sink.headers) content_type |= iequals(h.name, "content-type") && h.value == "text/event-stream";
  EXPECT_TRUE(content_type);
}

// A stream whose caller can be cancelled (as the server's drain deadline
// cancels a session): the cancellation is posted onto the caller's strand
// when the sink has seen `after` pieces, so it lands while the next read is
// pending on the exchange's strand, or as that read completes.
struct CancellableStream {
  Result<void> run(asio::io_context& io, HttpClient& client, const ClientRequest& request, std::size_t after) {
    auto strand = asio::make_strand(io);
    asio::cancellation_signal signal;
    RecordingSink sink;
    sink.on_piece = [&](std::string_view) {
      if (sink.pieces.size() == after)
        asio::post(strand, [&signal] { signal.emit(asio::cancellation_type::terminal); });
    };
    std::promise<Result<void>> done;
    auto body = [&]() -> asio::awaitable<void> {
      auto op = client.stream(request, sink);
      done.set_value(co_await std::move(op));
    };
    // Asio's own ending of a cancelled coroutine (its next co_await throws
    // operation_aborted) counts as ended by the cancellation.
    auto finished = [&done](const std::exception_ptr& e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const boost::system::system_error& error) {
        if (error.code() != asio::error::operation_aborted) throw;
        done.set_value(make_error(ErrorCode::cancelled, "co_await: cancelled"));
      }
    };
    asio::co_spawn(strand, body, asio::bind_cancellation_slot(signal.slot(), finished));
    auto future = done.get_future();
    if (future.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "the cancelled stream did not end";
      std::abort();
    }
    pieces = sink.pieces.size();
    return future.get();
  }
  std::size_t pieces = 0;
};

TEST_F(HttpClientTest, CancellingTheCallerEndsAStreamWaitingOnItsUpstream) {
  const auto port = serve([](HttpRequest&) -> asio::awaitable<HttpResponse> {
    HttpResponse response;
    response.stream_body = [](ResponseWriter& writer) -> asio::awaitable<void> {
      co_await writer.write("data: first\n\n");
      co_await pause(3s);  // stalls: only the cancellation can end the read
      co_await writer.write("data: late\n\n");
    };
    co_return response;
  });
  auto& c = client();
  CancellableStream cancellable;
  const auto started = std::chrono::steady_clock::now();
  auto result = cancellable.run(io_, c, get(local(port)), 1);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.error().code == ErrorCode::upstream_error || result.error().code == ErrorCode::cancelled)
      << result.error().message;
  EXPECT_EQ(cancellable.pieces, 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2500ms);
}

TEST_F(HttpClientTest, CancellationsRacingReadsThatCompleteAreSafe) {
  // Many small pieces as fast as they go: each cancellation lands at a
  // different point of a read on another strand. Boost 1.81's co_spawn once
  // ran such a cancellation on a freed signal (found under the drain deadline).
  const auto port = serve([](HttpRequest&) -> asio::awaitable<HttpResponse> {
    HttpResponse response;
    response.stream_body = [](ResponseWriter& writer) -> asio::awaitable<void> {
      for (int i = 0; i < 400; ++i) co_await writer.write("data: x\n\n");
    };
    co_return response;
  });
  auto& c = client();
  for (std::size_t after = 1; after <= 60; ++after) {
    CancellableStream cancellable;
    auto result = cancellable.run(io_, c, get(local(port)), after);
    // Ended by the cancellation, or complete when the body outran it; never more after it.
    if (!result.ok()) {
      EXPECT_TRUE(result.error().code == ErrorCode::upstream_error || result.error().code == ErrorCode::cancelled)
          << result.error().message;
      EXPECT_LE(cancellable.pieces, after + 1);
    }
  }
}

TEST_F(HttpClientTest, SinkReturningFalseStopsAndDropsTheConnection) {
  auto& server = raw([](tcp::socket& socket, int) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    for (;;) {
      if (!co_await read_request(socket, buffer)) co_return;
      if (!co_await write_text(socket, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n")) co_return;
      co_await pause(50ms);
      if (!co_await write_text(socket, "3\r\ntwo\r\n0\r\n\r\n")) co_return;
    }
  });
  auto& c = client();
  RecordingSink sink;
  sink.stop_after = 1;
  auto result = stream(c, get(local(server.port())), sink);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(sink.pieces, std::vector<std::string>{"one"});

  // The abandoned connection (response half read) is not reused.
  RecordingSink full;
  ASSERT_TRUE(stream(c, get(local(server.port())), full).ok());
  EXPECT_EQ(full.joined(), "onetwo");
  EXPECT_EQ(server.accepted(), 2);
  // A fully read stream leaves its connection in the pool.
  ASSERT_TRUE(send(c, get(local(server.port()))).ok());
  EXPECT_EQ(server.accepted(), 2);
}

TEST_F(HttpClientTest, OnHeadersReturningFalseStopsBeforeTheBody) {
  auto& server = raw(echo_script());
  auto& c = client();
  RecordingSink sink;
  sink.accept_headers = false;
  ClientRequest request;
  request.url = local(server.port());
  request.body = "abc";
  ASSERT_TRUE(stream(c, request, sink).ok());
  EXPECT_EQ(sink.status, 200);
  EXPECT_TRUE(sink.pieces.empty());
}

// --- TLS ---------------------------------------------------------------------------

struct Certs {
  std::filesystem::path dir;
  std::string good_cert, good_key;    // CN/SAN localhost, aegis-upstream.test, 127.0.0.1
  std::string other_cert, other_key;  // CN/SAN other.example
  bool ok = false;
  Certs() = default;
  Certs(Certs&& other) noexcept = default;
  ~Certs() {
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }
};

const Certs& certs() {
  static const Certs c = [] {
    Certs out;
    char pattern[] = "/tmp/aegis-client-test-XXXXXX";
    if (!mkdtemp(pattern)) return out;
    out.dir = pattern;
    auto make = [&](const std::string& name, const std::string& cn, const std::string& san) {
      const std::string cert = (out.dir / (name + ".crt")).string();
      const std::string key = (out.dir / (name + ".key")).string();
      const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=" + cn +
                              " -addext subjectAltName=" + san + " -days 1 -keyout " + key + " -out " + cert +
                              " >/dev/null 2>&1";
      // NOLINTNEXTLINE(concurrency-mt-unsafe): one-shot test certificate setup, run once under the static's guard
      return std::system(cmd.c_str()) == 0 ? std::make_pair(cert, key) : std::make_pair(std::string(), std::string());
    };
    std::tie(out.good_cert, out.good_key) =
        make("good", "localhost", "DNS:localhost,DNS:aegis-upstream.test,IP:127.0.0.1");
    std::tie(out.other_cert, out.other_key) = make("other", "other.example", "DNS:other.example");
    out.ok = !out.good_cert.empty() && !out.other_cert.empty();
    return out;
  }();
  return c;
}

// An in-process HTTPS server answering "hello tls" on keep-alive connections.
class TlsServer {
 public:
  TlsServer(asio::io_context& io, const std::string& cert, const std::string& key)
      : state_(std::make_shared<State>(io)) {
    state_->ctx.use_certificate_chain_file(cert);
    state_->ctx.use_private_key_file(key, ssl::context::pem);
    state_->acceptor.open(tcp::v4());
    state_->acceptor.bind({asio::ip::make_address("127.0.0.1"), 0});
    state_->acceptor.listen();
    port_ = state_->acceptor.local_endpoint().port();
    asio::co_spawn(state_->strand, accept_loop(state_), asio::detached);
  }
  ~TlsServer() {
    auto state = state_;
    asio::post(state->strand, [state] {
      boost::system::error_code ignored;
      state->acceptor.close(ignored);
    });
  }
  std::uint16_t port() const { return port_; }
  int accepted() const { return state_->accepted.load(); }
  int handshakes() const { return state_->handshakes.load(); }
  std::string sni() const {
    std::lock_guard lock(state_->mutex);
    return state_->sni;
  }

 private:
  struct State {
    explicit State(asio::io_context& io)
        : strand(asio::make_strand(io)), acceptor(strand), ctx(ssl::context::tls_server) {}
    asio::strand<asio::io_context::executor_type> strand;
    tcp::acceptor acceptor;
    ssl::context ctx;
    std::atomic<int> accepted{0};
    std::atomic<int> handshakes{0};
    mutable std::mutex mutex;
    std::string sni;
  };
  static asio::awaitable<void> connection(std::shared_ptr<State> state, tcp::socket socket) {
    ssl::stream<tcp::socket> stream(std::move(socket), state->ctx);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kNoThrow);
    if (ec) co_return;
    ++state->handshakes;
    if (const char* name = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name)) {
      std::lock_guard lock(state->mutex);
      state->sni = name;
    }
    beast::flat_buffer buffer;
    for (;;) {
      if (!co_await read_request(stream, buffer)) co_return;
      const std::string text = response_text(200, "hello tls");
      if (!co_await write_text(stream, text)) co_return;
    }
  }
  static asio::awaitable<void> accept_loop(std::shared_ptr<State> state) {
    for (;;) {
      auto [ec, socket] = co_await state->acceptor.async_accept(kNoThrow);
      if (ec) co_return;
      ++state->accepted;
      auto executor = socket.get_executor();
      asio::co_spawn(executor, connection(state, std::move(socket)), asio::detached);
    }
  }
  std::shared_ptr<State> state_;
  std::uint16_t port_ = 0;
};

class HttpClientTlsTest : public HttpClientTest {
 protected:
  void SetUp() override {
    if (!certs().ok) GTEST_SKIP() << "openssl CLI could not make a test certificate";
    HttpClientTest::SetUp();
  }
  TlsServer& tls(bool other = false) {
    const auto& c = certs();
    tls_servers_.push_back(
        std::make_unique<TlsServer>(io_, other ? c.other_cert : c.good_cert, other ? c.other_key : c.good_key));
    return *tls_servers_.back();
  }
  std::vector<std::unique_ptr<TlsServer>> tls_servers_;
};

TEST_F(HttpClientTlsTest, VerifiedHttpsWithCaFileAndKeepAlive) {
  auto& server = tls();
  ClientOptions options;
  options.ca_file = certs().good_cert;
  auto& c = client(options);
  const std::string url = "https://localhost:" + std::to_string(server.port()) + "/v1/models";
  for (int i = 0; i < 3; ++i) {
    auto response = send(c, get(url));
    ASSERT_TRUE(response.ok()) << response.error().message;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "hello tls");
  }
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(server.sni(), "localhost");
}

TEST_F(HttpClientTlsTest, SystemTrustRejectsSelfSignedCertificate) {
  auto& server = tls();
  auto& c = client();  // no ca_file: the system store, which does not know our certificate
  auto response = send(c, get("https://localhost:" + std::to_string(server.port()) + "/"));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::upstream_error);
  EXPECT_NE(response.error().message.find("certificate verification failed"), std::string::npos)
      << response.error().message;
  EXPECT_EQ(server.handshakes(), 0);
}

TEST_F(HttpClientTlsTest, CertificateForAnotherNameIsRejected) {
  auto& server = tls(/*other=*/true);  // trusted, but issued to other.example
  ClientOptions options;
  options.ca_file = certs().other_cert;
  auto& c = client(options);
  auto response = send(c, get("https://localhost:" + std::to_string(server.port()) + "/"));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::upstream_error);
  EXPECT_NE(response.error().message.find("hostname mismatch"), std::string::npos) << response.error().message;
  EXPECT_EQ(server.handshakes(), 0);
}

TEST_F(HttpClientTlsTest, MissingCaFileIsAClearError) {
  ClientOptions options;
  options.ca_file = (certs().dir / "missing.pem").string();
  auto& c = client(options);
  auto response = send(c, get("https://localhost:1/"));
  ASSERT_FALSE(response.ok());
  EXPECT_NE(response.error().message.find("missing.pem"), std::string::npos) << response.error().message;
}

// --- proxy ---------------------------------------------------------------------------

// A CONNECT proxy that sends every tunnel to 127.0.0.1:`upstream_port`,
// whatever host was asked for, and records the request lines it saw.
class ConnectProxy {
 public:
  ConnectProxy(asio::io_context& io, std::uint16_t upstream_port) : state_(std::make_shared<State>(io, upstream_port)) {
    state_->acceptor.open(tcp::v4());
    state_->acceptor.bind({asio::ip::make_address("127.0.0.1"), 0});
    state_->acceptor.listen();
    port_ = state_->acceptor.local_endpoint().port();
    asio::co_spawn(state_->strand, accept_loop(state_), asio::detached);
  }
  ~ConnectProxy() {
    auto state = state_;
    asio::post(state->strand, [state] {
      boost::system::error_code ignored;
      state->acceptor.close(ignored);
    });
  }
  std::uint16_t port() const { return port_; }
  std::vector<std::string> lines() const {
    std::lock_guard lock(state_->mutex);
    return state_->lines;
  }

 private:
  struct State {
    State(asio::io_context& io, std::uint16_t p) : strand(asio::make_strand(io)), acceptor(strand), upstream_port(p) {}
    asio::strand<asio::io_context::executor_type> strand;
    tcp::acceptor acceptor;
    std::uint16_t upstream_port;
    mutable std::mutex mutex;
    std::vector<std::string> lines;
  };
  struct Tunnel {
    Tunnel(tcp::socket c, tcp::socket u) : client(std::move(c)), upstream(std::move(u)) {}
    tcp::socket client;
    tcp::socket upstream;
  };
  static asio::awaitable<void> pipe(std::shared_ptr<Tunnel> tunnel, bool to_upstream) {
    auto& from = to_upstream ? tunnel->client : tunnel->upstream;
    auto& to = to_upstream ? tunnel->upstream : tunnel->client;
    std::array<char, 8192> data{};
    for (;;) {
      auto [ec, n] = co_await from.async_read_some(asio::buffer(data), kNoThrow);
      if (ec) break;
      auto [wec, w] = co_await asio::async_write(to, asio::buffer(data.data(), n), kNoThrow);
      if (wec) break;
    }
    boost::system::error_code ignored;
    to.shutdown(tcp::socket::shutdown_send, ignored);
  }
  static asio::awaitable<void> connection(std::shared_ptr<State> state, tcp::socket socket) {
    std::string head;
    auto [ec, n] = co_await asio::async_read_until(socket, asio::dynamic_buffer(head), "\r\n\r\n", kNoThrow);
    if (ec) co_return;
    {
      std::lock_guard lock(state->mutex);
      state->lines.push_back(head.substr(0, head.find("\r\n")));
    }
    if (head.rfind("CONNECT ", 0) != 0) {
      // A plain-http proxy request: answer it ourselves.
      const std::string text = response_text(200, "via proxy", "Connection: close\r\n");
      co_await write_text(socket, text);
      co_return;
    }
    tcp::socket upstream(socket.get_executor());
    auto [cec] = co_await upstream.async_connect({asio::ip::make_address("127.0.0.1"), state->upstream_port}, kNoThrow);
    if (cec) {
      co_await write_text(socket, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
      co_return;
    }
    if (!co_await write_text(socket, "HTTP/1.1 200 Connection established\r\n\r\n")) co_return;
    auto tunnel = std::make_shared<Tunnel>(std::move(socket), std::move(upstream));
    auto executor = tunnel->client.get_executor();
    asio::co_spawn(executor, pipe(tunnel, true), asio::detached);
    asio::co_spawn(executor, pipe(tunnel, false), asio::detached);
  }
  static asio::awaitable<void> accept_loop(std::shared_ptr<State> state) {
    for (;;) {
      auto [ec, socket] = co_await state->acceptor.async_accept(kNoThrow);
      if (ec) co_return;
      auto executor = socket.get_executor();
      asio::co_spawn(executor, connection(state, std::move(socket)), asio::detached);
    }
  }
  std::shared_ptr<State> state_;
  std::uint16_t port_ = 0;
};

TEST_F(HttpClientTlsTest, HttpsThroughConnectProxy) {
  auto& server = tls();
  ConnectProxy proxy(io_, server.port());
  ClientOptions options;
  options.ca_file = certs().good_cert;
  options.https_proxy = "http://127.0.0.1:" + std::to_string(proxy.port());
  auto& c = client(options);
  // The name does not resolve: only the proxy can reach it.
  auto request = get("https://aegis-upstream.test:" + std::to_string(server.port()) + "/v1/messages");
  std::string seen_ip;
  request.before_send = [&seen_ip](std::string_view ip, std::string_view) -> Result<void> {
    seen_ip = std::string(ip);
    return {};
  };
  auto response = send(c, request);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->body, "hello tls");
  EXPECT_EQ(seen_ip, "127.0.0.1");  // the proxy's address
  EXPECT_EQ(server.sni(), "aegis-upstream.test");
  ASSERT_EQ(proxy.lines().size(), 1u);
  EXPECT_EQ(proxy.lines()[0], "CONNECT aegis-upstream.test:" + std::to_string(server.port()) + " HTTP/1.1");
  // The tunnel is pooled like any connection.
  ASSERT_TRUE(send(c, request).ok());
  EXPECT_EQ(proxy.lines().size(), 1u);

  // The end-to-end certificate check still applies inside the tunnel.
  auto wrong = get("https://wrong-name.test:" + std::to_string(server.port()) + "/");
  auto rejected = send(c, wrong);
  ASSERT_FALSE(rejected.ok());
  EXPECT_NE(rejected.error().message.find("hostname mismatch"), std::string::npos) << rejected.error().message;
}

TEST_F(HttpClientTlsTest, NoProxyAndLoopbackBypassTheProxy) {
  auto& server = tls();
  ConnectProxy proxy(io_, server.port());
  ClientOptions options;
  options.ca_file = certs().good_cert;
  options.https_proxy = "127.0.0.1:" + std::to_string(proxy.port());
  options.no_proxy = "example.org, .upstream.test";
  auto& c = client(options);
  // Listed in NO_PROXY: goes direct, so the (unresolvable) name fails in DNS.
  auto direct_request = get("https://aegis.upstream.test:" + std::to_string(server.port()) + "/");
  direct_request.timeouts.connect = 2s;
  auto direct = send(c, direct_request);
  ASSERT_FALSE(direct.ok());
  EXPECT_TRUE(proxy.lines().empty()) << direct.error().message;
  // Loopback is never proxied.
  auto local_response = send(c, get("https://localhost:" + std::to_string(server.port()) + "/"));
  ASSERT_TRUE(local_response.ok()) << local_response.error().message;
  EXPECT_TRUE(proxy.lines().empty());
  // Not listed: proxied.
  auto proxied = send(c, get("https://aegis-upstream.test:" + std::to_string(server.port()) + "/"));
  ASSERT_TRUE(proxied.ok()) << proxied.error().message;
  EXPECT_EQ(proxy.lines().size(), 1u);
}

TEST_F(HttpClientTest, PlainHttpThroughProxyUsesAbsoluteForm) {
  ConnectProxy proxy(io_, 1);
  ClientOptions options;
  options.http_proxy = "http://user:pa%20ss@127.0.0.1:" + std::to_string(proxy.port());
  auto& c = client(options);
  auto response = send(c, get("http://models.internal.test:8080/api/tags?x=1"));
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->body, "via proxy");
  ASSERT_EQ(proxy.lines().size(), 1u);
  EXPECT_EQ(proxy.lines()[0], "GET http://models.internal.test:8080/api/tags?x=1 HTTP/1.1");
}

TEST(HttpClientProxyRules, NoProxyMatching) {
  // Loopback never goes through a proxy, whatever NO_PROXY says.
  EXPECT_TRUE(bypass_proxy("", "localhost", 443));
  EXPECT_TRUE(bypass_proxy("", "LOCALHOST.", 443));
  EXPECT_TRUE(bypass_proxy("", "127.0.0.1", 80));
  EXPECT_TRUE(bypass_proxy("", "127.8.9.10", 80));
  EXPECT_TRUE(bypass_proxy("", "::1", 80));
  EXPECT_TRUE(bypass_proxy("", "[::1]", 80));
  EXPECT_FALSE(bypass_proxy("", "api.anthropic.com", 443));

  // Domains, with or without a leading dot, match themselves and subdomains only.
  EXPECT_TRUE(bypass_proxy("example.com", "example.com", 443));
  EXPECT_TRUE(bypass_proxy("example.com", "api.example.com", 443));
  EXPECT_FALSE(bypass_proxy("example.com", "notexample.com", 443));
  EXPECT_FALSE(bypass_proxy("example.com", "example.com.evil.net", 443));
  EXPECT_TRUE(bypass_proxy(".example.com", "api.example.com", 443));
  EXPECT_TRUE(bypass_proxy(".example.com", "example.com", 443));
  EXPECT_TRUE(bypass_proxy("*.example.com", "a.b.example.com", 443));
  EXPECT_TRUE(bypass_proxy("EXAMPLE.com", "Api.Example.COM", 443));

  // Lists: commas and spaces, empty entries.
  EXPECT_TRUE(bypass_proxy(" a.test , ,b.test", "x.b.test", 443));
  EXPECT_FALSE(bypass_proxy("a.test,b.test", "c.test", 443));
  EXPECT_TRUE(bypass_proxy("*", "anything.at.all", 443));
  EXPECT_FALSE(bypass_proxy("", "anything.at.all", 443));

  // IPs, CIDR blocks and ports.
  EXPECT_TRUE(bypass_proxy("10.1.2.3", "10.1.2.3", 80));
  EXPECT_FALSE(bypass_proxy("10.1.2.3", "10.1.2.4", 80));
  EXPECT_TRUE(bypass_proxy("10.0.0.0/8", "10.200.3.4", 80));
  EXPECT_FALSE(bypass_proxy("10.0.0.0/8", "11.0.0.1", 80));
  EXPECT_TRUE(bypass_proxy("192.168.0.0/23", "192.168.1.200", 80));
  EXPECT_FALSE(bypass_proxy("192.168.0.0/23", "192.168.2.1", 80));
  EXPECT_TRUE(bypass_proxy("fd00::/8", "fd12::1", 80));
  EXPECT_TRUE(bypass_proxy("[2001:db8::1]", "2001:db8::1", 80));
  EXPECT_TRUE(bypass_proxy("2001:db8::1", "[2001:db8::1]", 80));
  EXPECT_TRUE(bypass_proxy("example.com:8443", "api.example.com", 8443));
  EXPECT_FALSE(bypass_proxy("example.com:8443", "api.example.com", 443));
  EXPECT_TRUE(bypass_proxy("[2001:db8::1]:8443", "2001:db8::1", 8443));
  EXPECT_FALSE(bypass_proxy("[2001:db8::1]:8443", "2001:db8::1", 443));
}

TEST(HttpClientProxyRules, FromEnvironment) {
  // setenv/unsetenv are not thread safe; the test setup runs before any thread starts.
  ::setenv("HTTPS_PROXY", "http://proxy.corp:3128", 1);  // NOLINT(concurrency-mt-unsafe)
  ::unsetenv("https_proxy");                             // NOLINT(concurrency-mt-unsafe)
  ::unsetenv("HTTP_PROXY");                              // NOLINT(concurrency-mt-unsafe)
  ::setenv("http_proxy", "http://plain.corp:8080", 1);   // NOLINT(concurrency-mt-unsafe)
  ::setenv("NO_PROXY", ".corp,10.0.0.0/8", 1);           // NOLINT(concurrency-mt-unsafe)
  const auto options = ClientOptions::from_environment();
  ::unsetenv("HTTPS_PROXY");  // NOLINT(concurrency-mt-unsafe)
  ::unsetenv("http_proxy");   // NOLINT(concurrency-mt-unsafe)
  ::unsetenv("NO_PROXY");     // NOLINT(concurrency-mt-unsafe)
  EXPECT_EQ(options.https_proxy, "http://proxy.corp:3128");
  EXPECT_EQ(options.http_proxy, "http://plain.corp:8080");
  EXPECT_EQ(options.no_proxy, ".corp,10.0.0.0/8");
}

}  // namespace
}  // namespace aegis::http
