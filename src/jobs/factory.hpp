#pragma once
#include <memory>
#include <string>

#include "config/config.hpp"
#include "jobs/job_store.hpp"

namespace aegis::jobs {

// Opens the job store in the configured database (the same database as
// store::open_store). `budget_owner`: on a shared database, the replica whose
// budget leases a run's cost is booked against (store/budget_pool.hpp).
// Throws std::runtime_error at start-up.
std::unique_ptr<JobStore> open_job_store(const config::StorageConfig& storage, const config::JobsConfig& jobs,
                                         const std::string& budget_owner = {});

}  // namespace aegis::jobs
