#include "api/whoami.hpp"

#include "api/access.hpp"
#include "http/json_response.hpp"

namespace aegis::api {

void register_whoami_route(http::Router& router) {
  router.add(
      "GET", "/v1/whoami", http::Credential::api_key,
      [](http::HttpRequest& request, const http::Caller& caller) -> boost::asio::awaitable<http::HttpResponse> {
        // The router authenticated the key (Credential::api_key); the check is defence in depth.
        const identity::Principal* principal = principal_of(caller);
        if (!principal) {
          co_return http::error_response(make_error(ErrorCode::unauthorized, "missing API key"), request.request_id);
        }
        co_return http::json_response(
            200,
            {{"team", principal->team}, {"key_id", principal->key_id}, {"clearance", to_string(principal->clearance)}});
      });
}

}  // namespace aegis::api
