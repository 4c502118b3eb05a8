#pragma once
// Restore: every placeholder of the vault in a model's answer goes back to
// its value. Models alter placeholders; these all restore: PERSON_0,
// person_0, Person_0, PERSON 0, PERSON0, PERSON-0, PERSON\_0 (Markdown),
// and any surrounding punctuation stays as written ([PERSON_0] -> [John Doe],
// **PERSON_0** -> **John Doe**, PERSON_0's -> John Doe's). Placeholders the
// vault does not hold are left as they are. The grammar is in
// privacy/placeholder_scan.hpp; mask() uses the same one.
#include <string>
#include <string_view>
#include <vector>

#include "privacy/placeholder_scan.hpp"
#include "privacy/vault.hpp"

namespace aegis::privacy {

std::string restore(std::string_view text, const Vault& vault);

// Restores a streamed answer chunk by chunk. feed() returns at once all the
// text that can no longer be part of a placeholder, holding back only a tail
// that could still grow into one ("...Dear PER"), so the time to first token
// is unchanged. For any split of a text into chunks, the concatenation of
// every feed() and finish() equals restore(text).
// The vault must outlive the restorer and not change while it streams.
class StreamingRestorer {
 public:
  explicit StreamingRestorer(const Vault& vault);

  std::string feed(std::string_view chunk);
  // The held-back tail, restored. The restorer can be reused afterwards.
  std::string finish();

  // Bytes currently held back (for tests and metrics).
  std::size_t pending() const noexcept { return pending_.size(); }

 private:
  const Vault& vault_;
  std::string pending_;
  char before_ = '\0';  // the last byte already released
  std::vector<detail::PlaceholderMatch> matches_;
};

}  // namespace aegis::privacy
