#include "http/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <atomic>
#include <mutex>
#include <random>
#include <unordered_set>

#include "core/encoding.hpp"
#include "http/json_response.hpp"
#include "http/request_target.hpp"

namespace aegis::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// For writes to the client: the drain deadline's cancellation must not abort
// the answer it is meant to let the handler write (each write is still
// bounded by write_timeout).
auto uncancellable() { return asio::bind_cancellation_slot(asio::cancellation_slot(), kNoThrow); }

// After the drain deadline cancels what is still running, how long the
// handlers get to answer (a stream's error event and its last chunk) before
// the I/O threads stop.
constexpr auto kCutOffGrace = std::chrono::seconds(1);

}  // namespace

std::string generate_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^ (static_cast<std::uint64_t>(std::random_device{}()) << 32)};
  const std::array<std::uint64_t, 2> words{rng(), rng()};
  return "req_" + hex_encode(std::span(reinterpret_cast<const unsigned char*>(words.data()), 12));  // 24 digits
}

bool acceptable_request_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  // One live connection; touched only on its own strand, except `busy` and
  // `stream`, which drain() reads through a post to that strand.
  struct Connection {
    Connection(asio::any_io_executor strand, std::size_t worker_index)
        : executor(std::move(strand)), worker(worker_index) {}
    const asio::any_io_executor executor;  // the connection's strand
    const std::size_t worker;              // index into Impl::workers
    beast::tcp_stream* stream = nullptr;   // strand only; null once the session has ended
    bool busy = false;                     // strand only
    // Bound to the session coroutine's cancellation slot; emitted (strand
    // only) when the drain deadline passes, which aborts the operation the
    // request is waiting on (typically the upstream read) while leaving the
    // handler free to answer: sessions do not throw on cancellation.
    asio::cancellation_signal cut_off;
  };

  Impl(asio::io_context& io_context, config::ServerConfig cfg, RequestHandler h, ExchangeObserver obs,
       std::vector<asio::io_context*> session_contexts)
      : io(io_context),
        config(std::move(cfg)),
        handler(std::move(h)),
        observer(std::move(obs)),
        acceptor(io_context),
        workers(std::move(session_contexts)) {
    if (workers.empty()) workers.push_back(&io);
    sessions_per_worker = std::vector<std::atomic<std::size_t>>(workers.size());
  }

  asio::io_context& io;
  const config::ServerConfig config;
  RequestHandler handler;
  ExchangeObserver observer;
  tcp::acceptor acceptor;
  // Each connection lives on one of these, from accept to close (thread per
  // core when each is run by a thread of its own); the least busy one takes
  // the next connection.
  std::vector<asio::io_context*> workers;
  std::vector<std::atomic<std::size_t>> sessions_per_worker;

  std::size_t least_busy_worker() const {
    std::size_t best = 0;
    for (std::size_t i = 1; i < workers.size(); ++i) {
      if (sessions_per_worker[i].load(std::memory_order_relaxed) <
          sessions_per_worker[best].load(std::memory_order_relaxed)) {
        best = i;
      }
    }
    return best;
  }

  std::atomic<bool> draining{false};
  mutable std::mutex connections_mutex;
  std::unordered_set<std::shared_ptr<Connection>> connections;
  std::function<void(bool)> on_drained;

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      const std::size_t worker = least_busy_worker();
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(*workers[worker]), kNoThrow);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        // Out of file descriptors and similar: back off instead of spinning.
        asio::steady_timer pause(io, std::chrono::milliseconds(50));
        co_await pause.async_wait(kNoThrow);
        continue;
      }
      if (draining) {
        beast::error_code ignored;
        socket.close(ignored);
        continue;
      }
      // Responses are written as header + body (and streams as many small
      // writes): Nagle would hold each small segment for the peer's ACK.
      beast::error_code ignored;
      socket.set_option(asio::ip::tcp::no_delay(true), ignored);
      auto executor = socket.get_executor();
      auto connection = std::make_shared<Connection>(executor, worker);
      // Counted now, not when the session starts on its thread: the next
      // accept chooses its worker as soon as this loop goes round.
      sessions_per_worker[worker].fetch_add(1, std::memory_order_relaxed);
      // The function object holds the connection until the coroutine's last
      // frame is gone: its cancellation state lives in `cut_off`'s slot.
      asio::co_spawn(
          executor,
          [self, connection, socket = std::move(socket)]() mutable {
            return self->session(std::move(socket), connection);
          },
          asio::bind_cancellation_slot(connection->cut_off.slot(), asio::detached));
    }
  }

  void register_connection(const std::shared_ptr<Connection>& c) {
    std::lock_guard lock(connections_mutex);
    connections.insert(c);
  }
  void unregister_connection(const std::shared_ptr<Connection>& c) {
    sessions_per_worker[c->worker].fetch_sub(1, std::memory_order_relaxed);
    std::lock_guard lock(connections_mutex);
    connections.erase(c);
  }

  HttpResponse protocol_error(ErrorCode code, std::string message, const std::string& request_id) {
    return error_response(make_error(code, std::move(message)), request_id);
  }

  class ChunkWriter final : public ResponseWriter {
   public:
    ChunkWriter(beast::tcp_stream& stream, const HttpRequest& request, HttpResponse& response, unsigned version,
                bool keep_alive, std::chrono::milliseconds timeout)
        : stream_(stream),
          request_(request),
          response_(response),
          version_(version),
          keep_alive_(keep_alive),
          timeout_(timeout) {}
    void set_status(int status) override {
      if (!committed_) response_.status = status;
    }
    void set_header(std::string name, std::string value) override {
      if (!committed_) response_.set_header(std::move(name), std::move(value));
    }
    void set_body(std::string body) override {
      if (!committed_) response_.body = std::move(body);
    }
    bool committed() const override { return committed_; }

    asio::awaitable<bool> write(std::string_view data) override {
      if (failed_ || aborted_) co_return false;
      if (!committed_) {
        committed_ = true;
        bhttp::response<bhttp::empty_body> head{static_cast<bhttp::status>(response_.status), version_};
        for (auto& h : response_.headers) head.set(h.name, h.value);
        head.set(bhttp::field::server, "aegis");
        head.set("x-request-id", request_.request_id);
        head.keep_alive(keep_alive_);
        head.chunked(true);
        bhttp::response_serializer<bhttp::empty_body> serializer{head};
        stream_.expires_after(timeout_);
        auto [ec, n] = co_await bhttp::async_write_header(stream_, serializer, uncancellable());
        if (ec) {
          failed_ = true;
          co_return false;
        }
      }
      if (data.empty()) co_return true;
      stream_.expires_after(timeout_);
      auto [ec, n] = co_await asio::async_write(
          stream_, bhttp::make_chunk(asio::const_buffer(data.data(), data.size())), uncancellable());
      if (ec) failed_ = true;
      bytes_ += data.size();
      co_return !failed_;
    }
    void abort() override {
      aborted_ = true;
      // FIN, not RST: the peer reads everything already sent and then sees the
      // body end early. A reset could make it discard those bytes unread.
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream_.socket().close(ignored);
    }
    bool ok() const { return !failed_ && !aborted_; }
    bool aborted() const { return aborted_; }
    std::size_t bytes() const { return bytes_; }

   private:
    beast::tcp_stream& stream_;
    const HttpRequest& request_;
    HttpResponse& response_;
    unsigned version_;
    bool keep_alive_;
    std::chrono::milliseconds timeout_;
    bool committed_ = false;
    bool failed_ = false;
    bool aborted_ = false;
    std::size_t bytes_ = 0;
  };

  // Returns whether the connection may carry another request.
  asio::awaitable<bool> write_response(beast::tcp_stream& stream, HttpRequest& request, HttpResponse response,
                                       unsigned version, bool keep_alive) {
    if (response.reset_connection) {
      beast::error_code ignored;
      stream.socket().set_option(asio::socket_base::linger(true, 0), ignored);
      stream.socket().close(ignored);
      if (observer) observer(Exchange{request, 0, 0, std::chrono::steady_clock::now() - request.received_at});
      co_return false;
    }
    const bool head = request.method == "HEAD";
    if (response.stream_body && !head) {
      auto produce = std::move(response.stream_body);
      ChunkWriter writer(stream, request, response, version, keep_alive, config.write_timeout);
      co_await produce(writer);
      if (writer.committed() || writer.aborted()) {
        bool ok = writer.ok();
        if (ok) {
          stream.expires_after(config.write_timeout);
          auto [last_ec, n] = co_await asio::async_write(stream, bhttp::make_chunk_last(), uncancellable());
          ok = !last_ec;
        }
        if (observer) {
          observer(Exchange{request, response.status, writer.bytes(),
                            std::chrono::steady_clock::now() - request.received_at});
        }
        co_return ok&& keep_alive;
      }
      // Nothing was streamed: answer as a plain response (e.g. an error before the first byte).
    }
    const int status = response.status;
    bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(status), version};
    for (auto& h : response.headers) out.set(h.name, h.value);
    out.set(bhttp::field::server, "aegis");
    out.set("x-request-id", request.request_id);
    const std::size_t body_bytes = response.body.size();
    out.body() = head ? std::string() : std::move(response.body);
    out.keep_alive(keep_alive);
    out.prepare_payload();
    if (head) out.content_length(body_bytes);
    stream.expires_after(config.write_timeout);
    auto [ec, written] = co_await bhttp::async_write(stream, out, uncancellable());
    if (observer) {
      observer(Exchange{request, status, body_bytes, std::chrono::steady_clock::now() - request.received_at});
    }
    co_return !ec && keep_alive;
  }

  asio::awaitable<void> session(tcp::socket socket, std::shared_ptr<Connection> connection) {
    auto self = shared_from_this();
    // Cancellation (the drain deadline) shows up as an error code from the
    // operation it aborted, never as an exception at the next co_await, so a
    // handler whose upstream read was aborted can still write its answer.
    co_await asio::this_coro::throw_if_cancelled(false);
    beast::tcp_stream stream(std::move(socket));
    connection->stream = &stream;
    register_connection(connection);
    beast::flat_buffer buffer;
    std::string remote;
    {
      beast::error_code ec;
      auto endpoint = stream.socket().remote_endpoint(ec);
      if (!ec) remote = endpoint.address().to_string();
    }
    bool first = true;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(config.max_header_bytes));
      parser.body_limit(config.max_body_bytes);
      connection->busy = false;
      if (draining && buffer.size() == 0) break;
      stream.expires_after(first ? config.read_timeout : config.idle_timeout);
      first = false;

      auto [header_ec, header_bytes_unused] = co_await bhttp::async_read_header(stream, buffer, parser, kNoThrow);
      connection->busy = true;
      HttpRequest request;
      request.received_at = std::chrono::steady_clock::now();
      request.remote_address = remote;
      request.request_id = generate_request_id();
      if (header_ec) {
        if (header_ec == bhttp::error::header_limit) {
          co_await write_response(
              stream, request,
              protocol_error(ErrorCode::headers_too_large,
                             "request headers exceed " + std::to_string(config.max_header_bytes) + " bytes",
                             request.request_id),
              11, false);
        } else if (header_ec == bhttp::error::body_limit) {
          co_await write_response(stream, request, too_large(request.request_id), 11, false);
        } else if (header_ec != bhttp::error::end_of_stream && header_ec != beast::error::timeout &&
                   header_ec != asio::error::operation_aborted && header_ec != asio::error::eof &&
                   header_ec != asio::error::connection_reset) {
          co_await write_response(
              stream, request, protocol_error(ErrorCode::invalid_request, "malformed HTTP request", request.request_id),
              11, false);
        }
        break;
      }

      auto& head = parser.get();
      if (auto id = head.find("x-request-id"); id != head.end() && acceptable_request_id(id->value())) {
        request.request_id = std::string(id->value());
      }
      // Clients such as curl wait for this before sending a large body.
      if (auto expect = head.find(bhttp::field::expect);
          expect != head.end() && iequals(expect->value(), "100-continue")) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, head.version()};
        stream.expires_after(config.write_timeout);
        auto [ec, n] = co_await bhttp::async_write(stream, cont, kNoThrow);
        if (ec) break;
      }

      stream.expires_after(config.read_timeout);
      auto [body_ec, body_bytes] = co_await bhttp::async_read(stream, buffer, parser, kNoThrow);
      if (body_ec) {
        if (body_ec == bhttp::error::body_limit) {
          co_await write_response(stream, request, too_large(request.request_id), head.version(), false);
        }
        break;
      }

      auto message = parser.release();
      request.method = std::string(message.method_string());
      request.target = std::string(message.target());
      auto target = parse_request_target(request.target);
      if (target.ok()) {
        request.path = std::move(target->path);
        request.query = std::move(target->query);
      }
      request.headers.reserve(std::distance(message.begin(), message.end()));
      for (const auto& field : message) {
        request.headers.push_back({std::string(field.name_string()), std::string(field.value())});
      }
      request.body = std::move(message.body());
      const bool keep_alive = message.keep_alive() && !draining;
      const unsigned version = message.version();

      HttpResponse response;
      try {
        // Before anything else: a path that is not in normal form never reaches routing or authentication.
        if (target.ok()) {
          response = co_await handler(request);
        } else {
          response = error_response(target.error(), request.request_id);
        }
      } catch (const std::exception&) {
        // Never a stack trace or exception text on the wire.
        response = protocol_error(ErrorCode::internal, "internal error", request.request_id);
      }
      const bool reusable =
          co_await write_response(stream, request, std::move(response), version, keep_alive && !draining);
      if (!reusable || draining) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.close();
    connection->stream = nullptr;
    unregister_connection(connection);
  }

  HttpResponse too_large(const std::string& request_id) {
    return protocol_error(ErrorCode::payload_too_large,
                          "request body exceeds " + std::to_string(config.max_body_bytes) + " bytes", request_id);
  }

  void close_idle_connections() {
    std::lock_guard lock(connections_mutex);
    for (const auto& c : connections) {
      // Each connection is closed on its own strand, between operations.
      asio::post(c->executor, [conn = c] {
        if (conn->stream && !conn->busy) conn->stream->socket().cancel();
      });
    }
  }

  // Cancels every session still running (each on its own strand): a stream
  // waiting on its provider gets the read aborted and ends with its protocol's
  // error event; a request still being read is dropped.
  void cut_off_connections() {
    std::lock_guard lock(connections_mutex);
    for (const auto& c : connections) {
      asio::post(c->executor, [conn = c] {
        if (conn->stream) conn->cut_off.emit(asio::cancellation_type::terminal);
      });
    }
  }

  std::size_t open_connections() const {
    std::lock_guard lock(connections_mutex);
    return connections.size();
  }

  asio::awaitable<void> wait_for_drain() {
    auto self = shared_from_this();
    const auto deadline = std::chrono::steady_clock::now() + config.drain_timeout;
    asio::steady_timer timer(io);
    auto pause = [&timer]() {
      timer.expires_after(std::chrono::milliseconds(20));
      return timer.async_wait(kNoThrow);
    };
    for (;;) {
      if (open_connections() == 0) {
        if (on_drained) on_drained(true);
        co_return;
      }
      if (std::chrono::steady_clock::now() >= deadline) break;
      // New keep-alive requests may have raced the first sweep.
      close_idle_connections();
      co_await pause();
    }
    // The deadline passed with requests in flight: cut them off, and give their
    // handlers a short, bounded time to say so to the client before the I/O
    // threads stop (whatever is left then is destroyed and finalised).
    cut_off_connections();
    const auto grace_end = std::chrono::steady_clock::now() + kCutOffGrace;
    while (open_connections() > 0 && std::chrono::steady_clock::now() < grace_end) co_await pause();
    if (on_drained) on_drained(false);
  }
};

Server::Server(asio::io_context& io, config::ServerConfig config, RequestHandler handler, ExchangeObserver observer,
               std::vector<asio::io_context*> session_contexts)
    : impl_(std::make_shared<Impl>(io, std::move(config), std::move(handler), std::move(observer),
                                   std::move(session_contexts))) {}

Server::~Server() = default;

std::uint16_t Server::start() {
  auto address = asio::ip::make_address(impl_->config.host);
  tcp::endpoint endpoint(address, impl_->config.port);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen(asio::socket_base::max_listen_connections);
  const auto port = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->acceptor.get_executor(), impl_->accept_loop(), asio::detached);
  return port;
}

void Server::drain(std::function<void(bool clean)> on_drained) {
  if (impl_->draining.exchange(true)) return;
  impl_->on_drained = std::move(on_drained);
  auto impl = impl_;
  asio::post(impl->acceptor.get_executor(), [impl] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
    impl->close_idle_connections();
    asio::co_spawn(impl->io, impl->wait_for_drain(), asio::detached);
  });
}

std::size_t Server::active_connections() const {
  std::lock_guard lock(impl_->connections_mutex);
  return impl_->connections.size();
}

}  // namespace aegis::http
