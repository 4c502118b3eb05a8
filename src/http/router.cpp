#include "http/router.hpp"

#include <stdexcept>

#include "http/json_response.hpp"

namespace aegis::http {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  while (start < path.size()) {
    if (path[start] == '/') {
      ++start;
      continue;
    }
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    segments.push_back(path.substr(start, end - start));
    start = end;
  }
  return segments;
}

std::string_view to_string(Credential credential) noexcept {
  switch (credential) {
    case Credential::none: return "none";
    case Credential::api_key: return "api_key";
    case Credential::admin_key: return "admin_key";
    case Credential::metrics_token: return "metrics_token";
  }
  return "none";
}

namespace {

// The router's own check, for requests that did not come through the server
// (which refuses these with the same message before routing).
bool in_normal_form(std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  if (path == "/") return true;
  std::size_t start = 1;
  for (;;) {
    const auto end = path.find('/', start);
    const auto segment = path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

}  // namespace

void Router::add(std::string method, std::string pattern, Credential credential, Handler handler) {
  if (!in_normal_form(pattern) || !handler) throw std::logic_error("route pattern not in normal form: " + pattern);
  Route route{std::move(method), std::move(pattern), credential, {}, std::move(handler)};
  for (auto segment : split_path(route.pattern)) route.segments.emplace_back(segment);
  routes_.push_back(std::move(route));
}

void Router::guard_prefix(std::string first_segment, Credential credential) {
  guarded_prefixes_.emplace_back(std::move(first_segment), credential);
}

void Router::set_authorizer(Authorizer authorizer) { authorizer_ = std::move(authorizer); }

std::vector<RouteInfo> Router::routes() const {
  std::vector<RouteInfo> out;
  out.reserve(routes_.size());
  for (const auto& r : routes_) out.push_back({r.method, r.pattern, r.credential});
  return out;
}

bool Router::match(const Route& route, const std::vector<std::string_view>& path_segments,
                   std::vector<std::pair<std::string, std::string>>* params) {
  if (route.segments.size() != path_segments.size()) return false;
  for (std::size_t i = 0; i < path_segments.size(); ++i) {
    const std::string& want = route.segments[i];
    if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
      if (path_segments[i].empty()) return false;
      if (params) params->emplace_back(want.substr(1, want.size() - 2), std::string(path_segments[i]));
    } else if (want != path_segments[i]) {
      return false;
    }
  }
  return true;
}

boost::asio::awaitable<Result<Caller>> Router::authorize(Credential credential, HttpRequest& request) const {
  if (credential == Credential::none) co_return Caller{};
  if (!authorizer_) co_return make_error(ErrorCode::internal, "internal error");  // fail closed
  co_return co_await authorizer_(credential, request);
}

boost::asio::awaitable<HttpResponse> Router::dispatch(HttpRequest& request) const {
  if (!in_normal_form(request.path)) {
    co_return error_response(make_error(ErrorCode::invalid_request, "request path is not in normal form"),
                             request.request_id);
  }
  const auto segments = split_path(request.path);
  std::string allowed;
  const Route* path_match = nullptr;
  for (const auto& route : routes_) {
    if (!match(route, segments, nullptr)) continue;
    if (route.method == request.method || (request.method == "HEAD" && route.method == "GET")) {
      request.route = route.pattern;
      request.path_params.clear();
      match(route, segments, &request.path_params);
      auto caller = co_await authorize(route.credential, request);
      if (!caller.ok()) co_return error_response(caller.error(), request.request_id);
      co_return co_await route.handler(request, *caller);
    }
    if (!path_match) path_match = &route;
    if (allowed.find(route.method) == std::string::npos) allowed += (allowed.empty() ? "" : ", ") + route.method;
    request.route = route.pattern;
  }
  // No handler runs, but the caller still proves the credential the path asks
  // for before it learns whether the path exists or which methods it takes.
  Credential needed = path_match ? path_match->credential : Credential::none;
  if (!path_match && !segments.empty()) {
    for (const auto& [prefix, credential] : guarded_prefixes_) {
      if (segments.front() == prefix) needed = credential;
    }
  }
  if (auto allowed_in = co_await authorize(needed, request); !allowed_in.ok()) {
    co_return error_response(allowed_in.error(), request.request_id);
  }
  if (!allowed.empty()) {
    auto response = error_response(
        make_error(ErrorCode::method_not_allowed, "method " + request.method + " is not allowed on " + request.route),
        request.request_id);
    response.set_header("allow", allowed);
    co_return response;
  }
  co_return error_response(make_error(ErrorCode::not_found, "no route for " + request.method + " " + request.path),
                           request.request_id);
}

}  // namespace aegis::http
