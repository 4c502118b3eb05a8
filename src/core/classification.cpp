#include "core/classification.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace aegis {

namespace {
constexpr std::array<std::string_view, 4> kNames = {"PUBLIC", "INTERNAL", "CONFIDENTIAL", "RESTRICTED"};
}

std::string_view to_string(Level level) noexcept { return kNames[static_cast<std::size_t>(level)]; }

std::optional<Level> parse_level(std::string_view text) noexcept {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (std::ranges::equal(text, kNames[i], [](char a, char b) {
          return std::toupper(static_cast<unsigned char>(a)) == b;
        })) {
      return static_cast<Level>(i);
    }
  }
  return std::nullopt;
}

}  // namespace aegis
