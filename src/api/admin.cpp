#include "api/admin.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>
#include <memory>

#include "config/config.hpp"
#include "core/encoding.hpp"
#include "core/json.hpp"
#include "core/time_format.hpp"
#include "http/json_response.hpp"
#include "identity/admin_service.hpp"

namespace aegis::api {

namespace json = boost::json;
using http::HttpRequest;
using http::HttpResponse;
using Awaitable = boost::asio::awaitable<HttpResponse>;

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

json::object team_json(const store::Team& team, const AdminContext& context) {
  return {{"name", team.name},
          {"monthly_budget_usd", usd_json(team.monthly_budget)},
          {"clearance", to_string(team.clearance)},
          {"created_at", format_rfc3339_ms(team.created_at_ms)},
          {"response_cache", response_cache_json(team, context)}};
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

json::object key_json(const identity::KeyInfo& key) {
  json::object out{{"id", key.id},
                   {"team", key.team},
                   {"prefix", key.prefix},
                   {"created_at", format_rfc3339_ms(key.created_at_ms)},
                   {"revoked", key.revoked_at_ms.has_value()}};
  out["revoked_at"] = key.revoked_at_ms ? json::value(format_rfc3339_ms(*key.revoked_at_ms)) : json::value(nullptr);
  out["clearance"] = key.clearance ? json::value(to_string(*key.clearance)) : json::value(nullptr);
  return out;
}

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

// Unix epoch milliseconds written as plain digits.
std::optional<std::int64_t> parse_epoch_ms(std::string_view text) {
  if (text.empty() || text.size() > 15) return std::nullopt;  // 15 digits reach the year 33658
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text[0] == '-') return std::nullopt;
  return value;
}

constexpr int kMaxAuditLimit = 1000;

Result<audit::AuditQuery> audit_query(const HttpRequest& request) {
  AEGIS_TRY(params, http::query_params(request, {"team", "since", "limit"}));
  audit::AuditQuery query;
  if (auto it = params.find("team"); it != params.end() && !it->second.empty()) query.team = it->second;
  if (auto it = params.find("since"); it != params.end()) {
    auto since = parse_epoch_ms(it->second);
    if (!since) since = parse_rfc3339_ms(it->second);
    if (!since) {
      return make_error(ErrorCode::invalid_request,
                        "since must be an RFC 3339 timestamp (e.g. 2026-11-27T10:00:00Z) or Unix epoch milliseconds");
    }
    query.since_ms = *since;
  }
  if (auto it = params.find("limit"); it != params.end()) {
    const std::string& text = it->second;
    int limit = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || limit < 1 || limit > kMaxAuditLimit) {
      return make_error(ErrorCode::invalid_request,
                        "limit must be a whole number from 1 to " + std::to_string(kMaxAuditLimit));
    }
    query.limit = limit;
  }
  return query;
}

double micros_to_ms(std::int64_t micros) { return static_cast<double>(micros) / 1000.0; }

// On the database thread, never an I/O thread: flush() blocks until the
// writer thread has written what was queued. Bounded, so a failing store
// answers with what it has (the query then reports its own error).
void flush_audit_queue(const AdminContext& context) {
  constexpr std::chrono::milliseconds kAuditFlushTimeout{1'000};
  if (context.audit_writer != nullptr) context.audit_writer->flush(kAuditFlushTimeout);
}

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
               AEGIS_CO_TRY(teams, co_await ctx->db.run([&] { return identity::list_teams(ctx->store); }), fail,
                            request);
               json::array out;
               for (const auto& team : teams) out.push_back(team_json(team, *ctx));
               co_return http::json_response(200, {{"teams", std::move(out)}});
             });

  router.add("GET", "/admin/v1/teams/{name}", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               std::string name(*request.path_param("name"));
               AEGIS_CO_TRY(team, co_await ctx->db.run([&] { return identity::get_team(ctx->store, name); }), fail,
                            request);
               co_return http::json_response(200, team_json(team, *ctx));
             });

  router.add(
      "PATCH", "/admin/v1/teams/{name}", http::Credential::admin_key,
      [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
        AEGIS_CO_TRY(body, http::parse_json_object(request), fail, request);
        AEGIS_CO_TRY_VOID(http::reject_unknown_fields(body, {"monthly_budget_usd", "clearance", "response_cache"}),
                          fail, request);
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
        if (!patch.monthly_budget && !patch.clearance && !patch.response_cache_ttl_s) {
          co_return fail(make_error(ErrorCode::invalid_request,
                                    "nothing to change: send monthly_budget_usd, clearance and/or response_cache"),
                         request);
        }
        std::string name(*request.path_param("name"));
        AEGIS_CO_TRY(team, co_await ctx->db.run([&] { return identity::update_team(ctx->store, name, patch); }), fail,
                     request);
        // Cached principals carry the clearance and the response cache; drop them so the change applies now.
        if (patch.clearance || patch.response_cache_ttl_s) ctx->authenticator.invalidate_all();
        co_return http::json_response(200, team_json(team, *ctx));
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

  router.add("POST", "/admin/v1/keys", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               AEGIS_CO_TRY(body, http::parse_json_object(request), fail, request);
               AEGIS_CO_TRY_VOID(http::reject_unknown_fields(body, {"team", "clearance"}), fail, request);
               AEGIS_CO_TRY(team, string_field(body, "team", true), fail, request);
               AEGIS_CO_TRY(clearance_text, string_field(body, "clearance", false), fail, request);
               std::optional<Level> clearance;
               if (!clearance_text.empty()) {
                 AEGIS_CO_TRY(level, identity::parse_clearance(clearance_text), fail, request);
                 clearance = level;
               }
               auto create = [&] { return identity::create_key(ctx->store, ctx->store, ctx->clock, team, clearance); };
               AEGIS_CO_TRY(created, co_await ctx->db.run(create), fail, request);
               json::object out = key_json(identity::key_info(created.record));
               out["key"] = created.key.key;
               co_return http::json_response(201, out);
             });

  router.add("GET", "/admin/v1/keys", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               std::optional<std::string> team = request.query_param("team");
               if (team && team->empty()) team.reset();
               AEGIS_CO_TRY(keys, co_await ctx->db.run([&] { return identity::list_keys(ctx->store, team); }), fail,
                            request);
               json::array out;
               for (const auto& key : keys) out.push_back(key_json(key));
               co_return http::json_response(200, {{"keys", std::move(out)}});
             });

  router.add("GET", "/admin/v1/audit", http::Credential::admin_key,
             [ctx](HttpRequest& request, const http::Caller&) -> Awaitable {
               AEGIS_CO_TRY(query, audit_query(request), fail, request);
               AEGIS_CO_TRY(rows, co_await ctx->db.run([&] {
                 flush_audit_queue(*ctx);
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
                 flush_audit_queue(*ctx);
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
}

}  // namespace aegis::api
