#include "api/rate_limits_json.hpp"

#include <limits>
#include <string>

namespace aegis::api {

namespace json = boost::json;

namespace {

// At most a billion a minute: far above any real limit, and the arithmetic of
// the buckets (ratelimit/token_bucket.hpp) has room to spare.
constexpr std::int64_t kMaxLimit = 1'000'000'000;

Result<std::optional<std::int64_t>> limit_value(std::string_view name, const json::value& value) {
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

}  // namespace

Result<store::RateLimitsPatch> parse_rate_limits_patch(const json::object& body) {
  store::RateLimitsPatch patch;
  const std::pair<std::string_view, std::optional<std::optional<std::int64_t>>*> fields[] = {
      {"rpm", &patch.rpm}, {"tpm", &patch.tpm}, {"max_concurrency", &patch.max_concurrency}};
  for (const auto& [name, slot] : fields) {
    auto it = body.find(name);
    if (it == body.end()) continue;
    AEGIS_TRY(value, limit_value(name, it->value()));
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

}  // namespace aegis::api
