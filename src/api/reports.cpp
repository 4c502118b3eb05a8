#include "api/reports.hpp"

#include <chrono>
#include <memory>

#include "api/admin_params.hpp"
#include "core/json.hpp"
#include "http/json_response.hpp"
#include "report/collect.hpp"
#include "report/render.hpp"

namespace aegis::api {

using http::HttpRequest;
using http::HttpResponse;
using Awaitable = boost::asio::awaitable<HttpResponse>;

namespace {

HttpResponse fail(const Error& error, const HttpRequest& request) {
  return http::error_response(error, request.request_id);
}

enum class ReportFormat { json, html, markdown };

Result<ReportFormat> report_format(const std::map<std::string, std::string>& params) {
  auto it = params.find("format");
  if (it == params.end() || it->second == "json") return ReportFormat::json;
  if (it->second == "html") return ReportFormat::html;
  if (it->second == "md") return ReportFormat::markdown;
  return make_error(ErrorCode::invalid_request, "format must be json, html or md");
}

struct ReportQuery {
  report::ReportRequest request;
  ReportFormat format = ReportFormat::json;
};

Result<ReportQuery> report_query(const HttpRequest& request, const Clock& clock) {
  AEGIS_TRY(params, http::query_params(request, {"month", "team", "format"}));
  ReportQuery query;
  auto month = params.find("month");
  if (month == params.end()) {
    return make_error(ErrorCode::invalid_request, "month is required: a calendar month written YYYY-MM (e.g. 2026-11)");
  }
  AEGIS_TRY(parsed, report::parse_month(month->second));
  query.request.month = std::move(parsed);
  if (auto team = params.find("team"); team != params.end() && !team->second.empty()) query.request.team = team->second;
  AEGIS_TRY(format, report_format(params));
  query.format = format;
  query.request.now_ms = clock.wall_ms();
  return query;
}

HttpResponse text_response(std::string body, std::string content_type) {
  HttpResponse response;
  response.status = 200;
  response.body = std::move(body);
  response.set_header("content-type", std::move(content_type));
  return response;
}

}  // namespace

void register_report_routes(http::Router& router, const ReportContext& context) {
  auto ctx = std::make_shared<ReportContext>(context);
  // Only what the report shows of a provider: no key, no address.
  for (auto& provider : ctx->providers) {
    provider.api_key.clear();
    provider.base_url.clear();
  }

  router.add("GET", "/admin/v1/reports/compliance", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               AEGIS_CO_TRY(query, report_query(request, ctx->clock), fail, request);
               report::ReportSources sources;
               sources.providers = ctx->providers;
               sources.public_keys = ctx->public_keys;
               sources.checkpoint_file = ctx->checkpoint_file;
               auto collect = [&] {
                 flush_audit_queue(ctx->audit_writer);
                 return report::collect_compliance_report(ctx->store, sources, query.request);
               };
               AEGIS_CO_TRY(built, co_await ctx->db.run(collect), fail, request);
               switch (query.format) {
                 case ReportFormat::html:
                   co_return text_response(report::render_html(built), "text/html; charset=utf-8");
                 case ReportFormat::markdown:
                   co_return text_response(report::render_markdown(built), "text/markdown; charset=utf-8");
                 case ReportFormat::json: break;
               }
               co_return http::json_response(200, report::report_json(built));
             });
}

}  // namespace aegis::api
