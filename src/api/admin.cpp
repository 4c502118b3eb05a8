#include "api/admin.hpp"

#include <memory>

#include "core/time_format.hpp"
#include "http/json_response.hpp"
#include "identity/admin_service.hpp"

namespace aegis::api {

namespace json = boost::json;
using http::HttpRequest;
using http::HttpResponse;
using Awaitable = boost::asio::awaitable<HttpResponse>;

namespace {

json::object team_json(const store::Team& team) {
  return {{"name", team.name},
          {"monthly_budget_usd", team.monthly_budget.to_usd_double()},
          {"clearance", to_string(team.clearance)},
          {"created_at", format_rfc3339_ms(team.created_at_ms)}};
}

json::object key_json(const identity::KeyInfo& key) {
  json::object out{{"id", key.id},
                   {"team", key.team},
                   {"prefix", key.prefix},
                   {"created_at", format_rfc3339_ms(key.created_at_ms)},
                   {"revoked", key.revoked_at_ms.has_value()}};
  out["revoked_at"] = key.revoked_at_ms ? json::value(format_rfc3339_ms(*key.revoked_at_ms)) : json::value(nullptr);
  return out;
}

Result<Money> budget_field(const json::value& value) {
  if (value.is_int64()) return identity::parse_monthly_budget(static_cast<double>(value.get_int64()));
  if (value.is_uint64()) return identity::parse_monthly_budget(static_cast<double>(value.get_uint64()));
  if (value.is_double()) return identity::parse_monthly_budget(value.get_double());
  return make_error(ErrorCode::invalid_request, "monthly_budget_usd must be a number of dollars");
}

Result<std::string> string_field(const json::object& body, std::string_view name, bool required) {
  auto it = body.find(name);
  if (it == body.end()) {
    if (required) return make_error(ErrorCode::invalid_request, std::string(name) + " is required");
    return std::string();
  }
  if (!it->value().is_string()) return make_error(ErrorCode::invalid_request, std::string(name) + " must be a string");
  return std::string(it->value().get_string());
}

HttpResponse fail(const Error& error, const HttpRequest& request) { return http::error_response(error, request.request_id); }

}  // namespace

Result<void> authorize_admin(const HttpRequest& request, const std::string& admin_key) {
  if (admin_key.empty()) {
    return make_error(ErrorCode::forbidden, "the admin API is disabled: set AEGIS_ADMIN_KEY to enable it");
  }
  auto auth = request.header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (!auth || auth->size() <= kBearer.size() || !http::iequals(auth->substr(0, kBearer.size()), kBearer)) {
    return make_error(ErrorCode::unauthorized, "missing admin key: send Authorization: Bearer <AEGIS_ADMIN_KEY>");
  }
  if (!identity::constant_time_equal(auth->substr(kBearer.size()), admin_key)) {
    return make_error(ErrorCode::unauthorized, "invalid admin key");
  }
  return {};
}

void register_admin_routes(http::Router& router, AdminContext context) {
  auto ctx = std::make_shared<const AdminContext>(std::move(context));

  // Wraps a handler with the admin check so no route can forget it.
  auto admin = [ctx](auto handler) {
    return [ctx, handler](HttpRequest& request) -> Awaitable {
      if (auto auth = authorize_admin(request, ctx->admin_key); !auth.ok()) co_return fail(auth.error(), request);
      co_return co_await handler(request);
    };
  };

  router.add("POST", "/admin/v1/teams", admin([ctx](HttpRequest& request) -> Awaitable {
               auto body = http::parse_json_object(request);
               if (!body.ok()) co_return fail(body.error(), request);
               if (auto r = http::reject_unknown_fields(*body, {"name", "monthly_budget_usd", "clearance"}); !r.ok()) {
                 co_return fail(r.error(), request);
               }
               auto name = string_field(*body, "name", true);
               if (!name.ok()) co_return fail(name.error(), request);
               auto budget_it = body->find("monthly_budget_usd");
               if (budget_it == body->end()) {
                 co_return fail(make_error(ErrorCode::invalid_request, "monthly_budget_usd is required"), request);
               }
               auto budget = budget_field(budget_it->value());
               if (!budget.ok()) co_return fail(budget.error(), request);
               identity::TeamInput input{*name, *budget, Level::INTERNAL};
               auto clearance = string_field(*body, "clearance", false);
               if (!clearance.ok()) co_return fail(clearance.error(), request);
               if (!clearance->empty()) {
                 auto level = identity::parse_clearance(*clearance);
                 if (!level.ok()) co_return fail(level.error(), request);
                 input.clearance = *level;
               }
               auto team = co_await ctx->db.run([&] { return identity::create_team(ctx->store, ctx->clock, input); });
               if (!team.ok()) co_return fail(team.error(), request);
               co_return http::json_response(201, team_json(*team));
             }));

  router.add("GET", "/admin/v1/teams", admin([ctx](HttpRequest& request) -> Awaitable {
               auto teams = co_await ctx->db.run([&] { return identity::list_teams(ctx->store); });
               if (!teams.ok()) co_return fail(teams.error(), request);
               json::array out;
               for (const auto& team : *teams) out.push_back(team_json(team));
               co_return http::json_response(200, {{"teams", std::move(out)}});
             }));

  router.add("GET", "/admin/v1/teams/{name}", admin([ctx](HttpRequest& request) -> Awaitable {
               std::string name(*request.path_param("name"));
               auto team = co_await ctx->db.run([&] { return identity::get_team(ctx->store, name); });
               if (!team.ok()) co_return fail(team.error(), request);
               co_return http::json_response(200, team_json(*team));
             }));

  router.add("PATCH", "/admin/v1/teams/{name}", admin([ctx](HttpRequest& request) -> Awaitable {
               auto body = http::parse_json_object(request);
               if (!body.ok()) co_return fail(body.error(), request);
               if (auto r = http::reject_unknown_fields(*body, {"monthly_budget_usd", "clearance"}); !r.ok()) {
                 co_return fail(r.error(), request);
               }
               store::TeamPatch patch;
               if (auto it = body->find("monthly_budget_usd"); it != body->end()) {
                 auto budget = budget_field(it->value());
                 if (!budget.ok()) co_return fail(budget.error(), request);
                 patch.monthly_budget = *budget;
               }
               if (body->contains("clearance")) {
                 auto clearance = string_field(*body, "clearance", true);
                 if (!clearance.ok()) co_return fail(clearance.error(), request);
                 auto level = identity::parse_clearance(*clearance);
                 if (!level.ok()) co_return fail(level.error(), request);
                 patch.clearance = *level;
               }
               if (!patch.monthly_budget && !patch.clearance) {
                 co_return fail(make_error(ErrorCode::invalid_request,
                                           "nothing to change: send monthly_budget_usd and/or clearance"),
                                request);
               }
               std::string name(*request.path_param("name"));
               auto team = co_await ctx->db.run([&] { return identity::update_team(ctx->store, name, patch); });
               if (!team.ok()) co_return fail(team.error(), request);
               // Cached principals carry the clearance; drop them so the change applies now.
               if (patch.clearance) ctx->authenticator.invalidate_all();
               co_return http::json_response(200, team_json(*team));
             }));

  router.add("POST", "/admin/v1/keys", admin([ctx](HttpRequest& request) -> Awaitable {
               auto body = http::parse_json_object(request);
               if (!body.ok()) co_return fail(body.error(), request);
               if (auto r = http::reject_unknown_fields(*body, {"team"}); !r.ok()) co_return fail(r.error(), request);
               auto team = string_field(*body, "team", true);
               if (!team.ok()) co_return fail(team.error(), request);
               auto created = co_await ctx->db.run([&] { return identity::create_key(ctx->store, ctx->clock, *team); });
               if (!created.ok()) co_return fail(created.error(), request);
               json::object out = key_json(identity::key_info(created->record));
               out["key"] = created->key.key;
               co_return http::json_response(201, out);
             }));

  router.add("GET", "/admin/v1/keys", admin([ctx](HttpRequest& request) -> Awaitable {
               std::optional<std::string> team = request.query_param("team");
               if (team && team->empty()) team.reset();
               auto keys = co_await ctx->db.run([&] { return identity::list_keys(ctx->store, team); });
               if (!keys.ok()) co_return fail(keys.error(), request);
               json::array out;
               for (const auto& key : *keys) out.push_back(key_json(key));
               co_return http::json_response(200, {{"keys", std::move(out)}});
             }));

  router.add("DELETE", "/admin/v1/keys/{id}", admin([ctx](HttpRequest& request) -> Awaitable {
               std::string id(*request.path_param("id"));
               auto revoked = co_await ctx->db.run([&] { return identity::revoke_key(ctx->store, ctx->clock, id); });
               if (!revoked.ok()) co_return fail(revoked.error(), request);
               ctx->authenticator.invalidate(id);
               co_return http::json_response(200, {{"id", id}, {"revoked", true}});
             }));
}

}  // namespace aegis::api
