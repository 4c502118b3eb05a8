#include "jobs/sqlite/sqlite_job_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "jobs/store_rules.hpp"
#include "store/sqlite/audit_rows.hpp"
#include "store/sqlite/migrations.hpp"
#include "store/sqlite/statement.hpp"
#include "telemetry/log.hpp"

namespace aegis::jobs {

namespace {

using store::sqlite::DbPtr;
using store::sqlite::StmtPtr;
using store::sqlite::TextLifetime;
using store::sqlite::Use;

Error db_error(std::string_view op, int rc) { return store::sqlite::db_error("job storage", op, rc); }
Error corrupt_row(std::string_view op) { return store::sqlite::corrupt_row("job storage", op); }

#define AEGIS_JOB_COLUMNS                                                                             \
  "id, team, key_id, status, task_type, request_json, vault_json, classification, idempotency_key, "  \
  "route_tier, route_provider, route_model, route_reason, result_text, input_tokens, output_tokens, " \
  "cost_micros, error_type, error_message, attempts, max_attempts, lease_owner, lease_expires_ms, "   \
  "created_at_ms, started_at_ms, finished_at_ms, reservation_id, metadata_json, cache_read_tokens, "  \
  "cache_write_tokens"
#define AEGIS_FINISHED "('succeeded', 'failed', 'cancelled', 'expired')"

constexpr const char* kInsert =
    "INSERT INTO jobs(id, team, key_id, status, task_type, request_json, vault_json, classification, "
    "idempotency_key, max_attempts, created_at_ms, reservation_id, metadata_json) "
    "VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
constexpr const char* kByIdempotencyKey =
    "SELECT " AEGIS_JOB_COLUMNS " FROM jobs WHERE team = ?1 AND idempotency_key = ?2";
constexpr const char* kQueuedCount = "SELECT n FROM job_counts WHERE status = 'queued'";
constexpr const char* kGet = "SELECT " AEGIS_JOB_COLUMNS " FROM jobs WHERE id = ?1 AND team = ?2";
// The row-value comparison lets SQLite seek in jobs_team_created; the first
// page passes (-1, '') which every row follows.
constexpr const char* kList = "SELECT " AEGIS_JOB_COLUMNS
                              " FROM jobs WHERE team = ?1 AND (created_at_ms, id) > (?2, ?3) "
                              "ORDER BY created_at_ms, id LIMIT ?4";
constexpr const char* kListStatus = "SELECT " AEGIS_JOB_COLUMNS
                                    " FROM jobs WHERE team = ?1 AND (created_at_ms, id) > (?2, ?3) AND status = ?5 "
                                    "ORDER BY created_at_ms, id LIMIT ?4";
// started_at never precedes created_at: the claimer reads its clock before the
// claim runs, and a submit may commit in between.
constexpr const char* kClaim =
    "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?1, lease_expires_ms = ?3, "
    "started_at_ms = CASE WHEN started_at_ms = 0 THEN max(?2, created_at_ms) ELSE started_at_ms END "
    "WHERE seq IN (SELECT seq FROM jobs WHERE status = 'queued' ORDER BY created_at_ms, id LIMIT ?4) "
    "RETURNING " AEGIS_JOB_COLUMNS;
constexpr const char* kRenew =
    "UPDATE jobs SET lease_expires_ms = ?3 WHERE id = ?1 AND status = 'running' AND lease_owner = ?2";
constexpr const char* kOwnership = "SELECT status, lease_owner FROM jobs WHERE id = ?1";
// A run can only raise a job's classification: the egress detector's veto
// makes a request RESTRICTED after admission (the run's audit row holds the
// level it ran at).
#define AEGIS_RAISED_CLASSIFICATION(param) \
  "classification = CASE WHEN " param " = 'RESTRICTED' THEN 'RESTRICTED' ELSE classification END"

constexpr const char* kComplete =
    "UPDATE jobs SET status = 'succeeded', route_tier = ?3, route_provider = ?4, route_model = ?5, "
    "route_reason = ?6, result_text = ?7, input_tokens = ?8, output_tokens = ?9, cost_micros = ?10, "
    "finished_at_ms = ?11, cache_read_tokens = ?13, cache_write_tokens = ?14, lease_owner = '', lease_expires_ms = 0, "
    AEGIS_RAISED_CLASSIFICATION("?12") " "
    "WHERE id = ?1 AND status = 'running' AND lease_owner = ?2 RETURNING " AEGIS_JOB_COLUMNS;
constexpr const char* kFail =
    "UPDATE jobs SET status = 'failed', route_tier = ?3, route_provider = ?4, route_model = ?5, "
    "route_reason = ?6, error_type = ?7, error_message = ?8, finished_at_ms = ?9, lease_owner = '', "
    "lease_expires_ms = 0, " AEGIS_RAISED_CLASSIFICATION("?10") " "
    "WHERE id = ?1 AND status = 'running' AND lease_owner = ?2 RETURNING " AEGIS_JOB_COLUMNS;
// Run in this order in one transaction: the first takes the jobs that are out
// of attempts, the second requeues whatever is left past the threshold.
constexpr const char* kFailLost =
    "UPDATE jobs SET status = 'failed', error_type = 'worker_lost', "
    "error_message = 'worker lost; max attempts reached', finished_at_ms = ?1, lease_owner = '', "
    "lease_expires_ms = 0 WHERE status = 'running' AND lease_expires_ms <= ?2 AND attempts >= max_attempts "
    "RETURNING " AEGIS_JOB_COLUMNS;
constexpr const char* kRequeueLost =
    "UPDATE jobs SET status = 'queued', lease_owner = '', lease_expires_ms = 0 "
    "WHERE status = 'running' AND lease_expires_ms <= ?1 RETURNING " AEGIS_JOB_COLUMNS;
// A graceful stop hands its running jobs back; the claim it interrupted is not counted.
constexpr const char* kReleaseOwned =
    "UPDATE jobs SET status = 'queued', attempts = MAX(attempts - 1, 0), lease_owner = '', lease_expires_ms = 0 "
    "WHERE status = 'running' AND lease_owner = ?1 RETURNING " AEGIS_JOB_COLUMNS;
constexpr const char* kStatusOf = "SELECT status FROM jobs WHERE id = ?1 AND team = ?2";
constexpr const char* kCancel =
    "UPDATE jobs SET status = 'cancelled', error_type = 'cancelled', error_message = 'cancelled by the client', "
    "finished_at_ms = ?3, lease_owner = '', lease_expires_ms = 0 "
    "WHERE id = ?1 AND team = ?2 AND status IN ('queued', 'running') RETURNING " AEGIS_JOB_COLUMNS;
constexpr const char* kExpire =
    "UPDATE jobs SET status = 'expired', error_type = 'expired', "
    "error_message = 'the job waited in the queue longer than its time to live', finished_at_ms = ?2 "
    "WHERE status = 'queued' AND created_at_ms < ?1 RETURNING " AEGIS_JOB_COLUMNS;
// Without INDEXED BY the planner prefers jobs_status_created (status = ?) and
// walks every finished job; the partial index seeks straight to the old ones.
// The WHERE repeats the index's own condition, which SQLite needs to use it.
constexpr const char* kPurge =
    "DELETE FROM jobs INDEXED BY jobs_finished WHERE status IN " AEGIS_FINISHED " AND finished_at_ms < ?1";
constexpr const char* kCounts = "SELECT status, n FROM job_counts";
constexpr const char* kOldestQueued = "SELECT MIN(created_at_ms) FROM jobs WHERE status = 'queued'";
constexpr const char* kRecentFailures =
    "SELECT id, team, task_type, error_type, finished_at_ms FROM jobs WHERE status = 'failed' "
    "ORDER BY finished_at_ms DESC, id DESC LIMIT ?1";
// A finished job's request and vault go with the transaction that finished it
// (unless jobs.keep_requests keeps them until purge).
constexpr const char* kDropRequest = "UPDATE jobs SET request_json = NULL, vault_json = NULL WHERE id = ?1";
// Start-up: finished jobs that still have a request or vault (rows written
// before migration 4, or while their team kept requests).
constexpr const char* kFinishedWithRequest =
    "SELECT id, team FROM jobs INDEXED BY jobs_finished WHERE status IN " AEGIS_FINISHED
    " AND finished_at_ms >= 0 AND (request_json IS NOT NULL OR vault_json IS NOT NULL)";
constexpr const char* kBegin = "BEGIN IMMEDIATE";
constexpr const char* kCommit = "COMMIT";
constexpr const char* kRollback = "ROLLBACK";
#undef AEGIS_JOB_COLUMNS
#undef AEGIS_FINISHED

constexpr int kMaxListLimit = 1000;

// Content columns (names double as the associated data of their sealed values).
constexpr std::string_view kRequestColumn = "request_json";
constexpr std::string_view kVaultColumn = "vault_json";
constexpr std::string_view kResultColumn = "result_text";
constexpr std::string_view kMetadataColumn = "metadata_json";

// NULL: deleted or never set. TEXT: plaintext written before encryption at
// rest (migration 4), read as it is. BLOB: a sealed value. One that does not
// open leaves the field empty and marks the job; it never fails the read, so
// one bad row cannot stall a claim or a listing.
void read_content(const Use& st, int col, std::string_view column, const PayloadCipher& cipher, Job& job,
                  std::string& out) {
  if (st.is_null(col)) return;
  if (!st.is_blob(col)) {
    out = st.text(col);
    return;
  }
  auto opened = cipher.open(job.id, column, st.blob(col));
  if (opened.ok()) {
    out = std::move(*opened);
    return;
  }
  if (!job.content_error) job.content_error = "the job's stored content could not be decrypted";
  telemetry::log(telemetry::LogLevel::error, "job_content_unreadable",
                 {{"job", job.id}, {"column", column}, {"error", opened.error().message}});
}

std::optional<Job> read_job(const Use& st, const PayloadCipher& cipher) {
  Job j;
  j.id = st.text(0);
  j.team = st.text(1);
  j.key_id = st.text(2);
  const auto status = parse_job_status(st.text(3));
  if (!status) return std::nullopt;
  j.status = *status;
  j.task_type = st.text(4);
  const auto level = parse_level(st.text(7));
  if (!level) return std::nullopt;
  j.classification = *level;
  if (!st.is_null(8)) j.idempotency_key = st.text(8);
  j.route = JobRoute{st.text(9), st.text(10), st.text(11), st.text(12)};
  j.result.input_tokens = st.int64(14);
  j.result.output_tokens = st.int64(15);
  j.result.cache_read_tokens = st.int64(28);
  j.result.cache_write_tokens = st.int64(29);
  j.result.cost = Money::from_micros(st.int64(16));
  j.error = JobError{st.text(17), st.text(18)};
  j.attempts = static_cast<int>(st.int64(19));
  j.max_attempts = static_cast<int>(st.int64(20));
  j.lease_owner = st.text(21);
  j.lease_expires_ms = st.int64(22);
  j.created_at_ms = st.int64(23);
  j.started_at_ms = st.int64(24);
  j.finished_at_ms = st.int64(25);
  j.reservation_id = static_cast<std::uint64_t>(st.int64(26));  // modulo 2^64: the bits stored at submit
  read_content(st, 5, kRequestColumn, cipher, j, j.request_json);
  read_content(st, 6, kVaultColumn, cipher, j, j.vault_json);
  read_content(st, 13, kResultColumn, cipher, j, j.result.text);
  read_content(st, 27, kMetadataColumn, cipher, j, j.metadata_json);
  return j;
}

// Collects every row a (RETURNING) statement yields.
Result<std::vector<Job>> read_all(Use& st, std::string_view op, const PayloadCipher& cipher) {
  std::vector<Job> out;
  int rc = SQLITE_OK;
  while ((rc = st.step()) == SQLITE_ROW) {
    auto job = read_job(st, cipher);
    if (!job) return corrupt_row(op);
    out.push_back(std::move(*job));
  }
  if (rc != SQLITE_DONE) return db_error(op, rc);
  return out;
}

}  // namespace

struct SqliteJobStore::Impl {
  Options options;
  std::shared_ptr<const PayloadCipher> cipher;  // options.cipher, never null
  std::mutex mu;                                // one connection, every call serialised: SQLite has one writer anyway
  DbPtr db;                                     // declared before the statements so it is closed after them
  std::unordered_map<const char*, StmtPtr> statements;
  store::sqlite::AuditStatements audit_statements;       // complete/fail write the run's audit row
  audit::ChainWriter chain{"jobs"};                      // job runs' rows: a chain of their own (audit/chain.hpp)
  std::optional<audit::ChainWriter::Batch> chain_batch;  // the open transaction's links, if it wrote a row

  // Caller holds mu. nullptr (with rc set) when SQLite cannot prepare it.
  sqlite3_stmt* statement(const char* sql, int& rc) {
    if (auto it = statements.find(sql); it != statements.end()) return it->second.get();
    sqlite3_stmt* raw = nullptr;
    rc = sqlite3_prepare_v3(db.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(raw);
      return nullptr;
    }
    statements.emplace(sql, StmtPtr(raw));
    return raw;
  }

  bool run_simple(const char* sql, int& rc) {
    sqlite3_stmt* raw = statement(sql, rc);
    if (!raw) return false;
    Use st(raw, TextLifetime::borrowed);
    rc = st.step();
    return rc == SQLITE_DONE;
  }

  // Caller holds mu. Runs `body` inside BEGIN IMMEDIATE … COMMIT: the write
  // lock is taken up front, so a busy database fails before any work (and the
  // busy handler applies, which a read-then-write upgrade in WAL would skip).
  // An error from `body` rolls everything back.
  template <class T, class F>
  Result<T> transaction(std::string_view op, F&& body) {
    int rc = SQLITE_OK;
    if (!run_simple(kBegin, rc)) return db_error(op, rc);
    Result<T> out = body();
    if (!out.ok()) {
      rollback();
      chain_batch.reset();
      return out;
    }
    if (!run_simple(kCommit, rc)) {
      rollback();
      chain_batch.reset();
      return db_error(op, rc);
    }
    if (chain_batch) chain_batch->commit();
    chain_batch.reset();
    return out;
  }

  void rollback() {
    if (sqlite3_get_autocommit(db.get())) return;  // SQLite already rolled back (e.g. on IOERR)
    int rc = SQLITE_OK;
    run_simple(kRollback, rc);
  }

  Result<std::int64_t> queued_count(std::string_view op) {
    int rc = SQLITE_OK;
    sqlite3_stmt* raw = statement(kQueuedCount, rc);
    if (!raw) return db_error(op, rc);
    Use st(raw, TextLifetime::borrowed);
    rc = st.step();
    if (rc != SQLITE_ROW) return db_error(op, rc);
    return st.int64(0);
  }

  // Caller holds mu. The one job a two-parameter query selects, if any.
  Result<std::optional<Job>> select_job(const char* sql, const std::string& first, const std::string& second,
                                        std::string_view op) {
    int rc = SQLITE_OK;
    sqlite3_stmt* raw = statement(sql, rc);
    if (!raw) return db_error(op, rc);
    Use st(raw, TextLifetime::borrowed);
    st.bind(1, first);
    st.bind(2, second);
    rc = st.step();
    if (rc == SQLITE_DONE) return std::optional<Job>();
    if (rc != SQLITE_ROW) return db_error(op, rc);
    auto job = read_job(st, *cipher);
    if (!job) return corrupt_row(op);
    return std::optional<Job>(std::move(*job));
  }

  Result<std::vector<Job>> read_all(Use& st, std::string_view op) const { return jobs::read_all(st, op, *cipher); }

  // A content value as stored: sealed for (job id, column). Nothing to hide
  // in an empty one: NULL (result_text, which is NOT NULL: '').
  struct Sealed {
    std::optional<std::string> bytes;
    bool not_null = false;
    void bind(Use& st, int i) const {
      if (bytes) {
        st.bind_blob(i, *bytes);
      } else if (not_null) {
        st.bind(i, std::string_view(""));  // a null pointer would bind NULL
      } else {
        st.bind_null(i);
      }
    }
  };
  Result<Sealed> seal(const std::string& id, std::string_view column, const std::string& plaintext) const {
    if (plaintext.empty()) return Sealed{std::nullopt, column == kResultColumn};
    AEGIS_TRY(sealed, cipher->seal(id, column, plaintext));
    return Sealed{std::move(sealed)};
  }

  bool keeps_requests(const std::string& team) const {
    auto it = options.keep_requests_teams.find(team);
    return it != options.keep_requests_teams.end() ? it->second : options.keep_requests;
  }

  // Inside the transaction that finished `job`: its request and vault go now,
  // unless the team keeps them until purge.
  Result<void> drop_request(Job& job, std::string_view op) {
    if (keeps_requests(job.team)) return {};
    int rc = SQLITE_OK;
    sqlite3_stmt* raw = statement(kDropRequest, rc);
    if (!raw) return db_error(op, rc);
    Use st(raw, TextLifetime::borrowed);
    st.bind(1, job.id);
    rc = st.step();
    if (rc != SQLITE_DONE) return db_error(op, rc);
    job.request_json.clear();
    job.vault_json.clear();
    return {};
  }
  // Start-up only (throws): applies the keep_requests policy to jobs that
  // finished before it applied (plaintext rows of earlier versions, or
  // keep_requests turned off since).
  void drop_finished_requests() {
    constexpr std::string_view op = "start-up request clean-up";
    std::vector<Job> finished;
    {
      int rc = SQLITE_OK;
      sqlite3_stmt* raw = statement(kFinishedWithRequest, rc);
      if (!raw) throw std::runtime_error(db_error(op, rc).message);
      Use st(raw, TextLifetime::borrowed);
      while ((rc = st.step()) == SQLITE_ROW) {
        Job job;
        job.id = st.text(0);
        job.team = st.text(1);
        if (!keeps_requests(job.team)) finished.push_back(std::move(job));
      }
      if (rc != SQLITE_DONE) throw std::runtime_error(db_error(op, rc).message);
    }
    if (finished.empty()) return;
    auto dropped = transaction<bool>(op, [&]() -> Result<bool> {
      AEGIS_TRY_VOID(drop_requests(finished, op));
      return true;
    });
    if (!dropped) throw std::runtime_error(dropped.error().message);
    telemetry::log(telemetry::LogLevel::info, "jobs_finished_requests_dropped", {{"jobs", finished.size()}});
  }

  Result<void> drop_requests(std::vector<Job>& jobs, std::string_view op) {
    for (auto& job : jobs) {
      if (auto dropped = drop_request(job, op); !dropped.ok()) return dropped;
    }
    return {};
  }

  // Inside a transaction. `queued` is the queued count as of this transaction
  // and is bumped on insert. The outer Result is a transaction-level failure
  // (abort everything); the inner one this job's answer.
  Result<Result<SubmitResult>> submit_one(const Job& job, std::int64_t& queued, std::string_view op) {
    if (auto bad = validate_for_store(job)) return Result<SubmitResult>(std::move(*bad));
    int rc = SQLITE_OK;
    if (job.idempotency_key) {
      AEGIS_TRY(first, select_job(kByIdempotencyKey, job.team, *job.idempotency_key, op));
      if (first) return Result<SubmitResult>(SubmitResult{std::move(*first), true});
    }
    if (queued >= options.max_queue_depth) {
      Error e =
          make_error(ErrorCode::rate_limited, "the job queue is full (" + std::to_string(options.max_queue_depth) +
                                                  " jobs queued); retry later");
      e.retry_after_seconds = 1;
      return Result<SubmitResult>(std::move(e));
    }
    Job stored = as_submitted(job);
    const std::string level(to_string(stored.classification));  // bound SQLITE_STATIC: outlives `st`
    // Sealed before the statement is bound (SQLITE_STATIC): they outlive `st`.
    auto request = seal(stored.id, kRequestColumn, stored.request_json);
    auto vault = seal(stored.id, kVaultColumn, stored.vault_json);
    auto metadata = seal(stored.id, kMetadataColumn, stored.metadata_json);
    for (const auto* sealed : {&request, &vault, &metadata}) {
      if (!sealed->ok()) return Result<SubmitResult>(sealed->error());
    }
    sqlite3_stmt* raw = statement(kInsert, rc);
    if (!raw) return db_error(op, rc);
    Use st(raw, TextLifetime::borrowed);
    st.bind(1, stored.id);
    st.bind(2, stored.team);
    st.bind(3, stored.key_id);
    st.bind(4, stored.task_type);
    request->bind(st, 5);
    vault->bind(st, 6);
    st.bind(7, level);
    if (stored.idempotency_key)
      st.bind(8, *stored.idempotency_key);
    else
      st.bind_null(8);
    st.bind(9, static_cast<std::int64_t>(stored.max_attempts));
    st.bind(10, stored.created_at_ms);
    st.bind(11, static_cast<std::int64_t>(stored.reservation_id));
    metadata->bind(st, 12);
    rc = st.step();
    if (rc == SQLITE_DONE) {
      ++queued;
      return Result<SubmitResult>(SubmitResult{std::move(stored), false});
    }
    // A constraint failure undoes only this statement (and its trigger), so
    // the rest of a batch can still commit.
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return Result<SubmitResult>(make_error(ErrorCode::conflict, "job '" + stored.id + "' already exists"));
    }
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      return Result<SubmitResult>(make_error(ErrorCode::invalid_request, "job fields are out of range"));
    }
    return db_error(op, rc);
  }

  // Inside a transaction: the job run's audit row and its spend, written by
  // the audit store's own code (one definition of what recording a request means).
  Result<void> record_audit(const std::optional<audit::AuditRecord>& row, std::string_view op) {
    if (!row) return {};
    if (!chain_batch) chain_batch.emplace(chain.begin());
    const int rc = store::sqlite::insert_audit_rows(db.get(), audit_statements, std::span(&*row, 1), *chain_batch);
    if (rc != SQLITE_OK) return db_error(op, rc);
    return {};
  }

  // Why an owner-guarded update touched no row.
  Error ownership_error(const std::string& id, const std::string& owner, std::string_view op) {
    int rc = SQLITE_OK;
    sqlite3_stmt* raw = statement(kOwnership, rc);
    if (!raw) return db_error(op, rc);
    Use st(raw, TextLifetime::borrowed);
    st.bind(1, id);
    rc = st.step();
    if (rc == SQLITE_DONE) return job_not_found(id);
    if (rc != SQLITE_ROW) return db_error(op, rc);
    return jobs::ownership_error(id, owner, st.text(0), st.text(1), op);
  }

  Result<RequeueReport> requeue(std::int64_t now_ms, std::int64_t expired_at_or_before, std::string_view op) {
    return transaction<RequeueReport>(op, [&]() -> Result<RequeueReport> {
      RequeueReport report;
      int rc = SQLITE_OK;
      {
        sqlite3_stmt* raw = statement(kFailLost, rc);
        if (!raw) return db_error(op, rc);
        Use st(raw, TextLifetime::borrowed);
        st.bind(1, now_ms);
        st.bind(2, expired_at_or_before);
        AEGIS_TRY(failed, read_all(st, op));
        report.failed = std::move(failed);
      }
      AEGIS_TRY_VOID(drop_requests(report.failed, op));
      sqlite3_stmt* raw = statement(kRequeueLost, rc);
      if (!raw) return db_error(op, rc);
      Use st(raw, TextLifetime::borrowed);
      st.bind(1, expired_at_or_before);
      AEGIS_TRY(requeued, read_all(st, op));
      report.requeued = std::move(requeued);
      sort_oldest_first(report.failed);
      sort_oldest_first(report.requeued);
      return report;
    });
  }
};

SqliteJobStore::SqliteJobStore(const std::string& path, Options options) : impl_(std::make_unique<Impl>()) {
  if (!options.cipher) throw std::invalid_argument("the job store needs a content cipher (jobs.encryption)");
  impl_->options = std::move(options);
  impl_->cipher = impl_->options.cipher;
  // NOMUTEX: Impl::mu already serialises every use of this connection.
  impl_->db = store::sqlite::open_database(path, SQLITE_OPEN_NOMUTEX, impl_->options.busy_timeout, " for jobs");
  // secure_delete=FAST: space freed by deleting a request or vault (or a
  // plaintext row from before migration 4) is zeroed when that costs no extra I/O.
  store::sqlite::configure_and_migrate(
      impl_->db.get(), path, " for jobs",
      {"PRAGMA journal_mode=WAL", "PRAGMA secure_delete=FAST",
       impl_->options.sync_every_commit ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"});
  impl_->drop_finished_requests();
}

SqliteJobStore::~SqliteJobStore() = default;

Result<SubmitResult> SqliteJobStore::submit(const Job& job) {
  constexpr std::string_view op = "submit";
  if (auto bad = validate_for_store(job)) return std::move(*bad);
  std::lock_guard lock(impl_->mu);
  // A refused submit (full queue, duplicate id) wrote nothing, so rolling its
  // transaction back on the way out loses nothing.
  return impl_->transaction<SubmitResult>(op, [&]() -> Result<SubmitResult> {
    AEGIS_TRY(queued, impl_->queued_count(op));
    AEGIS_TRY(one, impl_->submit_one(job, queued, op));  // a refusal is the inner Result
    return one;
  });
}

Result<std::vector<Result<SubmitResult>>> SqliteJobStore::submit_batch(const std::vector<Job>& jobs) {
  constexpr std::string_view op = "submit_batch";
  using Answers = std::vector<Result<SubmitResult>>;
  if (jobs.empty()) return Answers{};
  std::lock_guard lock(impl_->mu);
  return impl_->transaction<Answers>(op, [&]() -> Result<Answers> {
    AEGIS_TRY(queued, impl_->queued_count(op));
    Answers answers;
    answers.reserve(jobs.size());
    for (const auto& job : jobs) {
      AEGIS_TRY(one, impl_->submit_one(job, queued, op));
      answers.push_back(std::move(one));
    }
    return answers;
  });
}

Result<Job> SqliteJobStore::get(const std::string& team, const std::string& id) {
  std::lock_guard lock(impl_->mu);
  AEGIS_TRY(job, impl_->select_job(kGet, id, team, "get"));
  if (!job) return job_not_found(id);
  return std::move(*job);
}

Result<std::optional<Job>> SqliteJobStore::find_by_idempotency_key(const std::string& team, const std::string& key) {
  std::lock_guard lock(impl_->mu);
  return impl_->select_job(kByIdempotencyKey, team, key, "find_by_idempotency_key");
}

Result<JobPage> SqliteJobStore::list(const std::string& team, const ListQuery& query) {
  constexpr std::string_view op = "list";
  const int limit = std::clamp(query.limit, 1, kMaxListLimit);
  std::int64_t after_ms = -1;
  std::string after_id;
  if (!query.cursor.empty() && !parse_cursor(query.cursor, after_ms, after_id)) {
    return make_error(ErrorCode::invalid_request, "the cursor is not one this server issued");
  }
  const std::string status = query.status ? std::string(to_string(*query.status)) : std::string();

  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(query.status ? kListStatus : kList, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw, TextLifetime::borrowed);
  st.bind(1, team);
  st.bind(2, after_ms);
  st.bind(3, after_id);
  st.bind(4, static_cast<std::int64_t>(limit) + 1);  // one more tells whether a next page exists
  if (query.status) st.bind(5, status);
  AEGIS_TRY(rows, impl_->read_all(st, op));
  JobPage page;
  page.jobs = std::move(rows);
  if (page.jobs.size() > static_cast<std::size_t>(limit)) {
    page.jobs.resize(static_cast<std::size_t>(limit));
    page.next_cursor = make_cursor(page.jobs.back());
  }
  return page;
}

Result<std::vector<Job>> SqliteJobStore::claim(const std::string& owner, std::int64_t now_ms, std::int64_t lease_ms,
                                               int limit) {
  constexpr std::string_view op = "claim";
  if (owner.empty()) return make_error(ErrorCode::invalid_request, "lease owner is missing");
  if (lease_ms <= 0) return make_error(ErrorCode::invalid_request, "lease must be positive");
  if (limit <= 0) return std::vector<Job>{};
  std::lock_guard lock(impl_->mu);
  return impl_->transaction<std::vector<Job>>(op, [&]() -> Result<std::vector<Job>> {
    int rc = SQLITE_OK;
    sqlite3_stmt* raw = impl_->statement(kClaim, rc);
    if (!raw) return db_error(op, rc);
    Use st(raw, TextLifetime::borrowed);
    st.bind(1, owner);
    st.bind(2, now_ms);
    st.bind(3, now_ms + lease_ms);
    st.bind(4, static_cast<std::int64_t>(limit));
    auto jobs = impl_->read_all(st, op);
    if (jobs) sort_oldest_first(*jobs);
    return jobs;
  });
}

Result<void> SqliteJobStore::renew(const std::string& id, const std::string& owner, std::int64_t now_ms,
                                   std::int64_t lease_ms) {
  constexpr std::string_view op = "renew";
  if (lease_ms <= 0) return make_error(ErrorCode::invalid_request, "lease must be positive");
  std::lock_guard lock(impl_->mu);
  auto done = impl_->transaction<bool>(op, [&]() -> Result<bool> {
    int rc = SQLITE_OK;
    sqlite3_stmt* raw = impl_->statement(kRenew, rc);
    if (!raw) return db_error(op, rc);
    {
      Use st(raw, TextLifetime::borrowed);
      st.bind(1, id);
      st.bind(2, owner);
      st.bind(3, now_ms + lease_ms);
      rc = st.step();
      if (rc != SQLITE_DONE) return db_error(op, rc);
    }
    if (sqlite3_changes(impl_->db.get()) == 0) return impl_->ownership_error(id, owner, op);
    return true;
  });
  if (!done) return std::move(done).error();
  return {};
}

Result<Job> SqliteJobStore::complete(const std::string& id, const std::string& owner, const Completion& done) {
  constexpr std::string_view op = "complete";
  AEGIS_TRY(result_text, impl_->seal(id, kResultColumn, done.result.text));
  std::lock_guard lock(impl_->mu);
  return impl_->transaction<Job>(op, [&]() -> Result<Job> {
    int rc = SQLITE_OK;
    sqlite3_stmt* raw = impl_->statement(kComplete, rc);
    if (!raw) return db_error(op, rc);
    const std::string ran_at(done.audit ? to_string(done.audit->level) : "");  // bound borrowed
    std::vector<Job> rows;
    {
      Use st(raw, TextLifetime::borrowed);
      st.bind(1, id);
      st.bind(2, owner);
      st.bind(3, done.route.tier);
      st.bind(4, done.route.provider);
      st.bind(5, done.route.model);
      st.bind(6, done.route.reason);
      result_text.bind(st, 7);
      st.bind(8, done.result.input_tokens);
      st.bind(9, done.result.output_tokens);
      st.bind(10, done.result.cost.micros);
      st.bind(11, done.finished_at_ms);
      st.bind(12, ran_at);
      st.bind(13, done.result.cache_read_tokens);
      st.bind(14, done.result.cache_write_tokens);
      AEGIS_TRY(all, impl_->read_all(st, op));
      rows = std::move(all);
    }
    if (rows.empty()) return impl_->ownership_error(id, owner, op);
    AEGIS_TRY_VOID(impl_->drop_request(rows.front(), op));
    AEGIS_TRY_VOID(impl_->record_audit(done.audit, op));
    return std::move(rows.front());
  });
}

Result<Job> SqliteJobStore::fail(const std::string& id, const std::string& owner, const Failure& failure) {
  constexpr std::string_view op = "fail";
  std::lock_guard lock(impl_->mu);
  return impl_->transaction<Job>(op, [&]() -> Result<Job> {
    int rc = SQLITE_OK;
    sqlite3_stmt* raw = impl_->statement(kFail, rc);
    if (!raw) return db_error(op, rc);
    const std::string ran_at(failure.audit ? to_string(failure.audit->level) : "");  // bound borrowed
    std::vector<Job> rows;
    {
      Use st(raw, TextLifetime::borrowed);
      st.bind(1, id);
      st.bind(2, owner);
      st.bind(3, failure.route.tier);
      st.bind(4, failure.route.provider);
      st.bind(5, failure.route.model);
      st.bind(6, failure.route.reason);
      st.bind(7, failure.error.type);
      st.bind(8, failure.error.message);
      st.bind(9, failure.finished_at_ms);
      st.bind(10, ran_at);
      AEGIS_TRY(all, impl_->read_all(st, op));
      rows = std::move(all);
    }
    if (rows.empty()) return impl_->ownership_error(id, owner, op);
    AEGIS_TRY_VOID(impl_->drop_request(rows.front(), op));
    AEGIS_TRY_VOID(impl_->record_audit(failure.audit, op));
    return std::move(rows.front());
  });
}

Result<RequeueReport> SqliteJobStore::requeue_expired(std::int64_t now_ms) {
  std::lock_guard lock(impl_->mu);
  return impl_->requeue(now_ms, now_ms, "requeue_expired");
}

Result<RequeueReport> SqliteJobStore::requeue_all_running(std::int64_t now_ms) {
  std::lock_guard lock(impl_->mu);
  return impl_->requeue(now_ms, std::numeric_limits<std::int64_t>::max(), "requeue_all_running");
}

Result<std::vector<Job>> SqliteJobStore::release_owned(const std::string& owner) {
  constexpr std::string_view op = "release_owned";
  std::lock_guard lock(impl_->mu);
  return impl_->transaction<std::vector<Job>>(op, [&]() -> Result<std::vector<Job>> {
    int rc = SQLITE_OK;
    sqlite3_stmt* raw = impl_->statement(kReleaseOwned, rc);
    if (!raw) return db_error(op, rc);
    Use st(raw, TextLifetime::borrowed);
    st.bind(1, owner);
    AEGIS_TRY(rows, impl_->read_all(st, op));
    sort_oldest_first(rows);
    return rows;
  });
}

Result<CancelResult> SqliteJobStore::cancel(const std::string& team, const std::string& id, std::int64_t now_ms) {
  constexpr std::string_view op = "cancel";
  std::lock_guard lock(impl_->mu);
  return impl_->transaction<CancelResult>(op, [&]() -> Result<CancelResult> {
    int rc = SQLITE_OK;
    JobStatus previous = JobStatus::queued;
    {
      sqlite3_stmt* raw = impl_->statement(kStatusOf, rc);
      if (!raw) return db_error(op, rc);
      Use st(raw, TextLifetime::borrowed);
      st.bind(1, id);
      st.bind(2, team);
      rc = st.step();
      if (rc == SQLITE_DONE) return job_not_found(id);
      if (rc != SQLITE_ROW) return db_error(op, rc);
      const auto status = parse_job_status(st.text(0));
      if (!status) return corrupt_row(op);
      previous = *status;
    }
    if (is_finished(previous)) {
      return make_error(ErrorCode::conflict,
                        "job '" + id + "' has already finished (" + std::string(to_string(previous)) + ")");
    }
    sqlite3_stmt* raw = impl_->statement(kCancel, rc);
    if (!raw) return db_error(op, rc);
    Use st(raw, TextLifetime::borrowed);
    st.bind(1, id);
    st.bind(2, team);
    st.bind(3, now_ms);
    AEGIS_TRY(rows, impl_->read_all(st, op));
    // Same transaction as the status read, so the row cannot have moved on.
    if (rows.empty()) return corrupt_row(op);
    AEGIS_TRY_VOID(impl_->drop_request(rows.front(), op));
    return CancelResult{std::move(rows.front()), previous};
  });
}

Result<std::vector<Job>> SqliteJobStore::expire_queued(std::int64_t created_before_ms, std::int64_t now_ms) {
  constexpr std::string_view op = "expire_queued";
  std::lock_guard lock(impl_->mu);
  return impl_->transaction<std::vector<Job>>(op, [&]() -> Result<std::vector<Job>> {
    int rc = SQLITE_OK;
    sqlite3_stmt* raw = impl_->statement(kExpire, rc);
    if (!raw) return db_error(op, rc);
    Use st(raw, TextLifetime::borrowed);
    st.bind(1, created_before_ms);
    st.bind(2, now_ms);
    auto jobs = impl_->read_all(st, op);
    if (!jobs) return jobs;
    AEGIS_TRY_VOID(impl_->drop_requests(*jobs, op));
    sort_oldest_first(*jobs);
    return jobs;
  });
}

Result<std::int64_t> SqliteJobStore::purge(std::int64_t finished_before_ms) {
  constexpr std::string_view op = "purge";
  std::lock_guard lock(impl_->mu);
  return impl_->transaction<std::int64_t>(op, [&]() -> Result<std::int64_t> {
    int rc = SQLITE_OK;
    sqlite3_stmt* raw = impl_->statement(kPurge, rc);
    if (!raw) return db_error(op, rc);
    Use st(raw, TextLifetime::borrowed);
    st.bind(1, finished_before_ms);
    rc = st.step();
    if (rc != SQLITE_DONE) return db_error(op, rc);
    return static_cast<std::int64_t>(sqlite3_changes64(impl_->db.get()));
  });
}

Result<JobCounts> SqliteJobStore::counts() {
  constexpr std::string_view op = "counts";
  std::lock_guard lock(impl_->mu);
  int rc = SQLITE_OK;
  sqlite3_stmt* raw = impl_->statement(kCounts, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw, TextLifetime::borrowed);
  JobCounts out{};
  while ((rc = st.step()) == SQLITE_ROW) {
    const auto status = parse_job_status(st.text(0));
    if (!status) return corrupt_row(op);
    out[static_cast<std::size_t>(*status)] = st.int64(1);
  }
  if (rc != SQLITE_DONE) return db_error(op, rc);
  return out;
}

Result<QueueSummary> SqliteJobStore::summary(int failures) {
  constexpr std::string_view op = "summary";
  std::lock_guard lock(impl_->mu);
  QueueSummary out;
  int rc = SQLITE_OK;
  {
    sqlite3_stmt* raw = impl_->statement(kOldestQueued, rc);
    if (!raw) return db_error(op, rc);
    Use st(raw, TextLifetime::borrowed);
    if ((rc = st.step()) != SQLITE_ROW) return db_error(op, rc);
    if (!st.is_null(0)) out.oldest_queued_created_ms = st.int64(0);
  }
  sqlite3_stmt* raw = impl_->statement(kRecentFailures, rc);
  if (!raw) return db_error(op, rc);
  Use st(raw, TextLifetime::borrowed);
  st.bind(1, static_cast<std::int64_t>(failures));
  while ((rc = st.step()) == SQLITE_ROW) {
    out.recent_failures.push_back(FailedJob{st.text(0), st.text(1), st.text(2), st.text(3), st.int64(4)});
  }
  if (rc != SQLITE_DONE) return db_error(op, rc);
  return out;
}

audit::ChainWriter* SqliteJobStore::chain_writer() { return &impl_->chain; }

}  // namespace aegis::jobs
