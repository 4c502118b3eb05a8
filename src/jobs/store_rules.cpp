#include "jobs/store_rules.hpp"

#include <algorithm>
#include <charconv>

namespace aegis::jobs {

Error job_not_found(const std::string& id) { return make_error(ErrorCode::not_found, "job '" + id + "' not found"); }

Error ownership_error(const std::string& id, const std::string& owner, const std::string& status,
                      const std::string& lease_owner, std::string_view op) {
  if (status != "running") {
    return make_error(ErrorCode::conflict, "job '" + id + "' is " + status +
                                               "; its outcome is already recorded "
                                               "or it is not running");
  }
  if (lease_owner != owner) {
    return make_error(ErrorCode::conflict, "job '" + id + "' is leased by another worker; the lease was lost");
  }
  return make_error(ErrorCode::internal, "job storage error in " + std::string(op) + ": update had no effect");
}

void sort_oldest_first(std::vector<Job>& jobs) {
  std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
    return a.created_at_ms != b.created_at_ms ? a.created_at_ms < b.created_at_ms : a.id < b.id;
  });
}

std::optional<Error> validate_for_store(const Job& job) {
  if (job.id.empty()) return make_error(ErrorCode::invalid_request, "job id is missing");
  if (job.team.empty()) return make_error(ErrorCode::invalid_request, "job team is missing");
  if (job.created_at_ms <= 0) return make_error(ErrorCode::invalid_request, "job created_at is missing");
  if (job.max_attempts < 1) return make_error(ErrorCode::invalid_request, "job max_attempts must be at least 1");
  if (job.idempotency_key && job.idempotency_key->empty()) {
    return make_error(ErrorCode::invalid_request, "idempotency key must not be empty");
  }
  return std::nullopt;
}

Job as_submitted(const Job& in) {
  Job j;
  j.id = in.id;
  j.team = in.team;
  j.key_id = in.key_id;
  j.status = JobStatus::queued;
  j.task_type = in.task_type;
  j.request_json = in.request_json;
  j.vault_json = in.vault_json;
  j.metadata_json = in.metadata_json;
  j.classification = in.classification;
  j.idempotency_key = in.idempotency_key;
  j.max_attempts = in.max_attempts;
  j.created_at_ms = in.created_at_ms;
  j.reservation_id = in.reservation_id;
  return j;
}

std::string make_cursor(const Job& last) { return std::to_string(last.created_at_ms) + ":" + last.id; }

bool parse_cursor(const std::string& cursor, std::int64_t& created_at_ms, std::string& id) {
  const auto colon = cursor.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= cursor.size()) return false;
  const char* first = cursor.data();
  const char* last = cursor.data() + colon;
  const auto [ptr, ec] = std::from_chars(first, last, created_at_ms);
  if (ec != std::errc() || ptr != last || created_at_ms < 0) return false;
  id = cursor.substr(colon + 1);
  return true;
}

}  // namespace aegis::jobs
