#include "privacy/restore.hpp"

#include <algorithm>

namespace aegis::privacy {

namespace {

void restore_into(std::string_view text, const Vault& vault, char before, std::vector<detail::PlaceholderMatch>& matches,
                  std::string& out) {
  matches.clear();
  detail::find_placeholders(text, vault, before, matches);
  if (matches.empty()) {
    out.append(text);
    return;
  }
  std::size_t pos = 0;
  for (const auto& m : matches) {
    out.append(text.substr(pos, m.start - pos));
    out.append(m.entry->value);
    pos = m.end;
  }
  out.append(text.substr(pos));
}

}  // namespace

std::string restore(std::string_view text, const Vault& vault) {
  std::string out;
  out.reserve(text.size());
  std::vector<detail::PlaceholderMatch> matches;
  restore_into(text, vault, '\0', matches, out);
  return out;
}

StreamingRestorer::StreamingRestorer(const Vault& vault) : vault_(vault) {}

std::string StreamingRestorer::feed(std::string_view chunk) {
  std::string out;
  if (vault_.empty()) {
    // Nothing to restore: pass through (and keep `before_` right for a later finish()).
    if (!pending_.empty()) {
      out.swap(pending_);
    }
    out.append(chunk);
    if (!out.empty()) before_ = out.back();
    return out;
  }
  pending_.append(chunk);
  const std::size_t hold = detail::hold_point(pending_, before_, vault_.prefixes(), vault_.first_letters(),
                                              vault_.max_placeholder_length());
  if (hold == 0) return out;
  const std::string_view ready(pending_.data(), hold);
  out.reserve(hold);
  restore_into(ready, vault_, before_, matches_, out);
  before_ = pending_[hold - 1];
  pending_.erase(0, hold);
  return out;
}

std::string StreamingRestorer::finish() {
  std::string out;
  restore_into(pending_, vault_, before_, matches_, out);
  pending_.clear();
  before_ = '\0';
  return out;
}

}  // namespace aegis::privacy
