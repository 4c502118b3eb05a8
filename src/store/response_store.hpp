#pragma once
// Stored Responses API conversations (POST /v1/responses with stored
// responses on for the team, config `responses.store`): what a later
// previous_response_id continues, and GET/DELETE /v1/responses/{id}. The
// conversation is the raw text of the turns, so it stays in the gateway's own
// store, is visible to its team only, expires (`responses.retention_s`), and
// can be erased at once.
#include <cstdint>
#include <string>

#include "core/result.hpp"

namespace aegis::store {

struct StoredResponse {
  std::string id;    // "resp_<hex>"
  std::string team;  // the only team that can read or delete it
  std::int64_t created_at_ms = 0;
  std::int64_t expires_at_ms = 0;
  std::string conversation_json;  // the turns up to and including this answer (wire/responses.hpp write_messages)
  std::string response_json;      // the response object the client was given
};

class ResponseStore {
 public:
  virtual ~ResponseStore() = default;
  // Inserts `response`; conflict on a duplicate id. Also deletes responses
  // that expired before `response.created_at_ms` (every team's), so expired
  // conversations do not outlive the next write.
  virtual Result<void> put_response(const StoredResponse& response) = 0;
  // not_found when absent, another team's, or expired at `now_ms` (the same
  // message for each, so ids cannot be probed across teams).
  virtual Result<StoredResponse> get_response(const std::string& team, const std::string& id, std::int64_t now_ms) = 0;
  // Erases it; not_found as get_response.
  virtual Result<void> delete_response(const std::string& team, const std::string& id) = 0;
  // Deletes every response expired at `now_ms`; how many.
  virtual Result<std::int64_t> purge_responses(std::int64_t now_ms) = 0;
};

}  // namespace aegis::store
