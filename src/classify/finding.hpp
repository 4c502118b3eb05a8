#pragma once
// What detection reports: one entity found in a text. Value types only.
// Byte offsets always point into the ORIGINAL text (UTF-8), even when
// matching ran on a normalised copy. Values are never logged.
#include <cstddef>
#include <string>
#include <vector>

#include "core/classification.hpp"

namespace aegis::classify {

struct Finding {
  std::string entity_type;  // CREDIT_CARD, CA_SIN, BANK_ACCOUNT, IBAN_CODE, API_KEY, ..., PERSON, custom types
  Level level = Level::INTERNAL;
  std::size_t start = 0;  // [start, end) bytes into the original text
  std::size_t end = 0;
  std::string rule;  // which rule matched, e.g. "card.luhn", "sin.context", "custom:employee_id"
};

struct Classification {
  Level level = Level::INTERNAL;
  std::vector<Finding> findings;  // sorted by start, non-overlapping
};

// How the caller marked the content; a marking can never lower a level below what was detected.
struct Marking {
  bool explicit_public = false;  // request field classification:"public" or header x-aegis-classification: public
};

}  // namespace aegis::classify
