#include "jobs/factory.hpp"

#include <stdexcept>

#include "jobs/sqlite/sqlite_job_store.hpp"

namespace aegis::jobs {

std::unique_ptr<JobStore> open_job_store(const config::StorageConfig& storage, const config::JobsConfig& jobs) {
  switch (storage.backend) {
    case config::StorageBackend::sqlite: {
      SqliteJobStore::Options options;
      options.max_queue_depth = jobs.max_queue_depth;
      options.sync_every_commit = jobs.sync_every_commit;
      return std::make_unique<SqliteJobStore>(storage.sqlite_path, options);
    }
    case config::StorageBackend::postgres:
      throw std::runtime_error("postgres job store is not available in this build yet");
  }
  throw std::runtime_error("unknown storage backend");
}

}  // namespace aegis::jobs
