#pragma once
// Maps (method, path pattern) to handlers. Patterns are literal segments and
// `{name}` captures; the matched pattern becomes the request's route label,
// which keeps metric cardinality bounded whatever paths clients send.
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <string>
#include <vector>

#include "http/message.hpp"

namespace aegis::http {

// "/a//b/" -> {"a", "b"}: empty segments are dropped.
std::vector<std::string_view> split_path(std::string_view path);

using Handler = std::function<boost::asio::awaitable<HttpResponse>(HttpRequest&)>;

class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler);

  // 404 when no pattern matches, 405 (with an Allow header) when one matches
  // the path but not the method. Sets request.route and request.path_params.
  boost::asio::awaitable<HttpResponse> dispatch(HttpRequest& request) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  static bool match(const Route& route, const std::vector<std::string_view>& path_segments,
                    std::vector<std::pair<std::string, std::string>>* params);
  std::vector<Route> routes_;
};

}  // namespace aegis::http
