#pragma once
// Masking: every detected value is replaced by a typed placeholder TYPE_n
// from the vault, so "John Doe's SIN is 046 454 286" becomes
// "PERSON_0's SIN is CA_SIN_0". The vault persists across calls, so the same
// value gets the same placeholder throughout a request and a conversation.
//
// Placeholder-looking text already in the input can never collide:
//  * renumbering: indices whose placeholder (in any form restore() accepts,
//    e.g. "PERSON_0", "person 0") appears in the input are skipped, and stay
//    reserved in the vault;
//  * escaping: text that matches a placeholder the vault ALREADY holds (from
//    an earlier turn) is itself masked, as an entity of type LITERAL
//    ("PERSON_0" typed by the user -> "LITERAL_0", restored to "PERSON_0").
// Values glued to surrounding text are widened so the placeholder stays
// recognisable ("abcJohn" is masked whole; "4111...1111" followed by a digit
// takes the digits). Then the masked text is checked with the restore grammar;
// the result always satisfies restore(mask(x).masked) == x.
#include <string_view>
#include <vector>

#include "classify/finding.hpp"
#include "privacy/vault.hpp"

namespace aegis::privacy {

inline constexpr std::string_view kLiteralType = "LITERAL";

// `findings`: the classifier's (offsets into `text`, sorted, non-overlapping);
// `persons`: detect_persons() output. On overlap the classifier's finding wins.
// Findings with offsets outside `text` are ignored.
MaskResult mask(std::string_view text, const std::vector<classify::Finding>& findings,
                const std::vector<classify::Finding>& persons, Vault& vault);

// The same with one list of findings.
MaskResult mask(std::string_view text, const std::vector<classify::Finding>& findings, Vault& vault);

}  // namespace aegis::privacy
