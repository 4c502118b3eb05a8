#pragma once
// Who may call what: the one Authorizer the router asks for every route's
// declared credential (http::Credential). Handlers never authenticate.
#include <optional>
#include <string>
#include <string_view>

#include "http/router.hpp"
#include "identity/authenticator.hpp"

namespace aegis::api {

struct AccessPolicy {
  // Virtual keys (Credential::api_key); not owned, must outlive the router.
  identity::Authenticator* keys = nullptr;
  // AEGIS_ADMIN_KEY; empty closes every admin_key route (403).
  std::string admin_key;
  // server.metrics_token; empty leaves metrics_token routes open.
  std::string metrics_token;
};

http::Authorizer make_authorizer(AccessPolicy policy);

// The key a client presented: `Authorization: Bearer <key>`, else `x-api-key`.
std::optional<std::string_view> presented_key(const http::HttpRequest& request);

}  // namespace aegis::api
