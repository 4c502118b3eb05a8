#include "identity/oidc_identity.hpp"

#include <algorithm>
#include <utility>

namespace aegis::identity {

namespace asio = boost::asio;

asio::awaitable<Result<OidcIdentity>> OidcIdentityService::identify(std::string_view token) {
  // Not a coroutine itself: the token is copied into the coroutine frame now.
  return identify_owned(std::string(token));
}

asio::awaitable<Result<OidcIdentity>> OidcIdentityService::identify_owned(std::string token) {
  AEGIS_CO_TRY(verified, co_await verifier_.verify(token));
  AEGIS_CO_TRY(principals, co_await authenticator_.team_principals(verified.teams, verified.key_id));
  OidcIdentity out{std::move(verified.issuer), std::move(verified.subject), std::move(verified.email),
                   std::move(verified.name),   std::move(verified.key_id),  {},
                   verified.is_admin};
  out.teams.reserve(principals.size());
  for (auto& p : principals) out.teams.push_back(std::move(p.team));
  co_return out;
}

asio::awaitable<Result<Principal>> OidcIdentityService::principal(std::string_view token,
                                                                  std::optional<std::string_view> requested_team) {
  std::optional<std::string> requested;
  if (requested_team) requested.emplace(*requested_team);
  return principal_owned(std::string(token), std::move(requested));
}

asio::awaitable<Result<Principal>> OidcIdentityService::principal_owned(std::string token,
                                                                        std::optional<std::string> requested) {
  AEGIS_CO_TRY(verified, co_await verifier_.verify(token));
  AEGIS_CO_TRY(principals, co_await authenticator_.team_principals(verified.teams, verified.key_id));
  if (requested) {
    const auto it = std::ranges::find(principals, *requested, &Principal::team);
    if (it == principals.end()) {
      co_return make_error(ErrorCode::forbidden, "the token does not grant the team named by x-aegis-team");
    }
    co_return std::move(*it);
  }
  if (principals.empty()) co_return make_error(ErrorCode::forbidden, "the token grants no team of this gateway");
  if (principals.size() > 1) {
    co_return make_error(ErrorCode::invalid_request,
                         "the token grants several teams: send x-aegis-team naming the one to act for");
  }
  co_return std::move(principals.front());
}

asio::awaitable<Result<VerifiedToken>> OidcIdentityService::admin(std::string_view token) {
  return admin_owned(std::string(token));
}

asio::awaitable<Result<VerifiedToken>> OidcIdentityService::admin_owned(std::string token) {
  AEGIS_CO_TRY(verified, co_await verifier_.verify(token));
  if (!verified.is_admin) co_return make_error(ErrorCode::forbidden, "the token does not grant the admin role");
  co_return verified;
}

}  // namespace aegis::identity
