#include "api/demo.hpp"

#include <algorithm>

#include "api/admin.hpp"
#include "core/time_format.hpp"
#include "http/json_response.hpp"

namespace aegis::api {

namespace json = boost::json;
using http::HttpRequest;
using http::HttpResponse;

void register_demo_routes(http::Router& router, std::vector<DemoUpstream> upstreams) {
  auto shared = std::make_shared<const std::vector<DemoUpstream>>(std::move(upstreams));

  router.add("GET", "/admin/v1/demo/upstream-log", http::Credential::admin_key,
             [shared](HttpRequest&, const http::Caller&) -> boost::asio::awaitable<HttpResponse> {
               struct Row {
                 std::int64_t time;
                 json::object value;
               };
               std::vector<Row> rows;
               for (const auto& upstream : *shared) {
                 for (const auto& recorded : upstream.simulator->requests()) {
                   json::object row{{"provider", upstream.provider},
                                    {"locality", upstream.locality == config::Locality::local ? "local" : "cloud"},
                                    {"method", recorded.method},
                                    {"path", recorded.path},
                                    {"body", recorded.body},
                                    {"time", format_rfc3339_ms(recorded.time_unix_ms)}};
                   rows.push_back({recorded.time_unix_ms, std::move(row)});
                 }
               }
               std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.time < b.time; });
               json::array out;
               for (auto& row : rows) out.push_back(std::move(row.value));
               co_return http::json_response(200, json::object{{"requests", std::move(out)}});
             });

  router.add(
      "POST", "/admin/v1/demo/faults", http::Credential::admin_key,
      [shared](HttpRequest& request, const http::Caller&) -> boost::asio::awaitable<HttpResponse> {
        AEGIS_CO_TRY(body, http::parse_json_object(request), http::error_response, request.request_id);
        AEGIS_CO_TRY_VOID(http::reject_unknown_fields(body, {"provider", "mode", "count", "rate"}),
                          http::error_response, request.request_id);
        auto provider = body.find("provider");
        auto mode = body.find("mode");
        if (provider == body.end() || !provider->value().is_string() || mode == body.end() ||
            !mode->value().is_string()) {
          co_return http::error_response(
              make_error(ErrorCode::invalid_request, "provider and mode are required strings"), request.request_id);
        }
        std::optional<std::int64_t> count;
        std::optional<double> rate;
        if (auto c = body.find("count"); c != body.end()) {
          if (!c->value().is_int64()) {
            co_return http::error_response(make_error(ErrorCode::invalid_request, "count must be an integer"),
                                           request.request_id);
          }
          count = c->value().get_int64();
        }
        if (auto r = body.find("rate"); r != body.end()) {
          if (!r->value().is_number()) {
            co_return http::error_response(make_error(ErrorCode::invalid_request, "rate must be a number"),
                                           request.request_id);
          }
          rate = r->value().to_number<double>();
        }
        const std::string name(provider->value().get_string());
        auto it =
            std::find_if(shared->begin(), shared->end(), [&](const DemoUpstream& u) { return u.provider == name; });
        if (it == shared->end()) {
          co_return http::error_response(make_error(ErrorCode::not_found, "no simulated provider named '" + name + "'"),
                                         request.request_id);
        }
        AEGIS_CO_TRY_VOID(it->simulator->set_fault(mode->value().get_string(), count, rate), http::error_response,
                          request.request_id);
        json::object out{{"provider", name}, {"mode", mode->value().get_string()}};
        if (count) out["count"] = *count;
        if (rate) out["rate"] = *rate;
        co_return http::json_response(200, out);
      });
}

}  // namespace aegis::api
