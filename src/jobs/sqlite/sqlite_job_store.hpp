#pragma once
// The embedded job store: its own SQLite connection to the gateway's database
// file (WAL), separate from store::SqliteStore's, so job traffic never waits
// on that store's mutex and vice versa; the two writers meet only at SQLite's
// write lock (busy_timeout). Calls block; use a store::DbExecutor.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "jobs/job_store.hpp"

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
};

class SqliteJobStore final : public JobStore {
 public:
  using Options = SqliteJobStoreOptions;

  // Opens (creating if missing) and applies the store's migrations. Throws
  // std::runtime_error at start-up when the file cannot be opened or migrated.
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aegis::jobs
