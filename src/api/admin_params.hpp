#pragma once
// What the admin routes read alike: query parameters that are times or whole
// numbers (one rule and one message for each, whichever route), and the audit
// writer's queue flushed before the audit trail is read.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "audit/audit_writer.hpp"
#include "core/result.hpp"

namespace aegis::api {

using QueryParams = std::map<std::string, std::string>;

// Parameter `name` as Unix epoch milliseconds (plain digits, at most 15) or
// an RFC 3339 timestamp; nullopt when absent; 400 naming it otherwise.
Result<std::optional<std::int64_t>> time_param(const QueryParams& params, std::string_view name);

// Parameter `name` as a whole number in [min, max]; nullopt when absent; 400
// naming it and the range otherwise.
Result<std::optional<std::int64_t>> whole_param(const QueryParams& params, std::string_view name, std::int64_t min,
                                                std::int64_t max);

// On a database thread, never an I/O thread: blocks until the writer thread
// has written what was queued, so a row of a request already answered is in
// what the caller reads next. Bounded (1 s): a failing store answers with
// what it has, and the read then reports its own error. Null: nothing to do.
void flush_audit_queue(audit::AuditWriter* writer);

}  // namespace aegis::api
