#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aegis {

// RFC 3339 UTC with milliseconds: "2026-11-27T14:45:52.123Z".
std::string format_rfc3339_ms(std::int64_t unix_ms);

// Unix epoch milliseconds of an RFC 3339 date-time ("2026-11-27T10:00:00Z",
// "2026-11-27t10:00:00.123456-05:00"); digits beyond milliseconds are
// truncated. nullopt when malformed or out of range (leap seconds included).
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text);

}  // namespace aegis
