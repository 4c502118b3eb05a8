// The breach register's routes (audit/breach_store.hpp): list and read
// entries, and an officer's status change with its note, kept in the entry's
// history. Admin credential, like the rest of /admin/v1.
#include <boost/asio/use_awaitable.hpp>

#include <charconv>

#include "api/access.hpp"
#include "api/admin.hpp"
#include "audit/audit_writer.hpp"
#include "core/json.hpp"
#include "http/json_response.hpp"

namespace aegis::api {

namespace {

namespace json = boost::json;

using http::HttpRequest;
using http::HttpResponse;
using Awaitable = boost::asio::awaitable<HttpResponse>;

constexpr std::size_t kMaxNoteBytes = 4000;

HttpResponse fail(const Error& error, const HttpRequest& request) {
  return http::error_response(error, request.request_id);
}

Result<std::int64_t> breach_id(const HttpRequest& request) {
  const std::string_view text = *request.path_param("id");
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || id < 1) {
    return make_error(ErrorCode::not_found, "breach '" + std::string(text) + "' not found");
  }
  return id;
}

Result<audit::BreachQuery> breach_query(const HttpRequest& request) {
  AEGIS_TRY(params, http::query_params(request, {"status", "team", "kind", "limit"}));
  audit::BreachQuery query;
  if (auto it = params.find("status"); it != params.end()) {
    if (!audit::is_breach_status(it->second)) {
      return make_error(ErrorCode::invalid_request, "status must be one of open, assessed, reported, closed");
    }
    query.status = it->second;
  }
  if (auto it = params.find("team"); it != params.end() && !it->second.empty()) query.team = it->second;
  if (auto it = params.find("kind"); it != params.end()) {
    if (it->second != audit::kBreachPipedaViolation && it->second != audit::kBreachEgressBlock &&
        it->second != audit::kBreachChainFailure) {
      return make_error(ErrorCode::invalid_request,
                        "kind must be one of pipeda_violation, egress_block, chain_failure");
    }
    query.kind = it->second;
  }
  if (auto it = params.find("limit"); it != params.end()) {
    const std::string& text = it->second;
    int limit = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || limit < 1 || limit > 1000) {
      return make_error(ErrorCode::invalid_request, "limit must be a whole number from 1 to 1000");
    }
    query.limit = limit;
  }
  return query;
}

Result<audit::BreachUpdate> breach_update(const HttpRequest& request, std::int64_t id, const Clock& clock) {
  AEGIS_TRY(body, http::parse_json_object(request));
  AEGIS_TRY_VOID(http::reject_unknown_fields(body, {"status", "note"}));
  audit::BreachUpdate update;
  update.breach_id = id;
  const auto status = body.find("status");
  if (status == body.end() || !status->value().is_string() ||
      !audit::is_settable_breach_status(status->value().get_string())) {
    return make_error(ErrorCode::invalid_request, "status is required: one of assessed, reported, closed");
  }
  update.status = std::string(status->value().get_string());
  if (auto note = body.find("note"); note != body.end()) {
    if (!note->value().is_string()) return make_error(ErrorCode::invalid_request, "note must be a string");
    update.note = std::string(note->value().get_string());
    if (update.note.size() > kMaxNoteBytes) {
      return make_error(ErrorCode::invalid_request, "note is longer than " + std::to_string(kMaxNoteBytes) + " bytes");
    }
  }
  update.time_ms = clock.wall_ms();
  return update;
}

}  // namespace

void register_breach_routes(http::Router& router, const AdminContext& context) {
  auto ctx = std::make_shared<const AdminContext>(context);

  router.add("GET", "/admin/v1/breaches", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               AEGIS_CO_TRY(query, breach_query(request), fail, request);
               AEGIS_CO_TRY(rows, co_await ctx->db.run([&] { return ctx->store.list_breaches(query); }), fail, request);
               json::array data;
               for (const auto& breach : rows) data.push_back(audit::breach_json(breach));
               const auto count = static_cast<std::int64_t>(data.size());
               co_return http::json_response(200, {{"data", std::move(data)}, {"count", count}});
             });

  router.add("GET", "/admin/v1/breaches/{id}", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               AEGIS_CO_TRY_VOID(http::query_params(request, {}), fail, request);
               AEGIS_CO_TRY(id, breach_id(request), fail, request);
               AEGIS_CO_TRY(breach, co_await ctx->db.run([&] { return ctx->store.get_breach(id); }), fail, request);
               AEGIS_CO_TRY(history, co_await ctx->db.run([&] { return ctx->store.breach_history(id); }), fail,
                            request);
               json::object out = audit::breach_json(breach);
               json::array changes;
               for (const auto& change : history) changes.push_back(audit::breach_update_json(change));
               out["history"] = std::move(changes);
               co_return http::json_response(200, std::move(out));
             });

  router.add("PATCH", "/admin/v1/breaches/{id}", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller& caller) -> Awaitable {
               AEGIS_CO_TRY(id, breach_id(request), fail, request);
               AEGIS_CO_TRY(update, breach_update(request, id, ctx->clock), fail, request);
               update.actor = admin_actor(caller);
               AEGIS_CO_TRY(breach, co_await ctx->db.run([&] { return ctx->store.update_breach(update); }), fail,
                            request);
               if (ctx->audit_writer != nullptr) {
                 // On record in the chain before the answer, as a key's rotation is.
                 audit::AuditRecord row = audit::breach_update_row(breach, update, request.request_id);
                 (void)co_await ctx->audit_writer->async_record(std::move(row), boost::asio::use_awaitable);
               }
               co_return http::json_response(200, audit::breach_json(breach));
             });
}

}  // namespace aegis::api
