#pragma once
// The durable job queue behind POST /v1/jobs, backend-neutral: SQLite
// (jobs/sqlite/) or PostgreSQL shared by replicas (jobs/postgres/). Calls
// block and are thread-safe; the server reaches the store through a
// store::DbExecutor so no call runs on an I/O thread.
//
// Time is always passed in (now_ms, Unix epoch milliseconds): the store never
// reads a clock, so leases and expiry are tested without sleeping and several
// replicas agree on what "expired" means only through the values they pass.
//
// Ownership of a running job is (status = running, lease_owner = owner). A
// lease that has passed its expiry but has not been requeued yet is still
// owned: renew/complete/fail succeed, because nobody else can have claimed it.
// Owners must be unique per worker process (e.g. "host:pid:random").
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "audit/chain_writer.hpp"
#include "audit/record.hpp"
#include "core/result.hpp"
#include "jobs/job.hpp"

namespace aegis::jobs {

struct SubmitResult {
  Job job;
  // true: a job with the same (team, idempotency_key) existed; `job` is that
  // first job, unchanged, and nothing new was stored.
  bool existing = false;
};

struct ListQuery {
  std::optional<JobStatus> status;
  int limit = 50;  // clamped to 1..1000
  // Opaque, from a previous page's next_cursor; empty for the first page.
  std::string cursor;
};

struct JobPage {
  std::vector<Job> jobs;  // ordered by (created_at_ms, id)
  // Set when more jobs may follow; pass it back as ListQuery::cursor.
  std::optional<std::string> next_cursor;
};

struct Completion {
  JobRoute route;
  JobResult result;
  std::int64_t finished_at_ms = 0;
  // The run's audit row: written, with its cost added to the team's committed
  // spend, in the transaction that records the outcome, so a crash can never
  // leave a finished job without its record (or the record without the job).
  std::optional<audit::AuditRecord> audit;
};

struct Failure {
  JobRoute route;  // may be empty when the job failed before routing
  JobError error;
  std::int64_t finished_at_ms = 0;
  std::optional<audit::AuditRecord> audit;  // as Completion::audit
};

struct CancelResult {
  Job job;                                 // as stored after the cancel (status cancelled)
  JobStatus previous = JobStatus::queued;  // queued or running: running means an upstream call may be in flight
};

// Jobs moved by requeue_expired / requeue_all_running, as stored afterwards.
struct RequeueReport {
  std::vector<Job> requeued;  // back to queued (attempts remain)
  std::vector<Job> failed;    // failed: "worker lost; max attempts reached"
};

// A failed job as the admin console lists it: what failed and how, never
// the request, the metadata or the error's message.
struct FailedJob {
  std::string id;
  std::string team;
  std::string task_type;
  std::string error_type;
  std::int64_t finished_at_ms = 0;
};

// The queue at a glance (GET /admin/v1/jobs/summary), every team's jobs.
struct QueueSummary {
  std::optional<std::int64_t> oldest_queued_created_ms;  // none: nothing is queued
  std::vector<FailedJob> recent_failures;                // newest first
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // Durable insert of a new job (status queued, attempts 0; created_at_ms > 0
  // and max_attempts >= 1 required). When `job.idempotency_key` is set and the
  // team already has a job with that key, returns that first job with
  // existing = true (even when the queue is full). Otherwise rate_limited (with
  // retry-after) when the queued count is at the configured maximum depth,
  // checked in the same transaction as the insert.
  virtual Result<SubmitResult> submit(const Job& job) = 0;

  // Group commit: the same rules per job, all written in one transaction, so
  // many submits cost one disk sync. The outer Result fails only when the
  // transaction does (then nothing was stored); item i answers jobs[i]. Later
  // items see earlier ones (a repeated idempotency key in one batch returns
  // the first; a batch can fill the queue part-way).
  virtual Result<std::vector<Result<SubmitResult>>> submit_batch(const std::vector<Job>& jobs) = 0;

  // not_found when the id does not exist or belongs to another team, with the
  // same message, so a team cannot learn that another team's id exists.
  virtual Result<Job> get(const std::string& team, const std::string& id) = 0;

  // The team's job submitted with this Idempotency-Key, if any: lets submit
  // answer a replay before it spends anything (a replay must not get 402).
  virtual Result<std::optional<Job>> find_by_idempotency_key(const std::string& team, const std::string& key) = 0;

  // One team's jobs, oldest first, optionally one status; invalid_request for
  // a malformed cursor.
  virtual Result<JobPage> list(const std::string& team, const ListQuery& query) = 0;

  // Moves up to `limit` queued jobs, oldest first, to running with a lease
  // until now_ms + lease_ms: attempts += 1, started_at_ms set on the first
  // claim. Atomic: no job is handed to two claimers.
  virtual Result<std::vector<Job>> claim(const std::string& owner, std::int64_t now_ms, std::int64_t lease_ms,
                                         int limit) = 0;

  // Extends the lease to now_ms + lease_ms; conflict when the job is no longer
  // running under `owner` (requeued, cancelled, finished), not_found if absent.
  virtual Result<void> renew(const std::string& id, const std::string& owner, std::int64_t now_ms,
                             std::int64_t lease_ms) = 0;

  // Records the outcome, only by the current lease owner and only once: a
  // second completion (or one after a cancel or a lost lease) is a conflict and
  // never overwrites the recorded result. Returns the finished job. The audit
  // row, when given, commits with the outcome; on any error nothing is written
  // and the caller still owns the row (it must record it another way).
  virtual Result<Job> complete(const std::string& id, const std::string& owner, const Completion& done) = 0;
  virtual Result<Job> fail(const std::string& id, const std::string& owner, const Failure& failure) = 0;

  // Running jobs whose lease ended (lease_expires_ms <= now_ms) go back to
  // queued, or to failed (error type "worker_lost") when attempts >= max_attempts.
  virtual Result<RequeueReport> requeue_expired(std::int64_t now_ms) = 0;
  // The same for every running job whatever its lease: with the embedded store
  // one process owns the queue, so at start-up anything still running was left
  // by a previous process that died.
  virtual Result<RequeueReport> requeue_all_running(std::int64_t now_ms) = 0;

  // A worker process stopping gracefully hands back its running jobs: they
  // go back to queued and the interrupted claim does not count as an attempt
  // (a restart is not a crash). Returns them.
  virtual Result<std::vector<Job>> release_owned(const std::string& owner) = 0;

  // queued/running → cancelled (finished_at_ms = now_ms), returning the
  // previous status so the caller can stop a running upstream call and release
  // the reservation. conflict when the job has already finished; not_found as get().
  virtual Result<CancelResult> cancel(const std::string& team, const std::string& id, std::int64_t now_ms) = 0;

  // Queued jobs created before created_before_ms → expired (finished_at_ms =
  // now_ms, error type "expired"). Returns them so their reservations can be released.
  virtual Result<std::vector<Job>> expire_queued(std::int64_t created_before_ms, std::int64_t now_ms) = 0;

  // Deletes finished jobs with finished_at_ms < finished_before_ms, and with
  // them their request and vault. Returns how many rows went.
  virtual Result<std::int64_t> purge(std::int64_t finished_before_ms) = 0;

  virtual Result<JobCounts> counts() = 0;
  // The oldest queued job's creation time and up to `failures` failed jobs,
  // newest first. Not pure: test doubles of the queue answer unavailable.
  virtual Result<QueueSummary> summary(int /*failures*/) {
    return make_error(ErrorCode::unavailable, "this job store keeps no summary");
  }

  // Calls on_finished(job id) when any process records a job as finished
  // (succeeded, failed, cancelled, expired), from a thread of the store's own,
  // until stop_watching(): what lets a replica wake its long-polls and drop
  // its submit-time reservation for a job another replica ran. A queue one
  // process owns has nothing to report (that process saw every finish).
  virtual void watch_finished(const std::function<void(const std::string&)>& /*on_finished*/) {}
  // The chain job runs' audit rows are linked into (audit/chain_writer.hpp),
  // sealed by the gateway with the store's own; null when the store writes no audit rows.
  virtual audit::ChainWriter* chain_writer() { return nullptr; }
  // Returns once no callback runs or will run.
  virtual void stop_watching() {}
};

}  // namespace aegis::jobs
