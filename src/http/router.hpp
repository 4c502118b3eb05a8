#pragma once
// Maps (method, path pattern) to handlers. Patterns are literal segments and
// `{name}` captures; the matched pattern becomes the request's route label,
// which keeps metric cardinality bounded whatever paths clients send.
//
// Every route declares the credential it needs, and the router checks it on
// the route that matched, before the handler runs: authentication is never
// decided on a spelling of the path that the router does not use
// (docs/ARCHITECTURE.md, "Authentication").
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "http/message.hpp"

namespace aegis::http {

// "/a/b" -> {"a", "b"}; empty segments are dropped (the server refuses paths
// that have any before they reach a router).
std::vector<std::string_view> split_path(std::string_view path);

using Handler = std::function<boost::asio::awaitable<HttpResponse>(HttpRequest&)>;

// What a caller must present to reach a route.
enum class Credential {
  none,           // open: health checks
  api_key,        // a team's virtual key (sets HttpRequest::principal)
  admin_key,      // AEGIS_ADMIN_KEY
  metrics_token,  // server.metrics_token when one is configured, else open
};
std::string_view to_string(Credential credential) noexcept;

// Decides whether `request` carries `credential`; on success it may fill
// request.principal. The error is the answer (401/403).
using Authorizer = std::function<boost::asio::awaitable<Result<void>>(Credential, HttpRequest&)>;

struct RouteInfo {
  std::string method;
  std::string pattern;
  Credential credential;
};

class Router {
 public:
  void add(std::string method, std::string pattern, Credential credential, Handler handler);

  // Paths under `prefix` (a literal first segment such as "v1") that match no
  // route still need `credential` before they are told 404/405, so that
  // callers without it cannot map which routes exist.
  void guard_prefix(std::string first_segment, Credential credential);

  // Required as soon as a route needs a credential: without one such routes
  // answer 500 (fail closed), never their handler.
  void set_authorizer(Authorizer authorizer);

  // 400 for a path with empty or dot segments; 404 when no pattern matches,
  // 405 (with an Allow header) when one matches the path but not the method;
  // 401/403 from the authorizer before either the handler or a 404/405 of a
  // guarded prefix. Sets request.route and request.path_params.
  boost::asio::awaitable<HttpResponse> dispatch(HttpRequest& request) const;

  // The route table, in registration order (the access-matrix tests walk it).
  std::vector<RouteInfo> routes() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    Credential credential;
    std::vector<std::string> segments;
    Handler handler;
  };
  static bool match(const Route& route, const std::vector<std::string_view>& path_segments,
                    std::vector<std::pair<std::string, std::string>>* params);
  boost::asio::awaitable<Result<void>> authorize(Credential credential, HttpRequest& request) const;
  std::vector<Route> routes_;
  std::vector<std::pair<std::string, Credential>> guarded_prefixes_;
  Authorizer authorizer_;
};

}  // namespace aegis::http
