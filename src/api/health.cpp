#include "api/health.hpp"

#include "http/json_response.hpp"

namespace aegis::api {

void register_health_routes(http::Router& router, store::Store& store, store::DbExecutor& db) {
  router.add("GET", "/healthz", http::Credential::none,
             [](http::HttpRequest&, const http::Caller&) -> boost::asio::awaitable<http::HttpResponse> {
               co_return http::json_response(200, {{"status", "ok"}});
             });

  router.add(
      "GET", "/readyz", http::Credential::none,
      [&store, &db](http::HttpRequest& request, const http::Caller&) -> boost::asio::awaitable<http::HttpResponse> {
        auto ping = co_await db.run([&store] { return store.ping(); });
        if (!ping.ok()) {
          co_return http::error_response(make_error(ErrorCode::unavailable, "store is not reachable"),
                                         request.request_id);
        }
        co_return http::json_response(200, {{"status", "ready"}, {"checks", {{"store", "ok"}}}});
      });
}

void register_metrics_route(http::Router& router, const telemetry::Registry& metrics,
                            std::function<void()> before_scrape) {
  router.add("GET", "/metrics", http::Credential::metrics_token,
             [&metrics, before_scrape = std::move(before_scrape)](
                 http::HttpRequest&, const http::Caller&) -> boost::asio::awaitable<http::HttpResponse> {
               if (before_scrape) before_scrape();
               http::HttpResponse response;
               response.body = metrics.expose();
               response.set_header("content-type", "text/plain; version=0.0.4; charset=utf-8");
               co_return response;
             });
}

}  // namespace aegis::api
