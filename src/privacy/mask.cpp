#include "privacy/mask.hpp"

#include <algorithm>
#include <string>
#include <unordered_set>

#include "privacy/placeholder_scan.hpp"

namespace aegis::privacy {

namespace {

bool alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool digit(char c) { return c >= '0' && c <= '9'; }

struct Span {
  std::size_t start;
  std::size_t end;
  std::string_view type;
};

bool overlaps(const std::vector<Span>& sorted, std::size_t start, std::size_t end) {
  // First span that ends after `start`.
  auto it = std::partition_point(sorted.begin(), sorted.end(), [&](const Span& s) { return s.end <= start; });
  return it != sorted.end() && it->start < end;
}

void insert_sorted(std::vector<Span>& spans, Span s) {
  auto it = std::upper_bound(spans.begin(), spans.end(), s.start,
                             [](std::size_t start, const Span& x) { return start < x.start; });
  spans.insert(it, s);
}

std::vector<Span> merge(std::string_view text, const std::vector<classify::Finding>& findings,
                        const std::vector<classify::Finding>& persons) {
  std::vector<Span> spans;
  spans.reserve(findings.size() + persons.size());
  auto valid = [&](const classify::Finding& f) { return f.start < f.end && f.end <= text.size(); };
  for (const auto& f : findings) {
    if (valid(f)) spans.push_back({f.start, f.end, f.entity_type});
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.start != b.start ? a.start < b.start : a.end > b.end;
  });
  // Defensive: the contract says non-overlapping; keep the first of any overlap.
  std::vector<Span> kept;
  kept.reserve(spans.size() + persons.size());
  for (const auto& s : spans) {
    if (kept.empty() || kept.back().end <= s.start) kept.push_back(s);
  }
  for (const auto& p : persons) {
    if (valid(p) && !overlaps(kept, p.start, p.end)) insert_sorted(kept, {p.start, p.end, p.entity_type});
  }
  return kept;
}

// Placeholders must stay recognisable next to their neighbours: a letter
// just before or a digit just after would merge with them.
void widen_glued(std::string_view text, std::vector<Span>& spans) {
  for (std::size_t k = 0; k < spans.size(); ++k) {
    const std::size_t prev_end = k > 0 ? spans[k - 1].end : 0;
    const std::size_t next_start = k + 1 < spans.size() ? spans[k + 1].start : text.size();
    Span& s = spans[k];
    while (s.start > prev_end && alpha(text[s.start - 1])) --s.start;
    while (s.end < next_start && digit(text[s.end])) ++s.end;
  }
}

struct Built {
  std::string masked;
  std::vector<MaskedEntity> entities;
  std::vector<std::size_t> placeholder_at;  // masked offset of each placeholder
  // plain segment k: masked offset, original offset, length
  struct Plain {
    std::size_t masked;
    std::size_t original;
    std::size_t length;
  };
  std::vector<Plain> plains;
};

void build(std::string_view text, const std::vector<Span>& spans, Vault& vault,
           const std::unordered_set<std::string>& avoid, Built& out) {
  out.masked.clear();
  out.entities.clear();
  out.placeholder_at.clear();
  out.plains.clear();
  out.masked.reserve(text.size() + 16 * spans.size());
  std::size_t pos = 0;
  for (const auto& s : spans) {
    out.plains.push_back({out.masked.size(), pos, s.start - pos});
    out.masked.append(text.substr(pos, s.start - pos));
    const std::string_view value = text.substr(s.start, s.end - s.start);
    const std::string& placeholder = vault.placeholder_for(s.type, value, avoid);
    out.placeholder_at.push_back(out.masked.size());
    out.masked.append(placeholder);
    out.entities.push_back(MaskedEntity{placeholder, std::string(s.type), s.start, s.end, std::string(value)});
    pos = s.end;
  }
  out.plains.push_back({out.masked.size(), pos, text.size() - pos});
  out.masked.append(text.substr(pos));
}

// Maps a masked offset inside plain segment `k` back to the original text.
std::size_t original_offset(const Built& b, std::size_t plain, std::size_t masked) {
  return b.plains[plain].original + (masked - b.plains[plain].masked);
}

// The plain segment holding masked offset `m` (within or at its end), or npos.
std::size_t plain_of(const Built& b, std::size_t m) {
  // The last segment starting at or before m (segments are in text order).
  auto it = std::upper_bound(b.plains.begin(), b.plains.end(), m,
                             [](std::size_t x, const Built::Plain& p) { return x < p.masked; });
  if (it == b.plains.begin()) return std::string::npos;
  const auto k = static_cast<std::size_t>(it - b.plains.begin() - 1);
  return m <= b.plains[k].masked + b.plains[k].length ? k : std::string::npos;
}

}  // namespace

MaskResult mask(std::string_view text, const std::vector<classify::Finding>& findings,
                const std::vector<classify::Finding>& persons, Vault& vault) {
  std::vector<Span> spans = merge(text, findings, persons);

  // Escape text that already reads as a placeholder this vault holds.
  std::vector<detail::PlaceholderMatch> matches;
  detail::find_placeholders(text, vault, '\0', matches);
  for (const auto& m : matches) {
    if (!overlaps(spans, m.start, m.end)) insert_sorted(spans, {m.start, m.end, kLiteralType});
  }
  // Renumber around the placeholder-shaped text of the input, for the
  // prefixes this call can assign (the verification below covers the rest).
  std::vector<std::string> prefixes;
  auto add_prefix = [&](std::string_view type) {
    std::string letters = placeholder_prefix(type);
    std::erase(letters, '_');
    if (std::find(prefixes.begin(), prefixes.end(), letters) == prefixes.end()) prefixes.push_back(std::move(letters));
  };
  for (const auto& s : spans) add_prefix(s.type);
  add_prefix(kLiteralType);
  for (const auto& p : vault.prefixes()) {
    if (std::find(prefixes.begin(), prefixes.end(), p.letters) == prefixes.end()) prefixes.push_back(p.letters);
  }
  std::unordered_set<std::string> avoid;
  detail::placeholder_shaped_keys(text, prefixes, avoid);
  for (const auto& key : avoid) vault.reserve(key);

  widen_glued(text, spans);

  Built built;
  constexpr std::size_t max_rounds = 32;  // each round fixes every discrepancy it sees
  for (std::size_t round = 0;; ++round) {
    if (round == max_rounds) {
      // Unreachable in practice; still a correct mask: the whole text as one literal.
      spans.assign(1, Span{0, text.size(), kLiteralType});
      build(text, spans, vault, avoid, built);
      break;
    }
    build(text, spans, vault, avoid, built);
    matches.clear();
    detail::find_placeholders(built.masked, vault, '\0', matches);

    // Compare with what was inserted; fix every discrepancy of this round.
    const std::size_t n_expected = built.placeholder_at.size();
    auto placeholder_end = [&](std::size_t k) { return built.placeholder_at[k] + built.entities[k].placeholder.size(); };
    std::vector<char> ok(n_expected, 0);
    std::vector<std::size_t> want_start(n_expected, std::string::npos);
    std::vector<std::size_t> want_end(n_expected, 0);
    std::vector<Span> literals;
    bool clean = true;
    std::size_t k = 0;
    for (const auto& m : matches) {
      while (k < n_expected && placeholder_end(k) <= m.start) ++k;
      if (k < n_expected && m.start == built.placeholder_at[k] && m.end == placeholder_end(k) &&
          m.entry->placeholder == built.entities[k].placeholder) {
        ok[k] = 1;
        continue;
      }
      clean = false;
      if (k >= n_expected || built.placeholder_at[k] >= m.end) {
        // Entirely inside plain text: escape it.
        const std::size_t p = plain_of(built, m.start);
        if (p != std::string::npos) {
          literals.push_back({original_offset(built, p, m.start), original_offset(built, p, m.end), kLiteralType});
        }
        continue;
      }
      // It overlaps placeholder k: take the plain text it spans into the value.
      if (m.start < built.placeholder_at[k]) {
        const std::size_t p = plain_of(built, m.start);
        if (p != std::string::npos) want_start[k] = std::min(want_start[k], original_offset(built, p, m.start));
      }
      if (m.end > placeholder_end(k)) {
        const std::size_t p = plain_of(built, m.end);
        if (p == k + 1) want_end[k] = std::max(want_end[k], original_offset(built, p, m.end));
      }
    }
    for (std::size_t q = 0; q < n_expected; ++q) clean = clean && ok[q] != 0;
    if (clean) break;  // verified

    bool changed = false;
    for (std::size_t q = 0; q < n_expected; ++q) {
      Span& sp = spans[q];
      const std::size_t prev_end = q > 0 ? spans[q - 1].end : 0;
      const std::size_t next_start = q + 1 < spans.size() ? spans[q + 1].start : text.size();
      if (ok[q] == 0 && want_start[q] == std::string::npos && want_end[q] == 0) {
        // Not recognised where it was inserted: take in the plain text before
        // it (back to the previous value) and any digits after it.
        want_start[q] = prev_end;
        std::size_t e = sp.end;
        while (e < next_start && digit(text[e])) ++e;
        want_end[q] = e;
      }
      if (want_start[q] != std::string::npos && std::max(want_start[q], prev_end) < sp.start) {
        sp.start = std::max(want_start[q], prev_end);
        changed = true;
      }
      if (std::min(want_end[q], next_start) > sp.end) {
        sp.end = std::min(want_end[q], next_start);
        changed = true;
      }
    }
    for (const auto& lit : literals) {
      if (!overlaps(spans, lit.start, lit.end)) {
        insert_sorted(spans, lit);
        changed = true;
      }
    }
    if (!changed) round = max_rounds - 1;  // nothing left to try: fall back
  }

  return MaskResult{std::move(built.masked), std::move(built.entities)};
}

MaskResult mask(std::string_view text, const std::vector<classify::Finding>& findings, Vault& vault) {
  static const std::vector<classify::Finding> kNone;
  return mask(text, findings, kNone, vault);
}

}  // namespace aegis::privacy
