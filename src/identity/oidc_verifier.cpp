#include "identity/oidc_verifier.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <atomic>
#include <utility>

#include "config/loader.hpp"
#include "core/digest.hpp"
#include "core/encoding.hpp"
#include "identity/jwt.hpp"

namespace aegis::identity {

namespace asio = boost::asio;

// One fetch of an issuer's keys that every request needing them awaits. The
// requests may run on different I/O threads: each waits on a timer of its own
// executor, which the fetch's end cancels there (posted, so the timer is only
// ever touched on its own thread).
class OidcVerifier::Flight {
 public:
  asio::awaitable<Result<Keys>> wait() {
    auto executor = co_await asio::this_coro::executor;
    // Bounded, should the end's cancel ever be posted before the wait began:
    // the result is read either way.
    auto timer = std::make_shared<asio::steady_timer>(executor, std::chrono::seconds(60));
    {
      std::lock_guard lock(mu_);
      if (done_) co_return result_;
      waiters_.push_back(timer);
    }
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    std::lock_guard lock(mu_);
    if (!done_) co_return token_error(TokenFailure::keys_unavailable, "the key fetch did not finish");
    co_return result_;
  }

  void complete(Result<Keys> result) {
    std::vector<std::shared_ptr<asio::steady_timer>> waiters;
    {
      std::lock_guard lock(mu_);
      done_ = true;
      result_ = std::move(result);
      waiters.swap(waiters_);
    }
    for (auto& timer : waiters) {
      asio::post(timer->get_executor(), [timer] { timer->cancel(); });
    }
  }

 private:
  std::mutex mu_;
  bool done_ = false;
  Result<Keys> result_ = token_error(TokenFailure::keys_unavailable, "no fetch");
  std::vector<std::shared_ptr<asio::steady_timer>> waiters_;
};

struct OidcVerifier::Issuer {
  explicit Issuer(config::OidcIssuerConfig c) : config(std::move(c)) {}

  const config::OidcIssuerConfig config;
  mutable std::mutex mu;
  Keys keys;  // null until the first fetch succeeds
  std::chrono::steady_clock::time_point fetched_at{};
  std::optional<std::chrono::steady_clock::time_point> last_attempt;
  std::string jwks_uri;  // from the discovery document; "" until read (or after a failed fetch)
  std::shared_ptr<Flight> flight;
  std::atomic<std::size_t> jwks_fetches{0};
};

OidcVerifier::OidcVerifier(std::vector<config::OidcIssuerConfig> issuers, DocumentFetcher& fetcher, const Clock& clock)
    : fetcher_(fetcher), clock_(clock) {
  issuers_.reserve(issuers.size());
  for (auto& issuer : issuers) issuers_.push_back(std::make_unique<Issuer>(std::move(issuer)));
}

OidcVerifier::~OidcVerifier() = default;

std::size_t OidcVerifier::jwks_fetches(std::size_t issuer_index) const {
  return issuers_.at(issuer_index)->jwks_fetches.load();
}

asio::awaitable<Result<VerifiedToken>> OidcVerifier::verify(std::string_view token) {
  // Not a coroutine itself: the token is copied into the coroutine frame now.
  return verify_owned(std::string(token));
}

asio::awaitable<Result<OidcVerifier::Keys>> OidcVerifier::fetch_keys(Issuer& issuer) {
  std::string jwks_uri;
  {
    std::lock_guard lock(issuer.mu);
    jwks_uri = issuer.jwks_uri;
  }
  if (jwks_uri.empty()) {
    auto discovery = co_await fetcher_.fetch(issuer.config.discovery());
    if (!discovery.ok()) {
      co_return token_error(TokenFailure::keys_unavailable, "discovery document: " + discovery.error().message);
    }
    boost::system::error_code ec;
    const auto doc = boost::json::parse(*discovery, ec);
    const auto* object = !ec && doc.is_object() ? &doc.as_object() : nullptr;
    const auto* iss = object != nullptr ? object->if_contains("issuer") : nullptr;
    const auto* uri = object != nullptr ? object->if_contains("jwks_uri") : nullptr;
    // The document must be the configured issuer's own (OpenID Connect Discovery §4.3).
    if (iss == nullptr || !iss->is_string() || iss->as_string() != issuer.config.issuer) {
      co_return token_error(TokenFailure::keys_unavailable, "the discovery document names another issuer");
    }
    if (uri == nullptr || !uri->is_string() || !config::is_oidc_url(uri->as_string())) {
      co_return token_error(TokenFailure::keys_unavailable, "the discovery document has no usable jwks_uri");
    }
    jwks_uri = std::string(uri->as_string());
  }
  ++issuer.jwks_fetches;
  auto body = co_await fetcher_.fetch(jwks_uri);
  if (!body.ok()) {
    std::lock_guard lock(issuer.mu);
    issuer.jwks_uri.clear();  // discover again next time: the document may have moved the keys
    co_return token_error(TokenFailure::keys_unavailable, "key set: " + body.error().message);
  }
  auto set = parse_jwk_set(*body);
  if (!set.ok()) co_return token_error(TokenFailure::keys_unavailable, set.error().message);
  {
    std::lock_guard lock(issuer.mu);
    issuer.jwks_uri = jwks_uri;
  }
  co_return std::make_shared<const JwkSet>(std::move(set).value());
}

asio::awaitable<Result<OidcVerifier::Keys>> OidcVerifier::keys(Issuer& issuer, const JwkSet* refresh_from) {
  std::shared_ptr<Flight> flight;
  {
    std::lock_guard lock(issuer.mu);
    const auto now = clock_.steady_now();
    if (refresh_from == nullptr) {
      if (issuer.keys && now - issuer.fetched_at < issuer.config.jwks_cache) co_return issuer.keys;
    } else if (issuer.keys && issuer.keys.get() != refresh_from) {
      co_return issuer.keys;  // fetched again since the caller looked
    }
    if (issuer.flight) {
      flight = issuer.flight;
    } else if (issuer.last_attempt && now - *issuer.last_attempt < issuer.config.jwks_min_refresh_interval) {
      // Within the rate limit: what there is (stale keys beat none), or nothing.
      if (issuer.keys) co_return issuer.keys;
      co_return token_error(TokenFailure::keys_unavailable, "the last fetch failed moments ago");
    } else {
      issuer.last_attempt = now;
      issuer.flight = std::make_shared<Flight>();
    }
  }
  if (flight) co_return co_await flight->wait();

  auto fetched = co_await fetch_keys(issuer);
  {
    std::lock_guard lock(issuer.mu);
    if (fetched.ok()) {
      issuer.keys = *fetched;
      issuer.fetched_at = clock_.steady_now();
    } else if (issuer.keys) {
      fetched = issuer.keys;  // the identity provider is away: keep verifying with the keys it gave last
    }
    flight = std::exchange(issuer.flight, nullptr);
  }
  flight->complete(fetched);
  co_return fetched;
}

asio::awaitable<Result<VerifiedToken>> OidcVerifier::verify_owned(std::string token) {
  AEGIS_CO_TRY(jwt, parse_jwt(token));
  const auto* iss = jwt.claims.if_contains("iss");
  if (iss == nullptr || !iss->is_string()) co_return token_error(TokenFailure::unknown_issuer, "no iss");
  const auto found =
      std::ranges::find_if(issuers_, [&](const auto& i) { return i->config.issuer == iss->as_string(); });
  if (found == issuers_.end()) co_return token_error(TokenFailure::unknown_issuer, "iss names no configured issuer");
  Issuer& issuer = **found;

  AEGIS_CO_TRY(set, co_await keys(issuer, nullptr));
  const Jwk* key = set->find(jwt.kid, jwt.alg);
  if (key == nullptr && jwt.kid && !set->has_kid(*jwt.kid)) {
    // Perhaps the provider rotated its keys: fetch again (rate-limited).
    AEGIS_CO_TRY(fresh, co_await keys(issuer, set.get()));
    set = std::move(fresh);
    key = set->find(jwt.kid, jwt.alg);
  }
  if (key == nullptr) co_return token_error(TokenFailure::unknown_key, "no key of the issuer fits the kid and alg");
  AEGIS_CO_TRY_VOID(verify_signature(jwt, *key));
  const auto& c = issuer.config;
  AEGIS_CO_TRY_VOID(check_claims(jwt, ClaimRules{c.issuer, c.audience, c.clock_skew}, clock_.wall_now()));

  VerifiedToken out;
  out.issuer_index = static_cast<std::size_t>(found - issuers_.begin());
  out.issuer = c.issuer;
  out.subject = std::string(jwt.claims.at("sub").as_string());
  if (const auto* email = jwt.claims.if_contains("email"); email != nullptr && email->is_string()) {
    out.email = std::string(email->as_string());
  }
  if (const auto* name = jwt.claims.if_contains("name"); name != nullptr && name->is_string()) {
    out.name = std::string(name->as_string());
  }
  const Sha256 digest = sha256(out.issuer + "\n" + out.subject);
  out.key_id = "oidc:" + hex_encode(digest).substr(0, 16);
  auto values = string_values(jwt.claims, c.team_claim);
  if (values.size() > kMaxTeamValues) values.resize(kMaxTeamValues);
  for (const auto& value : values) {
    if (std::ranges::find(c.admin_values, value) != c.admin_values.end()) out.is_admin = true;
    std::string team = value;
    if (!c.teams.empty()) {
      const auto mapped = c.teams.find(value);
      if (mapped == c.teams.end()) continue;
      team = mapped->second;
    }
    if (std::ranges::find(out.teams, team) == out.teams.end()) out.teams.push_back(std::move(team));
  }
  co_return out;
}

}  // namespace aegis::identity
