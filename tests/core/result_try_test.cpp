#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "core/result.hpp"

namespace aegis {
namespace {

Result<int> number(int n) {
  if (n < 0) return make_error(ErrorCode::invalid_request, "negative: " + std::to_string(n));
  return n;
}

Result<void> check(bool ok) {
  if (!ok) return make_error(ErrorCode::conflict, "check failed");
  return {};
}

Result<std::unique_ptr<int>> boxed(int n) {
  if (n < 0) return make_error(ErrorCode::not_found, "no box");
  return std::make_unique<int>(n);
}

Result<int> sum(int a, int b) {
  AEGIS_TRY(x, number(a));
  AEGIS_TRY(y, number(b));
  return x + y;
}

Result<int> checked(bool ok) {
  AEGIS_TRY_VOID(check(ok));
  AEGIS_TRY_VOID(number(1));  // a value that is not needed
  return 7;
}

Result<int> unboxed(int n) {
  AEGIS_TRY(box, boxed(n));  // move-only values are moved out
  return *box;
}

TEST(ResultTry, ReturnsTheValueOrTheFirstError) {
  EXPECT_EQ(*sum(2, 3), 5);
  auto bad = sum(-1, -2);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::invalid_request);
  EXPECT_EQ(bad.error().message, "negative: -1");
  EXPECT_EQ(sum(1, -2).error().message, "negative: -2");
  EXPECT_EQ(*checked(true), 7);
  EXPECT_EQ(checked(false).error().code, ErrorCode::conflict);
  EXPECT_EQ(*unboxed(4), 4);
  EXPECT_EQ(unboxed(-1).error().code, ErrorCode::not_found);
}

TEST(ResultTry, EvaluatesTheExpressionOnce) {
  int calls = 0;
  auto counted = [&](int n) {
    ++calls;
    return number(n);
  };
  auto f = [&](int n) -> Result<int> {
    AEGIS_TRY(v, counted(n));
    return v;
  };
  EXPECT_EQ(*f(3), 3);
  EXPECT_FALSE(f(-3).ok());
  EXPECT_EQ(calls, 2);
}

std::string describe(const Error& error, std::string_view who) { return std::string(who) + ": " + error.message; }

std::string handled(int n) {
  AEGIS_TRY(v, number(n), describe, "handler");
  AEGIS_TRY_VOID(check(v != 5), describe, "check");
  return "ok " + std::to_string(v);
}

struct Adapter {
  std::string name;
  std::string tag(const Error& error) const { return name + " " + error.message; }
  std::string run(int n) const {
    AEGIS_TRY(v, number(n), tag);  // a member function, called by name
    return std::to_string(v);
  }
};

TEST(ResultTry, AHandlerTurnsTheErrorIntoTheReturnValue) {
  EXPECT_EQ(handled(4), "ok 4");
  EXPECT_EQ(handled(-4), "handler: negative: -4");
  EXPECT_EQ(handled(5), "check: check failed");
  EXPECT_EQ(Adapter{"ollama"}.run(2), "2");
  EXPECT_EQ(Adapter{"ollama"}.run(-2), "ollama negative: -2");
  auto lambda = [](const Error& e) { return static_cast<int>(e.message.size()); };
  auto f = [&](int n) -> int {
    AEGIS_TRY(v, number(n), lambda);
    return v * 100;
  };
  EXPECT_EQ(f(2), 200);
  EXPECT_EQ(f(-2), 12);  // "negative: -2"
}

boost::asio::awaitable<Result<int>> async_number(int n) { co_return number(n); }

boost::asio::awaitable<Result<int>> async_sum(int a, int b) {
  AEGIS_CO_TRY(x, co_await async_number(a));
  AEGIS_CO_TRY(y, co_await async_number(b));
  AEGIS_CO_TRY_VOID(check(x + y != 0));
  co_return x + y;
}

boost::asio::awaitable<std::string> async_handled(int n) {
  AEGIS_CO_TRY(v, co_await async_number(n), describe, "async");
  AEGIS_CO_TRY_VOID(co_await async_number(v - 10), describe, "minus ten");
  co_return "ok";
}

// Result<T> has no default constructor, which use_future needs: keep it here.
template <class T>
T run(boost::asio::awaitable<T> task) {
  boost::asio::io_context io;
  std::optional<T> out;
  auto keep = [&]() -> boost::asio::awaitable<void> { out.emplace(co_await std::move(task)); };
  boost::asio::co_spawn(io, keep(), boost::asio::detached);
  io.run();
  return std::move(*out);
}

TEST(ResultTry, CoroutinesCoReturnTheError) {
  EXPECT_EQ(*run(async_sum(2, 3)), 5);
  EXPECT_EQ(run(async_sum(2, -3)).error().message, "negative: -3");
  EXPECT_EQ(run(async_sum(0, 0)).error().code, ErrorCode::conflict);
  EXPECT_EQ(run(async_handled(12)), "ok");
  EXPECT_EQ(run(async_handled(-1)), "async: negative: -1");
  EXPECT_EQ(run(async_handled(3)), "minus ten: negative: -7");
}

}  // namespace
}  // namespace aegis
