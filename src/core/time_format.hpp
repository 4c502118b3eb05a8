#pragma once
#include <cstdint>
#include <string>

namespace aegis {

// RFC 3339 UTC with milliseconds: "2026-11-27T14:45:52.123Z".
std::string format_rfc3339_ms(std::int64_t unix_ms);

}  // namespace aegis
