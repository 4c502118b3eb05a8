#include "classify/validators.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace aegis::classify {

bool luhn_valid(std::string_view digits) noexcept {
  if (digits.size() < 2) return false;
  int sum = 0;
  bool doubled = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (!is_digit(*it)) return false;
    int d = *it - '0';
    if (doubled) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    doubled = !doubled;
  }
  return sum % 10 == 0;
}

bool mod97_valid(std::string_view text) noexcept {
  // Collect the significant characters (skip spaces), at most 64.
  std::array<char, 64> chars{};
  std::size_t n = 0;
  for (char c : text) {
    if (c == ' ') continue;
    if (!is_alnum(c) || n == chars.size()) return false;
    chars[n++] = to_upper(c);
  }
  if (n < 5) return false;
  unsigned remainder = 0;
  auto feed = [&remainder](char c) {
    if (is_digit(c)) {
      remainder = (remainder * 10 + static_cast<unsigned>(c - '0')) % 97;
    } else {
      const unsigned v = static_cast<unsigned>(c - 'A') + 10;
      remainder = (remainder * 100 + v) % 97;
    }
  };
  for (std::size_t i = 4; i < n; ++i) feed(chars[i]);
  for (std::size_t i = 0; i < 4; ++i) feed(chars[i]);
  return remainder == 1;
}

namespace {

struct IbanCountry {
  char code[3];
  unsigned char length;
};

// SWIFT IBAN registry lengths.
constexpr IbanCountry kIbanCountries[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22}, {"BH", 22},
    {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27},
    {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FK", 18}, {"FO", 18}, {"FR", 27},
    {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22},
    {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32},
    {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19},
    {"MN", 20}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24},
    {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31},
    {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25}, {"SV", 28}, {"TL", 23},
    {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

int prefix_value(std::string_view digits, std::size_t n) noexcept {
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) v = v * 10 + (digits[i] - '0');
  return v;
}

}  // namespace

std::size_t iban_length(std::string_view country) noexcept {
  if (country.size() != 2) return 0;
  for (const auto& c : kIbanCountries) {
    if (c.code[0] == country[0] && c.code[1] == country[1]) return c.length;
  }
  return 0;
}

bool iban_valid(std::string_view compact) noexcept {
  if (compact.size() < 15) return false;
  if (iban_length(compact.substr(0, 2)) != compact.size()) return false;
  if (!is_digit(compact[2]) || !is_digit(compact[3])) return false;
  for (char c : compact) {
    if (!is_upper(c) && !is_digit(c)) return false;
  }
  return mod97_valid(compact);
}

CardNetwork card_network(std::string_view d) noexcept {
  const std::size_t n = d.size();
  if (n < 12 || n > 19) return CardNetwork::none;
  for (char c : d) {
    if (!is_digit(c)) return CardNetwork::none;
  }
  const int p1 = d[0] - '0';
  const int p2 = prefix_value(d, 2);
  const int p3 = prefix_value(d, 3);
  const int p4 = prefix_value(d, 4);
  // Maestro is the one network with 12-digit cards; every other issuer starts at 13.
  const bool maestro_range = p2 == 50 || (p2 >= 56 && p2 <= 69);
  if (n == 12) return maestro_range ? CardNetwork::maestro : CardNetwork::none;
  if (p1 == 4) return (n == 13 || n >= 16) ? CardNetwork::visa : CardNetwork::none;
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n == 16 ? CardNetwork::mastercard : CardNetwork::none;
  if (p4 >= 2200 && p4 <= 2204) return n >= 16 ? CardNetwork::mir : CardNetwork::none;
  if (p2 == 34 || p2 == 37) return n == 15 ? CardNetwork::amex : CardNetwork::none;
  if (p1 == 1) return n == 15 ? CardNetwork::uatp : CardNetwork::none;
  if (p4 == 9792) return n == 16 ? CardNetwork::troy : CardNetwork::none;
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 ? CardNetwork::jcb : CardNetwork::none;
  if ((p3 >= 300 && p3 <= 305) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39) {
    return n >= 14 ? CardNetwork::diners : CardNetwork::none;
  }
  if (p2 == 81 || p2 == 82) return n >= 16 ? (p2 == 81 && p4 <= 8171 ? CardNetwork::unionpay : CardNetwork::rupay)
                                           : CardNetwork::none;
  if (p4 == 5019) return n == 16 ? CardNetwork::dankort : CardNetwork::maestro;
  // The 6x majors first (their lengths are 16-19); anything else in 50, 56-69 is Maestro-class,
  // which issues every length from 12 to 19.
  if (n >= 16) {
    if (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65) return CardNetwork::discover;
    if (p2 == 62) return CardNetwork::unionpay;
    if (p2 == 60 || p3 == 508) return n == 16 ? CardNetwork::rupay : CardNetwork::maestro;
  }
  if (maestro_range) return CardNetwork::maestro;
  return CardNetwork::none;
}

std::string_view to_string(CardNetwork network) noexcept {
  switch (network) {
    case CardNetwork::visa: return "visa";
    case CardNetwork::mastercard: return "mastercard";
    case CardNetwork::amex: return "amex";
    case CardNetwork::discover: return "discover";
    case CardNetwork::jcb: return "jcb";
    case CardNetwork::diners: return "diners";
    case CardNetwork::unionpay: return "unionpay";
    case CardNetwork::maestro: return "maestro";
    case CardNetwork::mir: return "mir";
    case CardNetwork::rupay: return "rupay";
    case CardNetwork::dankort: return "dankort";
    case CardNetwork::uatp: return "uatp";
    case CardNetwork::troy: return "troy";
    case CardNetwork::none: break;
  }
  return "none";
}

bool card_valid(std::string_view digits) noexcept {
  return card_network(digits) != CardNetwork::none && luhn_valid(digits);
}

bool sin_valid(std::string_view digits) noexcept { return digits.size() == 9 && luhn_valid(digits); }

bool ssn_structure_valid(std::string_view d) noexcept {
  if (d.size() != 9) return false;
  for (char c : d) {
    if (!is_digit(c)) return false;
  }
  const int area = prefix_value(d, 3);
  const int group = prefix_value(d.substr(3), 2);
  const int serial = prefix_value(d.substr(5), 4);
  return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

double shannon_entropy(std::string_view text) noexcept {
  if (text.empty()) return 0.0;
  std::array<unsigned, 256> counts{};
  for (unsigned char c : text) ++counts[c];
  double h = 0.0;
  const double n = static_cast<double>(text.size());
  for (unsigned c : counts) {
    if (c == 0) continue;
    const double p = c / n;
    h -= p * std::log2(p);
  }
  return h;
}

int char_classes(std::string_view text) noexcept {
  bool up = false, low = false, dig = false;
  for (char c : text) {
    up |= is_upper(c);
    low |= is_lower(c);
    dig |= is_digit(c);
  }
  return int(up) + int(low) + int(dig);
}

namespace {

bool contains_ci(std::string_view hay, std::string_view needle) noexcept {
  if (needle.size() > hay.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    std::size_t j = 0;
    while (j < needle.size() && to_lower(hay[i + j]) == needle[j]) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

}  // namespace

bool looks_like_placeholder(std::string_view v) noexcept {
  if (v.empty()) return true;
  const char first = v.front();
  if (first == '<' || first == '{' || first == '$' || first == '%' || first == '[' || first == '*') return true;
  if (v.find("...") != std::string_view::npos || v.find("{{") != std::string_view::npos ||
      v.find("${") != std::string_view::npos || v.find('<') != std::string_view::npos) {
    return true;
  }
  static constexpr std::string_view kWords[] = {"your",   "example", "placeholder", "changeme", "change_me", "redacted",
                                                "dummy",  "xxxx",    "****",        "replace",  "insert",    "_here",
                                                "-here",  "notreal", "not_real",    "fake",     "sample",    "0000000000",
                                                "123456789", "abcdef"};
  for (auto w : kWords) {
    if (contains_ci(v, w)) return true;
  }
  // One repeated character (ignoring separators): "aaaaaaaa", "--------".
  char seen = 0;
  bool uniform = true;
  for (char c : v) {
    if (c == '-' || c == '_') continue;
    if (seen == 0) seen = c;
    else if (c != seen) {
      uniform = false;
      break;
    }
  }
  if (uniform) return true;
  // An environment-variable name standing in for the value: API_KEY, OPENAI_API_KEY.
  bool env_name = v.find('_') != std::string_view::npos;
  for (char c : v) {
    if (!is_upper(c) && c != '_') {
      env_name = false;
      break;
    }
  }
  return env_name;
}

bool is_uuid(std::string_view t) noexcept {
  if (t.size() != 36) return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (t[i] != '-') return false;
    } else if (!is_hex(t[i])) {
      return false;
    }
  }
  return true;
}

bool is_hex_digest(std::string_view t) noexcept {
  const std::size_t n = t.size();
  if (n != 32 && n != 40 && n != 56 && n != 64 && n != 96 && n != 128) return false;
  for (char c : t) {
    if (!is_hex(c)) return false;
  }
  return true;
}

namespace {

bool word_at(std::string_view text, std::size_t at, std::string_view word) noexcept {
  if (at + word.size() > text.size()) return false;
  for (std::size_t j = 0; j < word.size(); ++j) {
    if (to_lower(text[at + j]) != word[j]) return false;
  }
  if (at > 0 && is_alnum(text[at - 1])) return false;
  const std::size_t end = at + word.size();
  if (end < text.size() && is_alnum(text[end])) return false;
  return true;
}

// One pass over the window: at every word start, try the words beginning
// with that letter.
template <typename Words>
bool context_in(std::string_view text, std::size_t from, std::size_t to, const Words& words) noexcept {
  if (to > text.size()) to = text.size();
  for (std::size_t i = from; i < to; ++i) {
    if (i > 0 && is_alnum(text[i - 1])) continue;  // not a word start
    const char c = to_lower(text[i]);
    for (std::string_view w : words) {
      if (!w.empty() && w[0] == c && i + w.size() <= to && word_at(text, i, w)) return true;
    }
  }
  return false;
}

}  // namespace

bool has_context_before(std::string_view text, std::size_t pos, std::size_t window,
                        std::initializer_list<std::string_view> words) noexcept {
  const std::size_t from = pos > window ? pos - window : 0;
  return context_in(text, from, pos, words);
}

bool has_context_before(std::string_view text, std::size_t pos, std::size_t window,
                        std::span<const std::string> words) noexcept {
  const std::size_t from = pos > window ? pos - window : 0;
  return context_in(text, from, pos, words);
}

bool has_context_after(std::string_view text, std::size_t pos, std::size_t window,
                       std::span<const std::string> words) noexcept {
  if (pos > text.size()) return false;
  std::size_t to = pos + window;
  // A word starting inside the window may end after it.
  std::size_t longest = 0;
  for (const auto& w : words) longest = std::max(longest, w.size());
  to = std::min(text.size(), to + longest);
  return context_in(text, pos, to, words);
}

bool has_context_after(std::string_view text, std::size_t pos, std::size_t window,
                       std::initializer_list<std::string_view> words) noexcept {
  if (pos > text.size()) return false;
  std::size_t longest = 0;
  for (const auto& w : words) longest = std::max(longest, w.size());
  const std::size_t to = std::min(text.size(), pos + window + longest);
  return context_in(text, pos, to, words);
}

bool column_header_has(std::string_view text, std::size_t pos,
                       std::initializer_list<std::string_view> words) noexcept {
  if (pos > text.size()) return false;
  const std::size_t line_start = [&] {
    const std::size_t nl = text.rfind('\n', pos == 0 ? 0 : pos - 1);
    return (nl == std::string_view::npos || pos == 0) ? std::size_t{0} : nl + 1;
  }();
  if (line_start == 0) return false;  // no line above
  // The delimiter: the first of , ; tab | found in the value's line before it.
  char delim = 0;
  for (std::size_t p = line_start; p < pos && delim == 0; ++p) {
    const char c = text[p];
    if (c == ',' || c == ';' || c == '\t' || c == '|') delim = c;
  }
  if (delim == 0) return false;
  std::size_t column = 0;
  for (std::size_t p = line_start; p < pos; ++p) column += text[p] == delim ? 1 : 0;
  constexpr std::size_t kMaxLines = 64, kMaxBytes = 8192;
  std::size_t end = line_start - 1;  // the '\n' ending the line above
  for (std::size_t lines = 0; lines < kMaxLines && line_start - end < kMaxBytes; ++lines) {
    const std::size_t nl = end == 0 ? std::string_view::npos : text.rfind('\n', end - 1);
    const std::size_t begin = nl == std::string_view::npos ? 0 : nl + 1;
    std::string_view line = text.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) return false;  // a blank line ends the table
    std::size_t c = 0, cell = 0;
    for (std::size_t p = 0; p <= line.size(); ++p) {
      if (p == line.size() || line[p] == delim) {
        if (c == column) {
          if (context_in(line, cell, p, words)) return true;
          break;
        }
        ++c;
        cell = p + 1;
      }
    }
    if (begin == 0) return false;
    end = begin - 1;
  }
  return false;
}

bool is_internal_domain(std::string_view domain, std::span<const std::string> internal) noexcept {
  for (const auto& d : internal) {
    if (d.empty() || domain.size() < d.size()) continue;
    const std::size_t off = domain.size() - d.size();
    bool same = true;
    for (std::size_t i = 0; i < d.size(); ++i) {
      if (to_lower(domain[off + i]) != to_lower(d[i])) {
        same = false;
        break;
      }
    }
    if (!same) continue;
    if (off == 0 || domain[off - 1] == '.') return true;
  }
  return false;
}

}  // namespace aegis::classify
