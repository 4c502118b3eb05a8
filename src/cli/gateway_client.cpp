#include "cli/gateway_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "core/process_env.hpp"
#include "core/version.hpp"

namespace aegis::cli {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// One try plus three retries of a transient failure: 0.5 s, 1 s, 2 s apart
// (or the server's retry-after, when it says more).
constexpr int kMaxAttempts = 4;
constexpr auto kMaxRetryDelay = 30s;

bool retryable(bool idempotent, const Error& error) {
  // The client's messages for failures before a byte was sent.
  const bool not_connected = error.message.starts_with("connect to ") || error.message.starts_with("connecting to ") ||
                             error.message.starts_with("DNS lookup for ");
  if (not_connected) return true;
  // A lost answer to anything else may hide work done: an ingest or an
  // answer would be paid twice, a DELETE retried would say 404 or 409.
  return idempotent && (error.code == ErrorCode::upstream_error || error.code == ErrorCode::upstream_timeout);
}

}  // namespace

Result<GatewayTarget> resolve_gateway(const std::string& url_flag) {
  std::string url = url_flag;
  if (url.empty()) {
    const char* env = core::env_value("AEGIS_URL");
    url = env && *env ? env : std::string(kDefaultGatewayUrl);
  }
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    return make_error(ErrorCode::invalid_request,
                      "the gateway URL must start with http:// or https://, got '" + url + "'");
  }
  while (url.size() > 8 && url.back() == '/') url.pop_back();
  const char* key = core::env_value("AEGIS_API_KEY");
  if (!key || !*key) {
    return make_error(ErrorCode::invalid_request,
                      "AEGIS_API_KEY is not set: export the team's virtual key (`aegis admin keys create TEAM` "
                      "makes one)");
  }
  return GatewayTarget{std::move(url), key};
}

GatewayClient::GatewayClient(const asio::any_io_executor& executor, GatewayTarget target, std::string command)
    : executor_(executor),
      client_(http::make_http_client(executor, http::ClientOptions::from_environment())),
      target_(std::move(target)),
      command_(std::move(command)) {}

asio::awaitable<Result<Reply>> GatewayClient::call(std::string method, std::string target, std::string body,
                                                   std::vector<http::Header> extra,
                                                   std::chrono::milliseconds server_hold) {
  http::ClientRequest request;
  request.method = method;
  request.url = target_.url + target;
  request.headers.push_back(http::Header{"authorization", "Bearer " + target_.key});
  request.headers.push_back(http::Header{"accept", "application/json"});
  request.headers.push_back(http::Header{"user-agent", std::string("aegis-cli/") + kVersion});
  if (!body.empty()) request.headers.push_back(http::Header{"content-type", "application/json"});
  const bool idempotent = method == "GET" || std::any_of(extra.begin(), extra.end(), [](const http::Header& h) {
                            return h.name == "idempotency-key";
                          });
  for (auto& h : extra) request.headers.push_back(std::move(h));
  request.body = std::move(body);
  request.timeouts.first_byte = server_hold + 30s;
  request.timeouts.total = server_hold + 90s;
  request.max_response_bytes = std::size_t{256} * 1024 * 1024;  // a list of 1,000 jobs with their results

  for (int attempt = 1;; ++attempt) {
    auto op = client_->send(request);
    auto sent = co_await std::move(op);
    std::chrono::milliseconds delay = 500ms * (1 << (attempt - 1));
    if (!sent.ok()) {
      if (attempt >= kMaxAttempts || !retryable(idempotent, sent.error())) co_return std::move(sent).error();
    } else {
      const auto retry_after = sent->header("retry-after");
      const bool transient = (sent->status == 429 || sent->status == 503) && retry_after.has_value();
      if (!transient || attempt >= kMaxAttempts) {
        Reply reply;
        reply.status = sent->status;
        reply.body = std::move(sent->body);
        boost::system::error_code ec;
        reply.doc = json::parse(reply.body, ec);
        if (ec) reply.doc = nullptr;
        co_return reply;
      }
      double seconds = 0;
      const auto text = *retry_after;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
      if (ec == std::errc() && end == text.data() + text.size() && seconds > 0) {
        const auto asked = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::duration<double>(std::min(seconds, 3600.0)));
        delay = std::max(delay, asked);
      }
    }
    delay = std::min<std::chrono::milliseconds>(delay, kMaxRetryDelay);
    asio::steady_timer timer(executor_, delay);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

int GatewayClient::transport_failure(const Error& error) const {
  std::cerr << command_ << ": cannot reach the gateway at " << target_.url << ": " << error.message << "\n";
  return kClientExitFailed;
}

int GatewayClient::api_failure(const Reply& reply) const {
  std::cerr << command_ << ": ";
  const auto* body = reply.doc.if_object();
  const auto* error = body ? object_field(*body, "error") : nullptr;
  if (error) {
    std::cerr << or_dash(string_field(*error, "type")) << ": " << string_field(*error, "message");
  } else {
    std::cerr << "unexpected answer: " << reply.body.substr(0, 200);
  }
  const auto phrase = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(reply.status));
  std::cerr << " (HTTP " << reply.status << (phrase.empty() ? "" : " ") << phrase << ")";
  if (reply.status == 401) std::cerr << "; check AEGIS_API_KEY";
  std::cerr << "\n";
  return kClientExitFailed;
}

int GatewayClient::malformed(const Reply& reply, std::string_view expected) const {
  std::cerr << command_ << ": the gateway's answer (HTTP " << reply.status << ") is not " << expected << ": "
            << reply.body.substr(0, 200) << "\n";
  return kClientExitFailed;
}

int run_client(const std::string& command, const GatewayTarget& target,
               const std::function<asio::awaitable<int>(GatewayClient&)>& work) {
  asio::io_context io;
  GatewayClient client(io.get_executor(), target, command);
  int exit_code = kClientExitFailed;
  asio::co_spawn(io, work(client), [&](const std::exception_ptr& error, int code) {
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        std::cerr << command << ": " << e.what() << "\n";
      } catch (...) {
        std::cerr << command << ": unexpected failure\n";
      }
      code = kClientExitFailed;
    }
    exit_code = code;
    // Pooled connections and their timers must not keep the command alive.
    io.stop();
  });
  io.run();
  std::cout.flush();
  return exit_code;
}

void add_client_options(CLI::App& command, std::string& url, bool& json) {
  command.add_option("--url", url,
                     "gateway base URL (default: $AEGIS_URL, else " + std::string(kDefaultGatewayUrl) + ")");
  command.add_flag("--json", json, "Print the gateway's JSON as it came, one document per answer");
}

Result<json::object> metadata_flags(const std::vector<std::string>& items) {
  json::object metadata;
  for (const auto& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return make_error(ErrorCode::invalid_request, "--metadata expects KEY=VALUE, got '" + item + "'");
    }
    const auto name = item.substr(0, eq);
    if (metadata.contains(name)) return make_error(ErrorCode::invalid_request, "--metadata '" + name + "' given twice");
    metadata[name] = item.substr(eq + 1);
  }
  return metadata;
}

std::string_view string_field(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

const json::object* object_field(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

std::string or_dash(std::string_view s) { return s.empty() ? std::string("-") : std::string(s); }

std::string percent_encode(std::string_view text) { return boost::urls::encode(text, boost::urls::unreserved_chars); }

std::optional<std::string> read_file(const std::string& path) {
  if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return ss.str();
}

void print_body(const Reply& reply) {
  std::cout << reply.body;
  if (reply.body.empty() || reply.body.back() != '\n') std::cout << "\n";
}

void print_columns(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return;
  std::vector<std::size_t> width(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size() && i < width.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

}  // namespace aegis::cli
