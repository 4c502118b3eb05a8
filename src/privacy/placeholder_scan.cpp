#include "privacy/placeholder_scan.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

namespace aegis::privacy::detail {

namespace {

constexpr std::size_t kMaxLetters = 40;  // = the longest prefix placeholder_prefix() makes
constexpr std::size_t kMaxDigits = 9;

bool alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool digit(char c) { return c >= '0' && c <= '9'; }
char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; }
bool separator(char c) { return c == '_' || c == ' ' || c == '-'; }

// The width of the separator that ends just before `p` (0 when none): "\_" is 2.
std::size_t separator_before(std::string_view text, std::size_t p) {
  if (p == 0 || !separator(text[p - 1])) return 0;
  if (text[p - 1] == '_' && p >= 2 && text[p - 2] == '\\') return 2;
  return 1;
}

// The letter runs that end at `q` (just before an index), walking backwards.
struct Candidates {
  std::array<char, kMaxLetters> reversed;  // upper-case letters, last first (not zeroed: hot path)
  std::size_t letters = 0;
  struct Start {
    std::size_t position;    // where the run starts in the text
    std::size_t from_end;    // letters from here to q
    bool valid;              // not preceded by a letter
  };
  std::array<Start, kMaxLetters> starts;
  std::size_t count = 0;

  std::string_view letters_from(const Start& s, std::array<char, kMaxLetters>& buf) const {
    for (std::size_t k = 0; k < s.from_end; ++k) buf[k] = reversed[s.from_end - 1 - k];
    return {buf.data(), s.from_end};
  }
};

void collect(std::string_view text, std::size_t q, char before, Candidates& c) {
  std::size_t p = q;
  for (;;) {
    const std::size_t run_end = p;
    while (p > 0 && alpha(text[p - 1]) && c.letters < kMaxLetters) {
      c.reversed[c.letters++] = upper(text[p - 1]);
      --p;
    }
    if (p == run_end) return;
    if (p > 0 && alpha(text[p - 1])) return;  // too long to be a prefix
    c.starts[c.count++] = {p, c.letters, p > 0 || !alpha(before)};
    const std::size_t sep = separator_before(text, p);
    if (sep == 0 || p - sep == 0 || !alpha(text[p - sep - 1])) return;
    p -= sep;
  }
}

bool valid_index(std::string_view digits, std::uint32_t* index) {
  if (digits.empty() || digits.size() > kMaxDigits || (digits.size() > 1 && digits[0] == '0')) return false;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *index);
  return ec == std::errc() && ptr == digits.data() + digits.size();
}

// Calls on_run(d, e, index) for every digit run [d, e) that is a valid index.
template <class F>
void for_each_index(std::string_view text, char before, F&& on_run) {
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    // Skip eight bytes at a time while none is a digit (SWAR: a byte of
    // w ^ '0' below 10 is a digit).
    while (i + 8 <= n) {
      std::uint64_t w;
      std::memcpy(&w, text.data() + i, 8);
      const std::uint64_t x = w ^ 0x3030303030303030ull;
      if (((x - 0x0A0A0A0A0A0A0A0Aull) & ~x & 0x8080808080808080ull) != 0) break;
      i += 8;
    }
    if (i >= n) break;
    if (!digit(text[i])) {
      ++i;
      continue;
    }
    const std::size_t d = i;
    while (i < n && digit(text[i])) ++i;
    if (d == 0 && digit(before)) continue;  // the run started before this text
    std::uint32_t index = 0;
    if (d > 0 && valid_index(text.substr(d, i - d), &index)) on_run(d, i, index);
  }
}

}  // namespace

void find_placeholders(std::string_view text, const Vault& vault, char before, std::vector<PlaceholderMatch>& out) {
  if (vault.empty()) return;
  const std::uint32_t last_letters = vault.last_letters();
  for_each_index(text, before, [&](std::size_t d, std::size_t e, std::uint32_t index) {
    const std::size_t q = d - separator_before(text, d);
    if (q == 0 || !alpha(text[q - 1])) return;
    if ((last_letters & (1u << (upper(text[q - 1]) - 'A'))) == 0) return;  // no prefix ends with this letter
    Candidates c;
    collect(text, q, before, c);
    std::array<char, kMaxLetters> buf;
    // Earliest start first: the longest placeholder wins.
    for (std::size_t k = c.count; k-- > 0;) {
      const auto& s = c.starts[k];
      if (!s.valid) continue;
      if ((vault.first_letters() & (1u << (upper(text[s.position]) - 'A'))) == 0) continue;
      const Vault::Entry* entry = vault.find(c.letters_from(s, buf), index);
      if (entry == nullptr) continue;
      // Separators only where the canonical prefix has its '_'.
      bool ok = true;
      for (std::size_t m = 0; m < k && ok; ++m) {
        const std::size_t offset = s.from_end - c.starts[m].from_end;
        ok = offset < 64 && (entry->word_starts >> offset & 1) != 0;
      }
      if (!ok) continue;
      out.push_back({s.position, e, entry});
      return;
    }
  });
}

void placeholder_shaped_keys(std::string_view text, const std::vector<std::string>& prefixes,
                             std::unordered_set<std::string>& out) {
  if (prefixes.empty()) return;
  std::uint32_t last_letters = 0;
  for (const auto& p : prefixes) {
    if (!p.empty()) last_letters |= 1u << (p.back() - 'A');
  }
  for_each_index(text, '\0', [&](std::size_t d, std::size_t, std::uint32_t index) {
    const std::size_t q = d - separator_before(text, d);
    if (q == 0 || !alpha(text[q - 1])) return;
    if ((last_letters & (1u << (upper(text[q - 1]) - 'A'))) == 0) return;
    Candidates c;
    collect(text, q, '\0', c);
    std::array<char, kMaxLetters> buf;
    for (std::size_t k = 0; k < c.count; ++k) {
      if (!c.starts[k].valid) continue;
      const std::string_view letters = c.letters_from(c.starts[k], buf);
      if (std::find(prefixes.begin(), prefixes.end(), letters) != prefixes.end()) {
        out.insert(placeholder_key(letters, index));
      }
    }
  });
}

namespace {

// Can text[s..] still grow into the placeholder `p`?
bool viable(std::string_view text, std::size_t s, const Vault::Prefix& p) {
  enum class State { type, index_start, index };
  State state = State::type;
  std::size_t li = 0;
  std::size_t digits = 0;
  bool after_separator = false;
  const std::size_t n = text.size();
  std::size_t pos = s;
  while (pos < n) {
    const char c = text[pos];
    switch (state) {
      case State::type:
        if (alpha(c)) {
          if (li >= p.letters.size() || upper(c) != p.letters[li]) return false;
          ++li;
          ++pos;
          after_separator = false;
          continue;
        }
        if (separator(c) || c == '\\') {
          if (after_separator || li == 0) return false;
          if (c == '\\') {
            if (pos + 1 == n) return true;
            if (text[pos + 1] != '_') return false;
            pos += 2;
          } else {
            ++pos;
          }
          if (li == p.letters.size()) {
            state = State::index_start;
          } else if (li >= 64 || (p.word_starts >> li & 1) == 0) {
            return false;
          }
          after_separator = true;
          continue;
        }
        if (digit(c) && li == p.letters.size()) {
          state = State::index;
          continue;
        }
        return false;
      case State::index_start:
        if (!digit(c)) return false;
        state = State::index;
        continue;
      case State::index:
        if (!digit(c)) return false;  // complete: it can be decided now
        if (++digits > kMaxDigits) return false;
        ++pos;
        continue;
    }
  }
  return true;
}

}  // namespace

std::size_t hold_point(std::string_view text, char before, const std::vector<Vault::Prefix>& prefixes,
                       std::uint32_t first_letters, std::size_t max_length) {
  const std::size_t n = text.size();
  if (prefixes.empty() || n == 0) return n;
  const std::size_t from = n > max_length ? n - max_length : 0;
  for (std::size_t s = from; s < n; ++s) {
    const char c = text[s];
    if (!alpha(c)) continue;
    if (s > 0 ? alpha(text[s - 1]) : alpha(before)) continue;
    if ((first_letters & (1u << (upper(c) - 'A'))) == 0) continue;
    for (const auto& p : prefixes) {
      if (p.letters[0] == upper(c) && viable(text, s, p)) return s;
    }
  }
  return n;
}

}  // namespace aegis::privacy::detail
