#include "console/oidc_code_flow.hpp"

#include <boost/json.hpp>
#include <boost/url.hpp>

#include <chrono>
#include <mutex>

#include "core/encoding.hpp"
#include "telemetry/log.hpp"

namespace aegis::console {

namespace {

namespace json = boost::json;

constexpr std::size_t kMaxDocumentBytes = std::size_t{1024} * 1024;
constexpr auto kDiscoveryLifetime = std::chrono::hours(1);

struct Endpoints {
  std::string authorization;
  std::string token;
  std::chrono::steady_clock::time_point fetched_at;
};

http::ClientRequest bounded(std::string method, std::string url) {
  http::ClientRequest request;
  request.method = std::move(method);
  request.url = std::move(url);
  request.max_response_bytes = kMaxDocumentBytes;
  request.timeouts.connect = std::chrono::seconds(3);
  request.timeouts.first_byte = std::chrono::seconds(10);
  request.timeouts.idle = std::chrono::seconds(5);
  request.timeouts.total = std::chrono::seconds(15);
  request.headers.push_back({"accept", "application/json"});
  return request;
}

std::string form_value(std::string_view text) { return boost::urls::encode(text, boost::urls::unreserved_chars); }

// The claims of a JWT's payload, unverified: only for the nonce of an ID
// token that came straight from the token endpoint over the back channel.
std::optional<json::object> unverified_claims(std::string_view jwt) {
  const auto first = jwt.find('.');
  const auto second = first == std::string_view::npos ? first : jwt.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  auto payload = base64url_decode(jwt.substr(first + 1, second - first - 1));
  if (!payload) return std::nullopt;
  boost::system::error_code ec;
  auto value = json::parse(*payload, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return value.get_object();
}

Error sign_in_error(std::string detail) {
  telemetry::log(telemetry::LogLevel::info, "console_sign_in_failed", {{"reason", detail}});
  return make_error(ErrorCode::unauthorized, "sign-in failed");
}

class OidcCodeFlow final : public OidcSignIn {
 public:
  OidcCodeFlow(const std::vector<config::OidcIssuerConfig>& issuers, http::HttpClient& client,
               identity::OidcIdentityService& identities)
      : client_(client), identities_(identities) {
    for (std::size_t i = 0; i < issuers.size(); ++i) {
      if (!issuers[i].console_client_id.empty()) offered_.push_back({i, issuers[i]});
    }
    endpoints_.resize(offered_.size());
  }

  std::size_t issuer_count() const override { return offered_.size(); }

  boost::asio::awaitable<Result<std::string>> authorization_url(SignInRequest request) override {
    if (request.issuer >= offered_.size()) co_return make_error(ErrorCode::not_found, "no such sign-in method");
    AEGIS_CO_TRY(endpoints, co_await discover(request.issuer));
    auto url = boost::urls::parse_uri(endpoints.authorization);
    if (!url) co_return sign_in_error("the authorization endpoint is not a URL");
    boost::urls::url out(*url);
    auto params = out.params();
    params.append({"response_type", "code"});
    params.append({"client_id", offered_[request.issuer].config.console_client_id});
    params.append({"redirect_uri", request.redirect_uri});
    params.append({"scope", "openid profile email"});
    params.append({"state", request.state});
    params.append({"nonce", request.nonce});
    params.append({"code_challenge", request.code_challenge});
    params.append({"code_challenge_method", "S256"});
    co_return std::string(out.buffer());
  }

  boost::asio::awaitable<Result<SignedInIdentity>> exchange(std::size_t issuer, std::string code,
                                                            std::string redirect_uri, std::string code_verifier,
                                                            std::string nonce) override {
    if (issuer >= offered_.size()) co_return make_error(ErrorCode::not_found, "no such sign-in method");
    const auto& config = offered_[issuer].config;
    AEGIS_CO_TRY(endpoints, co_await discover(issuer));
    auto request = bounded("POST", endpoints.token);
    request.headers.push_back({"content-type", "application/x-www-form-urlencoded"});
    request.body = "grant_type=authorization_code&code=" + form_value(code) +
                   "&redirect_uri=" + form_value(redirect_uri) + "&client_id=" + form_value(config.console_client_id) +
                   "&code_verifier=" + form_value(code_verifier);
    if (!config.console_client_secret.empty()) {
      // RFC 6749 §2.3.1: HTTP Basic with the form-encoded id and secret.
      const std::string credentials =
          form_value(config.console_client_id) + ":" + form_value(config.console_client_secret);
      request.headers.push_back({"authorization", "Basic " + base64_encode(credentials)});
    }
    auto response = co_await client_.send(request);
    if (!response.ok()) co_return sign_in_error("the token endpoint could not be reached");
    if (response->status != 200) {
      co_return sign_in_error("the token endpoint answered HTTP " + std::to_string(response->status));
    }
    boost::system::error_code ec;
    auto body = json::parse(response->body, ec);
    const auto* tokens = ec ? nullptr : body.if_object();
    const auto* access = tokens == nullptr ? nullptr : tokens->if_contains("access_token");
    if (access == nullptr || !access->is_string()) co_return sign_in_error("the token response has no access_token");
    if (const auto* id_token = tokens->if_contains("id_token"); id_token != nullptr && id_token->is_string()) {
      auto claims = unverified_claims(id_token->get_string());
      const auto* sent = claims ? claims->if_contains("nonce") : nullptr;
      if (sent == nullptr || !sent->is_string() || sent->get_string() != nonce) {
        co_return sign_in_error("the ID token's nonce is not the one this sign-in sent");
      }
    }
    auto identity = co_await identities_.identify(access->get_string());
    if (!identity.ok()) co_return sign_in_error("the access token did not verify");
    if (identity->issuer != config.issuer) co_return sign_in_error("the access token is another issuer's");
    SignedInIdentity out;
    // The session names the admin by the pseudonymous id a token of theirs
    // carries ("oidc:<16 hex>"), so what they change is recorded alike
    // whichever way they came in (api/access.hpp admin_actor).
    out.subject = identity->key_id;
    out.name = !identity->email.empty()  ? identity->email
               : !identity->name.empty() ? identity->name
                                         : identity->subject;
    out.is_admin = identity->is_admin;
    co_return out;
  }

 private:
  struct Offered {
    std::size_t index;  // into oidc.issuers
    config::OidcIssuerConfig config;
  };

  boost::asio::awaitable<Result<Endpoints>> discover(std::size_t issuer) {
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(mu_);
      const auto& cached = endpoints_[issuer];
      if (!cached.token.empty() && now - cached.fetched_at < kDiscoveryLifetime) co_return cached;
    }
    const auto& config = offered_[issuer].config;
    const auto discovery = bounded("GET", config.discovery());
    auto response = co_await client_.send(discovery);
    if (!response.ok() || response->status != 200) co_return sign_in_error("discovery failed");
    boost::system::error_code ec;
    auto document = json::parse(response->body, ec);
    const auto* object = ec ? nullptr : document.if_object();
    const auto text = [object](std::string_view name) -> std::string {
      const auto* value = object == nullptr ? nullptr : object->if_contains(name);
      return value != nullptr && value->is_string() ? std::string(value->get_string()) : std::string();
    };
    if (text("issuer") != config.issuer) co_return sign_in_error("the discovery document names another issuer");
    Endpoints found{text("authorization_endpoint"), text("token_endpoint"), now};
    if (found.authorization.empty() || found.token.empty()) {
      co_return sign_in_error("the discovery document lacks the authorization or token endpoint");
    }
    std::lock_guard lock(mu_);
    endpoints_[issuer] = found;
    co_return found;
  }

  http::HttpClient& client_;
  identity::OidcIdentityService& identities_;
  std::vector<Offered> offered_;
  std::mutex mu_;
  std::vector<Endpoints> endpoints_;
};

}  // namespace

std::unique_ptr<OidcSignIn> make_oidc_code_flow(const std::vector<config::OidcIssuerConfig>& issuers,
                                                http::HttpClient& client, identity::OidcIdentityService& identities) {
  return std::make_unique<OidcCodeFlow>(issuers, client, identities);
}

}  // namespace aegis::console
