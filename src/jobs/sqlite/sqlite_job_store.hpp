#pragma once
// The embedded job store: its own SQLite connection to the gateway's database
// file (WAL), separate from store::SqliteStore's, so job traffic never waits
// on that store's mutex and vice versa; the two writers meet only at SQLite's
// write lock (busy_timeout). Calls block; use a store::DbExecutor.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "jobs/job_store.hpp"
#include "jobs/payload_cipher.hpp"

namespace aegis::jobs {

struct SqliteJobStoreOptions {
  // Submits are refused (rate_limited) while this many jobs are queued.
  std::int64_t max_queue_depth = 10'000;
  // How long a write waits for another connection's write lock before failing
  // (unavailable, retryable).
  std::chrono::milliseconds busy_timeout{5'000};
  // true: every commit is synced to disk (synchronous=FULL), so a 202 survives
  // a power loss, not only a killed process. false: synchronous=NORMAL, which
  // in WAL mode survives kill -9 but may lose the last commits on power loss.
  bool sync_every_commit = true;
  // Seals request, vault, metadata and result at rest (required; the factory
  // builds it from jobs.encryption, jobs/content_keys.hpp).
  std::shared_ptr<const PayloadCipher> cipher;
  // false: request and vault are set to NULL in the transaction that finishes
  // a job (succeeded, failed, cancelled, expired); true keeps them until purge.
  // Per-team entries override.
  bool keep_requests = false;
  std::map<std::string, bool> keep_requests_teams;
};

class SqliteJobStore final : public JobStore {
 public:
  using Options = SqliteJobStoreOptions;

  // Opens (creating if missing) and applies the store's migrations. Throws
  // std::runtime_error at start-up when the file cannot be opened or migrated,
  // std::invalid_argument without options.cipher.
  //
  // Content columns: a value that cannot be decrypted (its key is not
  // configured, or authentication fails) does not fail the read; the job comes
  // back with content_error set and the affected fields empty, and the store
  // logs it (job id, column, key id; never content).
  explicit SqliteJobStore(const std::string& path, Options options = {});
  ~SqliteJobStore() override;
  SqliteJobStore(const SqliteJobStore&) = delete;
  SqliteJobStore& operator=(const SqliteJobStore&) = delete;

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
  Result<RequeueReport> requeue_all_running(std::int64_t now_ms) override;
  Result<std::vector<Job>> release_owned(const std::string& owner) override;
  Result<CancelResult> cancel(const std::string& team, const std::string& id, std::int64_t now_ms) override;
  Result<std::vector<Job>> expire_queued(std::int64_t created_before_ms, std::int64_t now_ms) override;
  Result<std::int64_t> purge(std::int64_t finished_before_ms) override;
  Result<JobCounts> counts() override;
  Result<QueueSummary> summary(int failures) override;
  audit::ChainWriter* chain_writer() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aegis::jobs
