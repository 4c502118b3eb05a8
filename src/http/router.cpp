#include "http/router.hpp"

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

void Router::add(std::string method, std::string pattern, Handler handler) {
  Route route{std::move(method), pattern, {}, std::move(handler)};
  for (auto segment : split_path(pattern)) route.segments.emplace_back(segment);
  routes_.push_back(std::move(route));
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

boost::asio::awaitable<HttpResponse> Router::dispatch(HttpRequest& request) const {
  const auto segments = split_path(request.path);
  std::string allowed;
  for (const auto& route : routes_) {
    if (!match(route, segments, nullptr)) continue;
    if (route.method == request.method || (request.method == "HEAD" && route.method == "GET")) {
      request.route = route.pattern;
      request.path_params.clear();
      match(route, segments, &request.path_params);
      co_return co_await route.handler(request);
    }
    if (allowed.find(route.method) == std::string::npos) allowed += (allowed.empty() ? "" : ", ") + route.method;
    request.route = route.pattern;
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
