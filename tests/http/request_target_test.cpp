#include "http/request_target.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace aegis::http {
namespace {

TEST(RequestTarget, OriginFormIsDecodedPerSegment) {
  auto t = parse_request_target("/v1/jobs/job_1?wait=5&x=%20");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/v1/jobs/job_1");
  EXPECT_EQ(t->query, "wait=5&x=%20");
  auto encoded = parse_request_target("/%761/models");
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(encoded->path, "/v1/models");  // the router sees the one spelling it matches on
  auto space = parse_request_target("/admin/v1/teams/a%20b");
  ASSERT_TRUE(space.ok());
  EXPECT_EQ(space->path, "/admin/v1/teams/a b");
  auto root = parse_request_target("/");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->path, "/");
}

TEST(RequestTarget, AbsoluteFormUsesItsPath) {
  auto t = parse_request_target("http://gateway.example:8080/v1/models?a=1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/v1/models");
  EXPECT_EQ(t->query, "a=1");
  auto bare = parse_request_target("http://gateway.example");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->path, "/");
  EXPECT_FALSE(parse_request_target("http://gateway.example//v1/models").ok());
  EXPECT_FALSE(parse_request_target("ftp://gateway.example/v1/models").ok());
}

TEST(RequestTarget, RefusesEverySpellingThatIsNotNormal) {
  for (const char* target :
       {"//v1/chat/completions", "///v1/chat/completions", "/v1//chat/completions", "/v1/chat/completions/",
        "/v1/./chat/completions", "/v1/../v1/chat/completions", "/v1/%2e/models", "/v1/%2E%2E/v1/models",
        "/v1%2Fchat/completions", "/v1%2fchat/completions", "/v1%5cmodels", "/v1/mo%00dels", "/v1/mo%zzdels", "*", "",
        "v1/models", "/v1/models#frag"}) {
    auto t = parse_request_target(target);
    EXPECT_FALSE(t.ok()) << target;
    if (!t.ok()) {
      EXPECT_EQ(t.error().code, ErrorCode::invalid_request) << target;
    }
  }
}

TEST(RequestTarget, EscapesDecodeWithinTheirSegment) {
  for (const auto& [target, path] : std::vector<std::pair<std::string, std::string>>{
           {"/%76%31/models", "/v1/models"},                              // unreserved letters, lower-case hex
           {"/%561/models", "/V1/models"},                                // the letter as written: no case folding
           {"/v1/mo%64els", "/v1/models"},                                //
           {"/admin/v1/teams/caf%C3%A9", "/admin/v1/teams/caf\xC3\xA9"},  // UTF-8 of U+00E9
           {"/admin/v1/teams/caf%c3%a9", "/admin/v1/teams/caf\xC3\xA9"},  // either case of hex
           {"/admin/v1/teams/%E2%82%AC%F0%9F%98%80", "/admin/v1/teams/\xE2\x82\xAC\xF0\x9F\x98\x80"},
           {"/admin/v1/teams/a%25b", "/admin/v1/teams/a%b"},        // decoded once: "%25" is a '%'
           {"/admin/v1/teams/a%252Fb", "/admin/v1/teams/a%2Fb"},    // ... so this is no separator
           {"/admin/v1/teams/a%3Fb%23c", "/admin/v1/teams/a?b#c"},  // '?' and '#' as data
           {"/admin/v1/teams/...", "/admin/v1/teams/..."},          // three dots are a name
           {"/admin/v1/teams/%2e%2e%2e", "/admin/v1/teams/..."},
       }) {
    auto t = parse_request_target(target);
    ASSERT_TRUE(t.ok()) << target;
    EXPECT_EQ(t->path, path) << target;
  }
}

TEST(RequestTarget, EncodedSeparatorsAreRefusedInEitherCase) {
  for (const char* target :
       {"/v1%2Fmodels", "/v1%2fmodels", "/v1/%2F", "/v1/%2f", "/%2F/v1/models", "/v1%5Cmodels", "/v1%5cmodels",
        "/v1/models%2F", "/admin/v1/teams/a%2Fb", "/admin/v1/teams/%2F%2E%2E", "http://gateway.example/v1%2Fmodels"}) {
    auto t = parse_request_target(target);
    ASSERT_FALSE(t.ok()) << target;
    EXPECT_EQ(t.error().code, ErrorCode::invalid_request) << target;
    EXPECT_NE(t.error().message.find("encoded"), std::string::npos) << target << ": " << t.error().message;
  }
}

TEST(RequestTarget, InvalidEscapesAreRefused) {
  for (const char* target : {"/v1/mo%", "/v1/mo%2", "/v1/mo%g0", "/v1/mo%0g", "/v1/mo%%30", "/v1/%", "/v1/models%",
                             "/v1/mo%2-dels", "/v1/mo%u0064els", "/v1/mo%1Fdels", "/v1/mo%7Fdels"}) {
    auto t = parse_request_target(target);
    ASSERT_FALSE(t.ok()) << target;
    EXPECT_EQ(t.error().code, ErrorCode::invalid_request) << target;
  }
}

TEST(RequestTarget, ALeadingDotSegmentIsRefusedToo) {
  // Boost.URL's segment views would hide these leading "/./" prefixes.
  for (const char* target : {"/./v1/models", "/././v1/models", "/.//v1/models", "/.", "/..", "/%2E/v1/models",
                             "http://gateway.example/./v1/models"}) {
    auto t = parse_request_target(target);
    EXPECT_FALSE(t.ok()) << target;
  }
}

TEST(RequestTarget, SemicolonParametersStayPartOfTheSegment) {
  // Not stripped (as some servers do): "/v1/models;x=1" matches no route.
  auto t = parse_request_target("/v1/models;x=1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/v1/models;x=1");
}

}  // namespace
}  // namespace aegis::http
