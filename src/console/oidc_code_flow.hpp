#pragma once
// OidcSignIn against real issuers: discovery (the authorization and token
// endpoints, cached for an hour), the authorization URL, and the code
// exchange at the token endpoint (a form POST with the PKCE verifier and,
// for a confidential client, the client secret in HTTP Basic). The access
// token that comes back is verified exactly as a bearer token on /admin would
// be (identity::OidcIdentityService); the ID token, when the issuer sends
// one, must carry the nonce this sign-in sent.
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "console/oidc_sign_in.hpp"
#include "http/client.hpp"
#include "identity/oidc_identity.hpp"

namespace aegis::console {

std::unique_ptr<OidcSignIn> make_oidc_code_flow(const std::vector<config::OidcIssuerConfig>& issuers,
                                                http::HttpClient& client, identity::OidcIdentityService& identities);

}  // namespace aegis::console
