// identity/oidc_verifier.hpp against a fake identity provider: discovery,
// the JWK Set's cache, the rate limit on refetching for unknown kids (with a
// fetch counter and a hand-moved clock, never a sleep), shared fetches, and
// the team claim's mapping.
#include "identity/oidc_verifier.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <map>

#include "core/system_clock.hpp"
#include "identity/jwt.hpp"
#include "support/jwt_signer.hpp"

namespace aegis::identity {
namespace {

namespace asio = boost::asio;
using testing::TestKey;
using namespace std::chrono_literals;

constexpr std::int64_t kStart = 1'700'000'000;
constexpr std::string_view kIssuer = "https://idp.example.com";

class FakeIdp final : public DocumentFetcher {
 public:
  std::map<std::string, std::string> documents;
  std::map<std::string, int> fetches;
  bool yield = false;  // suspend a few times first, so concurrent verifications overlap

  asio::awaitable<Result<std::string>> fetch(std::string url) override {
    ++fetches[url];
    if (yield) {
      for (int i = 0; i < 5; ++i) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    }
    const auto it = documents.find(url);
    if (it == documents.end()) co_return make_error(ErrorCode::upstream_error, "HTTP 404");
    co_return it->second;
  }
  int jwks_fetches() { return fetches["https://idp.example.com/jwks"]; }
};

class OidcVerifierTest : public ::testing::Test {
 protected:
  OidcVerifierTest() {
    idp_.documents[std::string(kIssuer) + "/.well-known/openid-configuration"] =
        R"({"issuer":"https://idp.example.com","jwks_uri":"https://idp.example.com/jwks"})";
    publish({key_a_.jwk()});
    config::OidcIssuerConfig c;
    c.issuer = std::string(kIssuer);
    c.audience = "aegis";
    c.admin_values = {"aegis-admins"};
    c.jwks_min_refresh_interval = 30s;
    c.jwks_cache = 3600s;
    issuers_.push_back(c);
  }

  void publish(const std::vector<boost::json::object>& keys) {
    idp_.documents[std::string(kIssuer) + "/jwks"] = testing::jwk_set(keys);
  }

  OidcVerifier& verifier() {
    if (!verifier_) verifier_ = std::make_unique<OidcVerifier>(issuers_, idp_, clock_);
    return *verifier_;
  }

  boost::json::object claims() const {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(clock_.wall_now().time_since_epoch()).count();
    return {{"iss", kIssuer},
            {"aud", "aegis"},
            {"sub", "alice"},
            {"exp", now + 300},
            {"email", "alice@example.com"},
            {"groups", boost::json::array{"payments", "aegis-admins"}}};
  }

  Result<VerifiedToken> verify(const std::string& token) {
    std::optional<Result<VerifiedToken>> out;
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { out.emplace(co_await verifier().verify(token)); },
        [](const std::exception_ptr& e) {
          if (e) std::rethrow_exception(e);
        });
    io_.restart();
    io_.run();
    if (!out) return make_error(ErrorCode::internal, "test: coroutine did not finish");
    return std::move(*out);
  }

  std::string reason_of(const std::string& token) {
    auto r = verify(token);
    return r.ok() ? "" : std::string(token_failure_reason(r.error()));
  }

  TestKey key_a_{TestKey::Kind::rsa, "a"};
  TestKey key_b_{TestKey::Kind::ec, "b"};
  FakeIdp idp_;
  ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(kStart))};
  std::vector<config::OidcIssuerConfig> issuers_;
  std::unique_ptr<OidcVerifier> verifier_;
  asio::io_context io_;
};

TEST_F(OidcVerifierTest, VerifiesAndSaysWhoTheHolderIs) {
  auto v = verify(key_a_.sign("RS256", claims()));
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->subject, "alice");
  EXPECT_EQ(v->email, "alice@example.com");
  EXPECT_TRUE(v->is_admin);
  EXPECT_EQ(v->teams, (std::vector<std::string>{"payments", "aegis-admins"}));
  ASSERT_EQ(v->key_id.size(), 5u + 16u);
  EXPECT_EQ(v->key_id.substr(0, 5), "oidc:");
  // Stable per (iss, sub), different for another subject.
  auto again = verify(key_a_.sign("RS256", claims()));
  EXPECT_EQ(again->key_id, v->key_id);
  auto c = claims();
  c["sub"] = "bob";
  EXPECT_NE(verify(key_a_.sign("RS256", c))->key_id, v->key_id);
  EXPECT_EQ(idp_.jwks_fetches(), 1);  // cached
}

TEST_F(OidcVerifierTest, TeamsMapThroughTheConfiguredTable) {
  issuers_[0].teams = {{"payments", "pay-team"}, {"ops", "ops-team"}};
  auto v = verify(key_a_.sign("RS256", claims()));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->teams, (std::vector<std::string>{"pay-team"}));  // unmapped values are dropped
  EXPECT_TRUE(v->is_admin);
}

TEST_F(OidcVerifierTest, AStringTeamClaimIsOneValue) {
  issuers_[0].team_claim = "dept";
  auto c = claims();
  c["dept"] = "research";
  auto v = verify(key_a_.sign("RS256", c));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->teams, (std::vector<std::string>{"research"}));
  EXPECT_FALSE(v->is_admin);
}

TEST_F(OidcVerifierTest, UnknownIssuerIsRefusedWithoutFetching) {
  auto c = claims();
  c["iss"] = "https://other.example.com";
  EXPECT_EQ(reason_of(key_a_.sign("RS256", c)), "unknown_issuer");
  EXPECT_TRUE(idp_.fetches.empty());
}

TEST_F(OidcVerifierTest, UnknownKidRefetchesAtMostOncePerInterval) {
  ASSERT_EQ(reason_of(key_a_.sign("RS256", claims())), "");
  EXPECT_EQ(idp_.jwks_fetches(), 1);
  const TestKey stranger(TestKey::Kind::rsa, "stranger");
  for (int i = 0; i < 20; ++i) EXPECT_EQ(reason_of(stranger.sign("RS256", claims())), "unknown_key");
  // The first unknown kid is within 30 s of the first fetch: no refetch at all.
  EXPECT_EQ(idp_.jwks_fetches(), 1);
  clock_.advance(31s);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(reason_of(stranger.sign("RS256", claims())), "unknown_key");
  EXPECT_EQ(idp_.jwks_fetches(), 2);  // one more, however many tried
  clock_.advance(29s);
  EXPECT_EQ(reason_of(stranger.sign("RS256", claims())), "unknown_key");
  EXPECT_EQ(idp_.jwks_fetches(), 2);
  clock_.advance(2s);
  EXPECT_EQ(reason_of(stranger.sign("RS256", claims())), "unknown_key");
  EXPECT_EQ(idp_.jwks_fetches(), 3);
}

TEST_F(OidcVerifierTest, RotatedKeyIsPickedUpByOneRefetch) {
  ASSERT_EQ(reason_of(key_a_.sign("RS256", claims())), "");
  publish({key_b_.jwk()});  // the provider rotated: a is gone, b is new
  clock_.advance(31s);
  EXPECT_EQ(reason_of(key_b_.sign("ES256", claims())), "");
  EXPECT_EQ(idp_.jwks_fetches(), 2);
  // a's tokens now fail (its kid is unknown, and the interval has not passed).
  EXPECT_EQ(reason_of(key_a_.sign("RS256", claims())), "unknown_key");
  EXPECT_EQ(idp_.jwks_fetches(), 2);
}

TEST_F(OidcVerifierTest, KeysAreFetchedAgainAfterTheCacheTime) {
  ASSERT_EQ(reason_of(key_a_.sign("RS256", claims())), "");
  clock_.advance(3599s);
  ASSERT_EQ(reason_of(key_a_.sign("RS256", claims())), "");
  EXPECT_EQ(idp_.jwks_fetches(), 1);
  clock_.advance(2s);
  ASSERT_EQ(reason_of(key_a_.sign("RS256", claims())), "");
  EXPECT_EQ(idp_.jwks_fetches(), 2);
}

TEST_F(OidcVerifierTest, StaleKeysKeepWorkingWhileTheProviderIsAway) {
  ASSERT_EQ(reason_of(key_a_.sign("RS256", claims())), "");
  idp_.documents.erase(std::string(kIssuer) + "/jwks");
  clock_.advance(3601s);
  EXPECT_EQ(reason_of(key_a_.sign("RS256", claims())), "");
  EXPECT_EQ(idp_.jwks_fetches(), 2);
}

TEST_F(OidcVerifierTest, AnUnreachableProviderIsKeysUnavailableAndNotHammered) {
  idp_.documents.clear();
  EXPECT_EQ(reason_of(key_a_.sign("RS256", claims())), "keys_unavailable");
  EXPECT_EQ(reason_of(key_a_.sign("RS256", claims())), "keys_unavailable");
  EXPECT_EQ(idp_.fetches[std::string(kIssuer) + "/.well-known/openid-configuration"], 1);
}

TEST_F(OidcVerifierTest, DiscoveryMustNameTheConfiguredIssuerAndASafeJwksUri) {
  idp_.documents[std::string(kIssuer) + "/.well-known/openid-configuration"] =
      R"({"issuer":"https://evil.example.com","jwks_uri":"https://idp.example.com/jwks"})";
  EXPECT_EQ(reason_of(key_a_.sign("RS256", claims())), "keys_unavailable");
  EXPECT_EQ(idp_.jwks_fetches(), 0);
  verifier_.reset();
  idp_.documents[std::string(kIssuer) + "/.well-known/openid-configuration"] =
      R"({"issuer":"https://idp.example.com","jwks_uri":"http://idp.example.com/jwks"})";
  EXPECT_EQ(reason_of(key_a_.sign("RS256", claims())), "keys_unavailable");
  EXPECT_EQ(idp_.fetches["http://idp.example.com/jwks"], 0);
}

TEST_F(OidcVerifierTest, ConfiguredDiscoveryUrlIsUsed) {
  issuers_[0].discovery_url = "https://idp.example.com/custom";
  idp_.documents["https://idp.example.com/custom"] =
      R"({"issuer":"https://idp.example.com","jwks_uri":"https://idp.example.com/jwks"})";
  idp_.documents.erase(std::string(kIssuer) + "/.well-known/openid-configuration");
  EXPECT_EQ(reason_of(key_a_.sign("RS256", claims())), "");
}

TEST_F(OidcVerifierTest, ConcurrentRequestsShareOneFetch) {
  idp_.yield = true;
  const std::string token = key_a_.sign("RS256", claims());
  int ok = 0;
  for (int i = 0; i < 10; ++i) {
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          auto r = co_await verifier().verify(token);
          if (r.ok()) ++ok;
        },
        [](const std::exception_ptr& e) {
          if (e) std::rethrow_exception(e);
        });
  }
  io_.run();
  EXPECT_EQ(ok, 10);
  EXPECT_EQ(idp_.jwks_fetches(), 1);
}

TEST_F(OidcVerifierTest, ClockSkewComesFromTheIssuerConfig) {
  issuers_[0].clock_skew = 0s;
  auto c = claims();
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(clock_.wall_now().time_since_epoch()).count();
  c["exp"] = now + 5;
  const std::string token = key_a_.sign("RS256", c);
  EXPECT_EQ(reason_of(token), "");
  clock_.advance(5s);
  EXPECT_EQ(reason_of(token), "expired");
}

}  // namespace
}  // namespace aegis::identity
