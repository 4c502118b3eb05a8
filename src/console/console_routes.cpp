#include "console/console_routes.hpp"

#include <boost/json.hpp>
#include <openssl/rand.h>

#include <array>
#include <charconv>
#include <memory>

#include "console/assets.hpp"
#include "core/digest.hpp"
#include "core/encoding.hpp"
#include "core/time_format.hpp"
#include "http/json_response.hpp"
#include "identity/api_key.hpp"

namespace aegis::console {

namespace {

namespace json = boost::json;
using Awaitable = boost::asio::awaitable<http::HttpResponse>;

constexpr std::string_view kFlowCookie = "aegis_oidc";
constexpr std::string_view kFlowCookiePath = "/ui/auth/oidc";
constexpr std::int64_t kFlowLifetimeS = 600;
constexpr std::string_view kCallbackPath = "/ui/auth/oidc/callback";

const Asset* find_asset(std::string_view name) {
  for (const auto& asset : assets()) {
    if (asset.name == name) return &asset;
  }
  return nullptr;
}

std::string random_token(std::size_t bytes) {
  std::array<unsigned char, 64> buffer{};
  if (bytes > buffer.size() || RAND_bytes(buffer.data(), static_cast<int>(bytes)) != 1) return {};
  return base64url_encode(std::span<const unsigned char>(buffer.data(), bytes));
}

bool is_loopback_host(std::string_view host) {
  if (host.starts_with('[')) return host.starts_with("[::1]");
  host = host.substr(0, host.find(':'));
  return host == "localhost" || host == "127.0.0.1" || host.starts_with("127.");
}

// Secure cookies need HTTPS all the way to the browser: the configured public
// URL says so, or the proxy in front of the gateway does.
bool secure_cookies(const ConsoleRoutes& routes, const http::HttpRequest& request) {
  if (routes.config.public_url.starts_with("https://")) return true;
  auto proto = request.header("x-forwarded-proto");
  return proto && http::iequals(*proto, "https");
}

std::string cookie(std::string_view name, std::string_view value, std::string_view path, std::string_view same_site,
                   std::int64_t max_age_s, bool secure) {
  std::string out;
  out.append(name).append("=").append(value);
  out.append("; Path=").append(path);
  out.append("; Max-Age=").append(std::to_string(max_age_s));
  out.append("; HttpOnly; SameSite=").append(same_site);
  if (secure) out.append("; Secure");
  return out;
}

http::HttpResponse with_security(http::HttpResponse response) {
  add_security_headers(response);
  return response;
}

http::HttpResponse fail(const Error& error, const http::HttpRequest& request) {
  return with_security(http::error_response(error, request.request_id));
}

http::HttpResponse redirect(std::string location) {
  http::HttpResponse response;
  response.status = 302;
  response.set_header("location", std::move(location));
  response.set_header("cache-control", "no-store");
  add_security_headers(response);
  return response;
}

http::HttpResponse serve_asset(const Asset& asset, const http::HttpRequest& request) {
  http::HttpResponse response;
  response.set_header("etag", std::string(asset.etag));
  // Revalidated on every load, so a new binary's pages are used at once.
  response.set_header("cache-control", "no-cache");
  if (auto match = request.header("if-none-match"); match && *match == asset.etag) {
    response.status = 304;
  } else {
    response.set_header("content-type", std::string(asset.content_type));
    response.body = std::string(asset.body);
  }
  add_security_headers(response);
  return response;
}

std::string redirect_uri(const ConsoleRoutes& routes, const http::HttpRequest& request) {
  if (!routes.config.public_url.empty()) return routes.config.public_url + std::string(kCallbackPath);
  const std::string host(request.header("host").value_or("localhost"));
  const bool https = secure_cookies(routes, request) || !is_loopback_host(host);
  return (https ? "https://" : "http://") + host + std::string(kCallbackPath);
}

json::object session_json(const identity::ConsoleSession& session, const identity::ConsoleSessions& sessions) {
  return {{"subject", session.subject},
          {"name", session.name},
          {"method", session.method},
          {"csrf_token", sessions.csrf_token(session)},
          {"expires_at", format_rfc3339_ms(session.expires_at_ms)}};
}

// The sign-in flow's state between /start and /callback: which issuer, the
// state and nonce sent, the PKCE verifier, and when the flow expires.
struct Flow {
  std::size_t issuer = 0;
  std::string state;
  std::string nonce;
  std::string verifier;
  std::int64_t expires_at_s = 0;
};

std::string encode_flow(const Flow& flow) {
  return std::to_string(flow.issuer) + "~" + flow.state + "~" + flow.nonce + "~" + flow.verifier + "~" +
         std::to_string(flow.expires_at_s);
}

std::optional<Flow> decode_flow(std::string_view text) {
  std::vector<std::string_view> parts;
  while (true) {
    const auto tilde = text.find('~');
    parts.push_back(text.substr(0, tilde));
    if (tilde == std::string_view::npos) break;
    text.remove_prefix(tilde + 1);
  }
  if (parts.size() != 5) return std::nullopt;
  Flow flow;
  try {
    flow.issuer = std::stoul(std::string(parts[0]));
    flow.expires_at_s = std::stoll(std::string(parts[4]));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  flow.state = parts[1];
  flow.nonce = parts[2];
  flow.verifier = parts[3];
  return flow;
}

std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Where a failed sign-in lands: the console's sign-in view, told why in
// words that name nothing about the issuer.
http::HttpResponse sign_in_failed(std::string_view reason) {
  return redirect("/ui#/sign-in?error=" + std::string(reason));
}

}  // namespace

void add_security_headers(http::HttpResponse& response) {
  response.set_header("content-security-policy",
                      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                      "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                      "base-uri 'none'");
  response.set_header("x-content-type-options", "nosniff");
  response.set_header("x-frame-options", "DENY");
  response.set_header("referrer-policy", "no-referrer");
  response.set_header("cross-origin-opener-policy", "same-origin");
  response.set_header("cross-origin-resource-policy", "same-origin");
}

void register_console_routes(http::Router& router, ConsoleRoutes routes) {
  auto ctx = std::make_shared<ConsoleRoutes>(std::move(routes));

  router.add("GET", "/ui", http::Credential::none, [](http::HttpRequest& request, const http::Caller&) -> Awaitable {
    const auto* index = find_asset("index.html");
    if (index == nullptr) co_return fail(make_error(ErrorCode::not_found, "the console is not built in"), request);
    co_return serve_asset(*index, request);
  });

  router.add("GET", "/ui/assets/{name}", http::Credential::none,
             [](http::HttpRequest& request, const http::Caller&) -> Awaitable {
               const auto* asset = find_asset(*request.path_param("name"));
               if (asset == nullptr) co_return fail(make_error(ErrorCode::not_found, "no such console file"), request);
               co_return serve_asset(*asset, request);
             });

  // What the sign-in view offers.
  router.add("GET", "/ui/auth/methods", http::Credential::none,
             [ctx](http::HttpRequest&, const http::Caller&) -> Awaitable {
               json::array issuers;
               const std::size_t count = ctx->oidc == nullptr ? 0 : ctx->oidc->issuer_count();
               for (std::size_t i = 0; i < count; ++i) {
                 issuers.push_back(json::object{{"id", i}, {"label", "Single sign-on"}});
               }
               co_return with_security(
                   http::json_response(200, {{"admin_key", !ctx->admin_key.empty()}, {"oidc", std::move(issuers)}}));
             });

  // Sign-in with the admin key, for bootstrap. A JSON body only: a form on
  // another site cannot send one without a CORS preflight this origin never
  // grants.
  router.add(
      "POST", "/ui/auth/key", http::Credential::none,
      [ctx](http::HttpRequest& request, const http::Caller&) -> Awaitable {
        if (ctx->throttle != nullptr) {
          if (auto allowed = ctx->throttle->check(request.remote_address); !allowed.ok()) {
            co_return fail(allowed.error(), request);
          }
        }
        auto body = http::parse_json_object(request);
        if (!body.ok()) co_return fail(body.error(), request);
        if (auto known = http::reject_unknown_fields(*body, {"admin_key"}); !known.ok()) {
          co_return fail(known.error(), request);
        }
        const auto* presented = body->if_contains("admin_key");
        if (presented == nullptr || !presented->is_string()) {
          co_return fail(make_error(ErrorCode::invalid_request, "admin_key must be a string"), request);
        }
        if (ctx->admin_key.empty()) {
          co_return fail(
              make_error(ErrorCode::forbidden, "sign-in with the admin key is disabled: set AEGIS_ADMIN_KEY"), request);
        }
        if (!identity::constant_time_equal(presented->get_string(), ctx->admin_key)) {
          if (ctx->throttle != nullptr) ctx->throttle->failed(request.remote_address);
          co_return fail(make_error(ErrorCode::unauthorized, "invalid admin key"), request);
        }
        auto [session, value] = ctx->sessions.issue("admin-key", "Admin key", "admin_key");
        auto response = http::json_response(200, session_json(session, ctx->sessions));
        response.headers.push_back({"set-cookie", cookie(identity::ConsoleSessions::kCookieName, value, "/", "Strict",
                                                         ctx->sessions.ttl().count(), secure_cookies(*ctx, request))});
        response.set_header("cache-control", "no-store");
        add_security_headers(response);
        co_return response;
      });

  // Who is signed in, and the CSRF token the console sends on writes.
  router.add("GET", "/ui/session", http::Credential::admin_key,
             [ctx](http::HttpRequest&, const http::Caller& caller) -> Awaitable {
               const auto* session = caller.get_if<identity::ConsoleSession>();
               json::object out;
               if (session != nullptr) {
                 out = session_json(*session, ctx->sessions);
               } else {
                 // An Authorization header (the admin key or an admin's token): no cookie to protect.
                 out = {{"subject", "bearer"},
                        {"name", "Bearer credential"},
                        {"method", "bearer"},
                        {"csrf_token", nullptr},
                        {"expires_at", nullptr}};
               }
               auto response = http::json_response(200, out);
               response.set_header("cache-control", "no-store");
               add_security_headers(response);
               co_return response;
             });

  router.add("POST", "/ui/auth/logout", http::Credential::admin_key,
             [ctx](http::HttpRequest& request, const http::Caller& caller) -> Awaitable {
               http::HttpResponse response;
               response.status = 204;
               if (const auto* session = caller.get_if<identity::ConsoleSession>()) {
                 ctx->sessions.revoke(*session);
                 if (ctx->revocations != nullptr) {
                   // Other replicas learn of it from the store; if that fails the
                   // browser still drops the cookie, and the caller is told.
                   auto recorded = co_await ctx->revocations->revoke(*session);
                   if (!recorded.ok()) response = http::error_response(recorded.error(), request.request_id);
                 }
               }
               response.headers.push_back({"set-cookie", cookie(identity::ConsoleSessions::kCookieName, "", "/",
                                                                "Strict", 0, secure_cookies(*ctx, request))});
               add_security_headers(response);
               co_return response;
             });

  // The authorization-code flow: /start sends the browser to the issuer with
  // a PKCE challenge, state and nonce kept in a short-lived signed cookie
  // (SameSite=Lax: the issuer's redirect back is a cross-site navigation),
  // /callback checks the state, exchanges the code and signs the admin in.
  router.add("GET", "/ui/auth/oidc/start", http::Credential::none,
             [ctx](http::HttpRequest& request, const http::Caller&) -> Awaitable {
               const auto issuer_text = request.query_param("issuer").value_or("0");
               std::size_t issuer = 0;
               const auto count = ctx->oidc == nullptr ? 0 : ctx->oidc->issuer_count();
               auto [end, ec] = std::from_chars(issuer_text.data(), issuer_text.data() + issuer_text.size(), issuer);
               if (ec != std::errc() || end != issuer_text.data() + issuer_text.size() || issuer >= count) {
                 co_return fail(make_error(ErrorCode::not_found, "no such sign-in method"), request);
               }
               Flow flow{issuer, random_token(24), random_token(24), random_token(32), unix_seconds() + kFlowLifetimeS};
               const auto challenge = sha256(flow.verifier);
               SignInRequest sign_in{issuer, redirect_uri(*ctx, request), flow.state, flow.nonce,
                                     base64url_encode(std::span<const unsigned char>(challenge))};
               auto url = co_await ctx->oidc->authorization_url(std::move(sign_in));
               if (!url.ok()) co_return sign_in_failed("unavailable");
               auto response = redirect(*url);
               response.headers.push_back(
                   {"set-cookie", cookie(kFlowCookie, ctx->sessions.seal(encode_flow(flow)), kFlowCookiePath, "Lax",
                                         kFlowLifetimeS, secure_cookies(*ctx, request))});
               co_return response;
             });

  router.add("GET", "/ui/auth/oidc/callback", http::Credential::none,
             [ctx](http::HttpRequest& request, const http::Caller&) -> Awaitable {
               if (ctx->oidc == nullptr)
                 co_return fail(make_error(ErrorCode::not_found, "no such sign-in method"), request);
               const auto cookies = request.header("cookie").value_or("");
               const auto sealed = identity::cookie_value(cookies, kFlowCookie);
               std::optional<Flow> flow;
               if (sealed) {
                 if (auto payload = ctx->sessions.unseal(*sealed); payload.ok()) flow = decode_flow(*payload);
               }
               const auto state = request.query_param("state");
               const auto code = request.query_param("code");
               if (!flow || flow->expires_at_s < unix_seconds() || !state ||
                   !identity::constant_time_equal(*state, flow->state)) {
                 co_return sign_in_failed("expired");
               }
               if (!code || code->empty()) co_return sign_in_failed("denied");
               // Named arguments, never temporaries in the co_await (GCC 12 may destroy those twice).
               std::string callback_uri = redirect_uri(*ctx, request);
               auto identity = co_await ctx->oidc->exchange(flow->issuer, *code, std::move(callback_uri),
                                                            flow->verifier, flow->nonce);
               if (!identity.ok()) co_return sign_in_failed("failed");
               if (!identity->is_admin) co_return sign_in_failed("not-admin");
               auto [session, value] = ctx->sessions.issue(identity->subject, identity->name, "oidc");
               auto response = redirect("/ui#/overview");
               const bool secure = secure_cookies(*ctx, request);
               response.headers.push_back({"set-cookie", cookie(kFlowCookie, "", kFlowCookiePath, "Lax", 0, secure)});
               response.headers.push_back({"set-cookie", cookie(identity::ConsoleSessions::kCookieName, value, "/",
                                                                "Strict", ctx->sessions.ttl().count(), secure)});
               co_return response;
             });
}

}  // namespace aegis::console
