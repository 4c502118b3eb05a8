// The `oidc` section: issuers, their defaults, and the start-up errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "config/loader.hpp"
#include "support/config_issues.hpp"

namespace aegis::config {
namespace {

using test_support::one_config_issue;
using ::testing::HasSubstr;

const char* env(const char* name) { return std::strcmp(name, "CONSOLE_SECRET") == 0 ? "shh" : nullptr; }

TEST(OidcConfig, ReadsAnIssuerWithItsDefaults) {
  const Config c = parse_config(R"(oidc:
  issuers:
    - issuer: "https://idp.example.com"
      audience: aegis
      teams: {"cn=pay": payments}
      admin_values: [aegis-admins]
      console_client_secret: "${CONSOLE_SECRET}"
    - issuer: "http://127.0.0.1:9999"
      audience: local
      discovery_url: "http://localhost:9999/.well-known/openid-configuration"
      team_claim: roles
      clock_skew_s: 0
      jwks_min_refresh_interval_s: 5
      jwks_cache_s: 60
)",
                                "t.yaml", &env);
  ASSERT_EQ(c.oidc.issuers.size(), 2u);
  const auto& a = c.oidc.issuers[0];
  EXPECT_EQ(a.audience, "aegis");
  EXPECT_EQ(a.team_claim, "groups");
  EXPECT_EQ(a.teams.at("cn=pay"), "payments");
  EXPECT_EQ(a.admin_values, (std::vector<std::string>{"aegis-admins"}));
  EXPECT_EQ(a.clock_skew, std::chrono::seconds(60));
  EXPECT_EQ(a.jwks_min_refresh_interval, std::chrono::seconds(30));
  EXPECT_EQ(a.jwks_cache, std::chrono::seconds(3600));
  EXPECT_EQ(a.console_client_id, "aegis-console");
  EXPECT_EQ(a.console_client_secret, "shh");
  EXPECT_EQ(a.discovery(), "https://idp.example.com/.well-known/openid-configuration");
  const auto& b = c.oidc.issuers[1];
  EXPECT_EQ(b.team_claim, "roles");
  EXPECT_EQ(b.clock_skew, std::chrono::seconds(0));
  EXPECT_EQ(b.discovery(), "http://localhost:9999/.well-known/openid-configuration");
  EXPECT_TRUE(parse_config("", "t.yaml", &env).oidc.issuers.empty());
}

TEST(OidcConfig, RefusesPlainHttpBeyondThisMachine) {
  EXPECT_THAT(
      one_config_issue("oidc:\n  issuers:\n    - issuer: \"http://idp.example.com\"\n      audience: a\n", &env),
      HasSubstr("t.yaml:3:15: oidc.issuers[0].issuer: expected an https URL"));
  EXPECT_THAT(one_config_issue("oidc:\n  issuers:\n    - issuer: \"https://idp.example.com\"\n      audience: a\n"
                               "      discovery_url: \"http://10.0.0.1/d\"\n",
                               &env),
              HasSubstr("oidc.issuers[0].discovery_url: expected an https URL"));
  EXPECT_THAT(
      one_config_issue("oidc:\n  issuers:\n    - issuer: \"https://idp.example.com?x=1\"\n      audience: a\n", &env),
      HasSubstr("oidc.issuers[0].issuer"));
}

TEST(OidcConfig, RequiresIssuerAndAudienceAndRefusesDuplicates) {
  EXPECT_THAT(one_config_issue("oidc:\n  issuers:\n    - issuer: \"https://idp.example.com\"\n", &env),
              HasSubstr("oidc.issuers[0].audience: required key is missing"));
  EXPECT_THAT(one_config_issue("oidc:\n  issuers:\n    - issuer: \"https://a.example.com\"\n      audience: a\n"
                               "    - issuer: \"https://a.example.com\"\n      audience: b\n",
                               &env),
              HasSubstr("oidc.issuers[1].issuer: duplicate issuer"));
  EXPECT_THAT(one_config_issue("oidc:\n  issuers:\n    - issuer: \"https://a.example.com\"\n      audience: a\n"
                               "      jwks_min_refresh_interval_s: 0\n",
                               &env),
              HasSubstr("expected an integer in 1..86400"));
  EXPECT_THAT(one_config_issue("oidc:\n  issuers:\n    - issuer: \"https://a.example.com\"\n      audience: a\n"
                               "      audiences: b\n",
                               &env),
              HasSubstr("oidc.issuers[0].audiences: unknown key; did you mean \"audience\"?"));
  EXPECT_THAT(one_config_issue("oidc:\n  issuers:\n    - issuer: \"https://a.example.com\"\n      audience: a\n"
                               "      console_client_secret: \"${MISSING}\"\n",
                               &env),
              HasSubstr("environment variable MISSING is not set"));
}

TEST(OidcConfig, UrlRule) {
  EXPECT_TRUE(is_oidc_url("https://idp.example.com/realms/x"));
  EXPECT_TRUE(is_oidc_url("http://127.0.0.1:8080"));
  EXPECT_TRUE(is_oidc_url("http://[::1]:8080/x"));
  EXPECT_TRUE(is_oidc_url("http://localhost/x"));
  EXPECT_FALSE(is_oidc_url("http://127.0.0.2/x"));
  EXPECT_FALSE(is_oidc_url("http://localhost.evil.com/x"));
  EXPECT_FALSE(is_oidc_url("ftp://idp.example.com"));
  EXPECT_FALSE(is_oidc_url("https://user@idp.example.com"));
  EXPECT_FALSE(is_oidc_url("https://idp.example.com/#x"));
  EXPECT_FALSE(is_oidc_url("idp.example.com"));
}

}  // namespace
}  // namespace aegis::config
