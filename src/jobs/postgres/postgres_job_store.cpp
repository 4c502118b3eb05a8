#include "jobs/postgres/postgres_job_store.hpp"

#include <openssl/rand.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "core/encoding.hpp"
#include "jobs/store_rules.hpp"
#include "store/postgres/audit_rows.hpp"
#include "store/postgres/migrations.hpp"
#include "store/postgres/pg.hpp"
#include "telemetry/log.hpp"

namespace aegis::jobs {

namespace {

namespace pg = store::pg;

#define AEGIS_JOB_COLUMNS                                                                             \
  "id, team, key_id, status, task_type, request_json, vault_json, classification, idempotency_key, "  \
  "route_tier, route_provider, route_model, route_reason, result_text, input_tokens, output_tokens, " \
  "cost_micros, error_type, error_message, attempts, max_attempts, lease_owner, lease_expires_ms, "   \
  "created_at_ms, started_at_ms, finished_at_ms, reservation_id, metadata_json, cache_read_tokens, "  \
  "cache_write_tokens"
#define AEGIS_FINISHED "('succeeded', 'failed', 'cancelled', 'expired')"

// Serialises submits across replicas: the queue-depth check and the
// idempotency lookup see every earlier submit.
constexpr const char* kSubmitLock = "SELECT pg_advisory_xact_lock(4703388017512851)";
constexpr const char* kInsert =
    "INSERT INTO jobs(id, team, key_id, status, task_type, request_json, vault_json, classification, "
    "idempotency_key, max_attempts, created_at_ms, reservation_id, metadata_json) "
    "VALUES ($1, $2, $3, 'queued', $4, $5::bytea, $6::bytea, $7, $8, $9, $10, $11, $12::bytea)";
constexpr const char* kByIdempotencyKey =
    "SELECT " AEGIS_JOB_COLUMNS " FROM jobs WHERE team = $1 AND idempotency_key = $2";
constexpr const char* kQueuedCount = "SELECT COUNT(*) FROM jobs WHERE status = 'queued'";
constexpr const char* kGet = "SELECT " AEGIS_JOB_COLUMNS " FROM jobs WHERE id = $1 AND team = $2";
constexpr const char* kList = "SELECT " AEGIS_JOB_COLUMNS
                              " FROM jobs WHERE team = $1 AND (created_at_ms, id) > ($2, $3) "
                              "AND ($5::text IS NULL OR status = $5) ORDER BY created_at_ms, id LIMIT $4";
// SKIP LOCKED: replicas claiming at once take different jobs without waiting.
constexpr const char* kClaim =
    "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = $1, lease_expires_ms = $3, "
    "started_at_ms = CASE WHEN started_at_ms = 0 THEN GREATEST($2::bigint, created_at_ms) ELSE started_at_ms END "
    "WHERE id IN (SELECT id FROM jobs WHERE status = 'queued' ORDER BY created_at_ms, id LIMIT $4 "
    "FOR UPDATE SKIP LOCKED) RETURNING " AEGIS_JOB_COLUMNS;
constexpr const char* kRenew =
    "UPDATE jobs SET lease_expires_ms = $3 WHERE id = $1 AND status = 'running' AND lease_owner = $2";
constexpr const char* kOwnership = "SELECT status, lease_owner FROM jobs WHERE id = $1";
#define AEGIS_RAISED_CLASSIFICATION(param) \
  "classification = CASE WHEN " param "::text = 'RESTRICTED' THEN 'RESTRICTED' ELSE classification END"
constexpr const char* kComplete =
    "UPDATE jobs SET status = 'succeeded', route_tier = $3, route_provider = $4, route_model = $5, "
    "route_reason = $6, result_text = $7::bytea, input_tokens = $8, output_tokens = $9, cost_micros = $10, "
    "finished_at_ms = $11, cache_read_tokens = $13, cache_write_tokens = $14, lease_owner = '', lease_expires_ms = 0, "
    AEGIS_RAISED_CLASSIFICATION("$12") " "
    "WHERE id = $1 AND status = 'running' AND lease_owner = $2 RETURNING " AEGIS_JOB_COLUMNS;
constexpr const char* kFail =
    "UPDATE jobs SET status = 'failed', route_tier = $3, route_provider = $4, route_model = $5, "
    "route_reason = $6, error_type = $7, error_message = $8, finished_at_ms = $9, lease_owner = '', "
    "lease_expires_ms = 0, " AEGIS_RAISED_CLASSIFICATION("$10") " "
    "WHERE id = $1 AND status = 'running' AND lease_owner = $2 RETURNING " AEGIS_JOB_COLUMNS;
constexpr const char* kFailLost =
    "UPDATE jobs SET status = 'failed', error_type = 'worker_lost', "
    "error_message = 'worker lost; max attempts reached', finished_at_ms = $1, lease_owner = '', "
    "lease_expires_ms = 0 WHERE status = 'running' AND lease_expires_ms <= $2 AND attempts >= max_attempts "
    "RETURNING " AEGIS_JOB_COLUMNS;
constexpr const char* kRequeueLost =
    "UPDATE jobs SET status = 'queued', lease_owner = '', lease_expires_ms = 0 "
    "WHERE status = 'running' AND lease_expires_ms <= $1 RETURNING " AEGIS_JOB_COLUMNS;
constexpr const char* kReleaseOwned =
    "UPDATE jobs SET status = 'queued', attempts = GREATEST(attempts - 1, 0), lease_owner = '', "
    "lease_expires_ms = 0 WHERE status = 'running' AND lease_owner = $1 RETURNING " AEGIS_JOB_COLUMNS;
constexpr const char* kStatusOf = "SELECT status FROM jobs WHERE id = $1 AND team = $2 FOR UPDATE";
constexpr const char* kCancel =
    "UPDATE jobs SET status = 'cancelled', error_type = 'cancelled', error_message = 'cancelled by the client', "
    "finished_at_ms = $3, lease_owner = '', lease_expires_ms = 0 "
    "WHERE id = $1 AND team = $2 AND status IN ('queued', 'running') RETURNING " AEGIS_JOB_COLUMNS;
constexpr const char* kExpire =
    "UPDATE jobs SET status = 'expired', error_type = 'expired', "
    "error_message = 'the job waited in the queue longer than its time to live', finished_at_ms = $2 "
    "WHERE status = 'queued' AND created_at_ms < $1 RETURNING " AEGIS_JOB_COLUMNS;
constexpr const char* kPurge = "DELETE FROM jobs WHERE status IN " AEGIS_FINISHED " AND finished_at_ms < $1";
constexpr const char* kCounts = "SELECT status, COUNT(*) FROM jobs GROUP BY status";
constexpr const char* kDropRequest = "UPDATE jobs SET request_json = NULL, vault_json = NULL WHERE id = $1";
constexpr const char* kFinishedWithRequest = "SELECT id, team FROM jobs WHERE status IN " AEGIS_FINISHED
                                             " AND (request_json IS NOT NULL OR vault_json IS NOT NULL)";
#undef AEGIS_JOB_COLUMNS
#undef AEGIS_FINISHED
#undef AEGIS_RAISED_CLASSIFICATION

constexpr int kMaxListLimit = 1000;

constexpr std::string_view kRequestColumn = "request_json";
constexpr std::string_view kVaultColumn = "vault_json";
constexpr std::string_view kResultColumn = "result_text";
constexpr std::string_view kMetadataColumn = "metadata_json";

// bytea travels as text in its hex form, "\x0a1b...".
std::string to_bytea_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::optional<std::string> from_bytea_hex(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve((text.size() - 2) / 2);
  for (std::size_t i = 2; i < text.size(); i += 2) {
    const int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>((hi << 4) | lo);
  }
  return out;
}

// A sealed column value; one that does not open leaves the field empty and
// marks the job (it never fails the read, so one bad row cannot stall a claim).
void read_content(const pg::Rows& rows, int i, int col, std::string_view column, const PayloadCipher& cipher, Job& job,
                  std::string& out) {
  if (rows.is_null(i, col)) return;
  auto bytes = from_bytea_hex(rows.text(i, col));
  if (bytes && bytes->empty()) return;
  auto opened = bytes ? cipher.open(job.id, column, *bytes)
                      : Result<std::string>(make_error(ErrorCode::internal, "not a bytea value"));
  if (opened.ok()) {
    out = std::move(*opened);
    return;
  }
  if (!job.content_error) job.content_error = "the job's stored content could not be decrypted";
  telemetry::log(telemetry::LogLevel::error, "job_content_unreadable",
                 {{"job", job.id}, {"column", column}, {"error", opened.error().message}});
}

std::optional<Job> read_job(const pg::Rows& rows, int i, const PayloadCipher& cipher) {
  Job j;
  j.id = rows.text(i, 0);
  j.team = rows.text(i, 1);
  j.key_id = rows.text(i, 2);
  const auto status = parse_job_status(rows.text(i, 3));
  if (!status) return std::nullopt;
  j.status = *status;
  j.task_type = rows.text(i, 4);
  const auto level = parse_level(rows.text(i, 7));
  if (!level) return std::nullopt;
  j.classification = *level;
  if (!rows.is_null(i, 8)) j.idempotency_key = rows.text(i, 8);
  j.route = JobRoute{rows.text(i, 9), rows.text(i, 10), rows.text(i, 11), rows.text(i, 12)};
  std::int64_t n[16] = {};
  for (int c : {14, 15, 16, 19, 20, 22, 23, 24, 25, 26, 28, 29}) {
    auto v = rows.int64(i, c);
    if (!v) return std::nullopt;
    n[c - 14] = *v;
  }
  j.result.input_tokens = n[0];
  j.result.output_tokens = n[1];
  j.result.cache_read_tokens = n[14];
  j.result.cache_write_tokens = n[15];
  j.result.cost = Money::from_micros(n[2]);
  j.error = JobError{rows.text(i, 17), rows.text(i, 18)};
  j.attempts = static_cast<int>(n[5]);
  j.max_attempts = static_cast<int>(n[6]);
  j.lease_owner = rows.text(i, 21);
  j.lease_expires_ms = n[8];
  j.created_at_ms = n[9];
  j.started_at_ms = n[10];
  j.finished_at_ms = n[11];
  j.reservation_id = static_cast<std::uint64_t>(n[12]);  // modulo 2^64: the bits stored at submit
  read_content(rows, i, 5, kRequestColumn, cipher, j, j.request_json);
  read_content(rows, i, 6, kVaultColumn, cipher, j, j.vault_json);
  read_content(rows, i, 13, kResultColumn, cipher, j, j.result.text);
  read_content(rows, i, 27, kMetadataColumn, cipher, j, j.metadata_json);
  return j;
}

Error corrupt_row(std::string_view op) {
  return make_error(ErrorCode::internal, "job storage error in " + std::string(op) + ": a stored value is not valid");
}

}  // namespace

struct PostgresJobStore::Impl {
  Impl(const std::string& dsn, Options o)
      : options(std::move(o)),
        cipher(options.cipher),
        pool(dsn, "job storage", pg::PoolOptions{options.max_connections, std::chrono::milliseconds(5'000), 3}) {}

  Options options;
  std::shared_ptr<const PayloadCipher> cipher;
  pg::Pool pool;
  store::postgres::AuditPartitions partitions;
  // Job runs' audit rows: a chain of this process's own (audit/chain.hpp).
  audit::ChainWriter chain{chain_writer_id(options.budget_owner)};
  // Each open transaction's links (by its session), committed with it.
  std::mutex open_links_mu;
  std::map<const pg::Session*, audit::ChainWriter::Batch> open_links;

  static std::string chain_writer_id(const std::string& owner) {
    if (!owner.empty()) return owner + "/jobs";
    unsigned char bytes[8];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("cannot draw a random audit chain id");
    return hex_encode(std::span<const unsigned char>(bytes, sizeof bytes)) + "/jobs";
  }

  // The transaction on `session` ended: its links become heads when it committed.
  void settle_links(const pg::Session& session, bool committed) {
    std::optional<audit::ChainWriter::Batch> links;
    {
      std::lock_guard lock(open_links_mu);
      auto it = open_links.find(&session);
      if (it == open_links.end()) return;
      links.emplace(std::move(it->second));
      open_links.erase(it);
    }
    if (committed) links->commit();
  }

  std::mutex watch_mu;
  std::condition_variable watch_cv;
  bool watch_stopping = false;
  std::thread watcher;

  // Inside the transaction that finished `jobs`: delivered to every listener when it commits.
  Result<void> announce_finished(pg::Session& session, const std::vector<Job>& jobs, std::string_view op) const {
    for (const auto& job : jobs) {
      if (!session.exec("SELECT pg_notify('aegis_jobs_finished', $1)", pg::Params().add(job.id)).ok()) {
        return fail(op, session);
      }
    }
    return {};
  }

  void watch(const std::function<void(const std::string&)>& on_finished) {
    auto stopping_now = [this] {
      std::lock_guard lock(watch_mu);
      return watch_stopping;
    };
    while (!stopping_now()) {
      pg::ConnPtr conn = pool.connect_dedicated();
      if (conn != nullptr) {
        PQclear(PQexec(conn.get(), "LISTEN aegis_jobs_finished"));
        while (!stopping_now()) {
          pollfd fd{PQsocket(conn.get()), POLLIN, 0};
          if (fd.fd < 0) break;
          (void)::poll(&fd, 1, 200);  // a short wait, so stop_watching() is prompt
          if (PQconsumeInput(conn.get()) == 0) break;
          while (PGnotify* note = PQnotifies(conn.get())) {
            const std::string id = note->extra;
            PQfreemem(note);
            on_finished(id);
          }
        }
      }
      std::unique_lock lock(watch_mu);
      watch_cv.wait_for(lock, std::chrono::seconds(1), [this] { return watch_stopping; });
    }
  }

  Error fail(std::string_view op, const pg::Session& session) const { return pool.error(op, session.last_failure()); }

  Result<std::vector<Job>> read_all(const pg::Rows& rows, std::string_view op) const {
    std::vector<Job> out;
    out.reserve(static_cast<std::size_t>(rows.size()));
    for (int i = 0; i < rows.size(); ++i) {
      auto job = read_job(rows, i, *cipher);
      if (!job) return corrupt_row(op);
      out.push_back(std::move(*job));
    }
    return out;
  }

  Result<std::vector<Job>> query(pg::Session& session, const char* sql, const pg::Params& params,
                                 std::string_view op) const {
    auto rows = session.exec(sql, params);
    if (!rows.ok()) return fail(op, session);
    return read_all(*rows, op);
  }

  // Runs `body` in a transaction on a session of its own; an error from
  // `body` rolls everything back.
  template <class T, class F>
  Result<T> transaction(std::string_view op, F&& body) {
    AEGIS_TRY(session, pool.acquire());
    if (!session.begin().ok()) return fail(op, session);
    Result<T> out = body(session);
    if (!out.ok()) {
      session.rollback();
      settle_links(session, false);
      return out;
    }
    if (!session.commit().ok()) {
      const Error e = fail(op, session);
      session.rollback();
      settle_links(session, false);
      return e;
    }
    settle_links(session, true);
    return out;
  }

  // A content value as stored: sealed for (job id, column); NULL when empty
  // (result_text, NOT NULL, takes '').
  Result<std::optional<std::string>> seal(const std::string& id, std::string_view column,
                                          const std::string& plaintext) const {
    if (plaintext.empty()) {
      return column == kResultColumn ? std::optional<std::string>("\\x") : std::optional<std::string>();
    }
    AEGIS_TRY(sealed, cipher->seal(id, column, plaintext));
    return std::optional<std::string>(to_bytea_hex(sealed));
  }

  bool keeps_requests(const std::string& team) const {
    auto it = options.keep_requests_teams.find(team);
    return it != options.keep_requests_teams.end() ? it->second : options.keep_requests;
  }

  Result<void> drop_request(pg::Session& session, Job& job, std::string_view op) const {
    if (keeps_requests(job.team)) return {};
    if (!session.exec(kDropRequest, pg::Params().add(job.id)).ok()) return fail(op, session);
    job.request_json.clear();
    job.vault_json.clear();
    return {};
  }
  Result<void> drop_requests(pg::Session& session, std::vector<Job>& jobs, std::string_view op) const {
    for (auto& job : jobs) AEGIS_TRY_VOID(drop_request(session, job, op));
    return {};
  }

  // Start-up only (throws): the keep_requests policy for jobs that finished
  // while it was different.
  void drop_finished_requests() {
    constexpr std::string_view op = "start-up request clean-up";
    auto dropped = transaction<std::size_t>(op, [&](pg::Session& session) -> Result<std::size_t> {
      auto rows = session.exec(kFinishedWithRequest);
      if (!rows.ok()) return fail(op, session);
      std::vector<Job> finished;
      for (int i = 0; i < rows->size(); ++i) {
        Job job;
        job.id = rows->text(i, 0);
        job.team = rows->text(i, 1);
        if (!keeps_requests(job.team)) finished.push_back(std::move(job));
      }
      AEGIS_TRY_VOID(drop_requests(session, finished, op));
      return finished.size();
    });
    if (!dropped) throw std::runtime_error(dropped.error().message);
    if (*dropped > 0) telemetry::log(telemetry::LogLevel::info, "jobs_finished_requests_dropped", {{"jobs", *dropped}});
  }

  // Inside a submit transaction (which holds kSubmitLock). The outer Result
  // is a transaction-level failure; the inner one this job's answer. A
  // refused insert is undone to its savepoint, so a batch goes on.
  Result<Result<SubmitResult>> submit_one(pg::Session& session, const Job& job, std::int64_t& queued,
                                          std::string_view op) {
    if (auto bad = validate_for_store(job)) return Result<SubmitResult>(std::move(*bad));
    if (job.idempotency_key) {
      AEGIS_TRY(first, query(session, kByIdempotencyKey, pg::Params().add(job.team).add(*job.idempotency_key), op));
      if (!first.empty()) return Result<SubmitResult>(SubmitResult{std::move(first.front()), true});
    }
    if (queued >= options.max_queue_depth) {
      Error e =
          make_error(ErrorCode::rate_limited, "the job queue is full (" + std::to_string(options.max_queue_depth) +
                                                  " jobs queued); retry later");
      e.retry_after_seconds = 1;
      return Result<SubmitResult>(std::move(e));
    }
    Job stored = as_submitted(job);
    auto request = seal(stored.id, kRequestColumn, stored.request_json);
    auto vault = seal(stored.id, kVaultColumn, stored.vault_json);
    auto metadata = seal(stored.id, kMetadataColumn, stored.metadata_json);
    for (const auto* sealed : {&request, &vault, &metadata}) {
      if (!sealed->ok()) return Result<SubmitResult>(sealed->error());
    }
    if (!session.exec("SAVEPOINT submit_one").ok()) return fail(op, session);
    pg::Params p;
    p.add(stored.id)
        .add(stored.team)
        .add(stored.key_id)
        .add(stored.task_type)
        .add(*request)
        .add(*vault)
        .add(std::string(to_string(stored.classification)))
        .add(stored.idempotency_key)
        .add(stored.max_attempts)
        .add(stored.created_at_ms)
        .add(static_cast<std::int64_t>(stored.reservation_id))
        .add(*metadata);
    if (session.exec(kInsert, p).ok()) {
      if (!session.exec("RELEASE SAVEPOINT submit_one").ok()) return fail(op, session);
      ++queued;
      return Result<SubmitResult>(SubmitResult{std::move(stored), false});
    }
    const std::string state = session.last_failure().sqlstate;
    if (state != pg::kUniqueViolation && state != pg::kCheckViolation) return fail(op, session);
    if (!session.exec("ROLLBACK TO SAVEPOINT submit_one").ok()) return fail(op, session);
    if (state == pg::kUniqueViolation) {
      return Result<SubmitResult>(make_error(ErrorCode::conflict, "job '" + stored.id + "' already exists"));
    }
    return Result<SubmitResult>(make_error(ErrorCode::invalid_request, "job fields are out of range"));
  }

  Result<std::int64_t> queued_count(pg::Session& session, std::string_view op) const {
    auto rows = session.exec(kQueuedCount);
    if (!rows.ok()) return fail(op, session);
    auto n = rows->int64(0, 0);
    if (!n) return corrupt_row(op);
    return *n;
  }

  // Inside the transaction that records a run: its audit row and spend,
  // written by the audit store's own code.
  Result<void> record_audit(pg::Session& session, const std::optional<audit::AuditRecord>& row) {
    if (!row) return {};
    AEGIS_TRY_VOID(partitions.ensure(session, pool, row->time_ms, /*in_transaction=*/true));
    // Taken after the partition's lock, like every job transaction, and held until this one ends.
    audit::ChainWriter::Batch* links = nullptr;
    {
      std::optional<audit::ChainWriter::Batch> fresh;
      {
        std::lock_guard lock(open_links_mu);
        if (auto it = open_links.find(&session); it != open_links.end()) links = &it->second;
      }
      if (links == nullptr) {
        fresh.emplace(chain.begin());
        std::lock_guard lock(open_links_mu);
        links = &open_links.emplace(&session, std::move(*fresh)).first->second;
      }
    }
    return store::postgres::insert_audit_rows(session, pool, std::span(&*row, 1), "", options.budget_owner, *links);
  }

  Error ownership_error(pg::Session& session, const std::string& id, const std::string& owner,
                        std::string_view op) const {
    auto rows = session.exec(kOwnership, pg::Params().add(id));
    if (!rows.ok()) return fail(op, session);
    if (rows->empty()) return job_not_found(id);
    return jobs::ownership_error(id, owner, rows->text(0, 0), rows->text(0, 1), op);
  }

  Result<RequeueReport> requeue(std::int64_t now_ms, std::string_view op) {
    return transaction<RequeueReport>(op, [&](pg::Session& session) -> Result<RequeueReport> {
      RequeueReport report;
      AEGIS_TRY(failed, query(session, kFailLost, pg::Params().add(now_ms).add(now_ms), op));
      report.failed = std::move(failed);
      AEGIS_TRY_VOID(drop_requests(session, report.failed, op));
      AEGIS_TRY_VOID(announce_finished(session, report.failed, op));
      AEGIS_TRY(requeued, query(session, kRequeueLost, pg::Params().add(now_ms), op));
      report.requeued = std::move(requeued);
      sort_oldest_first(report.failed);
      sort_oldest_first(report.requeued);
      return report;
    });
  }
};

PostgresJobStore::PostgresJobStore(const std::string& dsn, Options options) {
  if (!options.cipher) throw std::invalid_argument("the job store needs a content cipher (jobs.encryption)");
  impl_ = std::make_unique<Impl>(dsn, std::move(options));
  {
    pg::ConnPtr conn = impl_->pool.connect_or_throw();
    // The only clock read in this store: the audit stamp of a migration step.
    const auto now =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    store::postgres::apply_migrations(conn.get(), now);
  }
  impl_->drop_finished_requests();
}

PostgresJobStore::~PostgresJobStore() { stop_watching(); }

void PostgresJobStore::watch_finished(const std::function<void(const std::string&)>& on_finished) {
  stop_watching();
  {
    std::lock_guard lock(impl_->watch_mu);
    impl_->watch_stopping = false;
  }
  impl_->watcher = std::thread([this, on_finished] { impl_->watch(on_finished); });
}

void PostgresJobStore::stop_watching() {
  {
    std::lock_guard lock(impl_->watch_mu);
    impl_->watch_stopping = true;
  }
  impl_->watch_cv.notify_all();
  if (impl_->watcher.joinable()) impl_->watcher.join();
}

Result<SubmitResult> PostgresJobStore::submit(const Job& job) {
  constexpr std::string_view op = "submit";
  if (auto bad = validate_for_store(job)) return std::move(*bad);
  return impl_->transaction<SubmitResult>(op, [&](pg::Session& session) -> Result<SubmitResult> {
    if (!session.exec(kSubmitLock).ok()) return impl_->fail(op, session);
    AEGIS_TRY(queued, impl_->queued_count(session, op));
    AEGIS_TRY(one, impl_->submit_one(session, job, queued, op));
    return one;
  });
}

Result<std::vector<Result<SubmitResult>>> PostgresJobStore::submit_batch(const std::vector<Job>& jobs) {
  constexpr std::string_view op = "submit_batch";
  using Answers = std::vector<Result<SubmitResult>>;
  if (jobs.empty()) return Answers{};
  return impl_->transaction<Answers>(op, [&](pg::Session& session) -> Result<Answers> {
    if (!session.exec(kSubmitLock).ok()) return impl_->fail(op, session);
    AEGIS_TRY(queued, impl_->queued_count(session, op));
    Answers answers;
    answers.reserve(jobs.size());
    for (const auto& job : jobs) {
      AEGIS_TRY(one, impl_->submit_one(session, job, queued, op));
      answers.push_back(std::move(one));
    }
    return answers;
  });
}

Result<Job> PostgresJobStore::get(const std::string& team, const std::string& id) {
  AEGIS_TRY(session, impl_->pool.acquire());
  AEGIS_TRY(rows, impl_->query(session, kGet, pg::Params().add(id).add(team), "get"));
  if (rows.empty()) return job_not_found(id);
  return std::move(rows.front());
}

Result<std::optional<Job>> PostgresJobStore::find_by_idempotency_key(const std::string& team, const std::string& key) {
  AEGIS_TRY(session, impl_->pool.acquire());
  AEGIS_TRY(rows, impl_->query(session, kByIdempotencyKey, pg::Params().add(team).add(key), "find_by_idempotency_key"));
  if (rows.empty()) return std::optional<Job>();
  return std::optional<Job>(std::move(rows.front()));
}

Result<JobPage> PostgresJobStore::list(const std::string& team, const ListQuery& query) {
  constexpr std::string_view op = "list";
  const int limit = std::clamp(query.limit, 1, kMaxListLimit);
  std::int64_t after_ms = -1;
  std::string after_id;
  if (!query.cursor.empty() && !parse_cursor(query.cursor, after_ms, after_id)) {
    return make_error(ErrorCode::invalid_request, "the cursor is not one this server issued");
  }
  pg::Params p;
  p.add(team).add(after_ms).add(after_id).add(limit + 1);  // one more tells whether a next page exists
  if (query.status)
    p.add(std::string(to_string(*query.status)));
  else
    p.add_null();
  AEGIS_TRY(session, impl_->pool.acquire());
  AEGIS_TRY(rows, impl_->query(session, kList, p, op));
  JobPage page;
  page.jobs = std::move(rows);
  if (page.jobs.size() > static_cast<std::size_t>(limit)) {
    page.jobs.resize(static_cast<std::size_t>(limit));
    page.next_cursor = make_cursor(page.jobs.back());
  }
  return page;
}

Result<std::vector<Job>> PostgresJobStore::claim(const std::string& owner, std::int64_t now_ms, std::int64_t lease_ms,
                                                 int limit) {
  constexpr std::string_view op = "claim";
  if (owner.empty()) return make_error(ErrorCode::invalid_request, "lease owner is missing");
  if (lease_ms <= 0) return make_error(ErrorCode::invalid_request, "lease must be positive");
  if (limit <= 0) return std::vector<Job>{};
  AEGIS_TRY(session, impl_->pool.acquire());
  auto jobs = impl_->query(session, kClaim, pg::Params().add(owner).add(now_ms).add(now_ms + lease_ms).add(limit), op);
  if (jobs) sort_oldest_first(*jobs);
  return jobs;
}

Result<void> PostgresJobStore::renew(const std::string& id, const std::string& owner, std::int64_t now_ms,
                                     std::int64_t lease_ms) {
  constexpr std::string_view op = "renew";
  if (lease_ms <= 0) return make_error(ErrorCode::invalid_request, "lease must be positive");
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec(kRenew, pg::Params().add(id).add(owner).add(now_ms + lease_ms));
  if (!rows.ok()) return impl_->fail(op, session);
  if (rows->affected() == 0) return impl_->ownership_error(session, id, owner, op);
  return {};
}

Result<Job> PostgresJobStore::complete(const std::string& id, const std::string& owner, const Completion& done) {
  constexpr std::string_view op = "complete";
  AEGIS_TRY(result_text, impl_->seal(id, kResultColumn, done.result.text));
  return impl_->transaction<Job>(op, [&](pg::Session& session) -> Result<Job> {
    pg::Params p;
    p.add(id)
        .add(owner)
        .add(done.route.tier)
        .add(done.route.provider)
        .add(done.route.model)
        .add(done.route.reason)
        .add(*result_text)
        .add(done.result.input_tokens)
        .add(done.result.output_tokens)
        .add(done.result.cost.micros)
        .add(done.finished_at_ms)
        .add(std::string(done.audit ? to_string(done.audit->level) : ""))
        .add(done.result.cache_read_tokens)
        .add(done.result.cache_write_tokens);
    AEGIS_TRY(rows, impl_->query(session, kComplete, p, op));
    if (rows.empty()) return impl_->ownership_error(session, id, owner, op);
    AEGIS_TRY_VOID(impl_->drop_request(session, rows.front(), op));
    AEGIS_TRY_VOID(impl_->announce_finished(session, {rows.front()}, op));
    AEGIS_TRY_VOID(impl_->record_audit(session, done.audit));
    return std::move(rows.front());
  });
}

Result<Job> PostgresJobStore::fail(const std::string& id, const std::string& owner, const Failure& failure) {
  constexpr std::string_view op = "fail";
  return impl_->transaction<Job>(op, [&](pg::Session& session) -> Result<Job> {
    pg::Params p;
    p.add(id)
        .add(owner)
        .add(failure.route.tier)
        .add(failure.route.provider)
        .add(failure.route.model)
        .add(failure.route.reason)
        .add(failure.error.type)
        .add(failure.error.message)
        .add(failure.finished_at_ms)
        .add(std::string(failure.audit ? to_string(failure.audit->level) : ""));
    AEGIS_TRY(rows, impl_->query(session, kFail, p, op));
    if (rows.empty()) return impl_->ownership_error(session, id, owner, op);
    AEGIS_TRY_VOID(impl_->drop_request(session, rows.front(), op));
    AEGIS_TRY_VOID(impl_->announce_finished(session, {rows.front()}, op));
    AEGIS_TRY_VOID(impl_->record_audit(session, failure.audit));
    return std::move(rows.front());
  });
}

Result<RequeueReport> PostgresJobStore::requeue_expired(std::int64_t now_ms) {
  return impl_->requeue(now_ms, "requeue_expired");
}

Result<RequeueReport> PostgresJobStore::requeue_all_running(std::int64_t now_ms) {
  return impl_->requeue(now_ms, "requeue_all_running");
}

Result<std::vector<Job>> PostgresJobStore::release_owned(const std::string& owner) {
  constexpr std::string_view op = "release_owned";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto jobs = impl_->query(session, kReleaseOwned, pg::Params().add(owner), op);
  if (jobs) sort_oldest_first(*jobs);
  return jobs;
}

Result<CancelResult> PostgresJobStore::cancel(const std::string& team, const std::string& id, std::int64_t now_ms) {
  constexpr std::string_view op = "cancel";
  return impl_->transaction<CancelResult>(op, [&](pg::Session& session) -> Result<CancelResult> {
    // FOR UPDATE: the status read and the cancel see the same row version.
    auto status_rows = session.exec(kStatusOf, pg::Params().add(id).add(team));
    if (!status_rows.ok()) return impl_->fail(op, session);
    if (status_rows->empty()) return job_not_found(id);
    const auto previous = parse_job_status(status_rows->text(0, 0));
    if (!previous) return corrupt_row(op);
    if (is_finished(*previous)) {
      return make_error(ErrorCode::conflict,
                        "job '" + id + "' has already finished (" + std::string(to_string(*previous)) + ")");
    }
    AEGIS_TRY(rows, impl_->query(session, kCancel, pg::Params().add(id).add(team).add(now_ms), op));
    if (rows.empty()) return corrupt_row(op);
    AEGIS_TRY_VOID(impl_->drop_request(session, rows.front(), op));
    AEGIS_TRY_VOID(impl_->announce_finished(session, {rows.front()}, op));
    return CancelResult{std::move(rows.front()), *previous};
  });
}

Result<std::vector<Job>> PostgresJobStore::expire_queued(std::int64_t created_before_ms, std::int64_t now_ms) {
  constexpr std::string_view op = "expire_queued";
  return impl_->transaction<std::vector<Job>>(op, [&](pg::Session& session) -> Result<std::vector<Job>> {
    AEGIS_TRY(jobs, impl_->query(session, kExpire, pg::Params().add(created_before_ms).add(now_ms), op));
    AEGIS_TRY_VOID(impl_->drop_requests(session, jobs, op));
    AEGIS_TRY_VOID(impl_->announce_finished(session, jobs, op));
    sort_oldest_first(jobs);
    return jobs;
  });
}

Result<std::int64_t> PostgresJobStore::purge(std::int64_t finished_before_ms) {
  constexpr std::string_view op = "purge";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec(kPurge, pg::Params().add(finished_before_ms));
  if (!rows.ok()) return impl_->fail(op, session);
  return rows->affected();
}

Result<JobCounts> PostgresJobStore::counts() {
  constexpr std::string_view op = "counts";
  AEGIS_TRY(session, impl_->pool.acquire());
  auto rows = session.exec(kCounts);
  if (!rows.ok()) return impl_->fail(op, session);
  JobCounts out{};
  for (int i = 0; i < rows->size(); ++i) {
    const auto status = parse_job_status(rows->text(i, 0));
    const auto n = rows->int64(i, 1);
    if (!status || !n) return corrupt_row(op);
    out[static_cast<std::size_t>(*status)] = *n;
  }
  return out;
}

Result<QueueSummary> PostgresJobStore::summary(int failures) {
  constexpr std::string_view op = "summary";
  AEGIS_TRY(session, impl_->pool.acquire());
  QueueSummary out;
  auto oldest = session.exec("SELECT MIN(created_at_ms) FROM jobs WHERE status = 'queued'");
  if (!oldest.ok()) return impl_->fail(op, session);
  if (!oldest->is_null(0, 0)) {
    auto ms = oldest->int64(0, 0);
    if (!ms) return corrupt_row(op);
    out.oldest_queued_created_ms = *ms;
  }
  auto rows = session.exec(
      "SELECT id, team, task_type, error_type, finished_at_ms FROM jobs WHERE status = 'failed' "
      "ORDER BY finished_at_ms DESC, id DESC LIMIT $1",
      pg::Params().add(static_cast<std::int64_t>(failures)));
  if (!rows.ok()) return impl_->fail(op, session);
  for (int i = 0; i < rows->size(); ++i) {
    auto finished = rows->int64(i, 4);
    if (!finished) return corrupt_row(op);
    out.recent_failures.push_back(
        FailedJob{rows->text(i, 0), rows->text(i, 1), rows->text(i, 2), rows->text(i, 3), *finished});
  }
  return out;
}

audit::ChainWriter* PostgresJobStore::chain_writer() { return &impl_->chain; }

}  // namespace aegis::jobs
