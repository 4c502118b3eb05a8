#pragma once
// HTTP messages as plain value types, so that handlers and everything behind
// them never include Beast (one TU per surface would otherwise cost ~20 s).
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aegis::http {

struct Header {
  std::string name;
  std::string value;
};

// Case-insensitive ASCII comparison, as HTTP header names require.
bool iequals(std::string_view a, std::string_view b) noexcept;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path + query as received
  std::string path;    // decoded path, no query
  std::string query;   // raw query string without '?'
  std::vector<Header> headers;
  std::string body;
  std::string remote_address;

  // Set by the server and router as the request moves along.
  std::string request_id;
  std::string route = "unmatched";  // the route pattern that matched, e.g. "/admin/v1/teams/{name}"
  std::vector<std::pair<std::string, std::string>> path_params;
  std::chrono::steady_clock::time_point received_at{};
  // Fields the layers above add to this request's access-log line: the
  // caller's team and key id once a virtual key has been verified. Names and
  // ids only, never key material.
  std::vector<std::pair<std::string, std::string>> log_fields;

  std::optional<std::string_view> header(std::string_view name) const noexcept;
  std::optional<std::string_view> path_param(std::string_view name) const noexcept;
  // Decoded value of the first query parameter with this name.
  std::optional<std::string> query_param(std::string_view name) const;
};

// Writes a streamed response body (chunked transfer encoding) as it is
// produced. Status and headers stay open until the first write() commits
// them, so a handler can still turn into a plain error response if its
// upstream fails before the first byte.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  virtual void set_status(int status) = 0;
  virtual void set_header(std::string name, std::string value) = 0;
  // Before commit only: the body of a plain (non-chunked) response, sent if
  // the stream never writes.
  virtual void set_body(std::string body) = 0;
  virtual bool committed() const = 0;
  // Sends one piece now (committing status and headers first); false once
  // the client has gone away: stop producing.
  virtual boost::asio::awaitable<bool> write(std::string_view data) = 0;
  // Ends the connection at once without finishing the body (a truncated
  // stream, as the provider simulator injects).
  virtual void abort() = 0;
};

struct HttpResponse {
  int status = 200;
  std::vector<Header> headers;
  std::string body;
  // When set, the server hands a ResponseWriter (seeded with status and
  // headers above) to this function, which writes the body chunk by chunk.
  std::function<boost::asio::awaitable<void>(ResponseWriter&)> stream_body;
  // Reset the connection instead of answering (fault injection).
  bool reset_connection = false;

  HttpResponse& set_header(std::string name, std::string value);
  std::optional<std::string_view> header(std::string_view name) const noexcept;
};

}  // namespace aegis::http
