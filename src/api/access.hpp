#pragma once
// Who may call what: the one Authorizer the router asks for every route's
// declared credential (http::Credential). Handlers never authenticate: for an
// api_key route they read the caller's principal from the http::Caller the
// router hands them (principal_of).
#include <optional>
#include <string>
#include <string_view>

#include "http/router.hpp"
#include "identity/authenticator.hpp"
#include "identity/console_session.hpp"
#include "identity/oidc_identity.hpp"
#include "identity/principal.hpp"
#include "identity/session_revocations.hpp"
#include "ratelimit/auth_throttle.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::api {

struct AccessPolicy {
  // Virtual keys (Credential::api_key); not owned, must outlive the router.
  identity::Authenticator* keys = nullptr;
  // AEGIS_ADMIN_KEY; empty closes every admin_key route (403).
  std::string admin_key;
  // server.metrics_token; empty leaves metrics_token routes open.
  std::string metrics_token;
  // Failed authentication per source address (api_key and admin_key routes):
  // each 401 spends from the address's bucket, and an address with none
  // left gets 429 before its credential is looked at. Null: no throttle.
  ratelimit::AuthThrottle* throttle = nullptr;
  // Console sign-ins (the aegis_session cookie), accepted on admin_key routes
  // when no Authorization header is sent; writes also need x-csrf-token.
  // Null: the console is off and only the admin key opens admin routes.
  const identity::ConsoleSessions* sessions = nullptr;
  // Sign-outs recorded by any replica (null: this replica's own only).
  identity::SessionRevocations* revocations = nullptr;
  // OIDC access tokens (config oidc.issuers); null: a JWT is just a wrong key.
  // On api_key routes a bearer that looks like a JWT is verified and acts for
  // one of the teams it maps to (x-aegis-team picks one when it maps to
  // several); on admin_key routes a token with an admin value is an admin.
  // Every bad token is the same 401 "invalid token"; why goes to the log.
  identity::OidcIdentityService* oidc = nullptr;
  // Where aegis_auth_jwt_total{result} is counted; null: not counted.
  telemetry::Registry* metrics = nullptr;
};

// An admin_key route opened by an admin's OIDC access token: who it is, as
// the pseudonymous id its tokens carry everywhere ("oidc:<16 hex>", a hash of
// issuer and subject), never the identity provider's raw subject.
struct AdminTokenCaller {
  std::string key_id;
};

// An api_key route's Caller holds the key's identity::Principal, and the
// request's access-log fields get its team and key id; an admin_key route
// opened by a console session holds its identity::ConsoleSession, by an
// admin's token an AdminTokenCaller; the admin key yields an empty Caller.
http::Authorizer make_authorizer(AccessPolicy policy);

// Who opened an admin_key route, as records of admin changes name them:
// "admin_key" (the shared key, sent as a header or signed in to the console
// with it) or an admin's OIDC id ("oidc:<16 hex>", by token or console).
std::string admin_actor(const http::Caller& caller);

// The principal the authorizer established, or nullptr (not an api_key route).
const identity::Principal* principal_of(const http::Caller& caller) noexcept;

// The key a client presented: `Authorization: Bearer <key>`, else `x-api-key`.
std::optional<std::string_view> presented_key(const http::HttpRequest& request);

}  // namespace aegis::api
