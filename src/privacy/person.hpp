#pragma once
// PERSON recognition without a neural model: deterministic, explainable rules
// over a given-name gazetteer (privacy/gazetteer.hpp). Each finding names the
// rule that produced it:
//   person.gazetteer    a known given name, alone or followed by capitalised
//                       surname(s): "John Smith", "Jean-Luc Picard", "John F. Kennedy",
//                       "Ludwig van Beethoven"; a given name that is also a common
//                       word ("May", "Will" at the start of a sentence, "Austin")
//                       needs a known surname ("May Parker", "Will Smith")
//   person.names        two known people-names in a row ("Wei Zhang")
//   person.honorific    Mr, Mrs, Ms, Dr, Prof, M., Mme... + capitalised name; the
//                       honorific is not part of the span ("Dr. [Aisha Khan]")
//   person.context      after "my name is", "Dear", "signed", "Regards,", "Sincerely,",
//                       "Thanks,", "From:", "To:", "cc:", "Attn:", "Name:" (names the
//                       gazetteer does not know, too)
// Guards: months, days and common title-case words never continue a name;
// "John Street", "George Brown College", "Saint John", "Lake Louise" are places;
// a lone given name after an article ("a Frank discussion") is a word;
// possessives are cut ("John Doe's" -> "John Doe"); names glued into
// identifiers or e-mail addresses ("John.Smith@...") are left to the classifier.
// Precision and recall are measured on tests/privacy/person_corpus.jsonl
// (tests/privacy/person_test.cpp prints them).
#include <string_view>
#include <vector>

#include "classify/finding.hpp"

namespace aegis::privacy {

inline constexpr std::string_view kPersonType = "PERSON";

// Findings of type PERSON (level INTERNAL), sorted by start, non-overlapping,
// byte offsets into `text`. Linear in the size of the text; thread-safe.
std::vector<classify::Finding> detect_persons(std::string_view text);

// The same, without the findings that overlap `existing` (the classifier's
// findings, e.g. an e-mail address, take precedence over a name inside them).
std::vector<classify::Finding> detect_persons(std::string_view text, const std::vector<classify::Finding>& existing);

}  // namespace aegis::privacy
