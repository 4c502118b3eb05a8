#include "store/postgres/pg.hpp"

#include <charconv>
#include <stdexcept>

namespace aegis::store::pg {

std::optional<std::int64_t> Rows::int64(int row, int column) const {
  const char* p = PQgetvalue(result_.get(), row, column);
  const char* end = p + PQgetlength(result_.get(), row, column);
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(p, end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::int64_t Rows::affected() const {
  const char* n = PQcmdTuples(result_.get());
  std::int64_t value = 0;
  std::from_chars(n, n + std::char_traits<char>::length(n), value);
  return value;
}

Session::~Session() {
  if (conn_ == nullptr) return;  // moved from
  const bool healthy =
      !broken_ && PQstatus(conn_.get()) == CONNECTION_OK && PQtransactionStatus(conn_.get()) == PQTRANS_IDLE;
  pool_->release(std::move(conn_), healthy);
}

Result<Rows> Session::exec(std::string_view sql, const Params& params) {
  const std::string text(sql);
  PGresult* raw = nullptr;
  if (params.size() == 0) {
    raw = PQexec(conn_.get(), text.c_str());
  } else {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& v : params.values()) values.push_back(v ? v->c_str() : nullptr);
    raw = PQexecParams(conn_.get(), text.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                       nullptr, 0);
  }
  Rows rows(raw);
  const ExecStatusType status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    failure_ = {};
    return rows;
  }
  failure_ = {};
  const char* state = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
  failure_.sqlstate = state ? state : "";
  failure_.connection_lost = PQstatus(conn_.get()) != CONNECTION_OK;
  const char* message = raw ? PQresultErrorField(raw, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  failure_.detail = message ? message : PQerrorMessage(conn_.get());
  return pool_->error("statement", failure_);
}

Result<void> Session::pipeline(std::span<const Statement> statements, std::vector<Rows>* results) {
  if (statements.empty()) return {};
  PGconn* conn = conn_.get();
  auto lost = [&] {
    broken_ = true;  // mid-pipeline state is unknown: the pool drops the connection
    failure_ = {};
    failure_.connection_lost = true;
    failure_.detail = PQerrorMessage(conn);
    return pool_->error("statement", failure_);
  };
  if (PQenterPipelineMode(conn) != 1) return lost();
  std::vector<const char*> values;
  for (const auto& statement : statements) {
    values.clear();
    for (const auto& v : statement.params.values()) values.push_back(v ? v->c_str() : nullptr);
    if (PQsendQueryParams(conn, statement.sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                          nullptr, 0) != 1) {
      // The connection cannot be trusted with a half-sent pipeline: drop it.
      return lost();
    }
  }
  if (PQpipelineSync(conn) != 1) return lost();
  // Each statement answers one result then NULL; the sync answers
  // PGRES_PIPELINE_SYNC. After the first error the rest answer ABORTED.
  std::optional<Failure> first_failure;
  for (std::size_t i = 0; i < statements.size(); ++i) {
    std::unique_ptr<PGresult, ResultClearer> result(PQgetResult(conn));
    if (result == nullptr) return lost();
    const ExecStatusType status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && !first_failure) {
      Failure f;
      const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
      f.sqlstate = state ? state : "";
      const char* message = PQresultErrorField(result.get(), PG_DIAG_MESSAGE_PRIMARY);
      f.detail = message ? message : PQerrorMessage(conn);
      first_failure = std::move(f);
    }
    if (results != nullptr && !first_failure) results->emplace_back(result.release());
    while (PGresult* extra = PQgetResult(conn)) PQclear(extra);
  }
  std::unique_ptr<PGresult, ResultClearer> sync(PQgetResult(conn));
  if (sync == nullptr || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) return lost();
  if (PQexitPipelineMode(conn) != 1) return lost();
  failure_ = {};
  if (!first_failure) return {};
  failure_ = std::move(*first_failure);
  failure_.connection_lost = PQstatus(conn) != CONNECTION_OK;
  return pool_->error("statement", failure_);
}

void Session::rollback() {
  if (broken_) return;
  if (PQstatus(conn_.get()) != CONNECTION_OK) return;
  if (PQtransactionStatus(conn_.get()) == PQTRANS_IDLE) return;
  PQclear(PQexec(conn_.get(), "ROLLBACK"));
}

Pool::Pool(std::string dsn, std::string store_name, Options options)
    : dsn_(std::move(dsn)), store_name_(std::move(store_name)), options_(std::move(options)) {}

Pool::~Pool() = default;

ConnPtr Pool::connect(std::string* message) {
  // connect_timeout bounds a connection attempt to a server that does not
  // answer; the DSN's own settings come first and win where they repeat it.
  const std::string timeout = std::to_string(options_.connect_timeout_seconds);
  // Later keywords win (libpq processes them in order), so the DSN comes last.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), "aegis", dsn_.c_str(), nullptr};
  ConnPtr conn(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (conn == nullptr || PQstatus(conn.get()) != CONNECTION_OK) {
    if (message != nullptr) *message = conn ? PQerrorMessage(conn.get()) : "out of memory";
    return nullptr;
  }
  // Every timestamp the stores write is passed in; the session's zone only
  // matters for diagnostics, and UTC keeps them comparable across replicas.
  PQclear(PQexec(conn.get(), "SET TIME ZONE 'UTC'"));
  return conn;
}

ConnPtr Pool::connect_or_throw() {
  std::string message;
  ConnPtr conn = connect(&message);
  if (conn == nullptr) {
    // libpq's message names the host it tried; this is a start-up error for
    // the operator, not an answer to a client.
    throw std::runtime_error("cannot connect to PostgreSQL (" + options_.dsn_setting + "): " + message);
  }
  return conn;
}

Result<Session> Pool::acquire() {
  std::unique_lock lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  for (;;) {
    if (!idle_.empty()) {
      ConnPtr conn = std::move(idle_.back());
      idle_.pop_back();
      return Session(*this, std::move(conn));
    }
    if (open_ < options_.max_connections) {
      ++open_;
      lock.unlock();
      ConnPtr conn = connect(nullptr);
      if (conn == nullptr) {
        lock.lock();
        --open_;
        freed_.notify_one();
        Error e = make_error(ErrorCode::unavailable, store_name_ + " is unavailable (database unreachable)");
        e.retry_after_seconds = 1;
        return e;
      }
      return Session(*this, std::move(conn));
    }
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout) {
      Error e = make_error(ErrorCode::unavailable, store_name_ + " is busy (no free database connection)");
      e.retry_after_seconds = 1;
      return e;
    }
  }
}

void Pool::release(ConnPtr conn, bool healthy) {
  std::lock_guard lock(mu_);
  if (healthy) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
    conn.reset();
  }
  freed_.notify_one();
}

Error Pool::error(std::string_view op, const Failure& failure) const {
  if (failure.connection_lost) {
    Error e = make_error(ErrorCode::unavailable, store_name_ + " is unavailable (" + std::string(op) + ")");
    e.retry_after_seconds = 1;
    return e;
  }
  // 40001 serialization failure, 40P01 deadlock, 55P03 lock not available,
  // 57P01..57P03 the server is shutting down or starting: retryable.
  const std::string_view s = failure.sqlstate;
  if (s == "40001" || s == "40P01" || s == "55P03" || s.starts_with("57P") || s.starts_with("08")) {
    Error e = make_error(ErrorCode::unavailable, store_name_ + " is busy (" + std::string(op) + ")");
    e.retry_after_seconds = 1;
    return e;
  }
  return make_error(ErrorCode::internal, store_name_ + " error in " + std::string(op) + " (SQLSTATE " +
                                             (failure.sqlstate.empty() ? "none" : failure.sqlstate) + ")");
}

}  // namespace aegis::store::pg
