#include "identity/console_session.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "core/system_clock.hpp"

namespace aegis::identity {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kSecret = "ssssssssssssssssssssssssssssssss";  // 32 bytes

class ConsoleSessionsTest : public ::testing::Test {
 protected:
  ManualClock clock{std::chrono::system_clock::time_point(std::chrono::hours(490'000))};
  ConsoleSessions sessions{std::string(kSecret), 1h, clock};
};

TEST_F(ConsoleSessionsTest, AnIssuedCookieNamesItsSession) {
  auto [issued, cookie] = sessions.issue("user-1", "Ada", "oidc");
  auto verified = sessions.verify(cookie);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->id, issued.id);
  EXPECT_EQ(verified->subject, "user-1");
  EXPECT_EQ(verified->name, "Ada");
  EXPECT_EQ(verified->method, "oidc");
  // Cookie-safe characters only: hex, '.', base64url.
  EXPECT_EQ(cookie.find_first_not_of("0123456789abcdef.ABCDEFGHIJKLMNOPQRSTUVWXYZghijklmnopqrstuvwxyz-_"),
            std::string::npos);
}

TEST_F(ConsoleSessionsTest, AnyChangedCharacterIsRefused) {
  auto [issued, cookie] = sessions.issue("user-1", "Ada", "oidc");
  for (std::size_t i = 0; i < cookie.size(); i += 7) {
    std::string tampered = cookie;
    tampered[i] = tampered[i] == 'a' ? 'b' : 'a';
    auto verified = sessions.verify(tampered);
    ASSERT_FALSE(verified.ok()) << "position " << i;
    EXPECT_EQ(verified.error().code, ErrorCode::unauthorized);
  }
  EXPECT_FALSE(sessions.verify("").ok());
  EXPECT_FALSE(sessions.verify("no-dot").ok());
  EXPECT_FALSE(sessions.verify(std::string(5000, 'a') + ".x").ok());
}

TEST_F(ConsoleSessionsTest, AnotherSecretsCookieIsRefused) {
  ConsoleSessions other(std::string(32, 'o'), 1h, clock);
  auto [issued, cookie] = other.issue("user-1", "Ada", "oidc");
  EXPECT_FALSE(sessions.verify(cookie).ok());
  EXPECT_TRUE(other.verify(cookie).ok());
}

TEST_F(ConsoleSessionsTest, ASessionEndsAtItsExpiry) {
  auto [issued, cookie] = sessions.issue("admin-key", "Admin key", "admin_key");
  clock.advance(1h - 1ms);
  EXPECT_TRUE(sessions.verify(cookie).ok());
  clock.advance(1ms);
  EXPECT_FALSE(sessions.verify(cookie).ok());
}

TEST_F(ConsoleSessionsTest, ARevokedSessionIsRefusedAndOthersAreNot) {
  auto [first, first_cookie] = sessions.issue("a", "A", "oidc");
  auto [second, second_cookie] = sessions.issue("b", "B", "oidc");
  sessions.revoke(first);
  EXPECT_FALSE(sessions.verify(first_cookie).ok());
  EXPECT_TRUE(sessions.verify(second_cookie).ok());
}

TEST_F(ConsoleSessionsTest, TheCsrfTokenBelongsToOneSession) {
  auto [first, first_cookie] = sessions.issue("a", "A", "oidc");
  auto [second, second_cookie] = sessions.issue("a", "A", "oidc");
  const auto token = sessions.csrf_token(first);
  EXPECT_TRUE(sessions.csrf_matches(first, token));
  EXPECT_FALSE(sessions.csrf_matches(second, token));
  EXPECT_FALSE(sessions.csrf_matches(first, ""));
  EXPECT_FALSE(sessions.csrf_matches(first, token.substr(1)));
  // The token is not the cookie's signature: one cannot stand for the other.
  EXPECT_EQ(first_cookie.find(token), std::string::npos);
}

TEST_F(ConsoleSessionsTest, SealedValuesRoundTripAndRefuseTampering) {
  const auto sealed = sessions.seal("0~state~nonce~verifier~123");
  auto opened = sessions.unseal(sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, "0~state~nonce~verifier~123");
  std::string tampered = sealed;
  tampered[2] = 'X';
  EXPECT_FALSE(sessions.unseal(tampered).ok());
  // A session cookie's signature is for sessions only.
  auto [issued, cookie] = sessions.issue("a", "A", "oidc");
  EXPECT_FALSE(sessions.unseal(cookie).ok());
}

TEST_F(ConsoleSessionsTest, AShortSecretIsAStartUpError) {
  EXPECT_THROW(ConsoleSessions(std::string(31, 'x'), 1h, clock), std::runtime_error);
  ConsoleSessions random_secret(std::string(), 1h, clock);
  auto [issued, cookie] = random_secret.issue("a", "A", "oidc");
  EXPECT_TRUE(random_secret.verify(cookie).ok());
  EXPECT_FALSE(sessions.verify(cookie).ok());
}

TEST(CookieValue, FindsANamedCookie) {
  EXPECT_EQ(cookie_value("a=1; aegis_session=abc.def; b=2", "aegis_session"), "abc.def");
  EXPECT_EQ(cookie_value("aegis_session=\"q\"", "aegis_session"), "q");
  EXPECT_EQ(cookie_value("x_aegis_session=1", "aegis_session"), std::nullopt);
  EXPECT_EQ(cookie_value("", "aegis_session"), std::nullopt);
  EXPECT_EQ(cookie_value("a=1;b=2", "b"), "2");
}

}  // namespace
}  // namespace aegis::identity
