#pragma once
// The one grammar that both masking and restoring use to recognise a
// placeholder in text, including the ways models alter them:
//
//   placeholder := WORD (SEP? WORD)* SEP? INDEX
//   WORD        := ASCII letters, any case; together they spell the prefix
//                  letters ("CA" "SIN" -> CASIN); a separator may only stand
//                  where the canonical prefix has its '_'
//   SEP         := '_' | ' ' | '-' | '\_' (Markdown-escaped underscore)
//   INDEX       := 0 | [1-9][0-9]{0,8}, not followed by another digit
//   the first letter is not preceded by an ASCII letter.
//
// So PERSON_0, person_0, Person_0, PERSON 0, PERSON0, PERSON\_0, [PERSON_0],
// **PERSON_0**, "PERSON_0", PERSON_0's and CREDIT CARD 3 are recognised;
// xPERSON_0 and PERSON_01 are not. When several placeholders end at the same
// index, the longest wins. Internal header of privacy/.
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "privacy/vault.hpp"

namespace aegis::privacy::detail {

struct PlaceholderMatch {
  std::size_t start = 0;
  std::size_t end = 0;
  const Vault::Entry* entry = nullptr;
};

// Appends the placeholders of `vault` found in `text`, left to right and
// non-overlapping. `before` is the character just before `text` ('\0' when
// `text` is the start of the document).
void find_placeholders(std::string_view text, const Vault& vault, char before, std::vector<PlaceholderMatch>& out);

// Inserts the key (placeholder_key()) of every placeholder-shaped run in
// `text` whose letters are one of `prefixes` (upper-case prefix letters, no
// '_'): the placeholders a vault must not assign now.
void placeholder_shaped_keys(std::string_view text, const std::vector<std::string>& prefixes,
                             std::unordered_set<std::string>& out);

// The earliest position from which the end of `text` could still grow into a
// placeholder of `prefixes` (or a longer index); text.size() when none.
std::size_t hold_point(std::string_view text, char before, const std::vector<Vault::Prefix>& prefixes,
                       std::uint32_t first_letters, std::size_t max_length);

}  // namespace aegis::privacy::detail
