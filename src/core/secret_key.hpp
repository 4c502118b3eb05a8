#pragma once
// 256-bit secret keys written as text (environment variables, key files):
// 64 hex digits, or standard base64 of 32 bytes. Parsing never echoes the
// text: callers report only that it did not parse.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aegis {

using Key256 = std::array<std::uint8_t, 32>;

// Leading and trailing whitespace (a key file's newline) is ignored.
std::optional<Key256> parse_key256(std::string_view text);
// 64 lower-case hex digits.
std::string key256_to_hex(const Key256& key);

}  // namespace aegis
