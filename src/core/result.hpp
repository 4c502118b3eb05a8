#pragma once
// Errors on the request path are values: every fallible step returns a
// Result<T>, and an ErrorCode knows the HTTP status it maps to.
#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace aegis {

enum class ErrorCode {
  invalid_request,         // 400
  invalid_json,            // 400
  unauthorized,            // 401
  forbidden,               // 403
  budget_exceeded,         // 402
  not_found,               // 404
  method_not_allowed,      // 405
  conflict,                // 409
  payload_too_large,       // 413
  unsupported_media_type,  // 415
  pii_blocked,             // 422
  rate_limited,            // 429
  headers_too_large,       // 431
  internal,                // 500
  egress_blocked,          // 500
  egress_vetoed,           // 500 if it ever reached a client; the gateway moves such a request to a local provider
  upstream_error,          // 502
  unavailable,             // 503
  no_local_provider,       // 503
  upstream_timeout,        // 504
  cancelled,               // 499: the caller cancelled the call (a job's DELETE); never the provider's fault
};

int http_status(ErrorCode code) noexcept;
// The stable machine-readable name users' scripts match on ("type" in the JSON error).
std::string_view error_type(ErrorCode code) noexcept;

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;
  // Seconds a client should wait before retrying (429/503); 0 when not applicable.
  int retry_after_seconds = 0;
  // For the pipeline, never shown to clients: the egress detector's rule behind egress_vetoed.
  std::string rule;
};

inline Error make_error(ErrorCode code, std::string message) { return Error{code, std::move(message), 0, {}}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(state_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(state_));
  }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  const Error& error() const& {
    assert(!ok());
    return *error_;
  }
  Error&& error() && {
    assert(!ok());
    return std::move(*error_);
  }

 private:
  std::optional<Error> error_;
};

}  // namespace aegis

// Early return on an error, for code that calls several Result-returning steps.
//
//   AEGIS_TRY(body, parse(request));                  // auto body = the value, or `return` the Error
//   AEGIS_TRY(body, parse(request), fail, request);   // ... or `return fail(error, request)`
//   AEGIS_TRY_VOID(check(request));                   // a Result<void>, or a value not needed
//   AEGIS_CO_TRY(rows, co_await db.run(query));       // the same with co_return, in a coroutine
//   AEGIS_CO_TRY_VOID(check(request), fail, request);
//
// Each is a statement that declares `var` (moved out of the Result) in the
// enclosing scope; the expression is evaluated once. The handler is called by
// name, so it may be a member function, an overload set or a lambda. No
// statement expression is used, so `co_await` may appear in the expression.
// A comma at the top level of the expression (template arguments) needs
// parentheses around the expression.
#define AEGIS_DETAIL_CAT2(a, b) a##b
#define AEGIS_DETAIL_CAT(a, b) AEGIS_DETAIL_CAT2(a, b)
#define AEGIS_DETAIL_HANDLER(handler, ...) handler
#define AEGIS_DETAIL_ARGS(handler, ...) __VA_OPT__(, ) __VA_ARGS__
// `ret (error)`, or `ret handler(error, args...)`.
#define AEGIS_DETAIL_FAIL(ret, tmp, ...) \
  ret __VA_OPT__(AEGIS_DETAIL_HANDLER(__VA_ARGS__))(std::move(tmp).error() __VA_OPT__(AEGIS_DETAIL_ARGS(__VA_ARGS__)))
#define AEGIS_DETAIL_TRY(ret, tmp, var, expr, ...)                       \
  auto tmp = (expr);                                                     \
  if (!tmp.ok()) AEGIS_DETAIL_FAIL(ret, tmp __VA_OPT__(, ) __VA_ARGS__); \
  auto var = std::move(tmp).value()
#define AEGIS_DETAIL_TRY_VOID(ret, tmp, expr, ...) \
  if (auto tmp = (expr); !tmp.ok()) AEGIS_DETAIL_FAIL(ret, tmp __VA_OPT__(, ) __VA_ARGS__)

#define AEGIS_TRY(var, ...) AEGIS_DETAIL_TRY(return, AEGIS_DETAIL_CAT(aegis_try_, __COUNTER__), var, __VA_ARGS__)
#define AEGIS_CO_TRY(var, ...) AEGIS_DETAIL_TRY(co_return, AEGIS_DETAIL_CAT(aegis_try_, __COUNTER__), var, __VA_ARGS__)
#define AEGIS_TRY_VOID(...) AEGIS_DETAIL_TRY_VOID(return, AEGIS_DETAIL_CAT(aegis_try_, __COUNTER__), __VA_ARGS__)
#define AEGIS_CO_TRY_VOID(...) AEGIS_DETAIL_TRY_VOID(co_return, AEGIS_DETAIL_CAT(aegis_try_, __COUNTER__), __VA_ARGS__)
