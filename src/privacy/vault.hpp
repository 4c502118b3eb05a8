#pragma once
// Masking: each detected value becomes a typed placeholder TYPE_n; the
// vault maps placeholders back to values for one request or conversation.
// It lives in memory only (jobs keep it in the local store); never logged.
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "classify/finding.hpp"

namespace aegis::privacy {

struct MaskedEntity {
  std::string placeholder;  // e.g. "PERSON_0"
  std::string type;         // entity type
  std::size_t start = 0;    // in the original text
  std::size_t end = 0;
  std::string value;
};

struct MaskResult {
  std::string masked;
  std::vector<MaskedEntity> entities;
};

class Vault {
 public:
  // The same value gets the same placeholder throughout the vault's life.
  const std::string& placeholder_for(std::string_view type, std::string_view value);
  // nullptr when unknown.
  const std::string* value_of(std::string_view placeholder) const;
  bool contains_value(std::string_view value) const;
  std::size_t size() const noexcept { return by_placeholder_.size(); }
  const std::map<std::string, std::string>& entries() const noexcept { return by_placeholder_; }

 private:
  std::map<std::string, std::string, std::less<>> by_value_;        // type + '\0' + value -> placeholder
  std::map<std::string, std::string> by_placeholder_;               // placeholder -> value
  std::map<std::string, std::size_t, std::less<>> next_index_;      // type -> next n
};

}  // namespace aegis::privacy
