#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "http/json_response.hpp"
#include "http/router.hpp"

namespace aegis::http {
namespace {

HttpRequest make_request(std::string method, std::string path) {
  HttpRequest request;
  request.method = std::move(method);
  request.path = std::move(path);
  return request;
}

HttpResponse run(const Router& router, HttpRequest& request) {
  boost::asio::io_context io;
  auto future = boost::asio::co_spawn(io, router.dispatch(request), boost::asio::use_future);
  io.run();
  return future.get();
}

Handler answer(std::string text) {
  return [text](HttpRequest& request) -> boost::asio::awaitable<HttpResponse> {
    HttpResponse response;
    response.body = text;
    for (const auto& [k, v] : request.path_params) response.body += "|" + k + "=" + v;
    co_return response;
  };
}

TEST(Router, MatchesLiteralsAndCapturesParameters) {
  Router router;
  router.add("GET", "/admin/v1/teams", answer("list"));
  router.add("GET", "/admin/v1/teams/{name}", answer("one"));
  HttpRequest request = make_request("GET", "/admin/v1/teams/payments");
  auto response = run(router, request);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "one|name=payments");
  EXPECT_EQ(request.route, "/admin/v1/teams/{name}");

  HttpRequest list = make_request("GET", "/admin/v1/teams/");
  EXPECT_EQ(run(router, list).body, "list");
}

TEST(Router, UnknownPathIs404AndKeepsUnmatchedLabel) {
  Router router;
  router.add("GET", "/healthz", answer("ok"));
  HttpRequest request = make_request("GET", "/healthz/extra");
  auto response = run(router, request);
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(request.route, "unmatched");
  auto body = boost::json::parse(response.body);
  EXPECT_EQ(body.at("error").at("type").as_string(), "not_found");
}

TEST(Router, WrongMethodIs405WithAllow) {
  Router router;
  router.add("GET", "/admin/v1/keys", answer("list"));
  router.add("POST", "/admin/v1/keys", answer("create"));
  HttpRequest request = make_request("PUT", "/admin/v1/keys");
  auto response = run(router, request);
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.header("allow"), "GET, POST");
}

TEST(Router, HeadIsServedByGet) {
  Router router;
  router.add("GET", "/healthz", answer("ok"));
  HttpRequest request = make_request("HEAD", "/healthz");
  EXPECT_EQ(run(router, request).status, 200);
}

TEST(JsonBody, RequiresJsonContentTypeAndAnObject) {
  HttpRequest request = make_request("POST", "/x");
  request.body = R"({"a":1})";
  EXPECT_EQ(parse_json_object(request).error().code, ErrorCode::unsupported_media_type);
  request.headers.push_back({"Content-Type", "application/json; charset=utf-8"});
  ASSERT_TRUE(parse_json_object(request).ok());
  request.body = "[1,2]";
  EXPECT_EQ(parse_json_object(request).error().code, ErrorCode::invalid_request);
  request.body = "{\"a\":\"\xff\"}";
  EXPECT_EQ(parse_json_object(request).error().code, ErrorCode::invalid_json);
}

TEST(JsonBody, RejectsUnknownFieldsByName) {
  boost::json::object object{{"name", "x"}, {"colour", "blue"}};
  auto result = reject_unknown_fields(object, {"name"});
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("colour"), std::string::npos);
  EXPECT_TRUE(reject_unknown_fields(boost::json::object{{"name", "x"}}, {"name"}).ok());
}

TEST(ErrorResponse, HasTheDocumentedShape) {
  Error error = make_error(ErrorCode::rate_limited, "slow down");
  error.retry_after_seconds = 7;
  auto response = error_response(error, "req_1");
  EXPECT_EQ(response.status, 429);
  EXPECT_EQ(response.header("retry-after"), "7");
  auto body = boost::json::parse(response.body).as_object();
  EXPECT_EQ(body.size(), 1u);
  const auto& inner = body.at("error").as_object();
  EXPECT_EQ(inner.at("type").as_string(), "rate_limited");
  EXPECT_EQ(inner.at("message").as_string(), "slow down");
  EXPECT_EQ(inner.at("request_id").as_string(), "req_1");
}

}  // namespace
}  // namespace aegis::http
