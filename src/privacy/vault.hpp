#pragma once
// Masking: each detected value becomes a typed placeholder TYPE_n; the
// vault maps placeholders back to values for one request or conversation.
// It lives in memory only (jobs keep it in the local store); never logged:
// it has no operator<< and no formatter, and its JSON form (for
// `aegis mask --vault-out` / `aegis unmask --vault` and job storage) is
// written only where the caller asks.
//
// Placeholders: the prefix is the entity type in upper case with every run of
// other characters turned into one '_' ("CA_SIN", "EMAIL_ADDRESS", a custom
// "employee-id" -> "EMPLOYEE_ID"), then '_' and a decimal index without
// leading zeros. Indices count per prefix from 0 and never repeat; an index
// whose placeholder appeared literally in a masked input is skipped
// ("reserved") so that text the user wrote can never collide with a
// placeholder (see privacy/mask.hpp).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/result.hpp"

namespace aegis::privacy {

struct MaskedEntity {
  std::string placeholder;  // e.g. "PERSON_0"
  std::string type;         // entity type (Finding::entity_type, or "LITERAL" for escaped placeholder-like input)
  std::size_t start = 0;    // in the original text
  std::size_t end = 0;
  std::string value;
};

struct MaskResult {
  std::string masked;
  std::vector<MaskedEntity> entities;  // in text order
};

// The prefix of the placeholders for an entity type ("custom:employee id" -> "CUSTOM_EMPLOYEE_ID").
std::string placeholder_prefix(std::string_view entity_type);

class Vault {
 public:
  struct Entry {
    std::string placeholder;  // canonical form, "CA_SIN_0"
    std::string type;         // the entity type it was created for
    std::string value;
    std::string letters;      // the prefix without '_' ("CASIN"): placeholders are matched on it
    std::uint64_t word_starts = 0;  // bit k set: a word of the prefix starts at letters[k] (k < 64)
    std::uint32_t index = 0;
  };

  Vault() = default;

  // The same (type, value) gets the same placeholder throughout the vault's life.
  const std::string& placeholder_for(std::string_view type, std::string_view value);
  // Like placeholder_for, but new indices also skip the keys in `avoid` (the
  // placeholder-shaped text of the input being masked; see placeholder_key()).
  const std::string& placeholder_for(std::string_view type, std::string_view value,
                                     const std::unordered_set<std::string>& avoid);

  // The value behind a canonical placeholder ("PERSON_0"); nullptr when unknown.
  const std::string* value_of(std::string_view placeholder) const;
  // The entry for upper-case prefix letters and an index ("CASIN", 0); nullptr when unknown.
  const Entry* find(std::string_view letters, std::uint32_t index) const;
  // True when some entry holds exactly this value (any type).
  bool contains_value(std::string_view value) const;

  // Never assign the placeholder with this key (placeholder_key()).
  void reserve(std::string_view key);
  bool reserved(std::string_view key) const { return reserved_.count(std::string(key)) != 0; }

  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }
  // In the order they were created.
  const std::deque<Entry>& entries() const noexcept { return entries_; }
  // Bit c-'A' set when some placeholder prefix starts with letter c: a fast
  // filter for restore.
  std::uint32_t first_letters() const noexcept { return first_letters_; }
  // The same for the last letter of each prefix.
  std::uint32_t last_letters() const noexcept { return last_letters_; }
  // The distinct prefixes in use: upper-case letters without '_' ("CASIN"), and where their words start.
  struct Prefix {
    std::string letters;
    std::uint64_t word_starts = 0;
  };
  const std::vector<Prefix>& prefixes() const noexcept { return prefixes_; }
  // The longest placeholder a restorer may need to hold back, in bytes.
  std::size_t max_placeholder_length() const noexcept { return max_placeholder_length_; }

  // {"version":1,"entries":[{"placeholder","type","value"}],"next":{"PERSON":2},"reserved":["PERSON#5"]}
  std::string to_json() const;
  static Result<Vault> from_json(std::string_view json);

 private:
  const Entry& add(std::string_view type, std::string_view value, const std::unordered_set<std::string>* avoid);
  void index_entry(std::size_t position);

  std::deque<Entry> entries_;                                // stable references
  std::unordered_map<std::string, std::size_t> by_value_;    // type + '\0' + value -> entry
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::size_t, KeyHash, std::equal_to<>> by_key_;  // "CASIN#0" -> entry
  std::unordered_map<std::string, std::uint32_t> next_index_;  // prefix letters -> next index
  std::unordered_set<std::string> reserved_;                 // keys never to assign
  std::uint32_t first_letters_ = 0;
  std::uint32_t last_letters_ = 0;
  std::vector<Prefix> prefixes_;
  std::size_t max_placeholder_length_ = 0;
};

// "CASIN#0": the key of a placeholder, from its upper-case prefix letters and index.
std::string placeholder_key(std::string_view letters, std::uint32_t index);

}  // namespace aegis::privacy
