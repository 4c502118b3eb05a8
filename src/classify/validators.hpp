#pragma once
// Checks that run only where a pattern fired: check digits (Luhn, ISO 7064
// mod-97), card issuer prefixes, SIN rules, entropy and placeholder shapes,
// context words. Pure functions over ASCII; no allocation on the hot paths.
#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace aegis::classify {

inline constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
inline constexpr bool is_upper(char c) noexcept { return c >= 'A' && c <= 'Z'; }
inline constexpr bool is_lower(char c) noexcept { return c >= 'a' && c <= 'z'; }
inline constexpr bool is_alpha(char c) noexcept { return is_upper(c) || is_lower(c); }
inline constexpr bool is_alnum(char c) noexcept { return is_alpha(c) || is_digit(c); }
inline constexpr bool is_word(char c) noexcept { return is_alnum(c) || c == '_'; }
inline constexpr bool is_hex(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
inline constexpr char to_lower(char c) noexcept { return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; }
inline constexpr char to_upper(char c) noexcept { return is_lower(c) ? static_cast<char>(c - 'a' + 'A') : c; }

// Luhn (mod-10) over a string of decimal digits; false for anything else or fewer than 2 digits.
bool luhn_valid(std::string_view digits) noexcept;

// ISO 7064 mod 97-10 as used by IBAN: the first four characters move to the
// end, letters become 10..35, the number mod 97 must be 1. Spaces are ignored,
// letters are case-insensitive; any other character fails. Needs >= 5 characters.
bool mod97_valid(std::string_view text) noexcept;

// Registered IBAN length for a two-letter country code, 0 when unknown.
std::size_t iban_length(std::string_view country) noexcept;
// A compact IBAN (no spaces, upper case): known country, its exact length, digits as check digits, mod-97.
bool iban_valid(std::string_view compact) noexcept;

enum class CardNetwork {
  none, visa, mastercard, amex, discover, jcb, diners, unionpay, maestro, mir, rupay, dankort, uatp, troy,
};
// Issuer by prefix (IIN, ISO/IEC 7812) and length; none when no payment network issues such a number.
// Beyond the majors: Maestro (50, 56-69: 12-19 digits, which also covers Verve 506/650, Dankort 5019
// co-badged cards, InstaPayment 637-639 and the Interac debit cards Canadian banks issue in the
// Maestro ranges), Mir (2200-2204), RuPay (60, 65, 81, 82, 508), UnionPay 62 and 81, UATP (1, 15
// digits), Troy (9792). Interac debit cards in the Visa range (45xx, 47xx) are Visa here.
CardNetwork card_network(std::string_view digits) noexcept;
std::string_view to_string(CardNetwork network) noexcept;
// 12..19 digits, a payment network's prefix and length, and Luhn.
bool card_valid(std::string_view digits) noexcept;

// Canadian SIN: 9 digits passing Luhn.
bool sin_valid(std::string_view digits) noexcept;
// SINs starting with 0 or 8 are never assigned (but appear in examples); they
// and plain 9-digit runs need a SIN context word.
inline bool sin_needs_context(std::string_view digits) noexcept {
  return digits.empty() || digits[0] == '0' || digits[0] == '8';
}

// US SSN structure: area 001-899 except 666, group 01-99, serial 0001-9999.
bool ssn_structure_valid(std::string_view digits9) noexcept;

// Shannon entropy in bits per character.
double shannon_entropy(std::string_view text) noexcept;
// How many of {upper, lower, digit} occur.
int char_classes(std::string_view text) noexcept;

// Placeholder-shaped values are not secrets: "sk-...", "<your-key>",
// "${API_KEY}", "YOUR_API_KEY", "xxxx", "****", "...EXAMPLE", "changeme", ...
bool looks_like_placeholder(std::string_view value) noexcept;

bool is_uuid(std::string_view text) noexcept;
// A hex digest length (md5, sha1/git, sha224, sha256, sha384, sha512) of hex digits only.
bool is_hex_digest(std::string_view text) noexcept;

// Case-insensitive whole-word search: does one of `words` (lower-case ASCII,
// may contain spaces) end within `window` bytes before `pos`? Word-bounded
// on both sides.
bool has_context_before(std::string_view text, std::size_t pos, std::size_t window,
                        std::initializer_list<std::string_view> words) noexcept;
bool has_context_before(std::string_view text, std::size_t pos, std::size_t window,
                        std::span<const std::string> words) noexcept;
// The same, for words starting within `window` bytes after `pos`.
bool has_context_after(std::string_view text, std::size_t pos, std::size_t window,
                       std::span<const std::string> words) noexcept;
bool has_context_after(std::string_view text, std::size_t pos, std::size_t window,
                       std::initializer_list<std::string_view> words) noexcept;

// Tables: is the value at `pos` in a column whose header names one of `words`?
// The value's line is split by its delimiter (',', ';', tab or '|'), and the
// lines above it (at most 64 lines, 8 KiB, up to a blank line) are searched
// for a header cell at the same column index that holds one of the words
// (whole words, any case). "name,sin,dob" / "Jane,046454286,1980-01-01".
bool column_header_has(std::string_view text, std::size_t pos,
                       std::initializer_list<std::string_view> words) noexcept;

// Is `domain` (any case) one of `internal` (lower case) or a subdomain of one?
bool is_internal_domain(std::string_view domain, std::span<const std::string> internal) noexcept;

}  // namespace aegis::classify
