#pragma once
#include <memory>

#include "config/config.hpp"
#include "jobs/job_store.hpp"

namespace aegis::jobs {

// Opens the job store in the configured SQLite database (the same database
// as store::open_store). Throws std::runtime_error at start-up.
std::unique_ptr<JobStore> open_job_store(const config::StorageConfig& storage, const config::JobsConfig& jobs);

}  // namespace aegis::jobs
