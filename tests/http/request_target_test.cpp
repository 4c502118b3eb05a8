#include "http/request_target.hpp"

#include <gtest/gtest.h>

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
        "/v1%2Fchat/completions", "/v1%2fchat/completions", "/v1%5cmodels", "/v1/mo%00dels", "/v1/mo%zzdels",
        "*", "", "v1/models", "/v1/models#frag"}) {
    auto t = parse_request_target(target);
    EXPECT_FALSE(t.ok()) << target;
    if (!t.ok()) {
      EXPECT_EQ(t.error().code, ErrorCode::invalid_request) << target;
    }
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
