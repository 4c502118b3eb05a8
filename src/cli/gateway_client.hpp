#pragma once
// What every client command of a running gateway shares (`aegis jobs`,
// `aegis rag`): the gateway's URL (--url, else $AEGIS_URL, else
// http://127.0.0.1:8080) and the team's key (only from $AEGIS_API_KEY, so it
// never shows up in `ps` or shell history), calls that retry what is safe to
// retry, and one way of reporting failures on stderr.
#include <CLI/CLI.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "http/client.hpp"

namespace aegis::cli {

inline constexpr int kClientExitOk = 0;
inline constexpr int kClientExitFailed = 1;
inline constexpr int kClientExitUsage = 2;

inline constexpr std::string_view kDefaultGatewayUrl = "http://127.0.0.1:8080";

struct GatewayTarget {
  std::string url;  // no trailing slash
  std::string key;
};

// The URL from the flag or the environment and the key from $AEGIS_API_KEY,
// or the usage message that says what is missing.
Result<GatewayTarget> resolve_gateway(const std::string& url_flag);

struct Reply {
  int status = 0;
  std::string body;
  boost::json::value doc;  // null when the body is not JSON
};

class GatewayClient {
 public:
  // `command` prefixes every message, e.g. "aegis jobs submit".
  GatewayClient(const boost::asio::any_io_executor& executor, GatewayTarget target, std::string command);

  // One API call, retrying what is safe to retry: a connection that could
  // not be made (nothing was sent), a lost exchange of an idempotent request
  // (GET, or POST with its idempotency key), and 429/503 that carry
  // retry-after (the gateway did nothing). `server_hold`: how long the
  // gateway may legitimately hold the answer (a long poll).
  boost::asio::awaitable<Result<Reply>> call(std::string method, std::string target, std::string body,
                                             std::vector<http::Header> extra = {},
                                             std::chrono::milliseconds server_hold = std::chrono::milliseconds(0));

  // Each prints to stderr and returns the exit code (1).
  int transport_failure(const Error& error) const;
  int api_failure(const Reply& reply) const;
  int malformed(const Reply& reply, std::string_view expected) const;

  const std::string& base_url() const noexcept { return target_.url; }
  const std::string& command() const noexcept { return command_; }
  const boost::asio::any_io_executor& executor() const noexcept { return executor_; }

 private:
  boost::asio::any_io_executor executor_;
  std::unique_ptr<http::HttpClient> client_;
  GatewayTarget target_;
  std::string command_;
};

// Runs `work` on a private io_context to completion and returns its exit
// code; an exception becomes exit 1 with `command`'s prefix.
int run_client(const std::string& command, const GatewayTarget& target,
               const std::function<boost::asio::awaitable<int>(GatewayClient&)>& work);

// --url and --json, the same on every client subcommand.
void add_client_options(CLI::App& command, std::string& url, bool& json);
// Repeated --metadata KEY=VALUE flags as an object, or the usage message.
Result<boost::json::object> metadata_flags(const std::vector<std::string>& items);

// Small readers of the gateway's JSON answers.
std::string_view string_field(const boost::json::object& o, std::string_view key);
const boost::json::object* object_field(const boost::json::object& o, std::string_view key);
std::string or_dash(std::string_view s);
// Path segments and query values, as the provider adapters encode them.
std::string percent_encode(std::string_view text);
// The file's bytes ('-': stdin), or nothing when it cannot be read.
std::optional<std::string> read_file(const std::string& path);
// The body as it came, with a final newline.
void print_body(const Reply& reply);
// Rows under a header, columns padded to their widest cell.
void print_columns(const std::vector<std::vector<std::string>>& rows);

}  // namespace aegis::cli
