// The outbound HTTP/1.1 client (see client.hpp).
//
// Threading model. Every exchange (one send() or stream() call) runs its
// network I/O on a strand of its own, made from the caller's io_context (so
// with one io_context per I/O thread the call stays on the request's thread)
// or, for a caller that runs elsewhere, from the client's executor; the
// watchdog timer that enforces the timeouts runs on that same strand, so a
// timeout can close the socket without racing the coroutine that uses it,
// whatever executor the caller runs on. stream() hands each body piece back
// to the caller's executor before calling the sink, so a sink that writes to
// the caller's own connection stays on the caller's strand. Idle connections
// live in a pool keyed by io_context and host, guarded by a mutex that is
// never held across a suspension point. The client must not outlive the
// io_contexts of the callers it served (their pooled sockets belong to them).
#include "http/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "core/cidr.hpp"
#include "core/encoding.hpp"
#include "core/process_env.hpp"

namespace aegis::http {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kReadChunk = std::size_t{16} * 1024;

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = lower(c);
  return out;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<asio::ip::address> parse_ip(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  error_code ec;
  auto address = asio::ip::make_address(std::string(host), ec);
  if (ec) return std::nullopt;
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::address(asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()));
  }
  return address;
}

bool is_loopback_host(std::string_view host) {
  const std::string h = to_lower(host);
  std::string_view v = h;
  if (!v.empty() && v.back() == '.') v.remove_suffix(1);
  if (v == "localhost" || (v.size() > 10 && v.substr(v.size() - 10) == ".localhost")) return true;
  const auto ip = parse_ip(v);
  return ip && ip->is_loopback();
}

bool no_proxy_entry_matches(std::string_view entry, std::string_view host, const std::optional<asio::ip::address>& ip,
                            std::uint16_t port) {
  if (entry == "*") return true;
  // Split an optional ":port" off ("[::1]:8080", "host:443"; a bare IPv6 address has several colons).
  std::string_view name = entry;
  std::optional<std::uint16_t> entry_port;
  auto parse_port = [](std::string_view text) -> std::optional<std::uint16_t> {
    if (text.empty() || text.size() > 5) return std::nullopt;
    unsigned v = 0;
    for (char c : text) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(v);
  };
  if (!name.empty() && name.front() == '[') {
    const auto close = name.find(']');
    if (close == std::string_view::npos) return false;
    if (close + 1 < name.size()) {
      if (name[close + 1] != ':') return false;
      entry_port = parse_port(name.substr(close + 2));
      if (!entry_port) return false;
    }
    name = name.substr(1, close - 1);
  } else if (const auto colon = name.find(':');
             colon != std::string_view::npos && name.find(':', colon + 1) == std::string_view::npos) {
    entry_port = parse_port(name.substr(colon + 1));
    if (!entry_port) return false;
    name = name.substr(0, colon);
  }
  if (entry_port && *entry_port != port) return false;
  if (name.find('/') != std::string_view::npos) {
    const auto cidr = parse_cidr(name);
    return ip && cidr && cidr->contains(*ip);
  }
  if (const auto entry_ip = parse_ip(name)) return ip && *ip == *entry_ip;
  if (name.substr(0, 2) == "*.") name.remove_prefix(1);
  if (!name.empty() && name.front() == '.') name.remove_prefix(1);
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return false;
  if (host == name) return true;
  return host.size() > name.size() && host.substr(host.size() - name.size()) == name &&
         host[host.size() - name.size() - 1] == '.';
}

bool no_proxy_matches(std::string_view list, std::string_view raw_host, std::uint16_t port) {
  std::string host = to_lower(raw_host);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (!host.empty() && host.back() == '.') host.pop_back();
  const auto ip = parse_ip(host);
  const std::string lowered = to_lower(list);
  std::string_view rest = lowered;
  while (!rest.empty()) {
    const auto comma = rest.find_first_of(", ");
    std::string_view entry = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (entry.empty()) continue;
    if (no_proxy_entry_matches(entry, host, ip, port)) return true;
  }
  return false;
}

// --- URLs -------------------------------------------------------------------

struct Target {
  bool tls = false;
  std::string host;  // as connected to and verified: a name or an IP (IPv6 without brackets)
  std::uint16_t port = 0;
  bool host_is_ip = false;
  std::string host_header;    // host[:port] for the Host header
  std::string authority;      // host:port (always with port), for CONNECT and pool keys
  std::string origin_form;    // /path?query
  std::string absolute_form;  // scheme://host[:port]/path?query, for a plain-http proxy
};

Result<Target> parse_target(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return make_error(ErrorCode::internal, "invalid upstream URL");
  const auto& u = *parsed;
  Target t;
  const std::string scheme = to_lower(u.scheme());
  if (scheme == "https") {
    t.tls = true;
  } else if (scheme != "http") {
    return make_error(ErrorCode::internal, "unsupported URL scheme '" + scheme + "' (only http and https)");
  }
  std::string bracketed;
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
      t.host = std::string(u.encoded_host());
      t.host_is_ip = true;
      bracketed = t.host;
      break;
    case boost::urls::host_type::ipv6:
      t.host = u.host_ipv6_address().to_string();
      t.host_is_ip = true;
      bracketed = "[" + t.host + "]";
      break;
    case boost::urls::host_type::name:
      t.host = to_lower(u.host_name());
      bracketed = t.host;
      break;
    default: return make_error(ErrorCode::internal, "upstream URL has no usable host");
  }
  if (t.host.empty()) return make_error(ErrorCode::internal, "upstream URL has no host");
  const std::uint16_t default_port = t.tls ? 443 : 80;
  t.port = default_port;
  if (u.has_port() && !u.port().empty()) {
    if (u.port_number() == 0) return make_error(ErrorCode::internal, "upstream URL has an invalid port");
    t.port = u.port_number();
  }
  t.authority = bracketed + ":" + std::to_string(t.port);
  t.host_header = t.port == default_port ? bracketed : t.authority;
  std::string target(u.encoded_target());
  if (target.empty() || target.front() != '/') target.insert(0, "/");
  t.origin_form = target;
  t.absolute_form = scheme + "://" + t.host_header + target;
  return t;
}

struct Proxy {
  std::string host;
  std::uint16_t port = 0;
  std::string authority;      // host:port
  std::string authorization;  // "Basic ..." or empty
};

// "http://[user:pass@]host[:port]" (the scheme may be omitted).
std::optional<Proxy> parse_proxy(std::string_view text, std::string& error) {
  std::string url(trim(text));
  if (url.empty()) return std::nullopt;
  if (url.find("://") == std::string::npos) url.insert(0, "http://");
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    error = "invalid proxy URL";
    return std::nullopt;
  }
  const auto& u = *parsed;
  if (to_lower(u.scheme()) != "http") {
    error = "unsupported proxy scheme '" + std::string(u.scheme()) + "' (only http:// proxies)";
    return std::nullopt;
  }
  Proxy p;
  if (u.host_type() == boost::urls::host_type::ipv6) {
    p.host = u.host_ipv6_address().to_string();
  } else {
    p.host = to_lower(u.host_type() == boost::urls::host_type::name ? std::string(u.host_name())
                                                                    : std::string(u.encoded_host()));
  }
  if (p.host.empty()) {
    error = "proxy URL has no host";
    return std::nullopt;
  }
  p.port = (u.has_port() && u.port_number() != 0) ? u.port_number() : 80;
  p.authority =
      (u.host_type() == boost::urls::host_type::ipv6 ? "[" + p.host + "]" : p.host) + ":" + std::to_string(p.port);
  if (u.has_userinfo()) {
    p.authorization = "Basic " + base64_encode(std::string(u.user()) + ":" + std::string(u.password()));
  }
  return p;
}

// --- connections and the pool ---------------------------------------------

struct Connection {
  explicit Connection(const asio::any_io_executor& executor) : socket(executor) {}
  tcp::socket socket;  // the socket while plain; moved-from once `tls` is set
  std::unique_ptr<ssl::stream<tcp::socket>> tls;
  beast::flat_buffer buffer;
  std::string remote_ip;
  Clock::time_point idle_since{};

  tcp::socket& lowest() { return tls ? tls->next_layer() : socket; }
  void close() {
    error_code ignored;
    lowest().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close(ignored);
  }
  // An idle connection is usable if the peer has neither closed it nor sent
  // anything (stray bytes or a TLS close_notify also mean "do not reuse").
  bool looks_alive() {
    auto& s = lowest();
    if (!s.is_open()) return false;
    error_code ec;
    s.non_blocking(true, ec);
    if (ec) return false;
    char probe;
    s.receive(asio::buffer(&probe, 1), tcp::socket::message_peek, ec);
    error_code ignored;
    s.non_blocking(false, ignored);
    return ec == asio::error::would_block || ec == asio::error::try_again;
  }
  template <class F>
  auto with_stream(F&& f) {
    if (tls) return f(*tls);
    return f(socket);
  }
};

// A pool-key prefix naming the io_context that owns a connection.
std::string context_tag(const asio::any_io_executor& executor) {
  const auto& context = asio::query(executor, asio::execution::context);
  return std::to_string(reinterpret_cast<std::uintptr_t>(&context)) + " ";
}

class Pool {
 public:
  Pool(std::size_t max_per_host, std::chrono::seconds keepalive) : max_per_host_(max_per_host), keepalive_(keepalive) {}

  std::unique_ptr<Connection> take(const std::string& key) {
    std::vector<std::unique_ptr<Connection>> dead;
    std::unique_ptr<Connection> found;
    const auto now = Clock::now();
    {
      std::lock_guard lock(mutex_);
      auto it = idle_.find(key);
      if (it == idle_.end()) return nullptr;
      auto& list = it->second;
      while (!list.empty()) {
        auto c = std::move(list.back());  // most recently used first
        list.pop_back();
        if (now - c->idle_since < keepalive_ && c->looks_alive()) {
          found = std::move(c);
          break;
        }
        dead.push_back(std::move(c));
      }
      if (list.empty()) idle_.erase(it);
    }
    for (auto& c : dead) c->close();
    return found;
  }

  void put(const std::string& key, std::unique_ptr<Connection> connection) {
    std::vector<std::unique_ptr<Connection>> dead;
    const auto now = Clock::now();
    connection->idle_since = now;
    {
      std::lock_guard lock(mutex_);
      if (max_per_host_ == 0 || keepalive_.count() <= 0) {
        dead.push_back(std::move(connection));
      } else {
        auto& list = idle_[key];
        list.push_back(std::move(connection));
        if (list.size() > max_per_host_) {
          dead.push_back(std::move(list.front()));
          list.erase(list.begin());
        }
      }
      // Now and then, drop connections that expired in every host's list.
      if (now - last_sweep_ >= std::chrono::seconds(1)) {
        last_sweep_ = now;
        for (auto it = idle_.begin(); it != idle_.end();) {
          auto& list = it->second;
          auto keep = std::stable_partition(list.begin(), list.end(),
                                            [&](const auto& c) { return now - c->idle_since < keepalive_; });
          for (auto d = keep; d != list.end(); ++d) dead.push_back(std::move(*d));
          list.erase(keep, list.end());
          it = list.empty() ? idle_.erase(it) : std::next(it);
        }
      }
    }
    for (auto& c : dead) c->close();
  }

 private:
  const std::size_t max_per_host_;
  const std::chrono::seconds keepalive_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
  Clock::time_point last_sweep_{};
};

// Everything an exchange needs from the client, shared so that an exchange
// can safely outlive the HttpClient object that started it.
struct Core {
  Core(asio::any_io_executor ex, ClientOptions opts)
      : executor(std::move(ex)), options(std::move(opts)), pool(options.max_idle_per_host, options.idle_keepalive) {
    try {
      tls.emplace(ssl::context::tls_client);
      tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
      tls->set_verify_mode(ssl::verify_peer);
      if (options.ca_file.empty()) {
        tls->set_default_verify_paths();
      } else {
        tls->load_verify_file(options.ca_file);
      }
    } catch (const std::exception& e) {
      tls.reset();
      tls_error = "TLS trust store could not be loaded" +
                  (options.ca_file.empty() ? std::string() : " from '" + options.ca_file + "'") + ": " + e.what();
    }
    https_proxy = parse_proxy(options.https_proxy, https_proxy_error);
    http_proxy = parse_proxy(options.http_proxy, http_proxy_error);
  }

  asio::any_io_executor executor;
  ClientOptions options;
  std::optional<ssl::context> tls;
  std::string tls_error;
  std::optional<Proxy> https_proxy;
  std::string https_proxy_error;
  std::optional<Proxy> http_proxy;
  std::string http_proxy_error;
  Pool pool;  // last: pooled TLS connections go before the context they were made from
};

// Enforces one deadline at a time for the exchange's current operation: when
// it passes, `on_fire` (closing the socket, cancelling the resolver) makes
// the pending operation fail. Runs on the exchange's strand.
class Watchdog : public std::enable_shared_from_this<Watchdog> {
 public:
  explicit Watchdog(const asio::any_io_executor& strand) : timer_(strand) {}

  void arm(Clock::time_point at, std::function<void()> on_fire) {
    ++generation_;
    fired_ = false;
    on_fire_ = std::move(on_fire);
    timer_.expires_at(at);
    timer_.async_wait([self = shared_from_this(), generation = generation_](const error_code& ec) {
      if (ec || generation != self->generation_) return;
      self->fired_ = true;
      if (auto f = std::exchange(self->on_fire_, nullptr)) f();
    });
  }
  // Changes what a firing does, keeping the deadline.
  void retarget(std::function<void()> on_fire) {
    if (!fired_) on_fire_ = std::move(on_fire);
  }
  void disarm() {
    ++generation_;
    on_fire_ = nullptr;
    timer_.cancel();
  }
  bool fired() const noexcept { return fired_; }
  // Does what a firing does, now, without counting as a timeout.
  void trip() {
    if (auto f = std::exchange(on_fire_, nullptr)) f();
  }

 private:
  asio::steady_timer timer_;
  std::uint64_t generation_ = 0;
  bool fired_ = false;
  std::function<void()> on_fire_;
};

bool is_http_category(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category();
}

// Bytes that never started a response on a connection that was reused: the
// peer had closed it while idle, so the request can go on a fresh one.
// A reused keep-alive connection the server had already closed: the request
// is answered by a clean close before any response byte. Only this is safe
// to send again once the request was fully written: a reset after the write
// may mean the upstream received it (a POST could be billed twice).
bool stale_connection_error(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == ssl::error::stream_truncated;
}

std::string describe(const error_code& ec) {
  if (ec == asio::error::connection_refused) return "connection refused";
  if (ec == asio::error::connection_reset || ec == asio::error::connection_aborted || ec == asio::error::broken_pipe) {
    return "connection reset";
  }
  if (ec == bhttp::error::partial_message || ec == asio::error::eof || ec == ssl::error::stream_truncated) {
    return "stream truncated";
  }
  if (ec == bhttp::error::end_of_stream) return "connection closed before a response";
  if (ec == bhttp::error::body_limit || ec == bhttp::error::buffer_overflow) return "response too large";
  if (ec == bhttp::error::header_limit) return "response headers too large";
  if (ec == asio::error::host_unreachable || ec == asio::error::network_unreachable) return "host unreachable";
  if (is_http_category(ec)) return "malformed HTTP response (" + ec.message() + ")";
  return ec.message();
}

struct Piece {
  std::string_view data;
  bool done = false;
};

// One request/response exchange. start() and next() run on strand();
// everything else happens between them.
class Exchange {
 public:
  // `home`: the executor whose io_context does this exchange's I/O and owns
  // its connections (the caller's, see home_executor()).
  Exchange(std::shared_ptr<Core> core, const ClientRequest& request, asio::any_io_executor home)
      : core_(std::move(core)),
        request_(request),
        home_(std::move(home)),
        strand_(asio::make_strand(home_)),
        watchdog_(std::make_shared<Watchdog>(strand_)),
        started_at_(Clock::now()),
        total_deadline_(started_at_ + request.timeouts.total),
        body_buffer_(kReadChunk) {}

  ~Exchange() {
    if (connection_) connection_->close();
  }

  const asio::any_io_executor& strand() const noexcept { return strand_; }
  int status() const noexcept { return status_; }
  const std::vector<Header>& headers() const noexcept { return headers_; }
  const std::string& remote_ip() const noexcept { return remote_ip_; }

  // Connects (or reuses a pooled connection), sends the request and reads the
  // response headers.
  static asio::awaitable<Result<void>> start(std::shared_ptr<Exchange> self) {
    try {
      co_return co_await self->do_start();
    } catch (const std::exception& e) {
      co_return make_error(ErrorCode::upstream_error, std::string("HTTP client failure: ") + e.what());
    }
  }

  // The next piece of decoded body; done once the body has ended (the
  // connection is then back in the pool when it can carry another request).
  static asio::awaitable<Result<Piece>> next(std::shared_ptr<Exchange> self) {
    try {
      co_return co_await self->do_next();
    } catch (const std::exception& e) {
      co_return make_error(ErrorCode::upstream_error, std::string("HTTP client failure: ") + e.what());
    }
  }

  static asio::awaitable<Result<ClientResponse>> buffered(std::shared_ptr<Exchange> self) {
    auto start_op = start(self);
    AEGIS_CO_TRY_VOID(co_await std::move(start_op));
    ClientResponse response;
    response.status = self->status_;
    response.headers = self->headers_;
    response.remote_ip = self->remote_ip_;
    for (;;) {
      auto next_op = next(self);
      AEGIS_CO_TRY(piece, co_await std::move(next_op));
      response.body.append(piece.data);
      if (piece.done) break;
    }
    co_return response;
  }

  // The caller was cancelled (on the strand): the pending operation fails
  // now, as when its deadline passes, and any later one fails at once.
  void cancel() {
    cancelled_ = true;
    watchdog_->trip();
  }

  // Stops early: the connection is closed, never pooled.
  void abandon() {
    if (connection_) connection_->close();
    connection_.reset();
  }

 private:
  enum class Phase { connect, first_byte, idle };

  // Arms the watchdog with the phase's deadline or the total one, whichever comes first.
  void arm(Phase phase, std::chrono::milliseconds limit, std::function<void()> on_fire) {
    const auto phase_deadline = Clock::now() + limit;
    total_binding_ = total_deadline_ <= phase_deadline;
    phase_ = phase;
    watchdog_->arm(total_binding_ ? total_deadline_ : phase_deadline, std::move(on_fire));
    if (cancelled_) watchdog_->trip();
  }

  std::function<void()> close_on_fire() {
    return [c = connection_.get()] {
      if (c) c->close();
    };
  }

  // Error messages name the kind of failure, never the host, address, port or
  // URL: a provider's error reaches API clients, and a caller that wants the
  // destination in a log knows it already (the provider logs its upstream).
  Error timeout_error() const {
    const auto ms = [](std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; };
    const auto& t = request_.timeouts;
    if (total_binding_) {
      return make_error(ErrorCode::upstream_timeout, "the upstream exceeded the total timeout of " + ms(t.total));
    }
    switch (phase_) {
      case Phase::connect:
        return make_error(ErrorCode::upstream_timeout, "connecting to the upstream timed out after " + ms(t.connect));
      case Phase::first_byte:
        return make_error(ErrorCode::upstream_timeout,
                          "no response headers from the upstream within " + ms(t.first_byte));
      case Phase::idle: break;
    }
    return make_error(ErrorCode::upstream_timeout, "the upstream sent no data for " + ms(t.idle) + " (idle timeout)");
  }

  Error io_error(std::string_view what, const error_code& ec) const {
    if (watchdog_->fired()) return timeout_error();
    return make_error(ErrorCode::upstream_error, std::string(what) + ": " + describe(ec));
  }

  asio::awaitable<Result<void>> do_start() {
    AEGIS_CO_TRY(target, parse_target(request_.url));
    target_ = std::move(target);
    if (Clock::now() >= total_deadline_) co_return timeout_error();

    const std::string& proxy_text = target_.tls ? core_->options.https_proxy : core_->options.http_proxy;
    if (!trim(proxy_text).empty() && !bypass_proxy(core_->options.no_proxy, target_.host, target_.port)) {
      const auto& proxy = target_.tls ? core_->https_proxy : core_->http_proxy;
      if (!proxy) {
        co_return make_error(ErrorCode::upstream_error,
                             target_.tls ? core_->https_proxy_error : core_->http_proxy_error);
      }
      proxy_ = &*proxy;
    }
    if (target_.tls && !core_->tls) co_return make_error(ErrorCode::upstream_error, core_->tls_error);

    // Pooled per io_context: a connection is reused by the thread that owns it.
    pool_key_ = context_tag(home_);
    if (!proxy_) {
      pool_key_ += (target_.tls ? "https://" : "http://") + target_.authority;
    } else if (target_.tls) {
      pool_key_ += "https://" + target_.authority + " via " + proxy_->authority;
    } else {
      pool_key_ += "http proxy " + proxy_->authority;  // absolute-form requests share proxy connections
    }

    for (int attempt = 0;; ++attempt) {
      // A retry always goes on a fresh connection.
      connection_ = attempt == 0 ? core_->pool.take(pool_key_) : nullptr;
      const bool reused = connection_ != nullptr;
      if (!reused) {
        auto connected = co_await connect();
        if (!connected) co_return connected;
      }
      remote_ip_ = connection_->remote_ip;
      if (request_.before_send) {
        auto allowed = request_.before_send(remote_ip_, request_.body);
        if (!allowed) {
          // Nothing was written: the connection is still clean.
          core_->pool.put(pool_key_, std::move(connection_));
          co_return allowed;
        }
      }
      bool retry = false;
      auto sent = co_await send_and_read_header(reused && attempt == 0, retry);
      if (retry) {
        abandon();
        continue;
      }
      co_return sent;
    }
  }

  asio::awaitable<Result<void>> connect() {
    const std::string& host = proxy_ ? proxy_->host : target_.host;
    const std::uint16_t port = proxy_ ? proxy_->port : target_.port;
    const std::string where = proxy_ ? "the proxy" : "the upstream";

    tcp::resolver resolver(strand_);
    auto cancel_resolve = [&resolver] { resolver.cancel(); };
    arm(Phase::connect, request_.timeouts.connect, cancel_resolve);
    auto [resolve_ec, endpoints] =
        co_await resolver.async_resolve(host, std::to_string(port), tcp::resolver::numeric_service, kNoThrow);
    if (watchdog_->fired()) co_return timeout_error();
    if (resolve_ec) {
      watchdog_->disarm();
      co_return make_error(ErrorCode::upstream_error, std::string(proxy_ ? "DNS lookup for the proxy failed: "
                                                                         : "DNS lookup for the upstream failed: ") +
                                                          resolve_ec.message());
    }

    connection_ = std::make_unique<Connection>(home_);
    watchdog_->retarget(close_on_fire());
    auto [connect_ec, endpoint] = co_await asio::async_connect(connection_->socket, endpoints, kNoThrow);
    if (watchdog_->fired()) co_return timeout_error();
    if (connect_ec) {
      watchdog_->disarm();
      co_return make_error(ErrorCode::upstream_error, "connect to " + where + " failed: " + describe(connect_ec));
    }
    {
      error_code ignored;
      connection_->socket.set_option(tcp::no_delay(true), ignored);
      auto address = endpoint.address();
      if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
      }
      connection_->remote_ip = address.to_string();
    }

    if (proxy_ && target_.tls) {
      auto tunnel = co_await proxy_connect();
      if (!tunnel) {
        watchdog_->disarm();
        co_return tunnel;
      }
    }
    if (target_.tls) {
      auto handshake = co_await tls_handshake();
      if (!handshake) {
        watchdog_->disarm();
        co_return handshake;
      }
    }
    watchdog_->disarm();
    co_return Result<void>{};
  }

  asio::awaitable<Result<void>> proxy_connect() {
    std::string head = "CONNECT " + target_.authority + " HTTP/1.1\r\nHost: " + target_.authority + "\r\n";
    if (!proxy_->authorization.empty()) head += "Proxy-Authorization: " + proxy_->authorization + "\r\n";
    head += "\r\n";
    auto& socket = connection_->socket;
    auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(head), kNoThrow);
    if (watchdog_->fired()) co_return timeout_error();
    if (write_ec) {
      co_return make_error(ErrorCode::upstream_error, "sending CONNECT to the proxy: " + describe(write_ec));
    }
    bhttp::response_parser<bhttp::empty_body> parser;
    parser.skip(true);  // a 2xx answer to CONNECT has no body: the tunnel starts right after
    parser.header_limit(kMaxHeaderBytes);
    auto [read_ec, read] = co_await bhttp::async_read_header(socket, connection_->buffer, parser, kNoThrow);
    if (watchdog_->fired()) co_return timeout_error();
    if (read_ec) {
      co_return make_error(ErrorCode::upstream_error, "reading the proxy's CONNECT answer: " + describe(read_ec));
    }
    const auto status = static_cast<int>(parser.get().result_int());
    if (status < 200 || status > 299) {
      co_return make_error(ErrorCode::upstream_error,
                           "the proxy refused CONNECT with status " + std::to_string(status));
    }
    if (connection_->buffer.size() != 0) {
      co_return make_error(ErrorCode::upstream_error, "the proxy sent data before the tunnel");
    }
    co_return Result<void>{};
  }

  asio::awaitable<Result<void>> tls_handshake() {
    auto& c = *connection_;
    c.tls = std::make_unique<ssl::stream<tcp::socket>>(std::move(c.socket), *core_->tls);
    watchdog_->retarget(close_on_fire());
    if (!target_.host_is_ip) {
      // SNI (never for IP literals, RFC 6066).
      if (SSL_set_tlsext_host_name(c.tls->native_handle(), target_.host.c_str()) != 1) {
        co_return make_error(ErrorCode::upstream_error, "TLS: cannot set the server name");
      }
    }
    ssl::host_name_verification check(target_.host);
    c.tls->set_verify_callback([check](bool preverified, ssl::verify_context& ctx) {
      if (!preverified) return false;
      const bool ok = check(preverified, ctx);
      // host_name_verification rejects without saying why; record it for the error message.
      if (!ok) X509_STORE_CTX_set_error(ctx.native_handle(), X509_V_ERR_HOSTNAME_MISMATCH);
      return ok;
    });
    auto [ec] = co_await c.tls->async_handshake(ssl::stream_base::client, kNoThrow);
    if (watchdog_->fired()) co_return timeout_error();
    if (ec) {
      const long verify = SSL_get_verify_result(c.tls->native_handle());
      if (verify != X509_V_OK) {
        co_return make_error(ErrorCode::upstream_error, std::string("TLS certificate verification failed: ") +
                                                            X509_verify_cert_error_string(verify));
      }
      co_return make_error(ErrorCode::upstream_error, "TLS handshake failed: " + describe(ec));
    }
    co_return Result<void>{};
  }

  asio::awaitable<Result<void>> send_and_read_header(bool may_retry, bool& retry) {
    auto& c = *connection_;
    bhttp::request<bhttp::span_body<const char>> req;
    req.version(11);
    req.method_string(request_.method);
    req.target(proxy_ && !target_.tls ? target_.absolute_form : target_.origin_form);
    req.set(bhttp::field::host, target_.host_header);
    req.set(bhttp::field::user_agent, "aegis");
    for (const auto& h : request_.headers) {
      if (iequals(h.name, "content-length") || iequals(h.name, "transfer-encoding")) continue;
      if (iequals(h.name, "host") || iequals(h.name, "user-agent")) {
        req.set(h.name, h.value);  // replaces our default
      } else {
        req.insert(h.name, h.value);  // repeated headers stay repeated
      }
    }
    if (proxy_ && !target_.tls && !proxy_->authorization.empty()) {
      req.set(bhttp::field::proxy_authorization, proxy_->authorization);
    }
    req.body() = boost::beast::span<const char>(request_.body.data(), request_.body.size());
    req.prepare_payload();

    arm(Phase::first_byte, request_.timeouts.first_byte, close_on_fire());
    auto write = [&req](auto& stream) { return bhttp::async_write(stream, req, kNoThrow); };
    auto [write_ec, written] = co_await c.with_stream(write);
    if (write_ec) {
      if (may_retry && !watchdog_->fired()) {
        watchdog_->disarm();
        retry = true;
        co_return Result<void>{};
      }
      auto error = io_error("sending the request", write_ec);
      watchdog_->disarm();
      co_return error;
    }

    for (;;) {
      parser_.emplace();
      parser_->header_limit(kMaxHeaderBytes);
      parser_->body_limit(request_.max_response_bytes);
      if (iequals(request_.method, "HEAD")) parser_->skip(true);
      auto read = [this, &c](auto& stream) { return bhttp::async_read_header(stream, c.buffer, *parser_, kNoThrow); };
      auto [read_ec, n] = co_await c.with_stream(read);
      if (read_ec) {
        if (may_retry && !watchdog_->fired() && stale_connection_error(read_ec) && !parser_->got_some() &&
            c.buffer.size() == 0) {
          watchdog_->disarm();
          retry = true;
          co_return Result<void>{};
        }
        auto error = io_error("reading the response", read_ec);
        watchdog_->disarm();
        co_return error;
      }
      if (watchdog_->fired()) co_return timeout_error();
      const auto status = static_cast<int>(parser_->get().result_int());
      if (status >= 100 && status < 200 && status != 101) continue;  // interim response
      break;
    }
    watchdog_->disarm();
    const auto& head = parser_->get();
    status_ = static_cast<int>(head.result_int());
    headers_.reserve(static_cast<std::size_t>(std::distance(head.begin(), head.end())));
    for (const auto& field : head) headers_.push_back({std::string(field.name_string()), std::string(field.value())});
    co_return Result<void>{};
  }

  asio::awaitable<Result<Piece>> do_next() {
    if (!connection_ || !parser_) co_return make_error(ErrorCode::internal, "HTTP exchange not started");
    auto& c = *connection_;
    while (!parser_->is_done()) {
      if (Clock::now() >= total_deadline_) {
        total_binding_ = true;
        co_return timeout_error();
      }
      auto& body = parser_->get().body();
      body.data = body_buffer_.data();
      body.size = body_buffer_.size();
      arm(Phase::idle, request_.timeouts.idle, close_on_fire());
      auto read = [this, &c](auto& stream) { return bhttp::async_read_some(stream, c.buffer, *parser_, kNoThrow); };
      auto [ec, n] = co_await c.with_stream(read);
      const bool fired = watchdog_->fired();
      watchdog_->disarm();
      if (ec == bhttp::error::need_buffer) ec = {};
      if (fired) co_return timeout_error();
      if (ec) co_return io_error("reading the response body", ec);
      const std::size_t got = body_buffer_.size() - parser_->get().body().size;
      if (got > 0) co_return Piece{std::string_view(body_buffer_.data(), got), parser_->is_done() && finish()};
    }
    co_return Piece{{}, finish()};
  }

  // The body ended: pool the connection if it can carry another request.
  bool finish() {
    if (connection_) {
      const bool reusable =
          parser_->get().keep_alive() && !parser_->need_eof() && connection_->buffer.size() == 0 && status_ != 101;
      if (reusable) {
        core_->pool.put(pool_key_, std::move(connection_));
      } else {
        abandon();
      }
    }
    return true;
  }

  std::shared_ptr<Core> core_;
  const ClientRequest& request_;
  asio::any_io_executor home_;
  asio::any_io_executor strand_;
  std::shared_ptr<Watchdog> watchdog_;
  Clock::time_point started_at_;
  Clock::time_point total_deadline_;
  Target target_;
  const Proxy* proxy_ = nullptr;
  std::string pool_key_;
  std::unique_ptr<Connection> connection_;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser_;
  std::vector<char> body_buffer_;
  int status_ = 0;
  std::vector<Header> headers_;
  std::string remote_ip_;
  Phase phase_ = Phase::connect;
  bool total_binding_ = false;
  bool cancelled_ = false;
};

// co_spawn needs a default-constructible result; Result<T> is not.
template <class T>
asio::awaitable<std::optional<Result<T>>> boxed(asio::awaitable<Result<T>> op) {
  co_return co_await std::move(op);
}

// Runs `op` on the exchange's strand and resumes the caller on its own
// executor. The caller's cancellation is forwarded by this function, not by
// co_spawn: Boost 1.81's co_spawn hands a cancellation to another executor as
// a raw pointer to a signal that dies with the spawned coroutine, so one that
// raced the coroutine's completion ran on freed memory (a crash seen when the
// drain deadline cut off streams). Here the posted work holds only a weak
// reference to the exchange.
template <class T>
asio::awaitable<Result<T>> run_on(const std::shared_ptr<Exchange>& exchange, asio::awaitable<Result<T>> op) {
  auto strand = exchange->strand();
  asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
  auto slot = state.slot();
  if (slot.is_connected()) {
    slot.assign([weak = std::weak_ptr<Exchange>(exchange), strand](asio::cancellation_type type) {
      if (type == asio::cancellation_type::none) return;
      asio::post(strand, [weak] {
        if (auto target = weak.lock()) target->cancel();
      });
    });
  }
  auto box = boxed(std::move(op));
  auto unbound = asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable);
  auto result = co_await asio::co_spawn(strand, std::move(box), unbound);
  if (slot.is_connected()) slot.clear();
  co_return std::move(*result);
}

// Where an exchange runs: on the caller's io_context when it has one, so that
// with one io_context per thread (thread per core) a provider call never
// leaves the thread that serves the request; else on the client's executor.
// Either way the caller is resumed on its own executor afterwards.
asio::any_io_executor home_executor(const asio::any_io_executor& caller, const asio::any_io_executor& fallback) {
  using IoExecutor = asio::io_context::executor_type;
  if (const auto* io = caller.target<IoExecutor>()) return *io;
  if (const auto* strand = caller.target<asio::strand<IoExecutor>>()) return strand->get_inner_executor();
  return fallback;
}

class BeastHttpClient final : public HttpClient {
 public:
  BeastHttpClient(asio::any_io_executor executor, ClientOptions options)
      : core_(std::make_shared<Core>(std::move(executor), std::move(options))) {}

  asio::awaitable<Result<ClientResponse>> send(const ClientRequest& request) override {
    const auto caller = co_await asio::this_coro::executor;
    auto exchange = std::make_shared<Exchange>(core_, request, home_executor(caller, core_->executor));
    auto op = Exchange::buffered(exchange);
    co_return co_await run_on(exchange, std::move(op));
  }

  asio::awaitable<Result<void>> stream(const ClientRequest& request, BodySink& sink) override {
    const auto caller = co_await asio::this_coro::executor;
    auto exchange = std::make_shared<Exchange>(core_, request, home_executor(caller, core_->executor));
    auto start = Exchange::start(exchange);
    auto started = co_await run_on(exchange, std::move(start));
    if (!started) co_return started;
    if (!sink.on_headers(exchange->status(), exchange->headers())) {
      exchange->abandon();
      co_return Result<void>{};
    }
    for (;;) {
      // A cancellation of the caller that landed between two reads aborted
      // no operation; it still ends the exchange (the state stays cancelled).
      if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) {
        exchange->abandon();
        co_return make_error(ErrorCode::upstream_error, "reading the response body: cancelled");
      }
      auto next = Exchange::next(exchange);
      AEGIS_CO_TRY(piece, co_await run_on(exchange, std::move(next)));
      if (!piece.data.empty()) {
        const bool more = co_await sink.on_data(piece.data);
        if (!more) {
          exchange->abandon();
          co_return Result<void>{};
        }
      }
      if (piece.done) co_return Result<void>{};
    }
  }

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace

std::optional<std::string_view> ClientResponse::header(std::string_view name) const noexcept {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return std::string_view(h.value);
  }
  return std::nullopt;
}

ClientOptions ClientOptions::from_environment() {
  auto env = [](const char* upper, const char* lower_name) -> std::string {
    if (const char* v = core::env_value(upper); v && *v) return v;
    if (const char* v = core::env_value(lower_name); v && *v) return v;
    return {};
  };
  ClientOptions options;
  options.https_proxy = env("HTTPS_PROXY", "https_proxy");
  options.http_proxy = env("HTTP_PROXY", "http_proxy");
  options.no_proxy = env("NO_PROXY", "no_proxy");
  return options;
}

bool is_loopback_name(std::string_view host) { return is_loopback_host(host); }

bool bypass_proxy(std::string_view no_proxy, std::string_view host, std::uint16_t port) {
  return is_loopback_host(host) || no_proxy_matches(no_proxy, host, port);
}

std::unique_ptr<HttpClient> make_http_client(asio::any_io_executor executor, ClientOptions options) {
  return std::make_unique<BeastHttpClient>(std::move(executor), std::move(options));
}

}  // namespace aegis::http
