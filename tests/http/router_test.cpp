#include "http/router.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "http/json_response.hpp"

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

Handler answer(const std::string& text) {
  return [text](HttpRequest& request, const Caller&) -> boost::asio::awaitable<HttpResponse> {
    HttpResponse response;
    response.body = text;
    for (const auto& [k, v] : request.path_params) response.body.append("|").append(k).append("=").append(v);
    co_return response;
  };
}

TEST(Router, MatchesLiteralsAndCapturesParameters) {
  Router router;
  router.add("GET", "/admin/v1/teams", Credential::none, answer("list"));
  router.add("GET", "/admin/v1/teams/{name}", Credential::none, answer("one"));
  HttpRequest request = make_request("GET", "/admin/v1/teams/payments");
  auto response = run(router, request);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "one|name=payments");
  EXPECT_EQ(request.route, "/admin/v1/teams/{name}");

  HttpRequest list = make_request("GET", "/admin/v1/teams");
  EXPECT_EQ(run(router, list).body, "list");
}

TEST(Router, RefusesPathsNotInNormalForm) {
  Router router;
  router.add("GET", "/admin/v1/teams", Credential::none, answer("list"));
  for (const char* path : {"/admin/v1/teams/", "//admin/v1/teams", "/admin//v1/teams", "/admin/./v1/teams",
                           "/admin/v1/../v1/teams", "admin/v1/teams", ""}) {
    HttpRequest request = make_request("GET", path);
    EXPECT_EQ(run(router, request).status, 400) << path;
  }
  EXPECT_THROW(router.add("GET", "/a//b", Credential::none, answer("x")), std::logic_error);
}

// A fake authorizer: the credential a request carries is its x-cred header.
Authorizer header_authorizer(std::vector<Credential>* asked = nullptr) {
  return [asked](Credential needed, HttpRequest& request) -> boost::asio::awaitable<Result<Caller>> {
    if (asked) asked->push_back(needed);
    auto presented = request.header("x-cred");
    if (presented && *presented == to_string(needed)) co_return Caller{};
    co_return make_error(ErrorCode::unauthorized, "wrong credential");
  };
}

TEST(Router, ChecksTheMatchedRoutesCredentialBeforeItsHandler) {
  Router router;
  router.add("GET", "/v1/models", Credential::api_key, answer("models"));
  router.add("GET", "/admin/v1/teams", Credential::admin_key, answer("teams"));
  router.add("GET", "/healthz", Credential::none, answer("ok"));
  std::vector<Credential> asked;
  router.set_authorizer(header_authorizer(&asked));

  HttpRequest anonymous = make_request("GET", "/v1/models");
  EXPECT_EQ(run(router, anonymous).status, 401);
  HttpRequest admin_on_v1 = make_request("GET", "/v1/models");
  admin_on_v1.headers.push_back({"x-cred", "admin_key"});
  EXPECT_EQ(run(router, admin_on_v1).status, 401);
  HttpRequest keyed = make_request("GET", "/v1/models");
  keyed.headers.push_back({"x-cred", "api_key"});
  EXPECT_EQ(run(router, keyed).body, "models");
  HttpRequest key_on_admin = make_request("GET", "/admin/v1/teams");
  key_on_admin.headers.push_back({"x-cred", "api_key"});
  EXPECT_EQ(run(router, key_on_admin).status, 401);
  HttpRequest health = make_request("GET", "/healthz");
  EXPECT_EQ(run(router, health).body, "ok");
  EXPECT_EQ(asked, (std::vector<Credential>{Credential::api_key, Credential::api_key, Credential::api_key,
                                            Credential::admin_key}));
}

TEST(Router, GuardedPrefixNeedsTheCredentialBefore404Or405) {
  Router router;
  router.add("POST", "/v1/jobs", Credential::api_key, answer("submit"));
  router.guard_prefix("v1", Credential::api_key);
  router.set_authorizer(header_authorizer());
  HttpRequest unknown = make_request("GET", "/v1/secret-route");
  EXPECT_EQ(run(router, unknown).status, 401);
  HttpRequest wrong_method = make_request("GET", "/v1/jobs");
  EXPECT_EQ(run(router, wrong_method).status, 401);
  HttpRequest keyed_unknown = make_request("GET", "/v1/secret-route");
  keyed_unknown.headers.push_back({"x-cred", "api_key"});
  EXPECT_EQ(run(router, keyed_unknown).status, 404);
  HttpRequest keyed_wrong_method = make_request("GET", "/v1/jobs");
  keyed_wrong_method.headers.push_back({"x-cred", "api_key"});
  EXPECT_EQ(run(router, keyed_wrong_method).status, 405);
  HttpRequest elsewhere = make_request("GET", "/nothing");
  EXPECT_EQ(run(router, elsewhere).status, 404);
}

TEST(Router, ProtectedRouteWithoutAuthorizerFailsClosed) {
  Router router;
  router.add("GET", "/v1/models", Credential::api_key, answer("models"));
  HttpRequest request = make_request("GET", "/v1/models");
  auto response = run(router, request);
  EXPECT_EQ(response.status, 500);
  EXPECT_NE(response.body, "models");
}

// The caller the authorizer established reaches the handler beside the request,
// whatever type the layer above chose; open routes get an empty one.
TEST(Router, HandsTheHandlerTheCallerTheAuthorizerEstablished) {
  struct Team {
    std::string name;
  };
  Router router;
  const auto who = [](HttpRequest&, const Caller& caller) -> boost::asio::awaitable<HttpResponse> {
    HttpResponse response;
    const Team* team = caller.get_if<Team>();
    response.body = caller.empty() ? "nobody" : team ? team->name : "someone else";
    co_return response;
  };
  router.add("GET", "/v1/whoami", Credential::api_key, who);
  router.add("GET", "/healthz", Credential::none, who);
  router.guard_prefix("v1", Credential::api_key);
  router.set_authorizer([](Credential, HttpRequest& request) -> boost::asio::awaitable<Result<Caller>> {
    request.log_fields.emplace_back("team", "payments");
    co_return Caller{Team{"payments"}};
  });

  HttpRequest keyed = make_request("GET", "/v1/whoami");
  EXPECT_EQ(run(router, keyed).body, "payments");
  EXPECT_EQ(keyed.log_fields, (std::vector<std::pair<std::string, std::string>>{{"team", "payments"}}));
  HttpRequest open = make_request("GET", "/healthz");
  EXPECT_EQ(run(router, open).body, "nobody");
  EXPECT_TRUE(open.log_fields.empty());  // an open route never asks the authorizer
  // A guarded 404 still authenticates, so the access log names the caller.
  HttpRequest unknown = make_request("GET", "/v1/nothing");
  EXPECT_EQ(run(router, unknown).status, 404);
  EXPECT_EQ(unknown.log_fields.size(), 1u);

  const Caller other{std::string("x")};
  EXPECT_EQ(other.get_if<Team>(), nullptr);
  ASSERT_NE(other.get_if<std::string>(), nullptr);
  EXPECT_EQ(*other.get_if<std::string>(), "x");
}

TEST(Router, ListsItsRouteTable) {
  Router router;
  router.add("GET", "/healthz", Credential::none, answer("ok"));
  router.add("POST", "/v1/jobs", Credential::api_key, answer("submit"));
  auto routes = router.routes();
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[1].method, "POST");
  EXPECT_EQ(routes[1].pattern, "/v1/jobs");
  EXPECT_EQ(routes[1].credential, Credential::api_key);
}

TEST(Router, UnknownPathIs404AndKeepsUnmatchedLabel) {
  Router router;
  router.add("GET", "/healthz", Credential::none, answer("ok"));
  HttpRequest request = make_request("GET", "/healthz/extra");
  auto response = run(router, request);
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(request.route, "unmatched");
  auto body = boost::json::parse(response.body);
  EXPECT_EQ(body.at("error").at("type").as_string(), "not_found");
}

TEST(Router, WrongMethodIs405WithAllow) {
  Router router;
  router.add("GET", "/admin/v1/keys", Credential::none, answer("list"));
  router.add("POST", "/admin/v1/keys", Credential::none, answer("create"));
  HttpRequest request = make_request("PUT", "/admin/v1/keys");
  auto response = run(router, request);
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.header("allow"), "GET, POST");
}

TEST(Router, HeadIsServedByGet) {
  Router router;
  router.add("GET", "/healthz", Credential::none, answer("ok"));
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
