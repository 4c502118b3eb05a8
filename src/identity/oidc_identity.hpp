#pragma once
// Who an OIDC token's holder is, for the gateway: the verified token
// (identity/oidc_verifier.hpp) with its team claim resolved against the
// teams that exist. The authorizer (api/access.cpp) calls principal() and
// admin() for /v1 and /admin callers; the admin console's sign-in calls
// identify() on the token it got from the identity provider's token endpoint.
#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "identity/authenticator.hpp"
#include "identity/oidc_verifier.hpp"
#include "identity/principal.hpp"

namespace aegis::identity {

struct OidcIdentity {
  std::string issuer;
  std::string subject;
  std::string email;               // "" when the token has none
  std::string name;                // "" when the token has none
  std::string key_id;              // "oidc:<16 hex>" (VerifiedToken::key_id)
  std::vector<std::string> teams;  // existing teams the token maps to, in claim order
  bool is_admin = false;
};

class OidcIdentityService {
 public:
  OidcIdentityService(OidcVerifier& verifier, Authenticator& authenticator)
      : verifier_(verifier), authenticator_(authenticator) {}

  // unauthorized (a token_error, for the log) for a bad token; store errors pass through.
  boost::asio::awaitable<Result<OidcIdentity>> identify(std::string_view token);

  // The principal acting for one of the token's teams: `requested_team` (the
  // x-aegis-team header) picks one and must be one of them (else forbidden);
  // without it the token must map to exactly one (several: invalid_request
  // asking for x-aegis-team; none: forbidden).
  boost::asio::awaitable<Result<Principal>> principal(std::string_view token,
                                                      std::optional<std::string_view> requested_team);

  // An admin: ok when the token's team claim holds an admin value, forbidden
  // for a valid token without one.
  boost::asio::awaitable<Result<VerifiedToken>> admin(std::string_view token);

 private:
  boost::asio::awaitable<Result<OidcIdentity>> identify_owned(std::string token);
  boost::asio::awaitable<Result<Principal>> principal_owned(std::string token, std::optional<std::string> requested);
  boost::asio::awaitable<Result<VerifiedToken>> admin_owned(std::string token);

  OidcVerifier& verifier_;
  Authenticator& authenticator_;
};

}  // namespace aegis::identity
