#pragma once
// The shared job queue: PostgreSQL, for several replicas on one database
// (storage.postgres_dsn). The same contract as the SQLite queue
// (jobs/job_store.hpp); what differs is what sharing needs: claims take jobs
// with FOR UPDATE SKIP LOCKED, so replicas claiming at once never wait on or
// share a job; submits serialise on a transaction advisory lock, so the queue
// depth check and idempotency keys hold across replicas; and
// requeue_all_running takes only expired leases, since a running job may
// belong to a live replica. Calls block; use a store::DbExecutor.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "jobs/job_store.hpp"
#include "jobs/payload_cipher.hpp"

namespace aegis::jobs {

struct PostgresJobStoreOptions {
  std::int64_t max_queue_depth = 10'000;
  // Seals request, vault, metadata and result at rest (required). Every
  // replica must hold the same keys (jobs.encryption).
  std::shared_ptr<const PayloadCipher> cipher;
  bool keep_requests = false;
  std::map<std::string, bool> keep_requests_teams;
  std::size_t max_connections = 8;
  // The replica whose budget leases a run's cost is booked against
  // (store/budget_pool.hpp); empty books it to none.
  std::string budget_owner;
};

class PostgresJobStore final : public JobStore {
 public:
  using Options = PostgresJobStoreOptions;

  // Connects and applies the schema migrations (store/postgres/migrations.cpp).
  // Throws std::runtime_error when the database cannot be reached or migrated,
  // std::invalid_argument without options.cipher.
  PostgresJobStore(const std::string& dsn, Options options);
  ~PostgresJobStore() override;
  PostgresJobStore(const PostgresJobStore&) = delete;
  PostgresJobStore& operator=(const PostgresJobStore&) = delete;

  Result<SubmitResult> submit(const Job& job) override;
  Result<std::vector<Result<SubmitResult>>> submit_batch(const std::vector<Job>& jobs) override;
  Result<Job> get(const std::string& team, const std::string& id) override;
  Result<std::optional<Job>> find_by_idempotency_key(const std::string& team, const std::string& key) override;
  Result<JobPage> list(const std::string& team, const ListQuery& query) override;
  Result<std::vector<Job>> claim(const std::string& owner, std::int64_t now_ms, std::int64_t lease_ms,
                                 int limit) override;
  Result<void> renew(const std::string& id, const std::string& owner, std::int64_t now_ms,
                     std::int64_t lease_ms) override;
  Result<Job> complete(const std::string& id, const std::string& owner, const Completion& done) override;
  Result<Job> fail(const std::string& id, const std::string& owner, const Failure& failure) override;
  Result<RequeueReport> requeue_expired(std::int64_t now_ms) override;
  // Shared queue: the same as requeue_expired (a live replica's jobs are not taken).
  Result<RequeueReport> requeue_all_running(std::int64_t now_ms) override;
  Result<std::vector<Job>> release_owned(const std::string& owner) override;
  Result<CancelResult> cancel(const std::string& team, const std::string& id, std::int64_t now_ms) override;
  Result<std::vector<Job>> expire_queued(std::int64_t created_before_ms, std::int64_t now_ms) override;
  Result<std::int64_t> purge(std::int64_t finished_before_ms) override;
  Result<JobCounts> counts() override;
  Result<QueueSummary> summary(int failures) override;
  audit::ChainWriter* chain_writer() override;
  // LISTEN on a connection of its own; every transaction that finishes jobs NOTIFYs their ids.
  void watch_finished(const std::function<void(const std::string&)>& on_finished) override;
  void stop_watching() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aegis::jobs
