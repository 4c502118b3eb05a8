#pragma once
// What every PostgreSQL-backed store shares: owning libpq handles, a bounded
// pool of connections that reconnects by itself after the server comes back,
// parameterised statements with text parameters, and error values that never
// carry stored data, the connection string or the server's address.
#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace aegis::store::pg {

struct ConnCloser {
  void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
};
struct ResultClearer {
  void operator()(PGresult* result) const noexcept { PQclear(result); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnCloser>;

// A statement's parameters, as text (nullopt is SQL NULL). PostgreSQL casts
// them to the column types, so integers travel as their decimal form.
class Params {
 public:
  Params& add(std::string value) {
    values_.emplace_back(std::move(value));
    return *this;
  }
  Params& add(std::string_view value) { return add(std::string(value)); }
  Params& add(const char* value) { return add(std::string(value)); }
  Params& add(std::int64_t value) { return add(std::to_string(value)); }
  Params& add(int value) { return add(std::to_string(value)); }
  Params& add(bool value) { return add(std::string(value ? "true" : "false")); }
  Params& add_null() {
    values_.emplace_back(std::nullopt);
    return *this;
  }
  template <class T>
  Params& add(const std::optional<T>& value) {
    return value ? add(*value) : add_null();
  }
  std::size_t size() const noexcept { return values_.size(); }
  const std::vector<std::optional<std::string>>& values() const noexcept { return values_; }

 private:
  std::vector<std::optional<std::string>> values_;
};

// One parameterised statement, for Session::pipeline.
struct Statement {
  std::string sql;
  Params params;
};

// A statement's answer: rows of text values.
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result) {}
  int size() const noexcept { return PQntuples(result_.get()); }
  bool empty() const noexcept { return size() == 0; }
  bool is_null(int row, int column) const noexcept { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string text(int row, int column) const {
    return std::string(PQgetvalue(result_.get(), row, column),
                       static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
  }
  // nullopt when the value is not a decimal integer (a schema this version does not know).
  std::optional<std::int64_t> int64(int row, int column) const;
  bool boolean(int row, int column) const { return text(row, column) == "t"; }
  // Rows changed by an INSERT/UPDATE/DELETE.
  std::int64_t affected() const;

 private:
  std::unique_ptr<PGresult, ResultClearer> result_;
};

// A failed statement: the SQLSTATE (empty when the connection itself failed)
// and whether the connection is still usable.
struct Failure {
  std::string sqlstate;
  bool connection_lost = false;
  std::string detail;  // the server's primary message: for start-up errors and logs, never for clients
};

// One connection in use, from Pool::acquire. Statements run on it in order;
// begin()/commit()/rollback() frame a transaction.
class Session {
 public:
  Session(class Pool& pool, ConnPtr conn) : pool_(&pool), conn_(std::move(conn)) {}
  ~Session();
  Session(Session&& other) noexcept = default;
  Session& operator=(Session&&) = delete;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs one statement (no parameters: it may hold several statements).
  Result<Rows> exec(std::string_view sql, const Params& params = {});
  // Runs the statements in order in one round trip (libpq pipeline mode);
  // the first that fails aborts the rest and is the error. Outside a
  // transaction they run as one implicit transaction; a "BEGIN" ... "COMMIT"
  // pair among them frames an explicit one, which a failure leaves for
  // rollback(). Why: on the audit path each statement's own round trip was
  // most of what PostgreSQL added to a request (docs/ARCHITECTURE.md, stage 8).
  // With `results`, each statement's answer is appended to it, in order.
  Result<void> pipeline(std::span<const Statement> statements, std::vector<Rows>* results = nullptr);
  Result<void> begin() { return status(exec("BEGIN")); }
  Result<void> commit() { return status(exec("COMMIT")); }
  // Best effort: a transaction that failed is rolled back before reuse.
  void rollback();

  // The last failure on this session (SQLSTATE and whether the connection broke).
  const Failure& last_failure() const noexcept { return failure_; }
  PGconn* raw() noexcept { return conn_.get(); }

 private:
  static Result<void> status(const Result<Rows>& r) {
    if (!r.ok()) return r.error();
    return {};
  }
  Pool* pool_;
  ConnPtr conn_;
  Failure failure_;
  bool broken_ = false;
};

struct PoolOptions {
  std::size_t max_connections = 8;
  // How long acquire waits for a free connection before failing.
  std::chrono::milliseconds acquire_timeout{5'000};
  // libpq connect_timeout, in seconds (an unreachable server fails fast).
  int connect_timeout_seconds = 3;
  // The setting a start-up error names.
  std::string dsn_setting = "storage.postgres_dsn";
};

// Connections are opened on demand, up to max_connections, and a broken one is
// dropped instead of being handed out again: when the server returns, the next
// acquire connects afresh. Thread-safe.
class Pool {
 public:
  using Options = PoolOptions;
  Pool(std::string dsn, std::string store_name, Options options = {});
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // A session, or unavailable (503, retry-after 1) when the server cannot be reached.
  Result<Session> acquire();
  // Opens one connection or throws std::runtime_error with the server's message (start-up only).
  ConnPtr connect_or_throw();
  // Opens one connection outside the pool (a LISTEN session); null when the server cannot be reached.
  ConnPtr connect_dedicated() { return connect(nullptr); }

  const std::string& store_name() const noexcept { return store_name_; }

  // An error value for a failed statement: conflict/not_found/invalid_request
  // are left to the caller (it knows the SQLSTATE's meaning there); a lost
  // connection is unavailable; anything else internal. Names the operation,
  // never a value, the DSN or the host.
  Error error(std::string_view op, const Failure& failure) const;

 private:
  friend class Session;
  void release(ConnPtr conn, bool healthy);
  ConnPtr connect(std::string* message);

  const std::string dsn_;
  const std::string store_name_;
  const Options options_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<ConnPtr> idle_;
  std::size_t open_ = 0;
};

// SQLSTATEs the stores branch on.
inline constexpr std::string_view kUniqueViolation = "23505";
inline constexpr std::string_view kForeignKeyViolation = "23503";
inline constexpr std::string_view kCheckViolation = "23514";
inline constexpr std::string_view kRaiseException = "P0001";

}  // namespace aegis::store::pg
