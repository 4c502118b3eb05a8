#include "audit/export/net_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <exception>
#include <optional>
#include <stdexcept>

namespace aegis::audit::siem {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxAnswerBytes = 1 << 20;

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

struct NetStream::Impl {
  explicit Impl(NetEndpoint ep) : endpoint(std::move(ep)) {
    if (!endpoint.tls) return;
    try {
      tls_context.emplace(ssl::context::tls_client);
      tls_context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                               ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      SSL_CTX_set_min_proto_version(tls_context->native_handle(), TLS1_2_VERSION);
      tls_context->set_verify_mode(ssl::verify_peer);
      if (endpoint.ca_file.empty()) {
        tls_context->set_default_verify_paths();
      } else {
        tls_context->load_verify_file(endpoint.ca_file);
      }
    } catch (const std::exception& e) {
      throw std::runtime_error("audit export: TLS trust store could not be loaded" +
                               (endpoint.ca_file.empty() ? std::string() : " from '" + endpoint.ca_file + "'") + ": " +
                               e.what());
    }
  }

  NetEndpoint endpoint;
  asio::io_context io;
  std::optional<ssl::context> tls_context;
  tcp::resolver resolver{io};
  std::unique_ptr<tcp::socket> plain;  // also the socket being connected before a TLS handshake
  std::unique_ptr<ssl::stream<tcp::socket>> secure;
  boost::beast::flat_buffer read_buffer;

  std::string peer() const { return endpoint.host + ":" + endpoint.port; }

  tcp::socket* socket() {
    if (secure) return &secure->next_layer();
    return plain.get();
  }

  // Established and not closed or reset by the peer, judged from the kernel's
  // TCP state, so no byte the peer sent (a TLS session ticket) is consumed.
  bool established() {
    tcp::socket* s = socket();
    if (s == nullptr || !s->is_open()) return false;
    tcp_info info{};
    socklen_t size = sizeof(info);
    if (::getsockopt(s->native_handle(), IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return false;
    return info.tcpi_state == TCP_ESTABLISHED;
  }

  void drop_connection() {
    boost::system::error_code ignored;
    if (plain) plain->close(ignored);
    if (secure) secure->next_layer().close(ignored);
  }

  void reset() {
    drop_connection();
    plain.reset();
    secure.reset();
    read_buffer.clear();
  }

  // Runs the operation to completion; one that outlives the timeout is cut
  // off by closing the connection (its pending waits then complete).
  Result<void> run(asio::awaitable<Result<void>> op) {
    std::optional<Result<void>> out;
    asio::co_spawn(io, std::move(op), [&out](const std::exception_ptr& error, Result<void> result) {
      if (!error) {
        out = std::move(result);
        return;
      }
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        out = make_error(ErrorCode::internal, e.what());
      }
    });
    io.restart();
    io.run_for(endpoint.timeout);
    if (!out) {
      resolver.cancel();
      drop_connection();
      io.restart();
      io.run();
      reset();
      return make_error(ErrorCode::upstream_timeout,
                        peer() + ": no progress within " + std::to_string(endpoint.timeout.count()) + " ms");
    }
    if (!out->ok()) reset();
    return std::move(*out);
  }

  asio::awaitable<Result<void>> connect() {
    auto [resolve_error, results] = co_await resolver.async_resolve(endpoint.host, endpoint.port, kNoThrow);
    if (resolve_error) {
      co_return make_error(ErrorCode::unavailable, "cannot resolve " + endpoint.host + ": " + resolve_error.message());
    }
    plain = std::make_unique<tcp::socket>(io);
    auto [connect_error, connected] = co_await asio::async_connect(*plain, results, kNoThrow);
    if (connect_error)
      co_return make_error(ErrorCode::unavailable, "cannot connect to " + peer() + ": " + connect_error.message());
    boost::system::error_code ignored;
    plain->set_option(tcp::no_delay(true), ignored);
    if (!endpoint.tls) co_return Result<void>{};

    secure = std::make_unique<ssl::stream<tcp::socket>>(std::move(*plain), *tls_context);
    plain.reset();
    if (!is_ip_literal(endpoint.host) &&
        SSL_set_tlsext_host_name(secure->native_handle(), endpoint.host.c_str()) != 1) {
      co_return make_error(ErrorCode::unavailable, "TLS: cannot set the server name");
    }
    ssl::host_name_verification check(endpoint.host);
    secure->set_verify_callback([check](bool preverified, ssl::verify_context& ctx) {
      if (!preverified) return false;
      const bool ok = check(preverified, ctx);
      // host_name_verification rejects without saying why; record it for the error message.
      if (!ok) X509_STORE_CTX_set_error(ctx.native_handle(), X509_V_ERR_HOSTNAME_MISMATCH);
      return ok;
    });
    auto [handshake_error] = co_await secure->async_handshake(ssl::stream_base::client, kNoThrow);
    if (handshake_error) {
      const long verify = SSL_get_verify_result(secure->native_handle());
      if (verify != X509_V_OK) {
        co_return make_error(ErrorCode::unavailable, peer() + ": TLS certificate verification failed: " +
                                                         X509_verify_cert_error_string(verify));
      }
      co_return make_error(ErrorCode::unavailable, peer() + ": TLS handshake failed: " + handshake_error.message());
    }
    co_return Result<void>{};
  }

  asio::awaitable<Result<void>> write_acknowledged(std::string_view data) {
    boost::system::error_code write_error;
    if (secure) {
      auto [e, n] = co_await asio::async_write(*secure, asio::buffer(data), kNoThrow);
      write_error = e;
    } else {
      auto [e, n] = co_await asio::async_write(*plain, asio::buffer(data), kNoThrow);
      write_error = e;
    }
    if (write_error)
      co_return make_error(ErrorCode::unavailable, "cannot send to " + peer() + ": " + write_error.message());
    asio::steady_timer pause(io);
    for (;;) {
      int unacknowledged = 0;
      if (::ioctl(socket()->native_handle(), SIOCOUTQ, &unacknowledged) != 0) {
        co_return make_error(ErrorCode::unavailable, "cannot query the send queue to " + peer());
      }
      if (unacknowledged == 0) co_return Result<void>{};
      if (!established()) {
        co_return make_error(ErrorCode::unavailable, peer() + " closed the connection before acknowledging " +
                                                         std::to_string(unacknowledged) + " bytes");
      }
      pause.expires_after(std::chrono::milliseconds(1));
      co_await pause.async_wait(kNoThrow);
    }
  }

  template <typename Stream>
  asio::awaitable<Result<void>> exchange_on(Stream& stream, const bhttp::request<bhttp::string_body>& request,
                                            HttpAnswer& answer) {
    auto [write_error, written] = co_await bhttp::async_write(stream, request, kNoThrow);
    if (write_error)
      co_return make_error(ErrorCode::unavailable, "cannot send to " + peer() + ": " + write_error.message());
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxAnswerBytes);
    auto [read_error, read] = co_await bhttp::async_read(stream, read_buffer, parser, kNoThrow);
    if (read_error)
      co_return make_error(ErrorCode::upstream_error, "no answer from " + peer() + ": " + read_error.message());
    answer.status = static_cast<int>(parser.get().result_int());
    answer.body = std::move(parser.get().body());
    if (!parser.get().keep_alive()) reset();
    co_return Result<void>{};
  }

  asio::awaitable<Result<void>> exchange(const bhttp::request<bhttp::string_body>& request, HttpAnswer& answer) {
    if (secure) co_return co_await exchange_on(*secure, request, answer);
    co_return co_await exchange_on(*plain, request, answer);
  }
};

NetStream::NetStream(NetEndpoint endpoint) : impl_(std::make_unique<Impl>(std::move(endpoint))) {}

NetStream::~NetStream() = default;

const NetEndpoint& NetStream::endpoint() const noexcept { return impl_->endpoint; }

Result<void> NetStream::ensure_connected() {
  if (impl_->established()) return {};
  impl_->reset();
  return impl_->run(impl_->connect());
}

void NetStream::close() { impl_->reset(); }

Result<void> NetStream::write_acknowledged(std::string_view data) {
  if (auto connected = ensure_connected(); !connected.ok()) return connected;
  return impl_->run(impl_->write_acknowledged(data));
}

Result<HttpAnswer> NetStream::http_exchange(const std::string& method, const std::string& target,
                                            const std::vector<std::pair<std::string, std::string>>& headers,
                                            const std::string& body) {
  if (auto connected = ensure_connected(); !connected.ok()) return connected.error();
  bhttp::request<bhttp::string_body> request;
  request.version(11);
  request.method_string(method);
  request.target(target);
  const bool default_port = impl_->endpoint.port == (impl_->endpoint.tls ? "443" : "80");
  request.set(bhttp::field::host, default_port ? impl_->endpoint.host : impl_->peer());
  request.set(bhttp::field::user_agent, "aegis-audit-export");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  request.prepare_payload();
  HttpAnswer answer;
  if (auto done = impl_->run(impl_->exchange(request, answer)); !done.ok()) return done.error();
  return answer;
}

}  // namespace aegis::audit::siem
