#pragma once
// Verifies OIDC access and ID tokens (JWTs) against the configured issuers
// (config oidc.issuers): the issuer named by the token's `iss`, its keys from
// the discovery document's `jwks_uri`, the signature (identity/jwt.hpp), the
// time and audience claims, and what the team claim says.
//
// Keys are cached per issuer for jwks_cache_s. A token whose kid the cached
// set lacks refetches the set, at most once per jwks_min_refresh_interval_s
// per issuer; requests that need keys while a fetch is running wait for that
// one fetch (on their own executors) rather than starting more. Fetching is a
// co_await on the DocumentFetcher, never a blocking call.
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "identity/document_fetcher.hpp"
#include "identity/jwks.hpp"

namespace aegis::identity {

// What a verified token says about its holder.
struct VerifiedToken {
  std::size_t issuer_index = 0;  // into oidc.issuers
  std::string issuer;
  std::string subject;
  std::string email;  // "" when the token has none
  std::string name;   // "" when the token has none
  // "oidc:" + the first 16 hex digits of SHA-256(iss "\n" sub): the caller's
  // key id in logs, audit rows and per-key limits; stable per person, and
  // never the subject itself.
  std::string key_id;
  // The team names the team claim maps to: through the issuer's `teams`, or,
  // when that is empty, the claim values themselves (which name a team only
  // if one exists by that name: the caller checks). At most kMaxTeamValues.
  std::vector<std::string> teams;
  bool is_admin = false;  // the team claim holds one of admin_values
};

class OidcVerifier {
 public:
  // Claim values looked at beyond this many are ignored: a groups claim can
  // be long, and each candidate team costs a lookup.
  static constexpr std::size_t kMaxTeamValues = 64;

  OidcVerifier(std::vector<config::OidcIssuerConfig> issuers, DocumentFetcher& fetcher, const Clock& clock);
  ~OidcVerifier();
  OidcVerifier(const OidcVerifier&) = delete;
  OidcVerifier& operator=(const OidcVerifier&) = delete;

  // unauthorized for every bad token, its message a token_error (reason and
  // detail, for the log only). The token is copied before the first
  // suspension.
  boost::asio::awaitable<Result<VerifiedToken>> verify(std::string_view token);

  // Fetches of each issuer's JWK Set so far (tests, and the metrics' help).
  std::size_t jwks_fetches(std::size_t issuer_index) const;

 private:
  struct Issuer;
  class Flight;
  using Keys = std::shared_ptr<const JwkSet>;

  boost::asio::awaitable<Result<VerifiedToken>> verify_owned(std::string token);
  // The issuer's keys, fetched when there are none yet or they are older than
  // jwks_cache_s; `refresh_from` set: fetch again unless the set has changed
  // since that one was read, within the refresh rate limit.
  boost::asio::awaitable<Result<Keys>> keys(Issuer& issuer, const JwkSet* refresh_from);
  boost::asio::awaitable<Result<Keys>> fetch_keys(Issuer& issuer);

  std::vector<std::unique_ptr<Issuer>> issuers_;
  DocumentFetcher& fetcher_;
  const Clock& clock_;
};

}  // namespace aegis::identity
