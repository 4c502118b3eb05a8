#pragma once
// The rate-limit fields of the admin API (issue 19): "rpm", "tpm" and
// "max_concurrency" on PATCH /admin/v1/teams/{name}, PATCH
// /admin/v1/keys/{id} and in what GET shows of teams and keys. A limit is a
// positive whole number; null removes it (and GET shows null for none).
#include <boost/json/object.hpp>

#include "core/result.hpp"
#include "store/rate_limits.hpp"

namespace aegis::api {

// The fields of `body` that are rate limits (others are the caller's to
// check); 400 invalid_request naming the field for anything but null or a
// positive whole number.
Result<store::RateLimitsPatch> parse_rate_limits_patch(const boost::json::object& body);

// Adds "rpm", "tpm" and "max_concurrency" (a number or null) to `out`.
void add_rate_limits_json(boost::json::object& out, const store::RateLimits& limits);

}  // namespace aegis::api
