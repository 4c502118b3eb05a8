#include "jobs/factory.hpp"

#include "jobs/content_keys.hpp"
#include "jobs/sqlite/sqlite_job_store.hpp"

namespace aegis::jobs {

std::unique_ptr<JobStore> open_job_store(const config::StorageConfig& storage, const config::JobsConfig& jobs) {
  SqliteJobStore::Options options;
  options.max_queue_depth = jobs.max_queue_depth;
  options.sync_every_commit = jobs.sync_every_commit;
  options.cipher = load_content_cipher(jobs, storage.sqlite_path);
  options.keep_requests = jobs.keep_requests;
  options.keep_requests_teams = jobs.keep_requests_teams;
  return std::make_unique<SqliteJobStore>(storage.sqlite_path, options);
}

}  // namespace aegis::jobs
