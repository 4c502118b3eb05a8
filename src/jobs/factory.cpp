#include "jobs/factory.hpp"

#include <stdexcept>

#include "jobs/content_keys.hpp"
#include "jobs/postgres/postgres_job_store.hpp"
#include "jobs/sqlite/sqlite_job_store.hpp"

namespace aegis::jobs {

std::unique_ptr<JobStore> open_job_store(const config::StorageConfig& storage, const config::JobsConfig& jobs,
                                         const std::string& budget_owner) {
  if (!storage.postgres_dsn.empty()) {
    // A key generated beside one replica's files cannot open what another
    // replica sealed: a shared queue needs the configured keys.
    if (jobs.encryption.keys.empty()) {
      throw std::runtime_error(
          "jobs.encryption.keys must be configured with storage.postgres_dsn: every replica must open the job "
          "content the others sealed (docs/CONFIG.md, jobs.encryption)");
    }
    PostgresJobStore::Options options;
    options.max_queue_depth = jobs.max_queue_depth;
    options.cipher = load_content_cipher(jobs, ":memory:");  // configured keys only, no key file
    options.keep_requests = jobs.keep_requests;
    options.keep_requests_teams = jobs.keep_requests_teams;
    options.budget_owner = budget_owner;
    return std::make_unique<PostgresJobStore>(storage.postgres_dsn, options);
  }
  SqliteJobStore::Options options;
  options.max_queue_depth = jobs.max_queue_depth;
  options.sync_every_commit = jobs.sync_every_commit;
  options.cipher = load_content_cipher(jobs, storage.sqlite_path);
  options.keep_requests = jobs.keep_requests;
  options.keep_requests_teams = jobs.keep_requests_teams;
  return std::make_unique<SqliteJobStore>(storage.sqlite_path, options);
}

}  // namespace aegis::jobs
