#pragma once
// What every JobStore backend decides the same way (jobs/job_store.hpp):
// which submits are valid, what of a submitted job is kept, list cursors,
// result order and the not-found message.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "jobs/job.hpp"

namespace aegis::jobs {

// One message for "absent" and "another team's", so ids cannot be probed.
Error job_not_found(const std::string& id);

// Why an owner-guarded update (renew, complete, fail) touched no row, given
// the job's stored status and lease owner: conflict, or internal when the row
// should have matched.
Error ownership_error(const std::string& id, const std::string& owner, const std::string& status,
                      const std::string& lease_owner, std::string_view op);

// RETURNING yields rows in no promised order: oldest first, then by id.
void sort_oldest_first(std::vector<Job>& jobs);

// invalid_request for a job that cannot be stored (no id, team, creation
// time, attempts, or an empty idempotency key).
std::optional<Error> validate_for_store(const Job& job);

// What the store keeps of a submitted job: a fresh queued job, whatever
// run-time fields the caller left set.
Job as_submitted(const Job& in);

// "created_at_ms:id" of a page's last job.
std::string make_cursor(const Job& last);
bool parse_cursor(const std::string& cursor, std::int64_t& created_at_ms, std::string& id);

}  // namespace aegis::jobs
