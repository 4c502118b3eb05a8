#include "privacy/person.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "privacy/gazetteer.hpp"

namespace aegis::privacy {

namespace {

namespace gz = gazetteer;

// ---------------------------------------------------------------- characters

// Decodes the UTF-8 sequence at text[i]; returns its code point and length
// (invalid bytes decode as U+FFFD of length 1).
std::pair<char32_t, std::size_t> decode(std::string_view text, std::size_t i) {
  const auto c = static_cast<unsigned char>(text[i]);
  if (c < 0x80) return {c, 1};
  std::size_t n = 0;
  char32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return {0xFFFD, 1};
  }
  if (i + n > text.size()) return {0xFFFD, 1};
  for (std::size_t k = 1; k < n; ++k) {
    const auto d = static_cast<unsigned char>(text[i + k]);
    if ((d & 0xC0) != 0x80) return {0xFFFD, 1};
    cp = (cp << 6) | (d & 0x3F);
  }
  return {cp, n};
}

bool ascii_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
bool ascii_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
bool ascii_alpha(unsigned char c) { return ascii_upper(c) || ascii_lower(c); }
bool ascii_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool ascii_alnum(unsigned char c) { return ascii_alpha(c) || ascii_digit(c); }

enum class Case { none, lower, upper };

// Letters beyond ASCII: Latin-1 and Latin Extended, Greek, Cyrillic, Latin
// Extended Additional, and the scripts from U+3040 on (no case).
bool letter_cp(char32_t cp) {
  if (cp < 0x80) return ascii_alpha(static_cast<unsigned char>(cp));
  if (cp >= 0xC0 && cp <= 0x24F) return cp != 0xD7 && cp != 0xF7;
  if (cp >= 0x370 && cp <= 0x52F) return true;
  if (cp >= 0x1E00 && cp <= 0x1EFF) return true;
  if (cp >= 0x3040 && cp != 0xFFFD && !(cp >= 0xFE30 && cp <= 0xFE6F) && !(cp >= 0xFF00 && cp <= 0xFF20)) return true;
  return false;
}

Case case_of(char32_t cp) {
  if (cp < 0x80) {
    const auto c = static_cast<unsigned char>(cp);
    return ascii_upper(c) ? Case::upper : ascii_lower(c) ? Case::lower : Case::none;
  }
  if (cp >= 0xC0 && cp <= 0xDE) return cp == 0xD7 ? Case::none : Case::upper;
  if (cp >= 0xDF && cp <= 0xFF) return cp == 0xF7 ? Case::none : Case::lower;
  if (cp >= 0x100 && cp <= 0x137) return cp % 2 == 0 ? Case::upper : Case::lower;
  if (cp >= 0x139 && cp <= 0x148) return cp % 2 == 1 ? Case::upper : Case::lower;
  if (cp >= 0x14A && cp <= 0x177) return cp % 2 == 0 ? Case::upper : Case::lower;
  if (cp == 0x178) return Case::upper;
  if (cp >= 0x179 && cp <= 0x17E) return cp % 2 == 1 ? Case::upper : Case::lower;
  if (cp >= 0x391 && cp <= 0x3AB) return Case::upper;
  if (cp >= 0x3AC && cp <= 0x3CE) return Case::lower;
  if (cp >= 0x400 && cp <= 0x42F) return Case::upper;
  if (cp >= 0x430 && cp <= 0x45F) return Case::lower;
  if (cp >= 0x1E00 && cp <= 0x1EFF) return cp % 2 == 0 ? Case::upper : Case::lower;
  return Case::none;
}

// ---------------------------------------------------------------- tokens

enum class Shape : std::uint8_t {
  lower,        // "smith", "van"
  capitalised,  // "Smith", "McDonald", "Élodie"
  upper,        // "SMITH" (two letters or more, no lower case)
  initial,      // "F" (one upper-case letter)
  other,        // starts with a caseless letter
};

struct Token {
  std::uint32_t b = 0;       // word start
  std::uint32_t e = 0;       // word end, without a possessive 's
  std::uint32_t full_e = 0;  // end including the possessive
  Shape shape = Shape::other;
  bool possessive = false;
  bool hyphenated = false;
  bool ascii = true;
  mutable bool looked_up = false;
  mutable std::uint16_t flags = 0;
};

bool is_apostrophe_at(std::string_view text, std::size_t i, std::size_t* len) {
  if (text[i] == '\'') {
    *len = 1;
    return true;
  }
  if (static_cast<unsigned char>(text[i]) == 0xE2 && i + 2 < text.size() &&
      static_cast<unsigned char>(text[i + 1]) == 0x80 && static_cast<unsigned char>(text[i + 2]) == 0x99) {
    *len = 3;  // U+2019
    return true;
  }
  return false;
}

bool letter_at(std::string_view text, std::size_t i) {
  if (i >= text.size()) return false;
  const auto c = static_cast<unsigned char>(text[i]);
  if (c < 0x80) return ascii_alpha(c);
  return letter_cp(decode(text, i).first);
}

// Byte classes for the ASCII fast path.
enum : std::uint8_t { kUpperByte = 1, kLowerByte = 2, kHighByte = 4, kJoinerByte = 8 };
constexpr std::array<std::uint8_t, 256> make_byte_classes() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = kUpperByte;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = kLowerByte;
  for (int c = 0x80; c < 0x100; ++c) t[static_cast<std::size_t>(c)] = kHighByte;
  t['\''] = kJoinerByte;
  t['-'] = kJoinerByte;
  return t;
}
constexpr std::array<std::uint8_t, 256> kByteClass = make_byte_classes();

std::uint8_t byte_class(std::string_view text, std::size_t i) { return kByteClass[static_cast<unsigned char>(text[i])]; }

void tokenize(std::string_view text, std::vector<Token>& out) {
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    // Skip to the next letter (or a non-ASCII byte that may start one).
    while (i < n && (byte_class(text, i) & (kUpperByte | kLowerByte | kHighByte)) == 0) ++i;
    if (i >= n) break;
    const auto c = static_cast<unsigned char>(text[i]);
    Case first;
    std::size_t len = 1;
    if (c < 0x80) {
      first = ascii_upper(c) ? Case::upper : Case::lower;
    } else {
      auto [cp, l] = decode(text, i);
      if (!letter_cp(cp)) {
        i += l;
        continue;
      }
      first = case_of(cp);
      len = l;
    }
    Token t;
    t.b = static_cast<std::uint32_t>(i);
    t.ascii = c < 0x80;
    bool has_lower = false;
    std::size_t letters = 1;
    i += len;
    for (;;) {
      // ASCII letters: the common case.
      std::uint8_t seen = 0;
      const std::size_t run = i;
      while (i < n) {
        const std::uint8_t k = byte_class(text, i);
        if ((k & (kUpperByte | kLowerByte)) == 0) break;
        seen |= k;
        ++i;
      }
      letters += i - run;
      has_lower |= (seen & kLowerByte) != 0;
      if (i >= n) break;
      const std::uint8_t k = byte_class(text, i);
      if (k == kJoinerByte) {
        // "Jean-Luc", "O'Brien", "Doe's": joined when a letter follows.
        if (letter_at(text, i + 1)) {
          t.hyphenated |= text[i] == '-';
          ++i;
          continue;
        }
        break;
      }
      if (k != kHighByte) break;
      std::size_t alen = 0;
      if (is_apostrophe_at(text, i, &alen)) {  // U+2019
        if (letter_at(text, i + alen)) {
          i += alen;
          continue;
        }
        break;
      }
      auto [dcp, dlen] = decode(text, i);
      if (!letter_cp(dcp)) break;
      has_lower |= case_of(dcp) == Case::lower;
      t.ascii = false;
      ++letters;
      i += dlen;
    }
    t.e = t.full_e = static_cast<std::uint32_t>(i);
    // Possessive: "Doe's", "Doe’s".
    if (t.e - t.b >= 3 && (text[t.e - 1] == 's' || text[t.e - 1] == 'S')) {
      if (text[t.e - 2] == '\'') {
        t.e -= 2;
        t.possessive = true;
      } else if (t.e - t.b >= 5 && static_cast<unsigned char>(text[t.e - 2]) == 0x99 &&
                 static_cast<unsigned char>(text[t.e - 3]) == 0x80 && static_cast<unsigned char>(text[t.e - 4]) == 0xE2) {
        t.e -= 4;
        t.possessive = true;
      }
    }
    // "James' laptop": a bare apostrophe after the word also ends a name.
    std::size_t alen = 0;
    if (!t.possessive && t.full_e < n && is_apostrophe_at(text, t.full_e, &alen)) t.possessive = true;
    if (first == Case::upper) {
      t.shape = letters == 1 ? Shape::initial : has_lower ? Shape::capitalised : Shape::upper;
    } else if (first == Case::lower) {
      t.shape = Shape::lower;
    } else {
      t.shape = Shape::other;
    }
    out.push_back(t);
  }
}

// ---------------------------------------------------------------- detector

constexpr std::size_t kMaxSurnames = 3;

enum class Mode {
  gazetteer,  // capitalised words only
  strong,     // after an honorific or a context: also ALL-CAPS words the gazetteer knows
  lowercase,  // after "my name is": also lower-case words the gazetteer knows
};

class Detector {
 public:
  Detector(std::string_view text, std::vector<classify::Finding>& out) : text_(text), out_(out) {
    tokens_.reserve(text.size() / 5 + 4);
    tokenize(text, tokens_);
  }

  void run() {
    std::size_t i = 0;
    while (i < tokens_.size()) i = step(i);
  }

 private:
  std::string_view word(const Token& t) const { return text_.substr(t.b, t.e - t.b); }

  std::uint16_t flags(std::size_t i) const {
    const Token& t = tokens_[i];
    if (!t.looked_up) {
      t.looked_up = true;
      t.flags = gz::lookup(word(t));
      if (t.flags == 0 && t.hyphenated) {
        // "Jean-Luc", "Smith-Jones": the first part decides.
        const std::string_view w = word(t);
        const auto dash = w.find('-');
        t.flags = static_cast<std::uint16_t>(gz::lookup(w.substr(0, dash)) & (gz::kGiven | gz::kName));
      }
    }
    return t.flags;
  }

  // Flags of the word written in title case ("SMITH", "smith" -> "Smith"); ASCII only.
  std::uint16_t title_flags(std::size_t i) const {
    const Token& t = tokens_[i];
    const std::string_view w = word(t);
    if (!t.ascii || w.size() > 48) return 0;
    std::array<char, 48> buf{};
    for (std::size_t k = 0; k < w.size(); ++k) {
      auto ch = static_cast<unsigned char>(w[k]);
      const bool start = k == 0 || w[k - 1] == '-' || w[k - 1] == '\'';
      if (start && ascii_lower(ch)) ch = static_cast<unsigned char>(ch - 32);
      if (!start && ascii_upper(ch)) ch = static_cast<unsigned char>(ch + 32);
      buf[k] = static_cast<char>(ch);
    }
    return gz::lookup(std::string_view(buf.data(), w.size()));
  }

  bool is(std::size_t i, std::string_view w) const { return word(tokens_[i]) == w; }
  bool is_ci(std::size_t i, std::string_view w) const {
    const std::string_view a = word(tokens_[i]);
    if (a.size() != w.size()) return false;
    for (std::size_t k = 0; k < a.size(); ++k) {
      auto x = static_cast<unsigned char>(a[k]);
      if (ascii_upper(x)) x = static_cast<unsigned char>(x + 32);
      if (x != static_cast<unsigned char>(w[k])) return false;
    }
    return true;
  }

  // The bytes between tokens a and a+1 are only spaces/tabs (1..3), or, after
  // an initial or an honorific, "." followed by optional spaces.
  bool adjacent(std::size_t a, bool allow_dot = false) const {
    if (a + 1 >= tokens_.size()) return false;
    const Token& x = tokens_[a];
    const Token& y = tokens_[a + 1];
    if (x.possessive) return false;
    std::size_t p = x.full_e;
    if (allow_dot && p < y.b && text_[p] == '.') ++p;
    const std::size_t spaces = y.b - p;
    if (spaces > 3) return false;
    if (spaces == 0) return allow_dot && p > x.full_e;  // "J.R."
    for (std::size_t k = p; k < y.b; ++k) {
      if (text_[k] != ' ' && text_[k] != '\t') return false;
    }
    return true;
  }

  bool dot_after(std::size_t i) const {
    const Token& t = tokens_[i];
    return t.full_e < text_.size() && text_[t.full_e] == '.';
  }

  // At the start of a sentence, a line, a list item or a heading.
  bool sentence_initial(std::size_t i) const {
    std::size_t j = tokens_[i].b;
    while (j > 0) {
      const char c = text_[j - 1];
      if (c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '(' || c == '[' || c == '*' || c == '_' || c == '#') {
        --j;
        continue;
      }
      if (j >= 3 && static_cast<unsigned char>(text_[j - 3]) == 0xE2 && static_cast<unsigned char>(text_[j - 2]) == 0x80 &&
          (static_cast<unsigned char>(c) == 0x9C || static_cast<unsigned char>(c) == 0x98)) {
        j -= 3;  // “ ‘
        continue;
      }
      break;
    }
    if (j == 0) return true;
    const char c = text_[j - 1];
    if (c == '\n' || c == '\r' || c == '.' || c == '!' || c == '?' || c == ':' || c == ';') return true;
    if (c == '-' || c == '>' || c == '|' || static_cast<unsigned char>(c) == 0xA2 /* • */) {
      // A list marker at the start of a line.
      std::size_t k = j - 1;
      while (k > 0 && text_[k - 1] != '\n' && (text_[k - 1] == ' ' || text_[k - 1] == '\t' ||
                                                static_cast<unsigned char>(text_[k - 1]) >= 0x80)) {
        --k;
      }
      return k == 0 || text_[k - 1] == '\n';
    }
    return false;
  }

  // Glued into an identifier, a path or an address ("John.Smith@", "/users/John", "id_John").
  bool embedded(std::size_t i) const {
    const Token& t = tokens_[i];
    if (t.b > 0) {
      const auto c = static_cast<unsigned char>(text_[t.b - 1]);
      if (ascii_alnum(c) || c == '@' || c == '.' || c == '_' || c == '/' || c == '\\' || c == '#' || c == '$' ||
          c == '%' || c == '&' || c == '+' || c == '~') {
        return true;
      }
    }
    const std::size_t e = t.full_e;
    if (e < text_.size()) {
      const auto c = static_cast<unsigned char>(text_[e]);
      if (c == '@' || c == '_' || c == '/' || c == '\\' || ascii_digit(c)) return true;
      if ((c == '.' || c == '-') && e + 1 < text_.size() && ascii_alnum(static_cast<unsigned char>(text_[e + 1]))) {
        return true;
      }
    }
    return false;
  }

  bool preceded_by_article(std::size_t i) const {
    if (i == 0 || !adjacent(i - 1)) return false;
    static constexpr std::array<std::string_view, 13> kArticles = {
        "a", "an", "the", "this", "that", "these", "those", "some", "any", "every", "each", "no", "our"};
    for (auto a : kArticles) {
      if (is_ci(i - 1, a)) return true;
    }
    return false;
  }

  bool preceded_by_place_word(std::size_t i) const {
    return i > 0 && adjacent(i - 1, /*allow_dot=*/true) && tokens_[i - 1].shape == Shape::capitalised &&
           (flags(i - 1) & gz::kPlaceBefore) != 0;
  }

  // A word that can stand in a name at this position.
  bool namelike(std::size_t k, Mode mode) const {
    const Token& t = tokens_[k];
    if (t.shape == Shape::capitalised) return (flags(k) & (gz::kStop | gz::kPlaceAfter)) == 0;
    if (t.shape == Shape::upper && mode != Mode::gazetteer) {
      const auto f = title_flags(k);
      return (f & (gz::kGiven | gz::kName)) != 0 && (f & (gz::kStop | gz::kPlaceAfter)) == 0;
    }
    if (t.shape == Shape::lower && mode == Mode::lowercase) {
      const auto f = title_flags(k);
      return (f & (gz::kGiven | gz::kName)) != 0 && (f & (gz::kStop | gz::kPlaceAfter)) == 0;
    }
    return false;
  }

  std::uint16_t name_flags(std::size_t k) const {
    return tokens_[k].shape == Shape::capitalised ? flags(k) : title_flags(k);
  }

  struct Run {
    std::size_t first = 0;
    std::size_t last = 0;
    std::size_t surnames = 0;
    bool known_surname = false;  // a surname in the people-names list that is not a common word
    bool place = false;          // followed by Street, University, Inc, Team...
  };

  // Extends a name that starts at token `first` over initials, particles,
  // surnames and a suffix.
  Run extend(std::size_t first, Mode mode) const {
    Run r;
    r.first = r.last = first;
    std::size_t j = first;
    while (r.surnames < kMaxSurnames) {
      const bool after_initial = tokens_[j].shape == Shape::initial;
      if (!adjacent(j, after_initial)) break;
      const std::size_t k = j + 1;
      const Token& t = tokens_[k];
      if (t.shape == Shape::initial) {
        // "John F. Kennedy": an initial only inside a name.
        if (k + 1 < tokens_.size() && adjacent(k, true) && namelike(k + 1, mode)) {
          j = k;
          continue;
        }
        break;
      }
      if (t.shape == Shape::lower && mode != Mode::lowercase && (flags(k) & gz::kParticle) != 0) {
        // "Ludwig van Beethoven", "Charles de Gaulle".
        if (k + 1 < tokens_.size() && adjacent(k) && tokens_[k + 1].shape == Shape::capitalised && namelike(k + 1, mode)) {
          j = k;
          continue;
        }
        break;
      }
      if (t.shape == Shape::capitalised && (flags(k) & gz::kSuffix) != 0 && r.surnames > 0) {
        r.last = k;  // Jr, Sr, III
        break;
      }
      if (!namelike(k, mode)) {
        if ((t.shape == Shape::capitalised || t.shape == Shape::upper) && (flags(k) & gz::kPlaceAfter) != 0) {
          r.place = true;
        }
        break;
      }
      const std::uint16_t f = name_flags(k);
      if ((f & gz::kName) != 0 && (f & gz::kAmbiguous) == 0) r.known_surname = true;
      ++r.surnames;
      r.last = j = k;
      if (tokens_[k].possessive) break;
    }
    // "George Brown College", "John Smith Street".
    if (!r.place && r.last + 1 < tokens_.size() && adjacent(r.last) &&
        (tokens_[r.last + 1].shape == Shape::capitalised || tokens_[r.last + 1].shape == Shape::upper) &&
        (flags(r.last + 1) & gz::kPlaceAfter) != 0) {
      r.place = true;
    }
    return r;
  }

  void emit(const Run& r, std::string_view rule) {
    const std::size_t b = tokens_[r.first].b;
    const std::size_t e = tokens_[r.last].e;
    if (!out_.empty() && out_.back().end > b) return;
    out_.push_back(classify::Finding{std::string(kPersonType), Level::INTERNAL, b, e, std::string(rule)});
  }

  // A name right after a context phrase; `list` for From:/To:/cc: (several
  // names separated by commas, e-mail addresses skipped); `need_known`
  // requires one known name word (header fields also name mailboxes).
  std::size_t context_names(std::size_t k, Mode mode, bool list, bool need_known) {
    while (k < tokens_.size()) {
      if ((flags(k) & gz::kHonorific) != 0 && tokens_[k].shape == Shape::capitalised) return k;  // the honorific rule
      if (!namelike(k, mode) || embedded(k)) return k;
      Run r = extend(k, mode);
      bool known = false;
      for (std::size_t q = r.first; q <= r.last; ++q) {
        if ((name_flags(q) & (gz::kGiven | gz::kName)) != 0) known = true;
      }
      if (!r.place && (!need_known || known || r.surnames > 0)) emit(r, "person.context");
      k = r.last + 1;
      if (!list) return k;
      // Next name in the list: skip "<address>" and separators on the same line.
      std::size_t p = tokens_[r.last].full_e;
      bool separated = false;
      while (p < text_.size() && text_[p] != '\n') {
        const char c = text_[p];
        if (c == '<') {
          const auto close = text_.find('>', p);
          if (close == std::string_view::npos) return k;
          p = close + 1;
          continue;
        }
        if (c == ',' || c == ';') {
          separated = true;
          ++p;
          continue;
        }
        if (c == ' ' || c == '\t') {
          ++p;
          continue;
        }
        break;
      }
      while (k < tokens_.size() && tokens_[k].b < p) ++k;
      if (k < tokens_.size() && is(k, "and") && tokens_[k].b == p) {
        separated = true;
        ++k;
        if (k < tokens_.size()) p = tokens_[k].b;
      }
      if (!separated || k >= tokens_.size() || tokens_[k].b != p) return k;
    }
    return k;
  }

  // The gap after a sign-off ("Regards,\n"): optional punctuation, spaces and
  // at most one line break.
  bool signoff_gap(std::size_t i, bool need_newline) const {
    if (i + 1 >= tokens_.size()) return false;
    std::size_t p = tokens_[i].full_e;
    const std::size_t end = tokens_[i + 1].b;
    bool comma = false;
    if (p < end && (text_[p] == ',' || text_[p] == ':' || text_[p] == '-')) {
      comma = true;
      ++p;
    }
    int newlines = 0;
    for (; p < end; ++p) {
      const char c = text_[p];
      if (c == '\n') {
        ++newlines;
      } else if (c != ' ' && c != '\t' && c != '\r') {
        return false;
      }
    }
    if (newlines > 1) return false;
    return need_newline ? (comma && newlines == 1) : true;
  }

  // "From:", "cc:": the token is followed by a colon.
  bool colon_after(std::size_t i) const {
    const Token& t = tokens_[i];
    return t.full_e < text_.size() && text_[t.full_e] == ':' && !t.possessive;
  }

  // Returns the next token index to look at, or `i` unchanged when no context starts here.
  std::size_t try_context(std::size_t i) {
    const Token& t = tokens_[i];
    const std::size_t n = tokens_.size();
    const std::size_t len = t.e - t.b;
    if (len < 2 || len > 12 || i + 1 >= n || !t.ascii) return i;
    if (t.shape != Shape::lower && t.shape != Shape::capitalised && t.shape != Shape::upper) return i;
    const bool lower = t.shape == Shape::lower;
    auto first = static_cast<unsigned char>(text_[t.b]);
    if (ascii_upper(first)) first = static_cast<unsigned char>(first + 32);
    switch (first) {
      case 'n':  // "my name is X", "name is X", "Name: X"
        if (is_ci(i, "name")) {
          if (i + 2 < n && is(i + 1, "is") && adjacent(i) && adjacent(i + 1)) {
            return context_names(i + 2, Mode::lowercase, false, false);
          }
          if (is(i, "Name") && colon_after(i)) return context_names(i + 1, Mode::strong, false, true);
        }
        return i;
      case 'd':
        if (is(i, "Dear") && adjacent(i)) return context_names(i + 1, Mode::strong, false, false);
        return i;
      case 'r':
        if ((is_ci(i, "regards") || is(i, "Respectfully")) && signoff_gap(i, !ascii_upper(static_cast<unsigned char>(text_[t.b])))) {
          return context_names(i + 1, Mode::strong, false, false);
        }
        return i;
      case 's':
        if (is_ci(i, "sincerely") && signoff_gap(i, lower)) return context_names(i + 1, Mode::strong, false, false);
        if (is(i, "Signed") || is(i, "signed")) {
          std::size_t k = i + 1;
          if (is(k, "by") && adjacent(i)) ++k;
          if (k < n && (k > i + 1 || signoff_gap(i, false))) return context_names(k, Mode::strong, false, false);
        }
        return i;
      case 'w':
        if ((is(i, "Warmly") && signoff_gap(i, false)) || (is(i, "wishes") && signoff_gap(i, true))) {
          return context_names(i + 1, Mode::strong, false, false);
        }
        return i;
      case 't':
        if (is(i, "Thanks") && signoff_gap(i, true)) return context_names(i + 1, Mode::strong, false, false);
        if (is_ci(i, "to") && colon_after(i)) return context_names(i + 1, Mode::strong, true, true);
        return i;
      case 'c':
        if (is(i, "Cheers") && signoff_gap(i, true)) return context_names(i + 1, Mode::strong, false, false);
        if (!colon_after(i)) return i;
        if (is_ci(i, "cc")) return context_names(i + 1, Mode::strong, true, true);
        if (is(i, "Contact") || is(i, "Customer") || is(i, "Client")) return context_names(i + 1, Mode::strong, false, true);
        return i;
      case 'b':
        if (is(i, "Best") && signoff_gap(i, true)) return context_names(i + 1, Mode::strong, false, false);
        if (is_ci(i, "bcc") && colon_after(i)) return context_names(i + 1, Mode::strong, true, true);
        return i;
      case 'f':
        if (is_ci(i, "from") && colon_after(i)) return context_names(i + 1, Mode::strong, true, true);
        return i;
      case 'a':
        if (!colon_after(i)) return i;
        if (is_ci(i, "attn") || is_ci(i, "attention")) return context_names(i + 1, Mode::strong, true, true);
        if (is(i, "Author") || is(i, "Applicant")) return context_names(i + 1, Mode::strong, false, true);
        return i;
      case 'p':
        if (is(i, "Patient") && colon_after(i)) return context_names(i + 1, Mode::strong, false, true);
        return i;
      case 'e':
        if (is(i, "Employee") && colon_after(i)) return context_names(i + 1, Mode::strong, false, true);
        return i;
      default:
        return i;
    }
  }

  std::size_t step(std::size_t i) {
    const std::size_t next = try_context(i);
    if (next != i) return next;
    const Token& t = tokens_[i];
    if (t.shape != Shape::capitalised && t.shape != Shape::initial) return i + 1;
    const std::uint16_t f = flags(i);

    // Honorific + name: "Mr. Smith", "Dr Aisha Khan", "M. Dupont", "Mme Gagnon".
    if ((f & gz::kHonorific) != 0 && i + 1 < tokens_.size()) {
      const bool needs_dot = t.shape == Shape::initial;  // "M." only with its dot
      if ((!needs_dot || dot_after(i)) && adjacent(i, /*allow_dot=*/true) && namelike(i + 1, Mode::strong) &&
          !embedded(i + 1)) {
        Run r = extend(i + 1, Mode::strong);
        if (!r.place) {
          emit(r, "person.honorific");
          return r.last + 1;
        }
        return r.last + 1;
      }
    }
    if (t.shape != Shape::capitalised || embedded(i) || preceded_by_place_word(i)) return i + 1;
    // "Fort William", "San Jose": places. "Ping Hannah", "Thank Bill": a verb, then a name.
    if ((f & gz::kPlaceBefore) != 0) return i + 1;
    if ((f & gz::kStop) != 0 && (f & (gz::kAmbiguous | gz::kAmbiguousInitial)) == 0) return i + 1;

    // Given name [+ surnames].
    if ((f & gz::kGiven) != 0) {
      const bool initial = sentence_initial(i);
      const bool ambiguous = (f & gz::kAmbiguous) != 0 || ((f & gz::kAmbiguousInitial) != 0 && initial);
      Run r = extend(i, Mode::gazetteer);
      if (r.place) return r.last + 1;
      if (r.surnames > 0) {
        // A common word needs a known surname, and no article ("the Hamilton Tiger-Cats").
        if (!ambiguous || (r.known_surname && !preceded_by_article(i))) {
          emit(r, "person.gazetteer");
          return r.last + 1;
        }
        return i + 1;
      }
      // A lone given name: not a common word here, not after an article ("a Frank discussion").
      const bool stop = (f & gz::kStop) != 0 && (f & gz::kAmbiguousInitial) == 0;
      if (!ambiguous && !stop && !preceded_by_article(i) && t.e - t.b >= 3) {
        emit(r, "person.gazetteer");
      }
      return i + 1;
    }

    // Two known people-names: "Wei Zhang", "Aisha Khan".
    if ((f & gz::kName) != 0 && (f & (gz::kStop | gz::kAmbiguous | gz::kPlaceAfter)) == 0 &&
        !((f & gz::kAmbiguousInitial) != 0 && sentence_initial(i))) {
      Run r = extend(i, Mode::gazetteer);
      if (!r.place && r.surnames > 0 && r.known_surname && tokens_[i + 1].shape == Shape::capitalised) {
        emit(r, "person.names");
        return r.last + 1;
      }
    }
    return i + 1;
  }

  std::string_view text_;
  std::vector<classify::Finding>& out_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<classify::Finding> detect_persons(std::string_view text) {
  std::vector<classify::Finding> out;
  Detector(text, out).run();
  return out;
}

std::vector<classify::Finding> detect_persons(std::string_view text, const std::vector<classify::Finding>& existing) {
  auto found = detect_persons(text);
  if (existing.empty() || found.empty()) return found;
  std::erase_if(found, [&](const classify::Finding& p) {
    return std::any_of(existing.begin(), existing.end(),
                       [&](const classify::Finding& f) { return f.start < p.end && p.start < f.end; });
  });
  return found;
}

}  // namespace aegis::privacy
