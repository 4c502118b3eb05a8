#include "identity/admin_json.hpp"

#include <limits>
#include <string>

#include "core/json.hpp"
#include "core/time_format.hpp"

namespace aegis::identity {

namespace json = boost::json;

namespace {

// At most a billion a minute: far above any real limit, and the arithmetic of
// the buckets (ratelimit/token_bucket.hpp) has room to spare.
constexpr std::int64_t kMaxLimit = 1'000'000'000;

}  // namespace

Result<std::optional<std::int64_t>> parse_rate_limit(std::string_view name, const json::value& value) {
  if (value.is_null()) return std::optional<std::int64_t>{};
  std::optional<std::int64_t> n;
  if (value.is_int64()) n = value.get_int64();
  if (value.is_uint64() && value.get_uint64() <= static_cast<std::uint64_t>(kMaxLimit)) {
    n = static_cast<std::int64_t>(value.get_uint64());
  }
  if (!n || *n < 1 || *n > kMaxLimit) {
    return make_error(ErrorCode::invalid_request, std::string(name) + " must be a positive whole number (at most " +
                                                      std::to_string(kMaxLimit) + ") or null to remove the limit");
  }
  return std::optional<std::int64_t>{*n};
}

json::value time_json(const std::optional<std::int64_t>& ms) {
  return ms ? json::value(format_rfc3339_ms(*ms)) : json::value(nullptr);
}

Result<store::RateLimitsPatch> parse_rate_limits_patch(const json::object& body) {
  store::RateLimitsPatch patch;
  const std::pair<std::string_view, std::optional<std::optional<std::int64_t>>*> fields[] = {
      {"rpm", &patch.rpm}, {"tpm", &patch.tpm}, {"max_concurrency", &patch.max_concurrency}};
  for (const auto& [name, slot] : fields) {
    auto it = body.find(name);
    if (it == body.end()) continue;
    AEGIS_TRY(value, parse_rate_limit(name, it->value()));
    *slot = value;
  }
  return patch;
}

void add_rate_limits_json(json::object& out, const store::RateLimits& limits) {
  auto field = [](const std::optional<std::int64_t>& v) { return v ? json::value(*v) : json::value(nullptr); };
  out["rpm"] = field(limits.rpm);
  out["tpm"] = field(limits.tpm);
  out["max_concurrency"] = field(limits.max_concurrency);
}

json::object key_json(const KeyInfo& key, std::int64_t now_ms, const store::RateLimits& limits) {
  json::object out{{"id", key.id},
                   {"team", key.team},
                   {"prefix", key.prefix},
                   {"created_at", format_rfc3339_ms(key.created_at_ms)},
                   {"revoked", key.revoked_at_ms.has_value()}};
  out["revoked_at"] = time_json(key.revoked_at_ms);
  out["clearance"] = key.clearance ? json::value(to_string(*key.clearance)) : json::value(nullptr);
  // Key lifecycle (issue 19).
  if (key.models) {
    json::array models;
    for (const auto& m : *key.models) models.emplace_back(m);
    out["models"] = std::move(models);
  } else {
    out["models"] = nullptr;
  }
  out["monthly_budget_usd"] = key.monthly_budget ? usd_json(*key.monthly_budget) : json::value(nullptr);
  out["expires_at"] = time_json(key.expires_at_ms);
  out["expired"] = key.expires_at_ms.has_value() && now_ms >= *key.expires_at_ms;
  out["description"] = key.description;
  out["last_used_at"] = time_json(key.last_used_at_ms);
  // While a rotation's grace lasts: until when the replaced secret still works.
  const bool in_grace = key.previous_valid_until_ms && now_ms < *key.previous_valid_until_ms;
  out["previous_valid_until"] = in_grace ? time_json(key.previous_valid_until_ms) : json::value(nullptr);
  add_rate_limits_json(out, limits);
  return out;
}

json::object rotated_key_json(const std::string& id, const RotatedKey& rotated) {
  return {{"id", id}, {"key", rotated.key}, {"previous_valid_until", time_json(rotated.previous_valid_until_ms)}};
}

}  // namespace aegis::identity
