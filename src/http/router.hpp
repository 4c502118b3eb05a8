#pragma once
// Maps (method, path pattern) to handlers. Patterns are literal segments and
// `{name}` captures; the matched pattern becomes the request's route label,
// which keeps metric cardinality bounded whatever paths clients send.
//
// Every route declares the credential it needs, and the router checks it on
// the route that matched, before the handler runs: authentication is never
// decided on a spelling of the path that the router does not use
// (docs/ARCHITECTURE.md, "A request"). What the check established about the
// caller reaches the handler beside the request, as a Caller.
#include <boost/asio/awaitable.hpp>

#include <any>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "http/message.hpp"

namespace aegis::http {

// "/a/b" -> {"a", "b"}; empty segments are dropped (the server refuses paths
// that have any before they reach a router).
std::vector<std::string_view> split_path(std::string_view path);

// What the authorizer established about the caller (for an api key, the
// team's principal); opaque to http/, which sits below the identity module.
// Empty for open routes and for credentials that name no one (admin key,
// metrics token). Built explicitly, so that no other value (a Result, say)
// turns into a Caller by accident; the layer that stored a type reads it back
// with get_if.
class Caller {
 public:
  Caller() = default;
  // Holds a copy of any copyable value (a template is never the copy constructor).
  template <class T>
  explicit Caller(T value) : value_(std::move(value)) {}

  bool empty() const noexcept { return !value_.has_value(); }
  // The value if it is a T, else nullptr.
  template <class T>
  const T* get_if() const noexcept {
    return std::any_cast<T>(&value_);
  }

 private:
  std::any value_;
};

using Handler = std::function<boost::asio::awaitable<HttpResponse>(HttpRequest&, const Caller&)>;

// What a caller must present to reach a route.
enum class Credential {
  none,           // open: health checks; the handler gets an empty Caller
  api_key,        // a team's virtual key (the Caller holds the team's principal)
  admin_key,      // AEGIS_ADMIN_KEY
  metrics_token,  // server.metrics_token when one is configured, else open
};
std::string_view to_string(Credential credential) noexcept;

// Decides whether `request` carries `credential`; on success it says who the
// caller is (possibly an empty Caller) and may add to request.log_fields. The
// error is the answer (401/403).
using Authorizer = std::function<boost::asio::awaitable<Result<Caller>>(Credential, HttpRequest&)>;

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
  // guarded prefix. Sets request.route and request.path_params, and hands the
  // handler the Caller the authorizer returned (valid while the handler runs;
  // a streamed body that outlives it keeps its own copy of what it needs).
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
  boost::asio::awaitable<Result<Caller>> authorize(Credential credential, HttpRequest& request) const;
  std::vector<Route> routes_;
  std::vector<std::pair<std::string, Credential>> guarded_prefixes_;
  Authorizer authorizer_;
};

}  // namespace aegis::http
