#pragma once
#include <optional>
#include <string_view>

namespace aegis {

// Ordered: a higher value is more restrictive, so "most restrictive wins" is std::max.
enum class Level { PUBLIC = 0, INTERNAL = 1, CONFIDENTIAL = 2, RESTRICTED = 3 };

std::string_view to_string(Level level) noexcept;
// Accepts the names in any case ("restricted", "RESTRICTED").
std::optional<Level> parse_level(std::string_view text) noexcept;

}  // namespace aegis
