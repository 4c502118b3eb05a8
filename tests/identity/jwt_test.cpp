// identity/jwt.hpp and identity/jwks.hpp: tokens signed here with OpenSSL
// for every accepted algorithm, and each way a token or a key is refused.
#include "identity/jwt.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "core/encoding.hpp"
#include "identity/jwks.hpp"
#include "support/jwt_signer.hpp"

namespace aegis::identity {
namespace {

using testing::TestKey;
using namespace std::chrono_literals;

constexpr std::int64_t kNow = 1'700'000'000;
constexpr auto kNowTp = std::chrono::system_clock::time_point(std::chrono::seconds(kNow));

const TestKey& rsa() {
  static const TestKey key(TestKey::Kind::rsa, "rsa-1");
  return key;
}
const TestKey& ec() {
  static const TestKey key(TestKey::Kind::ec, "ec-1");
  return key;
}
const TestKey& ed() {
  static const TestKey key(TestKey::Kind::ed25519, "ed-1");
  return key;
}

boost::json::object claims(std::int64_t exp = kNow + 300) {
  return {
      {"iss", "https://idp.example.com"},        {"aud", "aegis"}, {"sub", "user-1"}, {"exp", exp}, {"iat", kNow - 10},
      {"groups", boost::json::array{"payments"}}};
}

Jwk jwk_of(const TestKey& key, const std::string& alg = "") {
  auto parsed = parse_jwk(key.jwk(alg));
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  return std::move(parsed).value();
}

std::string reason(const Error& e) { return std::string(token_failure_reason(e)); }

// Parses and verifies; the reason on failure ("" on success).
std::string verify(const std::string& token, const Jwk& key) {
  auto jwt = parse_jwt(token);
  if (!jwt.ok()) return reason(jwt.error());
  auto ok = verify_signature(*jwt, key);
  return ok.ok() ? "" : reason(ok.error());
}

const ClaimRules& rules() {
  static const ClaimRules kRules{"https://idp.example.com", "aegis", 60s};
  return kRules;
}

std::string claims_reason(const boost::json::object& c, std::chrono::system_clock::time_point now = kNowTp) {
  auto jwt = parse_jwt(rsa().sign("RS256", c));
  EXPECT_TRUE(jwt.ok());
  auto ok = check_claims(*jwt, rules(), now);
  return ok.ok() ? "" : reason(ok.error());
}

TEST(Jwt, EveryAcceptedAlgorithmVerifies) {
  EXPECT_EQ(verify(rsa().sign("RS256", claims()), jwk_of(rsa())), "");
  EXPECT_EQ(verify(rsa().sign("PS256", claims()), jwk_of(rsa())), "");
  EXPECT_EQ(verify(ec().sign("ES256", claims()), jwk_of(ec())), "");
  EXPECT_EQ(verify(ed().sign("EdDSA", claims()), jwk_of(ed())), "");
}

TEST(Jwt, AnotherKeyOfTheSameTypeDoesNotVerify) {
  const TestKey other(TestKey::Kind::rsa, "rsa-2");
  EXPECT_EQ(verify(other.sign("RS256", claims()), jwk_of(rsa())), "bad_signature");
  const TestKey other_ec(TestKey::Kind::ec, "ec-2");
  EXPECT_EQ(verify(other_ec.sign("ES256", claims()), jwk_of(ec())), "bad_signature");
}

TEST(Jwt, Rs256AndPs256AreNotInterchangeable) {
  // The same RSA key, the header claiming the other padding.
  const std::string rs = rsa().sign("RS256", claims(), {{"alg", "PS256"}});
  EXPECT_EQ(verify(rs, jwk_of(rsa())), "bad_signature");
  const std::string ps = rsa().sign("PS256", claims(), {{"alg", "RS256"}});
  EXPECT_EQ(verify(ps, jwk_of(rsa())), "bad_signature");
}

TEST(Jwt, AlgNoneAndHmacAreRefusedBeforeAnyKey) {
  const std::string payload = TestKey::b64(TestKey::serialize(claims()));
  const std::string none = TestKey::b64(R"({"alg":"none"})") + "." + payload + ".";
  EXPECT_EQ(reason(parse_jwt(none).error()), "unsupported_alg");
  const std::string hs = TestKey::b64(R"({"alg":"HS256","kid":"rsa-1"})") + "." + payload + "." + TestKey::b64("mac");
  EXPECT_EQ(reason(parse_jwt(hs).error()), "unsupported_alg");
  const std::string rs384 = TestKey::b64(R"({"alg":"RS384"})") + "." + payload + "." + TestKey::b64("sig");
  EXPECT_EQ(reason(parse_jwt(rs384).error()), "unsupported_alg");
  const std::string crit = TestKey::b64(R"({"alg":"RS256","crit":["exp"]})") + "." + payload + "." + TestKey::b64("s");
  EXPECT_EQ(reason(parse_jwt(crit).error()), "malformed");
}

TEST(Jwt, AlgMustMatchTheKeyTypeAndTheKeysOwnAlg) {
  // An ES256 header against an RSA key, an RS256 header against an EC key.
  EXPECT_EQ(verify(ec().sign("ES256", claims()), jwk_of(rsa())), "unknown_key");
  EXPECT_EQ(verify(rsa().sign("RS256", claims()), jwk_of(ec())), "unknown_key");
  EXPECT_EQ(verify(ed().sign("EdDSA", claims()), jwk_of(rsa())), "unknown_key");
  // A JWK that says RS256 does not verify PS256, though the key could.
  EXPECT_EQ(verify(rsa().sign("PS256", claims()), jwk_of(rsa(), "RS256")), "unknown_key");
  EXPECT_EQ(verify(rsa().sign("RS256", claims()), jwk_of(rsa(), "RS256")), "");
}

TEST(Jwt, MalformedTokensAreRefused) {
  const std::string good = rsa().sign("RS256", claims());
  EXPECT_TRUE(parse_jwt(good).ok());
  const auto dot = good.rfind('.');
  EXPECT_EQ(reason(parse_jwt(good + ".x").error()), "malformed");                        // four segments
  EXPECT_EQ(reason(parse_jwt(good.substr(0, dot)).error()), "malformed");                // two
  EXPECT_EQ(reason(parse_jwt("." + good.substr(good.find('.'))).error()), "malformed");  // empty header
  EXPECT_EQ(reason(parse_jwt(good.substr(0, dot) + ".a+b").error()), "malformed");       // not base64url
  EXPECT_EQ(reason(parse_jwt(good.substr(0, dot) + ".abcde").error()), "malformed");     // impossible length
  EXPECT_EQ(reason(parse_jwt(TestKey::b64("[1]") + ".e30.c2ln").error()), "malformed");  // header not an object
  EXPECT_EQ(reason(parse_jwt(TestKey::b64(R"({"alg":"RS256"})") + "." + TestKey::b64("not json") + ".c2ln").error()),
            "malformed");
  EXPECT_EQ(reason(parse_jwt(TestKey::b64(R"({"alg":"RS256","kid":7})") + ".e30.c2ln").error()), "malformed");
}

TEST(Jwt, OversizedTokensAreRefusedUnread) {
  auto c = claims();
  c["pad"] = std::string(kMaxTokenBytes, 'x');
  const std::string big = rsa().sign("RS256", c);
  ASSERT_GT(big.size(), kMaxTokenBytes);
  EXPECT_EQ(reason(parse_jwt(big).error()), "malformed");
  EXPECT_TRUE(looks_like_jwt(big));
}

TEST(Jwt, TamperedPayloadOrSignatureDoesNotVerify) {
  const std::string good = rsa().sign("RS256", claims());
  const auto first = good.find('.');
  const auto second = good.rfind('.');
  auto other = claims();
  other["sub"] = "admin";
  const std::string swapped = good.substr(0, first + 1) + TestKey::b64(TestKey::serialize(other)) + good.substr(second);
  EXPECT_EQ(verify(swapped, jwk_of(rsa())), "bad_signature");
  std::string flipped = good;
  flipped[second + 5] = flipped[second + 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(verify(flipped, jwk_of(rsa())), "bad_signature");
  // The last character's unused bits: another spelling of the same bytes is not accepted either.
  std::string last = good;
  last.back() = last.back() == 'A' ? 'B' : static_cast<char>(last.back() ^ 1);
  EXPECT_NE(verify(last, jwk_of(rsa())), "");
}

TEST(Jwt, LooksLikeJwt) {
  EXPECT_TRUE(looks_like_jwt("a.b.c"));
  EXPECT_FALSE(looks_like_jwt("aeg_0123456789abcdef_abc"));
  EXPECT_FALSE(looks_like_jwt("a.b"));
  EXPECT_FALSE(looks_like_jwt("a.b.c.d"));
  EXPECT_FALSE(looks_like_jwt("a.b=.c"));
}

TEST(JwtClaims, AcceptsAValidToken) { EXPECT_EQ(claims_reason(claims()), ""); }

TEST(JwtClaims, ExpiryHonoursTheSkewToTheSecond) {
  // exp 100 s ago with 60 s of skew: refused; exp 59 s ago: accepted; exactly at the skew: refused.
  EXPECT_EQ(claims_reason(claims(kNow - 100)), "expired");
  EXPECT_EQ(claims_reason(claims(kNow - 59)), "");
  EXPECT_EQ(claims_reason(claims(kNow - 60)), "expired");
  auto no_exp = claims();
  no_exp.erase("exp");
  EXPECT_EQ(claims_reason(no_exp), "expired");
  auto text_exp = claims();
  text_exp["exp"] = "soon";
  EXPECT_EQ(claims_reason(text_exp), "bad_claims");
}

TEST(JwtClaims, NotBeforeAndIssuedAtInTheFuture) {
  auto c = claims();
  c["nbf"] = kNow + 60;
  EXPECT_EQ(claims_reason(c), "");
  c["nbf"] = kNow + 61;
  EXPECT_EQ(claims_reason(c), "not_yet_valid");
  EXPECT_EQ(claims_reason(c, kNowTp + 1s), "");  // a second later it is
  auto i = claims();
  i["iat"] = kNow + 3600;
  EXPECT_EQ(claims_reason(i), "issued_in_future");
  i["iat"] = kNow + 60;
  EXPECT_EQ(claims_reason(i), "");
}

TEST(JwtClaims, IssuerAudienceAndSubject) {
  auto c = claims();
  c["iss"] = "https://evil.example.com";
  EXPECT_EQ(claims_reason(c), "unknown_issuer");
  c = claims();
  c["aud"] = "other";
  EXPECT_EQ(claims_reason(c), "wrong_audience");
  c["aud"] = boost::json::array{"other", "aegis"};
  EXPECT_EQ(claims_reason(c), "");
  c.erase("aud");
  EXPECT_EQ(claims_reason(c), "wrong_audience");
  c = claims();
  c.erase("sub");
  EXPECT_EQ(claims_reason(c), "bad_claims");
}

TEST(JwtClaims, StringValues) {
  boost::json::object c{{"g", "one"}, {"h", boost::json::array{"a", 1, "b"}}, {"i", 5}};
  EXPECT_EQ(string_values(c, "g"), (std::vector<std::string>{"one"}));
  EXPECT_EQ(string_values(c, "h"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(string_values(c, "i").empty());
  EXPECT_TRUE(string_values(c, "missing").empty());
}

TEST(Jwk, ParsesEachKeyType) {
  EXPECT_EQ(jwk_of(rsa()).type(), Jwk::Type::rsa);
  EXPECT_EQ(jwk_of(ec()).type(), Jwk::Type::ec_p256);
  EXPECT_EQ(jwk_of(ed()).type(), Jwk::Type::ed25519);
  EXPECT_EQ(jwk_of(ec(), "ES256").alg(), JwsAlg::ES256);
}

TEST(Jwk, RefusesBrokenAndForeignKeys) {
  auto k = rsa().jwk();
  k.erase("n");
  EXPECT_FALSE(parse_jwk(k).ok());
  k = ec().jwk();
  k["crv"] = "P-384";
  EXPECT_FALSE(parse_jwk(k).ok());
  k = ec().jwk();
  k["x"] = TestKey::b64(std::string(32, '\x01'));  // not on the curve
  EXPECT_FALSE(parse_jwk(k).ok());
  k = ed().jwk();
  k["crv"] = "X25519";
  EXPECT_FALSE(parse_jwk(k).ok());
  k = rsa().jwk();
  k["use"] = "enc";
  EXPECT_FALSE(parse_jwk(k).ok());
  k = rsa().jwk("ES256");  // alg of another key type
  EXPECT_FALSE(parse_jwk(k).ok());
  k = rsa().jwk("HS256");
  EXPECT_FALSE(parse_jwk(k).ok());
  EXPECT_FALSE(parse_jwk(boost::json::object{{"kty", "oct"}, {"k", "c2VjcmV0"}}).ok());
  k = rsa().jwk();
  k["n"] = TestKey::b64(std::string(128, '\xff'));  // 1024 bits
  EXPECT_FALSE(parse_jwk(k).ok());
}

TEST(Jwk, ASetKeepsUsableKeysAndFindsByKidAndAlg) {
  auto set = parse_jwk_set(testing::jwk_set({rsa().jwk(), ec().jwk(), boost::json::object{{"kty", "oct"}}}));
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->keys.size(), 2u);
  EXPECT_NE(set->find(std::string("rsa-1"), JwsAlg::RS256), nullptr);
  EXPECT_EQ(set->find(std::string("rsa-1"), JwsAlg::ES256), nullptr);
  EXPECT_EQ(set->find(std::string("nope"), JwsAlg::RS256), nullptr);
  EXPECT_NE(set->find(std::nullopt, JwsAlg::ES256), nullptr);  // the only EC key
  EXPECT_FALSE(parse_jwk_set("[]").ok());
  EXPECT_FALSE(parse_jwk_set("{\"keys\": 1}").ok());
}

TEST(Base64Url, StrictDecoding) {
  EXPECT_EQ(base64url_decode("Zm8"), "fo");
  EXPECT_EQ(base64url_decode("-_8"), std::string("\xfb\xff", 2));
  EXPECT_FALSE(base64url_decode("Zm8=").has_value());  // padding
  EXPECT_FALSE(base64url_decode("Zm9").has_value());   // non-zero unused bits
  EXPECT_FALSE(base64url_decode("Z").has_value());
  EXPECT_FALSE(base64url_decode("a+b/").has_value());
}

}  // namespace
}  // namespace aegis::identity
