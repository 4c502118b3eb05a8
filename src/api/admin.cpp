#include "api/admin.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>

#include "api/admin_params.hpp"
#include "config/config.hpp"
#include "core/encoding.hpp"
#include "core/json.hpp"
#include "core/time_format.hpp"
#include "http/json_response.hpp"
#include "identity/admin_json.hpp"
#include "identity/admin_service.hpp"

namespace aegis::api {

namespace json = boost::json;
using http::HttpRequest;
using http::HttpResponse;
using Awaitable = boost::asio::awaitable<HttpResponse>;
using identity::add_rate_limits_json;
using identity::key_json;
using identity::parse_rate_limits_patch;

namespace {

// The team's exact response cache as requests meet it: the admin API's
// setting, else the config's response_cache.teams; null when off.
json::value response_cache_json(const store::Team& team, const AdminContext& context) {
  std::int64_t ttl = 0;
  if (team.response_cache_ttl_s) {
    ttl = *team.response_cache_ttl_s;
  } else if (context.response_cache_teams != nullptr) {
    if (auto it = context.response_cache_teams->find(team.name); it != context.response_cache_teams->end()) {
      ttl = it->second.count();
    }
  }
  if (ttl <= 0) return nullptr;
  return json::object{{"enabled", true}, {"ttl_s", ttl}};
}

json::object team_json(const store::Team& team, const AdminContext& context, const store::RateLimits& limits = {}) {
  json::object out{{"name", team.name},
                   {"monthly_budget_usd", usd_json(team.monthly_budget)},
                   {"clearance", to_string(team.clearance)},
                   {"created_at", format_rfc3339_ms(team.created_at_ms)},
                   {"response_cache", response_cache_json(team, context)}};
  add_rate_limits_json(out, limits);
  return out;
}

// PATCH /admin/v1/teams/{name} `response_cache`: {"enabled": true, "ttl_s":
// N} turns the team's exact response cache on for N seconds an answer
// (1..kMaxResponseCacheTtlS), null or {"enabled": false} turns it off. The
// stored value: the TTL, 0 for off (store::Team::response_cache_ttl_s).
Result<std::int64_t> response_cache_field(const json::value& value) {
  if (value.is_null()) return std::int64_t{0};
  const std::string shape = R"(response_cache must be {"enabled": true, "ttl_s": SECONDS}, {"enabled": false} or null)";
  if (!value.is_object()) return make_error(ErrorCode::invalid_request, shape);
  const auto& object = value.get_object();
  if (auto known = http::reject_unknown_fields(object, {"enabled", "ttl_s"}); !known.ok()) {
    return make_error(ErrorCode::invalid_request, "response_cache: " + known.error().message);
  }
  const auto enabled = object.find("enabled");
  if (enabled == object.end() || !enabled->value().is_bool()) {
    return make_error(ErrorCode::invalid_request, "response_cache.enabled must be true or false");
  }
  const auto ttl = object.find("ttl_s");
  const std::string ttl_range = "response_cache.ttl_s must be a whole number of seconds from 1 to " +
                                std::to_string(config::kMaxResponseCacheTtlS);
  std::int64_t seconds = 0;
  if (ttl != object.end()) {
    const auto& v = ttl->value();
    if (v.is_int64()) {
      seconds = v.get_int64();
    } else if (v.is_uint64()) {
      seconds = v.get_uint64() > static_cast<std::uint64_t>(config::kMaxResponseCacheTtlS)
                    ? config::kMaxResponseCacheTtlS + 1
                    : static_cast<std::int64_t>(v.get_uint64());
    } else {
      return make_error(ErrorCode::invalid_request, ttl_range);
    }
    if (seconds < 1 || seconds > config::kMaxResponseCacheTtlS)
      return make_error(ErrorCode::invalid_request, ttl_range);
  }
  if (!enabled->value().get_bool()) return std::int64_t{0};
  if (ttl == object.end())
    return make_error(ErrorCode::invalid_request, "response_cache.ttl_s is required when enabled");
  return seconds;
}

const store::RateLimits& limits_of(const std::map<std::string, store::RateLimits>& all, const std::string& name) {
  static const store::RateLimits kNone;
  auto it = all.find(name);
  return it == all.end() ? kNone : it->second;
}

// The lifecycle fields of POST and PATCH /admin/v1/keys (issue 19). Each
// field of PATCH /admin/v1/keys/{id} is one entry of kKeyPatchFields with
// its parser into store::KeyPatch: another set of fields (e.g. rate limits)
// is more entries, nothing else. null removes a nullable field's value.
using KeyFieldParser = Result<void> (*)(const json::value&, store::KeyPatch&);

Result<std::vector<std::string>> models_field(const json::value& value) {
  if (!value.is_array()) {
    return make_error(ErrorCode::invalid_request, "models must be an array of model names, or null");
  }
  std::vector<std::string> names;
  for (const auto& item : value.get_array()) {
    if (!item.is_string()) return make_error(ErrorCode::invalid_request, "models must hold strings");
    names.emplace_back(item.get_string());
  }
  return identity::validate_models(std::move(names));
}

Result<std::int64_t> expires_at_field(const json::value& value) {
  if (!value.is_string()) {
    return make_error(ErrorCode::invalid_request, "expires_at must be an RFC 3339 date-time string, or null");
  }
  return identity::parse_expires_at(value.get_string());
}

Result<std::string> description_field(const json::value& value) {
  if (!value.is_string()) return make_error(ErrorCode::invalid_request, "description must be a string");
  std::string text(value.get_string());
  AEGIS_TRY_VOID(identity::validate_description(text));
  return text;
}

Result<Money> budget_field(const json::value& value);

struct KeyPatchField {
  std::string_view name;
  KeyFieldParser parse;
};

constexpr KeyPatchField kKeyPatchFields[] = {
    {"models",
     [](const json::value& v, store::KeyPatch& patch) -> Result<void> {
       if (v.is_null()) {
         patch.models.emplace(std::nullopt);
         return {};
       }
       AEGIS_TRY(models, models_field(v));
       patch.models.emplace(std::move(models));
       return {};
     }},
    {"monthly_budget_usd",
     [](const json::value& v, store::KeyPatch& patch) -> Result<void> {
       if (v.is_null()) {
         patch.monthly_budget.emplace(std::nullopt);
         return {};
       }
       AEGIS_TRY(budget, budget_field(v));
       patch.monthly_budget.emplace(budget);
       return {};
     }},
    {"expires_at",
     [](const json::value& v, store::KeyPatch& patch) -> Result<void> {
       if (v.is_null()) {
         patch.expires_at_ms.emplace(std::nullopt);
         return {};
       }
       AEGIS_TRY(at, expires_at_field(v));
       patch.expires_at_ms.emplace(at);
       return {};
     }},
    {"description",
     [](const json::value& v, store::KeyPatch& patch) -> Result<void> {
       AEGIS_TRY(text, description_field(v));
       patch.description = std::move(text);
       return {};
     }},
};

// The rate-limit fields PATCH /admin/v1/keys/{id} also takes
// (parse_rate_limits_patch reads them).
constexpr std::string_view kKeyRateLimitFields[] = {"rpm", "tpm", "max_concurrency"};

std::string key_patch_field_names() {
  std::string names;
  for (const auto& field : kKeyPatchFields) names += (names.empty() ? "" : ", ") + std::string(field.name);
  for (const auto name : kKeyRateLimitFields) names += ", " + std::string(name);
  return names;
}

// The lifecycle fields of PATCH /admin/v1/keys/{id}: 400 on an unknown field
// or a bad value. May be empty when the body sets only rate limits.
Result<store::KeyPatch> key_patch(const json::object& body) {
  store::KeyPatch patch;
  for (const auto& entry : body) {
    const std::string_view name(entry.key().data(), entry.key().size());
    if (std::ranges::find(kKeyRateLimitFields, name) != std::end(kKeyRateLimitFields)) continue;
    const auto* field = std::ranges::find_if(kKeyPatchFields, [&](const auto& f) { return f.name == name; });
    if (field == std::end(kKeyPatchFields)) {
      return make_error(ErrorCode::invalid_request,
                        "unknown field '" + std::string(entry.key()) + "' (allowed: " + key_patch_field_names() + ")");
    }
    AEGIS_TRY_VOID(field->parse(entry.value(), patch));
  }
  return patch;
}

// POST /admin/v1/keys's lifecycle fields (null there means "not set").
Result<identity::KeyFields> key_fields(const json::object& body) {
  identity::KeyFields fields;
  if (auto it = body.find("models"); it != body.end() && !it->value().is_null()) {
    AEGIS_TRY(models, models_field(it->value()));
    fields.models = std::move(models);
  }
  if (auto it = body.find("monthly_budget_usd"); it != body.end() && !it->value().is_null()) {
    AEGIS_TRY(budget, budget_field(it->value()));
    fields.monthly_budget = budget;
  }
  if (auto it = body.find("expires_at"); it != body.end() && !it->value().is_null()) {
    AEGIS_TRY(at, expires_at_field(it->value()));
    fields.expires_at_ms = at;
  }
  if (auto it = body.find("description"); it != body.end()) {
    AEGIS_TRY(text, description_field(it->value()));
    fields.description = std::move(text);
  }
  return fields;
}

template <class T>
struct WithLimits {
  T value;
  std::map<std::string, store::RateLimits> limits;
};

// Dollars as JSON numbers written exactly from the micro-dollars (usd_json).
json::object spend_json(Money cap, const budget::SpendSnapshot& s) {
  const __int128 left = static_cast<__int128>(cap.micros) - s.spent.micros - s.reserved.micros;
  const Money remaining = left <= 0 ? Money{} : Money::from_micros(static_cast<std::int64_t>(left));
  return {{"period", s.period},
          {"cap_usd", usd_json(cap)},
          {"spent_usd", usd_json(s.spent)},
          {"reserved_usd", usd_json(s.reserved)},
          {"remaining_usd", usd_json(remaining)},
          {"requests", s.requests}};
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

HttpResponse fail(const Error& error, const HttpRequest& request) {
  return http::error_response(error, request.request_id);
}

constexpr int kMaxAuditLimit = 1000;

// GET /admin/v1/audit: team, since/until (a page's anchor), offset, limit,
// classification, status ("ok" for 1xx-3xx, "error" for 4xx-5xx, or one code).
Result<audit::AuditQuery> audit_query(const HttpRequest& request) {
  AEGIS_TRY(params,
            http::query_params(request, {"team", "since", "until", "limit", "offset", "classification", "status"}));
  audit::AuditQuery query;
  if (auto it = params.find("team"); it != params.end() && !it->second.empty()) query.team = it->second;
  AEGIS_TRY(since, time_param(params, "since"));
  AEGIS_TRY(until, time_param(params, "until"));
  AEGIS_TRY(limit, whole_param(params, "limit", 1, kMaxAuditLimit));
  AEGIS_TRY(offset, whole_param(params, "offset", 0, audit::kMaxAuditQueryOffset));
  query.since_ms = since;
  query.until_ms = until;
  if (limit) query.limit = static_cast<int>(*limit);
  if (offset) query.offset = static_cast<int>(*offset);
  if (auto it = params.find("classification"); it != params.end()) {
    if (!parse_level(it->second)) {
      return make_error(ErrorCode::invalid_request,
                        "classification must be PUBLIC, INTERNAL, CONFIDENTIAL or RESTRICTED");
    }
    query.level = it->second;
  }
  if (auto it = params.find("status"); it != params.end()) {
    constexpr int kFirstError = 400;
    if (it->second == "ok") {
      query.status_max = kFirstError - 1;
    } else if (it->second == "error") {
      query.status_min = kFirstError;
    } else {
      auto code = whole_param(params, "status", 100, 599);
      if (!code.ok()) {
        return make_error(ErrorCode::invalid_request, "status must be ok, error or an HTTP status code (100-599)");
      }
      query.status_min = static_cast<int>(**code);
      query.status_max = static_cast<int>(**code);
    }
  }
  return query;
}

double micros_to_ms(std::int64_t micros) { return static_cast<double>(micros) / 1000.0; }

json::object audit_json(const audit::AuditRecord& row) {
  json::object entities;
  for (const auto& [type, count] : row.entities) entities[type] = count;
  json::array path;
  for (const auto& step : row.fallback_path) path.emplace_back(step);
  json::object out;
  out["time"] = format_rfc3339_ms(row.time_ms);
  out["time_ms"] = row.time_ms;
  out["request_id"] = row.request_id;
  out["team"] = row.team;
  out["key_id"] = row.key_id;
  out["surface"] = row.surface;
  out["task"] = row.task;
  out["classification"] = to_string(row.level);
  out["entities"] = std::move(entities);
  out["placeholders"] = row.placeholders;
  out["tier"] = row.tier;
  out["provider"] = row.provider;
  out["model"] = row.model;
  out["locality"] = row.locality;
  out["reason"] = row.reason;
  out["fallback_path"] = std::move(path);
  out["status"] = row.status;
  out["error_type"] = row.error_type;
  out["input_tokens"] = row.input_tokens;
  out["output_tokens"] = row.output_tokens;
  out["cache_read_tokens"] = row.cache_read_tokens;
  out["cache_write_tokens"] = row.cache_write_tokens;
  // Exact from the micro-dollars, never in exponent form (core/json.hpp): 123 micro-dollars read 0.000123.
  out["cost_usd"] = usd_json(row.cost);
  out["budget_period"] = row.budget_period;
  out["latency_ms"] = micros_to_ms(row.latency_us);
  out["overhead_ms"] = micros_to_ms(row.overhead_us);
  out["invented_pii"] = row.invented_pii;
  out["egress_blocked"] = row.egress_blocked;
  out["egress_veto"] = row.egress_veto;
  out["egress_rule"] = row.egress_rule;
  out["cache_hit"] = row.cache_hit;
  return out;
}

}  // namespace

void register_admin_routes(http::Router& router, const AdminContext& context) {
  auto ctx = std::make_shared<const AdminContext>(context);

  router.add("POST", "/admin/v1/teams", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               AEGIS_CO_TRY(body, http::parse_json_object(request), fail, request);
               AEGIS_CO_TRY_VOID(http::reject_unknown_fields(body, {"name", "monthly_budget_usd", "clearance"}), fail,
                                 request);
               AEGIS_CO_TRY(name, string_field(body, "name", true), fail, request);
               auto budget_it = body.find("monthly_budget_usd");
               if (budget_it == body.end()) {
                 co_return fail(make_error(ErrorCode::invalid_request, "monthly_budget_usd is required"), request);
               }
               AEGIS_CO_TRY(budget, budget_field(budget_it->value()), fail, request);
               identity::TeamInput input{name, budget, Level::INTERNAL};
               AEGIS_CO_TRY(clearance, string_field(body, "clearance", false), fail, request);
               if (!clearance.empty()) {
                 AEGIS_CO_TRY(level, identity::parse_clearance(clearance), fail, request);
                 input.clearance = level;
               }
               AEGIS_CO_TRY(team,
                            co_await ctx->db.run([&] { return identity::create_team(ctx->store, ctx->clock, input); }),
                            fail, request);
               co_return http::json_response(201, team_json(team, *ctx));
             });

  router.add("GET", "/admin/v1/teams", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               auto load = [&]() -> Result<WithLimits<std::vector<store::Team>>> {
                 AEGIS_TRY(teams, identity::list_teams(ctx->store));
                 AEGIS_TRY(limits, ctx->store.list_rate_limits(store::LimitScope::team));
                 return WithLimits<std::vector<store::Team>>{std::move(teams), std::move(limits)};
               };
               AEGIS_CO_TRY(found, co_await ctx->db.run(load), fail, request);
               json::array out;
               for (const auto& team : found.value) {
                 out.push_back(team_json(team, *ctx, limits_of(found.limits, team.name)));
               }
               co_return http::json_response(200, {{"teams", std::move(out)}});
             });

  router.add("GET", "/admin/v1/teams/{name}", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               std::string name(*request.path_param("name"));
               auto load = [&]() -> Result<std::pair<store::Team, store::RateLimits>> {
                 AEGIS_TRY(team, identity::get_team(ctx->store, name));
                 AEGIS_TRY(limits, ctx->store.get_rate_limits(store::LimitScope::team, name));
                 return std::pair{std::move(team), limits};
               };
               AEGIS_CO_TRY(found, co_await ctx->db.run(load), fail, request);
               co_return http::json_response(200, team_json(found.first, *ctx, found.second));
             });

  router.add("PATCH", "/admin/v1/teams/{name}", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               AEGIS_CO_TRY(body, http::parse_json_object(request), fail, request);
               AEGIS_CO_TRY_VOID(http::reject_unknown_fields(body, {"monthly_budget_usd", "clearance", "response_cache",
                                                                    "rpm", "tpm", "max_concurrency"}),
                                 fail, request);
               AEGIS_CO_TRY(limits_patch, parse_rate_limits_patch(body), fail, request);
               store::TeamPatch patch;
               if (auto it = body.find("monthly_budget_usd"); it != body.end()) {
                 AEGIS_CO_TRY(budget, budget_field(it->value()), fail, request);
                 patch.monthly_budget = budget;
               }
               if (body.contains("clearance")) {
                 AEGIS_CO_TRY(clearance, string_field(body, "clearance", true), fail, request);
                 AEGIS_CO_TRY(level, identity::parse_clearance(clearance), fail, request);
                 patch.clearance = level;
               }
               if (auto it = body.find("response_cache"); it != body.end()) {
                 AEGIS_CO_TRY(ttl, response_cache_field(it->value()), fail, request);
                 patch.response_cache_ttl_s = ttl;
               }
               if (!patch.monthly_budget && !patch.clearance && !patch.response_cache_ttl_s && limits_patch.empty()) {
                 co_return fail(make_error(ErrorCode::invalid_request,
                                           "nothing to change: send monthly_budget_usd, clearance, response_cache, "
                                           "rpm, tpm and/or max_concurrency"),
                                request);
               }
               std::string name(*request.path_param("name"));
               auto update = [&]() -> Result<std::pair<store::Team, store::RateLimits>> {
                 AEGIS_TRY(team, identity::update_team(ctx->store, name, patch));
                 AEGIS_TRY(limits, ctx->store.update_rate_limits(store::LimitScope::team, name, limits_patch));
                 return std::pair{std::move(team), limits};
               };
               AEGIS_CO_TRY(updated, co_await ctx->db.run(update), fail, request);
               // Cached principals carry the clearance, the response cache and the
               // limits; drop them so the change applies now.
               if (patch.clearance || patch.response_cache_ttl_s || !limits_patch.empty()) {
                 ctx->authenticator.invalidate_all();
               }
               co_return http::json_response(200, team_json(updated.first, *ctx, updated.second));
             });

  // The cap comes from the store (what the next request will be checked
  // against), the totals from the ledger's current period.
  router.add("GET", "/admin/v1/teams/{name}/spend", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               std::string name(*request.path_param("name"));
               AEGIS_CO_TRY(team, co_await ctx->db.run([&] { return identity::get_team(ctx->store, name); }), fail,
                            request);
               if (ctx->ledger == nullptr) {
                 co_return fail(make_error(ErrorCode::unavailable, "budget ledger is not enabled"), request);
               }
               // A ledger shared by replicas reads the database: off the I/O thread.
               auto read_spend = [&] { return ctx->ledger->spend(name); };
               const budget::SpendSnapshot spend = co_await ctx->db.run(read_spend);
               co_return http::json_response(200, spend_json(team.monthly_budget, spend));
             });

  router.add(
      "POST", "/admin/v1/keys", http::Credential::admin_key,
      [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
        AEGIS_CO_TRY(body, http::parse_json_object(request), fail, request);
        AEGIS_CO_TRY_VOID(http::reject_unknown_fields(
                              body, {"team", "clearance", "models", "monthly_budget_usd", "expires_at", "description"}),
                          fail, request);
        AEGIS_CO_TRY(team, string_field(body, "team", true), fail, request);
        AEGIS_CO_TRY(clearance_text, string_field(body, "clearance", false), fail, request);
        std::optional<Level> clearance;
        if (!clearance_text.empty()) {
          AEGIS_CO_TRY(level, identity::parse_clearance(clearance_text), fail, request);
          clearance = level;
        }
        AEGIS_CO_TRY(fields, key_fields(body), fail, request);
        auto create = [&] { return identity::create_key(ctx->store, ctx->store, ctx->clock, team, clearance, fields); };
        AEGIS_CO_TRY(created, co_await ctx->db.run(create), fail, request);
        json::object out = key_json(identity::key_info(created.record), ctx->clock.wall_ms());
        out["key"] = created.key.key;
        co_return http::json_response(201, out);
      });

  router.add("GET", "/admin/v1/keys", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               std::optional<std::string> team = request.query_param("team");
               if (team && team->empty()) team.reset();
               // This replica's noted last uses first (one batched write), so
               // the listing shows them at once; other replicas' arrive with
               // their next flush (identity/authenticator.hpp).
               auto load = [&]() -> Result<WithLimits<std::vector<identity::KeyInfo>>> {
                 (void)ctx->authenticator.flush_uses();
                 AEGIS_TRY(keys, identity::list_keys(ctx->store, team));
                 AEGIS_TRY(limits, ctx->store.list_rate_limits(store::LimitScope::key));
                 return WithLimits<std::vector<identity::KeyInfo>>{std::move(keys), std::move(limits)};
               };
               AEGIS_CO_TRY(found, co_await ctx->db.run(load), fail, request);
               const std::int64_t now = ctx->clock.wall_ms();
               json::array out;
               for (const auto& key : found.value) out.push_back(key_json(key, now, limits_of(found.limits, key.id)));
               co_return http::json_response(200, {{"keys", std::move(out)}});
             });

  router.add("GET", "/admin/v1/audit", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               AEGIS_CO_TRY(query, audit_query(request), fail, request);
               AEGIS_CO_TRY(rows, co_await ctx->db.run([&] {
                 flush_audit_queue(ctx->audit_writer);
                 return ctx->store.query_audit(query);
               }),
                            fail, request);
               json::array data;
               data.reserve(rows.size());
               for (const auto& row : rows) data.push_back(audit_json(row));
               const auto count = static_cast<std::int64_t>(data.size());
               co_return http::json_response(200, {{"data", std::move(data)}, {"count", count}});
             });

  router.add("GET", "/admin/v1/audit/pipeda_violations", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               AEGIS_CO_TRY_VOID(http::query_params(request, {}), fail, request);
               AEGIS_CO_TRY(count, co_await ctx->db.run([&] {
                 flush_audit_queue(ctx->audit_writer);
                 return ctx->store.count_pipeda_violations();
               }),
                            fail, request);
               co_return http::json_response(200, {{"count", count}});
             });

  // What verifies the checkpoints (audit/chain.hpp): to be kept outside the
  // database, e.g. with `aegis audit verify --public-key`.
  router.add("GET", "/admin/v1/audit/public-key", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               AEGIS_CO_TRY_VOID(http::query_params(request, {}), fail, request);
               if (ctx->audit_key == nullptr) {
                 co_return fail(make_error(ErrorCode::unavailable, "audit checkpoints are not signed here"), request);
               }
               co_return http::json_response(
                   200, {{"key_id", ctx->audit_key->key_id()},
                         {"algorithm", "Ed25519"},
                         {"public_key_pem", ctx->audit_key->public_key_pem()},
                         {"public_key", base64_encode(std::string_view(ctx->audit_key->public_key_raw()))}});
             });

  // The route table with each route's credential, so that operators (and the
  // access-matrix test) see exactly what the gateway exposes.
  router.add("GET", "/admin/v1/routes", http::Credential::admin_key,
             [&router](HttpRequest& request, const http::Caller&) -> Awaitable {
               AEGIS_CO_TRY_VOID(http::query_params(request, {}), fail, request);
               json::array data;
               for (const auto& route : router.routes()) {
                 data.push_back(json::object{{"method", route.method},
                                             {"path", route.pattern},
                                             {"credential", std::string(http::to_string(route.credential))}});
               }
               co_return http::json_response(200, {{"data", std::move(data)}});
             });

  router.add("DELETE", "/admin/v1/keys/{id}", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               std::string id(*request.path_param("id"));
               AEGIS_CO_TRY_VOID(co_await ctx->db.run([&] { return identity::revoke_key(ctx->store, ctx->clock, id); }),
                                 fail, request);
               ctx->authenticator.invalidate(id);
               co_return http::json_response(200, {{"id", id}, {"revoked", true}});
             });

  // One body sets a key's lifecycle fields (kKeyPatchFields) and its own
  // rate limits (rpm, tpm, max_concurrency), or any of them.
  router.add(
      "PATCH", "/admin/v1/keys/{id}", http::Credential::admin_key,
      [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
        AEGIS_CO_TRY(body, http::parse_json_object(request), fail, request);
        AEGIS_CO_TRY(limits_patch, parse_rate_limits_patch(body), fail, request);
        AEGIS_CO_TRY(patch, key_patch(body), fail, request);
        if (patch.empty() && limits_patch.empty()) {
          co_return fail(
              make_error(ErrorCode::invalid_request, "nothing to change: send one of " + key_patch_field_names()),
              request);
        }
        std::string id(*request.path_param("id"));
        auto update = [&]() -> Result<std::pair<store::ApiKeyRecord, store::RateLimits>> {
          AEGIS_TRY(key,
                    patch.empty() ? ctx->store.get_key(id) : identity::update_key(ctx->store, ctx->store, id, patch));
          AEGIS_TRY(limits, limits_patch.empty()
                                ? ctx->store.get_rate_limits(store::LimitScope::key, id)
                                : ctx->store.update_rate_limits(store::LimitScope::key, id, limits_patch));
          return std::pair{std::move(key), limits};
        };
        AEGIS_CO_TRY(updated, co_await ctx->db.run(update), fail, request);
        // Cached principals carry the key's models, budget and limits;
        // a store shared by replicas tells the others (watch_changes).
        ctx->authenticator.invalidate(id);
        const std::int64_t now = ctx->clock.wall_ms();
        if (ctx->audit_writer != nullptr) {
          ctx->audit_writer->record(identity::key_action_row(updated.first, request.request_id, "key_update",
                                                             identity::key_change_fields(patch, limits_patch), now));
        }
        co_return http::json_response(200, key_json(identity::key_info(updated.first), now, updated.second));
      });

  // A new secret for the same key id; the old one stays valid for grace_s
  // (default 24 h, 0: revoked at once). Audited (surface admin.keys).
  router.add("POST", "/admin/v1/keys/{id}/rotate", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               std::int64_t grace_s = identity::kDefaultRotationGraceS;
               if (!request.body.empty()) {
                 AEGIS_CO_TRY(body, http::parse_json_object(request), fail, request);
                 AEGIS_CO_TRY_VOID(http::reject_unknown_fields(body, {"grace_s"}), fail, request);
                 if (auto it = body.find("grace_s"); it != body.end()) {
                   const auto& v = it->value();
                   if (v.is_int64()) {
                     grace_s = v.get_int64();
                   } else if (v.is_uint64()) {
                     grace_s = identity::kMaxRotationGraceS + 1;  // out of range either way
                   } else {
                     co_return fail(make_error(ErrorCode::invalid_request, "grace_s must be a whole number of seconds"),
                                    request);
                   }
                 }
               }
               std::string id(*request.path_param("id"));
               auto rotate = [&] { return identity::rotate_key(ctx->store, ctx->clock, id, grace_s); };
               AEGIS_CO_TRY(rotated, co_await ctx->db.run(rotate), fail, request);
               ctx->authenticator.invalidate(id);
               if (ctx->audit_writer != nullptr) {
                 // On record before the new key is shown.
                 audit::AuditRecord row =
                     identity::key_action_row(rotated.record, request.request_id, "key_rotate",
                                              "grace_s=" + std::to_string(grace_s), ctx->clock.wall_ms());
                 (void)co_await ctx->audit_writer->async_record(std::move(row), boost::asio::use_awaitable);
               }
               co_return http::json_response(200, identity::rotated_key_json(id, rotated));
             });
}

}  // namespace aegis::api
