#include "api/admin_params.hpp"

#include <charconv>
#include <chrono>

#include "core/time_format.hpp"

namespace aegis::api {

namespace {

std::optional<std::int64_t> whole_number(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

Result<std::optional<std::int64_t>> time_param(const QueryParams& params, std::string_view name) {
  const auto it = params.find(std::string(name));
  if (it == params.end()) return std::optional<std::int64_t>();
  const std::string& text = it->second;
  constexpr std::size_t kMaxEpochDigits = 15;  // 15 digits reach the year 33658
  if (text.size() <= kMaxEpochDigits && text.find('-') == std::string::npos) {
    if (auto ms = whole_number(text)) return std::optional<std::int64_t>(*ms);
  }
  if (auto ms = parse_rfc3339_ms(text)) return std::optional<std::int64_t>(*ms);
  return make_error(
      ErrorCode::invalid_request,
      std::string(name) + " must be an RFC 3339 timestamp (e.g. 2026-11-27T10:00:00Z) or Unix epoch milliseconds");
}

Result<std::optional<std::int64_t>> whole_param(const QueryParams& params, std::string_view name, std::int64_t min,
                                                std::int64_t max) {
  const auto it = params.find(std::string(name));
  if (it == params.end()) return std::optional<std::int64_t>();
  const auto value = whole_number(it->second);
  if (!value || *value < min || *value > max) {
    return make_error(ErrorCode::invalid_request, std::string(name) + " must be a whole number from " +
                                                      std::to_string(min) + " to " + std::to_string(max));
  }
  return value;
}

void flush_audit_queue(audit::AuditWriter* writer) {
  constexpr std::chrono::milliseconds kFlushTimeout{1'000};
  if (writer != nullptr) writer->flush(kFlushTimeout);
}

}  // namespace aegis::api
