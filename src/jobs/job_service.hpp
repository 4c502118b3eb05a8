#pragma once
// The async job API's engine (docs/JOBS.md): submit runs stages 2-5 of the
// pipeline at once (classification, PII block policy, routing, the budget
// reservation held for the job) and stores the job durably through a
// group-commit writer; workers in this process claim jobs with a lease and run
// each one through gateway::Gateway, exactly like a synchronous call.
//
//   submit ──202──> queued ──claim(lease)──> running ──> succeeded | failed
//      │                │                       │ lease renewed every lease/3
//      │                └─ DELETE → cancelled   └─ DELETE → cancelled (upstream call cancelled)
//      └─ 400 / 402 / 422 / 429 before anything is stored
//
// Retrieval jobs run rag::RagService instead of a chat call: rag_ingest
// ingests a document (no reservation at submit: its embedding calls meet the
// ordinary preflight when it runs; its progress shows on the job while it
// runs), rag answers a question (its reservation is priced at submit on the
// question and top_k full chunks, rag::RagService::admission_request).
//
// Durability: a 202 is sent only after the transaction holding the job has
// committed. Jobs left running by a process that died are requeued at start
// (the embedded store has one owner), or failed with "worker_lost" once
// jobs.max_attempts claims have been used. The upstream call is at least
// once; the store records one outcome per job (complete/fail are guarded by
// the lease owner), so the result a client reads never changes. A run's
// audit row and spend commit in the transaction that records its outcome, so
// a job that reads succeeded (or failed) is always audited and billed.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "gateway/gateway.hpp"
#include "identity/principal.hpp"
#include "jobs/job_request.hpp"
#include "jobs/job_store.hpp"
#include "rag/rag_service.hpp"
#include "store/db_executor.hpp"
#include "store/store.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::jobs {

struct JobServiceDeps {
  const config::JobsConfig& config;
  JobStore& store;
  gateway::Gateway& gateway;
  budget::BudgetService& budgets;
  store::TeamStore& teams;     // the team's current cap when a job runs
  store::DbExecutor& team_db;  // where TeamStore calls run
  // Where a run's audit row goes when the job store did not commit it with
  // the job's outcome (a cancelled job, a lost lease, a store error).
  audit::AuditSink& audit;
  telemetry::Registry& metrics;
  const Clock& clock;
  // How often a running job's lease is renewed; zero: every lease/3, at least
  // every 500 ms. Leases are whole seconds, so only tests, which move `clock`
  // by hand, set it shorter.
  std::chrono::milliseconds lease_renewal{0};
  // Runs the retrieval jobs (task_type rag_ingest, and rag without messages);
  // null when the storage backend has no retrieval store: they are refused
  // at submit with rag::retrieval_unavailable() (503), as the routes are.
  rag::RagService* rag = nullptr;
  // Where a retrieval job reads its key's own clearance when it runs (calls
  // run on team_db): the chunks it may retrieve are the key's, as on the
  // routes. Null only in tests of jobs that retrieve nothing: the team's.
  store::KeyStore* keys = nullptr;
};

struct Submission {
  Job job;
  bool replayed = false;  // an earlier job with the same Idempotency-Key
  // The caller's rate-limit buckets after this submit was counted (the response headers).
  ratelimit::Snapshot rate{};
};

class JobService {
 public:
  JobService(JobServiceDeps deps, boost::asio::io_context& io);
  ~JobService();
  JobService(const JobService&) = delete;
  JobService& operator=(const JobService&) = delete;

  // Start-up: requeues jobs a previous process left running (blocking, before
  // any worker claims), then starts the dispatcher and the maintenance loop.
  // Throws std::runtime_error when the store cannot be read.
  void start();
  // Stops claiming and refuses new submits (the server is draining).
  void stop();
  // After the I/O threads have ended, before the io_context shuts down: waits
  // for the job store calls in flight (see store::DbExecutor::finish).
  void finish_database_work();
  // After the I/O threads have ended (blocking): the jobs this process was
  // still running go back to the queue without spending an attempt, so a
  // restart is not mistaken for a crash. Submits already accepted are written first.
  void hand_back_running();

  boost::asio::awaitable<Result<Submission>> submit(const identity::Principal& principal, JobRequest request,
                                                    std::optional<std::string> idempotency_key, std::string request_id);
  // Waits up to `wait` for the job to finish (0 = answer now).
  boost::asio::awaitable<Result<Job>> get(std::string team, std::string id, std::chrono::milliseconds wait);
  boost::asio::awaitable<Result<JobPage>> list(std::string team, ListQuery query);
  boost::asio::awaitable<Result<Job>> cancel(std::string team, std::string id);

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace aegis::jobs
