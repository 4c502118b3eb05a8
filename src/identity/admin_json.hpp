#pragma once
// Teams' and keys' admin fields as JSON, shared by the admin API (/admin/v1)
// and `aegis admin ... --json`, so that both show a key the same way.
#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "identity/admin_service.hpp"
#include "store/rate_limits.hpp"

namespace aegis::identity {

// The rate-limit fields (issue 19): "rpm", "tpm" and "max_concurrency" on
// PATCH /admin/v1/teams/{name}, PATCH /admin/v1/keys/{id} and in what GET
// shows of teams and keys. A limit is a positive whole number; null removes
// it (and GET shows null for none).

// The fields of `body` that are rate limits (others are the caller's to
// check); 400 invalid_request naming the field for anything but null or a
// positive whole number.
Result<store::RateLimitsPatch> parse_rate_limits_patch(const boost::json::object& body);
// One of them: `value` null (none) or a whole number from 1 to 1e9; the
// error names the limit as `name` (e.g. a CLI flag).
Result<std::optional<std::int64_t>> parse_rate_limit(std::string_view name, const boost::json::value& value);

// Adds "rpm", "tpm" and "max_concurrency" (a number or null) to `out`.
void add_rate_limits_json(boost::json::object& out, const store::RateLimits& limits);

// An epoch-millisecond time as an RFC 3339 string, or null.
boost::json::value time_json(const std::optional<std::int64_t>& ms);

// A key as GET /admin/v1/keys and `aegis admin keys list --json` show it:
// never the key, never its hash. `now_ms` decides "expired" and whether a
// rotation's grace ("previous_valid_until") still lasts.
boost::json::object key_json(const KeyInfo& key, std::int64_t now_ms, const store::RateLimits& limits = {});

// What POST /admin/v1/keys/{id}/rotate and `aegis admin keys rotate --json`
// answer: {"id", "key" (shown once), "previous_valid_until" (null: none)}.
boost::json::object rotated_key_json(const std::string& id, const RotatedKey& rotated);

}  // namespace aegis::identity
