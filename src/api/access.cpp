#include "api/access.hpp"

#include <memory>

#include "identity/api_key.hpp"
#include "identity/jwt.hpp"
#include "telemetry/log.hpp"

namespace aegis::api {

namespace {

constexpr std::string_view kBearer = "Bearer ";

std::optional<std::string_view> bearer(const http::HttpRequest& request) {
  auto auth = request.header("authorization");
  if (!auth || auth->size() <= kBearer.size() || !http::iequals(auth->substr(0, kBearer.size()), kBearer)) {
    return std::nullopt;
  }
  return auth->substr(kBearer.size());
}

// 403 when the admin API is closed, 401 on a missing or wrong key (compared in constant time).
Result<void> authorize_admin(const http::HttpRequest& request, const std::string& admin_key) {
  if (admin_key.empty()) {
    return make_error(ErrorCode::forbidden, "the admin API is disabled: set AEGIS_ADMIN_KEY to enable it");
  }
  auto presented = bearer(request);
  if (!presented) {
    return make_error(ErrorCode::unauthorized, "missing admin key: send Authorization: Bearer <AEGIS_ADMIN_KEY>");
  }
  if (!identity::constant_time_equal(*presented, admin_key)) {
    return make_error(ErrorCode::unauthorized, "invalid admin key");
  }
  return {};
}

bool safe_method(std::string_view method) { return method == "GET" || method == "HEAD" || method == "OPTIONS"; }

// A console session's cookie, when the request carries one and no Authorization header.
std::optional<std::string_view> session_cookie(const http::HttpRequest& request) {
  if (request.header("authorization")) return std::nullopt;
  auto cookies = request.header("cookie");
  if (!cookies) return std::nullopt;
  return identity::cookie_value(*cookies, identity::ConsoleSessions::kCookieName);
}

// A cookie rides along with whatever the browser sends, so a session opens a
// route only for the console's own same-origin requests, and a write only
// with the session's CSRF token as well.
Result<identity::ConsoleSession> authorize_session(const http::HttpRequest& request,
                                                   const identity::ConsoleSessions& sessions, std::string_view cookie) {
  AEGIS_TRY(session, sessions.verify(cookie));
  if (auto site = request.header("sec-fetch-site"); site && *site != "same-origin" && *site != "none") {
    return make_error(ErrorCode::forbidden, "cross-site requests cannot use a console session");
  }
  if (!safe_method(request.method) && !sessions.csrf_matches(session, request.header("x-csrf-token").value_or(""))) {
    return make_error(ErrorCode::forbidden, "missing or invalid x-csrf-token: the console sends it on every write");
  }
  return session;
}

Result<void> authorize_metrics(const http::HttpRequest& request, const std::string& token) {
  if (token.empty()) return {};
  auto presented = bearer(request);
  if (!presented || !identity::constant_time_equal(*presented, token)) {
    return make_error(ErrorCode::unauthorized, "metrics need Authorization: Bearer <server.metrics_token>");
  }
  return {};
}

}  // namespace

std::optional<std::string_view> presented_key(const http::HttpRequest& request) {
  if (request.header("authorization")) return bearer(request);
  return request.header("x-api-key");
}

const identity::Principal* principal_of(const http::Caller& caller) noexcept {
  return caller.get_if<identity::Principal>();
}

std::string admin_actor(const http::Caller& caller) {
  if (const auto* token = caller.get_if<AdminTokenCaller>()) return token->key_id;
  if (const auto* session = caller.get_if<identity::ConsoleSession>();
      session != nullptr && session->method == "oidc") {
    return session->subject;  // the sign-in's pseudonymous id (console/oidc_code_flow.cpp)
  }
  return "admin_key";
}

namespace {

// The policy and what the authorizer counts with it.
struct Access {
  AccessPolicy policy;
  // aegis_auth_jwt_total{result}: "ok", "denied" (a valid token refused a
  // team or the admin role) or a TokenFailure reason; a fixed set of values.
  telemetry::CounterFamily* jwt_total = nullptr;

  void count(std::string_view result) const {
    if (jwt_total != nullptr) jwt_total->with({result}).inc();
  }
};

boost::asio::awaitable<Result<http::Caller>> authorize(const Access& access, http::Credential credential,
                                                       http::HttpRequest& request);

// A token's refusal as the client sees it: every bad token reads alike (no
// reason, kid, issuer, host or algorithm); the reason goes to the log, the
// token never. A valid token refused a team or the admin role keeps its
// answer (400/403), which names only the team header.
Error token_refusal(const Access& access, Error error, const http::HttpRequest& request) {
  if (error.code != ErrorCode::unauthorized) {
    if (error.code == ErrorCode::forbidden || error.code == ErrorCode::invalid_request) access.count("denied");
    return error;
  }
  const auto reason = identity::token_failure_reason(error);
  access.count(reason);
  telemetry::log(telemetry::LogLevel::info, "jwt_rejected",
                 {{"request_id", request.request_id}, {"reason", reason}, {"detail", error.message}});
  return make_error(ErrorCode::unauthorized, "invalid token");
}

}  // namespace

http::Authorizer make_authorizer(AccessPolicy policy) {
  auto shared = std::make_shared<Access>();
  shared->policy = std::move(policy);
  if (shared->policy.metrics != nullptr && shared->policy.oidc != nullptr) {
    shared->jwt_total = &shared->policy.metrics->counter(
        "aegis_auth_jwt_total",
        "JWT (OIDC) credentials presented, by result: ok, denied (valid, but no such team or role), or why it "
        "was refused",
        {"result"});
  }
  return [shared](http::Credential credential,
                  http::HttpRequest& request) -> boost::asio::awaitable<Result<http::Caller>> {
    auto* throttle = shared->policy.throttle;
    const bool throttled =
        throttle != nullptr && (credential == http::Credential::api_key || credential == http::Credential::admin_key);
    if (throttled) AEGIS_CO_TRY_VOID(throttle->check(request.remote_address));
    auto outcome = co_await authorize(*shared, credential, request);
    if (throttled && !outcome.ok() && outcome.error().code == ErrorCode::unauthorized) {
      throttle->failed(request.remote_address);
    }
    co_return outcome;
  };
}

namespace {

// An admin_key route's bearer that is a JWT (and not the admin key itself).
bool admin_token(const AccessPolicy& policy, const http::HttpRequest& request) {
  const auto presented = bearer(request);
  return policy.oidc != nullptr && presented && identity::looks_like_jwt(*presented) &&
         (policy.admin_key.empty() || !identity::constant_time_equal(*presented, policy.admin_key));
}

boost::asio::awaitable<Result<http::Caller>> authorize(const Access& access, http::Credential credential,
                                                       http::HttpRequest& request) {
  const AccessPolicy& policy = access.policy;
  switch (credential) {
    case http::Credential::none: co_return http::Caller{};
    case http::Credential::admin_key: {
      if (auto cookie = session_cookie(request); cookie && policy.sessions != nullptr) {
        AEGIS_CO_TRY(session, authorize_session(request, *policy.sessions, *cookie));
        if (policy.revocations != nullptr) {
          // Signed out on another replica: refused like any ended session.
          AEGIS_CO_TRY(revoked, co_await policy.revocations->revoked(session));
          if (revoked) co_return make_error(ErrorCode::unauthorized, "not signed in");
        }
        request.log_fields.emplace_back("console_session", session.id.substr(0, 8));
        co_return http::Caller{std::move(session)};
      }
      if (admin_token(policy, request)) {
        auto admin = co_await policy.oidc->admin(*bearer(request));
        if (!admin.ok()) co_return token_refusal(access, std::move(admin).error(), request);
        access.count("ok");
        request.log_fields.emplace_back("key_id", admin->key_id);
        co_return http::Caller{AdminTokenCaller{admin->key_id}};
      }
      AEGIS_CO_TRY_VOID(authorize_admin(request, policy.admin_key));
      co_return http::Caller{};
    }
    case http::Credential::metrics_token:
      AEGIS_CO_TRY_VOID(authorize_metrics(request, policy.metrics_token));
      co_return http::Caller{};
    case http::Credential::api_key: {
      auto key = presented_key(request);
      if (!key) {
        co_return make_error(ErrorCode::unauthorized, "missing API key: send Authorization: Bearer <key> or x-api-key");
      }
      if (policy.oidc != nullptr && identity::looks_like_jwt(*key)) {
        auto principal = co_await policy.oidc->principal(*key, request.header("x-aegis-team"));
        if (!principal.ok()) co_return token_refusal(access, std::move(principal).error(), request);
        access.count("ok");
        request.log_fields.emplace_back("team", principal->team);
        request.log_fields.emplace_back("key_id", principal->key_id);
        co_return http::Caller{std::move(principal).value()};
      }
      if (policy.keys == nullptr) co_return make_error(ErrorCode::internal, "internal error");
      AEGIS_CO_TRY(principal, co_await policy.keys->authenticate(*key));
      request.log_fields.emplace_back("team", principal.team);
      request.log_fields.emplace_back("key_id", principal.key_id);
      co_return http::Caller{std::move(principal)};
    }
  }
  co_return make_error(ErrorCode::internal, "internal error");
}

}  // namespace

}  // namespace aegis::api
