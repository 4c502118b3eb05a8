#pragma once
// The admin console (/ui): its page and assets, and signing in and out.
//
// The pages are static; everything they show comes from the admin API
// (/admin/v1/...), which a signed-in session opens like the admin key does
// (api/access.hpp). Signing in is with the admin key (POST /ui/auth/key) or
// with an `oidc` issuer's authorization-code flow with PKCE (OidcSignIn);
// either way the browser ends up with an HttpOnly, SameSite=Strict session
// cookie and never holds the key or a token. docs/ARCHITECTURE.md ("The
// console") tells the whole story.
#include <string>

#include "config/config.hpp"
#include "console/oidc_sign_in.hpp"
#include "http/router.hpp"
#include "identity/console_session.hpp"
#include "identity/session_revocations.hpp"
#include "ratelimit/auth_throttle.hpp"

namespace aegis::console {

struct ConsoleRoutes {
  const config::ConsoleConfig& config;
  identity::ConsoleSessions& sessions;
  std::string admin_key;                        // empty: no sign-in with the admin key
  ratelimit::AuthThrottle* throttle = nullptr;  // failed sign-ins per source address
  OidcSignIn* oidc = nullptr;                   // null: no issuer for the console
  // Where a sign-out is recorded for every replica (null: this one only).
  identity::SessionRevocations* revocations = nullptr;
};

// The headers every /ui answer carries: a strict Content-Security-Policy
// (scripts, styles and connections to this origin only, no framing) and its
// companions.
void add_security_headers(http::HttpResponse& response);

void register_console_routes(http::Router& router, ConsoleRoutes routes);

}  // namespace aegis::console
