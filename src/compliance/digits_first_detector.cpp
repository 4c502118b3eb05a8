// The "digits_first" egress detector (layer 3b in docs/ARCHITECTURE.md).
//
// Written from first principles and on purpose sharing nothing with
// classify/: a format the classifier does not know must still be caught here.
// It is broad by design: a false positive only sends a request to a local
// provider, a false negative sends RESTRICTED data to a cloud one.
//
// Vocabulary (all of it implemented below):
//   digit      any Unicode Nd code point (66 blocks of ten, kNdZeros), read as
//              its value 0-9; UTF-8 is decoded here, invalid bytes are
//              ordinary non-digits.
//   separator  space, \t \n \v \f \r, '-', '.', '/', NBSP U+00A0, soft hyphen
//              U+00AD, middle dot U+00B7, U+2000-U+200D (typographic and
//              zero-width spaces), U+2010-U+2015 (dashes), U+2027, U+202F,
//              U+2044, U+205F, U+2060, U+2212, U+2215, U+3000, U+FE58, U+FE63,
//              U+FEFF, U+FF0D, U+FF0E, U+FF0F.
//              Not separators: ',' (lists, thousands), ':' (times, ports,
//              ARNs), '_' (identifiers), '(' ')' '|' (phones, tables).
//   group      digits with nothing between them.
//   run        groups joined by gaps of 1-3 separators; longer gaps, or any
//              other character, end the run.
//   window     consecutive groups of one run (never part of a group).
//
// Rules (EgressHit::rule), for windows and runs as defined above:
//   pan.luhn         a window of 12-19 digits that passes Luhn.
//   sin.grouped      a window of three 3-digit groups that passes Luhn.
//   sin.context      a whole run of 9 digits that passes Luhn, with a SIN word
//                    starting less than 100 bytes before its first digit or
//                    after its last: "sin", "s.i.n", "nas", "n.a.s" (whole
//                    words), "social insurance",
//                    "assurance sociale" (word starts); ASCII case-insensitive;
//                    a boundary is a non-letter, '_' or a camelCase step, so
//                    "customer_sin" and "customerSin" count.
//   account.context  (a) a whole run of 7-12 digits with a banking word
//                    starting less than 40 bytes before or after it, word
//                    starts: "bank", "account" (not "AWS account"), "acct", "a/c", "chequing", "cheque", "savings",
//                    "deposit", "compte", "bancaire", "transit" (not "in
//                    transit"), "institution", "caisse", "credit union",
//                    "routing", "void check". "checking" alone is the verb far
//                    more often than the account, and "checking account" is
//                    caught by "account".
//                    (b) a window shaped transit-institution-account, groups
//                    5-3-(7..12) or 3-5-(7..12): that shape is context enough.
//   iban.mod97       two ASCII letters naming a country in kIbanLengths (not
//                    preceded by a letter or digit), two check digits 02-98,
//                    then letters and digits up to the country's registered
//                    length, one space or hyphen allowed between any two
//                    characters, any case, not followed by a letter or digit;
//                    the whole passes ISO 7064 mod 97-10.
//
// A window (or, for the whole-run rules, the run) is not considered at all when
// it is shaped like something a person writes that is not an account; only the
// both-sides glue below applies to account.context (b), and none to IBANs:
//   - a one-digit group other than its last group, unless every group has one
//     digit (decimals "0.123…", versions "10.0.19045.3693", "1 800 …");
//   - it holds a date: groups 4-2-2 (year 1900-2099, month, day) or 2-2-4;
//   - it is part of a longer, regularly grouped run: the group next to it has
//     the same length, behind the same gap, as the group inside its border
//     (the 22-digit "9400 1112 0206 2136 5789 08" is not a card; a card
//     followed by "12/27" still is). Single-group windows are exempt;
//   - it holds a decimal point: a lone '.' after at most 3 digits and before
//     5 or more ("45.4215296 -75.6971931" is a coordinate pair), or starts
//     right after one, or is the single group right after any lone '.' (the
//     fraction of "0.8234…");
//   - it starts the run, which follows a '+' (E.164 phone), and has at most 15
//     digits;
//   - it is the whole run, glued to ASCII letters on both sides (inside hex
//     hashes, base64, "ab12…cd" identifiers). Glued on one side still counts,
//     and non-ASCII letters never glue (CJK text writes numbers unspaced).
// pan.luhn further skips, because no card is numbered that way:
//   - windows starting with 0 (zero-padded ids, "00 44…" dialling);
//   - windows starting with 1 unless 15 digits long (MII 1 is airlines, UATP
//     cards have 15 digits; epoch ms/µs/ns and snowflake ids start with 1);
//   - a single group of 12, 14 or 17 digits that reads as yyyymmddhhmm[ss[fff]]
//     with year 1900-2099 (compact timestamps).
//   account.context (a) also skips runs that read as phone numbers (3-3-4, or
//   3-4 after ')'), money (after $ € £ ¥, or "digits.dd") or a yyyymmdd date.
// No rule but iban.mod97 fires on a run that is an IPv4 address: four
// dot-joined groups of 1-3 digits, each <= 255.
// A group longer than 19 digits is never part of a window: a card is not
// written inside a longer unbroken number (timestamp concatenations, big ids).
//
// Result: the hit that starts first in the text (smallest offset). At equal
// offsets the order is pan.luhn, sin.grouped, sin.context, account.context.
// The text is read once, front to back; SSE2 skips 16 bytes at a time that
// hold no ASCII digit and nothing that may begin the UTF-8 of an Nd digit.
// Looks around a value are bounded (glue, IBAN) or move only forward (context
// words), so the cost is linear.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "compliance/egress_detector.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace aegis::compliance {
namespace {

constexpr std::string_view kPan = "pan.luhn";
constexpr std::string_view kSinGrouped = "sin.grouped";
constexpr std::string_view kSinContext = "sin.context";
constexpr std::string_view kIban = "iban.mod97";
constexpr std::string_view kAccount = "account.context";

constexpr std::size_t kMinPan = 12;
constexpr std::size_t kMaxPan = 19;
constexpr std::size_t kMaxGap = 3;         // separators between two groups of one run
constexpr std::size_t kSinReach = 100;     // bytes between a SIN word and the value
constexpr std::size_t kBankReach = 40;     // bytes between a banking word and the value
constexpr std::size_t kRing = 32;          // > kMaxPan + 1 groups: a window and its neighbours
constexpr std::uint8_t kLongGroup = 0xFF;  // group length marker: more than kMaxPan digits

// ---------------------------------------------------------------- Unicode --

constexpr char32_t kInvalid = 0xFFFFFFFFu;

struct CodePoint {
  char32_t cp;
  std::size_t len;  // bytes consumed; 1 for an invalid byte
};

// Strict decoding: overlong forms and surrogates are invalid, so that no byte
// sequence a browser would reject can spell a digit.
inline CodePoint decode(const unsigned char* p, std::size_t avail) {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) return {b0, 1};
  auto cont = [&](std::size_t k) { return k < avail && (p[k] & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (!cont(1)) return {kInvalid, 1};
    return {static_cast<char32_t>(((b0 & 0x1F) << 6) | (p[1] & 0x3F)), 2};
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return {kInvalid, 1};
    if ((b0 == 0xE0 && p[1] < 0xA0) || (b0 == 0xED && p[1] > 0x9F)) return {kInvalid, 1};
    return {static_cast<char32_t>(((b0 & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F)), 3};
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return {kInvalid, 1};
    if ((b0 == 0xF0 && p[1] < 0x90) || (b0 == 0xF4 && p[1] > 0x8F)) return {kInvalid, 1};
    return {static_cast<char32_t>(((b0 & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) |
                                  (p[3] & 0x3F)),
            4};
  }
  return {kInvalid, 1};
}

// The zero of every Nd block (Unicode 14). Each block holds 0-9 in order.
constexpr std::array<char32_t, 66> kNdZeros = {
    0x30,    0x660,   0x6F0,   0x7C0,   0x966,   0x9E6,   0xA66,   0xAE6,   0xB66,   0xBE6,   0xC66,
    0xCE6,   0xD66,   0xDE6,   0xE50,   0xED0,   0xF20,   0x1040,  0x1090,  0x17E0,  0x1810,  0x1946,
    0x19D0,  0x1A80,  0x1A90,  0x1B50,  0x1BB0,  0x1C40,  0x1C50,  0xA620,  0xA8D0,  0xA900,  0xA9D0,
    0xA9F0,  0xAA50,  0xABF0,  0xFF10,  0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0,
    0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60,
    0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
};

inline int digit_value(char32_t cp) {
  if (cp < 0x80) return (cp >= '0' && cp <= '9') ? static_cast<int>(cp - '0') : -1;
  if (cp < 0x660 || cp > 0x1FBF9) return -1;
  auto it = std::upper_bound(kNdZeros.begin(), kNdZeros.end(), cp);
  const char32_t zero = *(it - 1);
  return cp - zero < 10 ? static_cast<int>(cp - zero) : -1;
}

constexpr std::array<bool, 128> kAsciiSeparators = [] {
  std::array<bool, 128> t{};
  for (unsigned char c : {' ', '\t', '\n', '\v', '\f', '\r', '-', '.', '/'}) t[c] = true;
  return t;
}();

inline bool is_separator(char32_t cp) {
  if (cp < 0x80) return kAsciiSeparators[cp];
  switch (cp) {
    case 0x00A0: case 0x00AD: case 0x00B7: case 0x2027: case 0x202F: case 0x2044: case 0x205F:
    case 0x2060: case 0x2212: case 0x2215: case 0x3000: case 0xFE58: case 0xFE63: case 0xFEFF:
    case 0xFF0D: case 0xFF0E: case 0xFF0F:
      return true;
    default:
      return (cp >= 0x2000 && cp <= 0x200D) || (cp >= 0x2010 && cp <= 0x2015);
  }
}

// Lead bytes of the UTF-8 ranges that hold Nd digits besides ASCII:
// U+0600-07FF (D8-DF), U+0800-1FFF (E0-E1), U+A000-AFFF (EA), U+F000-FFFF (EF),
// U+10000-3FFFF (F0). Everything else non-ASCII is skipped without decoding.
constexpr bool may_lead_digit(unsigned char b) {
  return (b >= 0xD8 && b <= 0xE1) || b == 0xEA || b == 0xEF || b == 0xF0;
}
constexpr bool interesting(unsigned char b) { return (b >= '0' && b <= '9') || may_lead_digit(b); }

#if defined(__SSE2__)
// Bytes of x in [lo, hi], as a byte mask.
inline __m128i in_range(__m128i x, unsigned char lo, unsigned char hi) {
  const __m128i d = _mm_sub_epi8(x, _mm_set1_epi8(static_cast<char>(lo)));
  return _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(static_cast<char>(hi - lo))), d);
}
inline __m128i eq(__m128i x, unsigned char b) { return _mm_cmpeq_epi8(x, _mm_set1_epi8(static_cast<char>(b))); }

// Non-ASCII text (Arabic, Devanagari, Vietnamese, emoji, CJK punctuation) is
// full of the lead bytes above; their next bytes tell most of them from the
// blocks of digits: a superset of every Nd digit's first three bytes.
inline __m128i may_start_digit(__m128i x0, __m128i x1, __m128i x2) {
  const __m128i two = _mm_or_si128(
      _mm_or_si128(_mm_and_si128(eq(x0, 0xD9), in_range(x1, 0xA0, 0xA9)),     // U+0660
                   _mm_and_si128(eq(x0, 0xDB), in_range(x1, 0xB0, 0xB9))),    // U+06F0
      _mm_and_si128(eq(x0, 0xDF), in_range(x1, 0x80, 0x89)));                 // U+07C0
  const __m128i e0 = _mm_and_si128(eq(x0, 0xE0), in_range(x2, 0x90, 0xAF));  // U+0966 … U+0F20
  const __m128i e1 = _mm_and_si128(
      eq(x0, 0xE1), _mm_or_si128(_mm_or_si128(in_range(x1, 0x81, 0x82), in_range(x1, 0x9F, 0xA0)),
                                 in_range(x1, 0xA5, 0xB1)));                  // U+1040 … U+1C59
  const __m128i ea = _mm_and_si128(eq(x0, 0xEA), in_range(x1, 0x98, 0xAF));  // U+A620 … U+ABF9
  const __m128i ef = _mm_and_si128(_mm_and_si128(eq(x0, 0xEF), eq(x1, 0xBC)),
                                   in_range(x2, 0x90, 0x99));                 // U+FF10
  const __m128i f0 = _mm_and_si128(
      eq(x0, 0xF0), _mm_or_si128(in_range(x1, 0x90, 0x9E), _mm_and_si128(eq(x1, 0x9F), eq(x2, 0xAF))));
  return _mm_or_si128(_mm_or_si128(_mm_or_si128(two, e0), _mm_or_si128(e1, ea)), _mm_or_si128(ef, f0));
}
#endif

// Offset of the first byte at or after i that may start a digit, or n. The
// caller decodes and checks it: this may stop early, never late.
std::size_t skip_boring(const unsigned char* p, std::size_t i, std::size_t n) {
#if defined(__SSE2__)
  while (i + 18 <= n) {
    const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const int digits = _mm_movemask_epi8(in_range(x0, '0', '9'));
    if (_mm_movemask_epi8(x0) == 0) {  // all ASCII
      if (digits != 0) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(digits)));
      i += 16;
      continue;
    }
    if ((digits | _mm_movemask_epi8(in_range(x0, 0xD8, 0xF0))) != 0) {
      const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 1));
      const __m128i x2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 2));
      const int mask = digits | _mm_movemask_epi8(may_start_digit(x0, x1, x2));
      if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    }
    i += 16;
  }
#endif
  while (i < n && !interesting(p[i])) ++i;
  return i;
}

// ------------------------------------------------------------------ ASCII --

constexpr bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
constexpr bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
constexpr bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
constexpr bool is_ascii_digit(unsigned char c) { return c >= '0' && c <= '9'; }
constexpr bool is_alnum(unsigned char c) { return is_alpha(c) || is_ascii_digit(c); }
constexpr unsigned char lower(unsigned char c) { return is_upper(c) ? static_cast<unsigned char>(c | 0x20) : c; }

// ------------------------------------------------------------ context words --

struct Word {
  std::string_view pattern;  // lower case; ' ' matches 0-3 of " \t\r\n_-"
  bool whole;                // must also end at a boundary (else any suffix: "accounts")
};

constexpr std::array<Word, 6> kSinWords = {{
    {"sin", true}, {"s.i.n", true}, {"nas", true}, {"n.a.s", true},
    {"social insurance", false}, {"assurance sociale", false},
}};

constexpr std::array<Word, 16> kBankWords = {{
    {"bank", false}, {"account", false}, {"acct", false}, {"a/c", true}, {"chequing", false},
    {"cheque", false}, {"savings", false}, {"deposit", false}, {"compte", false}, {"bancaire", false},
    {"transit", false}, {"institution", false}, {"caisse", false}, {"credit union", false},
    {"routing", false}, {"void check", false},
}};

bool word_gap(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '_' || c == '-'; }

bool left_boundary(const unsigned char* p, std::size_t pos) {
  if (pos == 0 || !is_alpha(p[pos - 1])) return true;
  return is_upper(p[pos]) && is_lower(p[pos - 1]);  // camelCase: customerSin
}

// End offset of `w` matched at pos, or 0 (a match never ends at 0).
std::size_t match_word(const unsigned char* p, std::size_t n, std::size_t pos, const Word& w) {
  if (!left_boundary(p, pos)) return 0;
  std::size_t i = pos;
  for (char c : w.pattern) {
    if (c == ' ') {
      for (std::size_t k = 0; k < kMaxGap && i < n && word_gap(p[i]); ++k) ++i;
      continue;
    }
    if (i >= n || lower(p[i]) != static_cast<unsigned char>(c)) return 0;
    ++i;
  }
  if (w.whole && i < n && is_alpha(p[i]) && !(is_upper(p[i]) && is_lower(p[i - 1]))) return 0;
  return i;
}

// "AWS account 123456789012" and "in transit" are the common non-bank uses.
bool bank_word_excused(const unsigned char* p, std::size_t pos, std::string_view pattern) {
  std::size_t i = pos;
  std::size_t gap = 0;
  while (i > 0 && gap < kMaxGap && word_gap(p[i - 1])) --i, ++gap;
  auto preceded_by = [&](std::string_view word) {
    if (i < word.size()) return false;
    const std::size_t s = i - word.size();
    for (std::size_t k = 0; k < word.size(); ++k)
      if (lower(p[s + k]) != static_cast<unsigned char>(word[k])) return false;
    return s == 0 || !is_alpha(p[s - 1]);
  };
  if (pattern == "account") return preceded_by("aws");
  if (pattern == "transit") return gap > 0 && preceded_by("in");
  return false;
}

// Finds context words for the values of one text. Values come in text order,
// so the regions asked about only move forward: each byte is looked at once
// per word list, however many values there are.
template <std::size_t N>
class WordCursor {
 public:
  WordCursor(const std::array<Word, N>& words, bool bank) : words_(words), bank_(bank) {
    for (const Word& w : words) initials_ |= 1u << (w.pattern[0] - 'a');
  }

  // Whether a word starts in [lo, hi). lo and hi never decrease between calls.
  bool any(const unsigned char* p, std::size_t n, std::size_t lo, std::size_t hi) {
    hi = std::min(hi, n);
    std::size_t pos = std::max(cursor_, lo);
    for (; pos < hi; ++pos) {
      const unsigned char c = lower(p[pos]);
      if (!is_lower(c)) continue;
      const std::size_t word_begin = pos;
      const bool start = left_boundary(p, pos);
      while (pos + 1 < n && is_lower(p[pos + 1])) ++pos;  // the rest of this word
      if (start && (initials_ & (1u << (c - 'a'))) != 0 && matches(p, n, word_begin)) last_ = word_begin;
    }
    cursor_ = std::max(cursor_, pos);
    return last_ != kNone && last_ >= lo && last_ < hi;
  }

 private:
  static constexpr std::size_t kNone = ~std::size_t{0};

  bool matches(const unsigned char* p, std::size_t n, std::size_t pos) const {
    for (const Word& w : words_) {
      if (static_cast<unsigned char>(w.pattern[0]) != lower(p[pos]) || match_word(p, n, pos, w) == 0) continue;
      if (bank_ && bank_word_excused(p, pos, w.pattern)) continue;
      return true;
    }
    return false;
  }

  const std::array<Word, N>& words_;
  bool bank_;
  std::uint32_t initials_ = 0;
  std::size_t cursor_ = 0;
  std::size_t last_ = kNone;  // start of the last word found before cursor_
};

// -------------------------------------------------------------------- IBAN --

struct IbanLength {
  char cc[3];
  std::uint8_t length;
};

// SWIFT IBAN registry: country code and total length.
constexpr std::array<IbanLength, 89> kIbanLengths = {{
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
    {"GT", 28}, {"HN", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26},
    {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20},
    {"LU", 20}, {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20},
    {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24},
    {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24},
    {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25},
    {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20},
    {"YE", 30},
}};

int iban_length(unsigned char a, unsigned char b) {
  const char ua = static_cast<char>(a & ~0x20);
  const char ub = static_cast<char>(b & ~0x20);
  for (const auto& e : kIbanLengths)
    if (e.cc[0] == ua && e.cc[1] == ub) return e.length;
  return 0;
}

// Mod 97-10 of the characters rearranged (first four moved to the end),
// letters counting A=10 … Z=35.
unsigned mod97_step(unsigned rem, unsigned char c) {
  if (is_ascii_digit(c)) return (rem * 10 + (c - '0')) % 97;
  return (rem * 100 + (lower(c) - 'a' + 10)) % 97;
}

// `s` is the first byte of a run of ASCII digits; the IBAN would start two
// bytes earlier.
bool iban_at(const unsigned char* p, std::size_t n, std::size_t s) {
  if (s < 2 || s + 1 >= n || !is_alpha(p[s - 2]) || !is_alpha(p[s - 1]) || !is_ascii_digit(p[s + 1])) return false;
  if (s > 2 && is_alnum(p[s - 3])) return false;
  const int length = iban_length(p[s - 2], p[s - 1]);
  if (length == 0) return false;
  const int check = (p[s] - '0') * 10 + (p[s + 1] - '0');
  if (check < 2 || check > 98) return false;
  unsigned rem = 0;
  std::size_t i = s + 2;
  for (int got = 4; got < length; ++got) {
    if (i < n && (p[i] == ' ' || p[i] == '-') && i + 1 < n && is_alnum(p[i + 1])) ++i;
    if (i >= n || !is_alnum(p[i])) return false;
    rem = mod97_step(rem, p[i]);
    ++i;
  }
  if (i < n && is_alnum(p[i])) return false;
  for (std::size_t k = s - 2; k < s + 2; ++k) rem = mod97_step(rem, p[k]);
  return rem == 1;
}

// ------------------------------------------------------------------- runs --

struct Group {
  std::size_t begin = 0;      // byte offset of the first digit
  std::size_t end = 0;        // byte offset after the last digit
  std::uint8_t n = 0;         // digits, or kLongGroup
  std::uint8_t d[kMaxPan] = {};
  std::uint64_t gap = 0;      // the separators before this group, packed; 0 for the first
  bool date_head = false;     // this group and the next two read as a date
  std::size_t run_digits = 0; // digits in the run up to and including this group
};

int value(const Group& g) {
  int v = 0;
  for (std::uint8_t k = 0; k < g.n; ++k) v = v * 10 + g.d[k];
  return v;
}

bool is_date(const Group& a, const Group& b, const Group& c) {
  auto year = [](const Group& g) { return g.n == 4 && (value(g) / 100 == 19 || value(g) / 100 == 20); };
  auto in = [](const Group& g, int lo, int hi) { return g.n == 2 && value(g) >= lo && value(g) <= hi; };
  if (year(a) && in(b, 1, 12) && in(c, 1, 31)) return true;
  return year(c) && in(a, 1, 31) && in(b, 1, 31) && (value(a) <= 12 || value(b) <= 12);
}

// yyyymmddhhmm[ss[fff]] in one group of 12, 14 or 17 digits.
bool compact_timestamp(const Group& g) {
  if (g.n != 12 && g.n != 14 && g.n != 17) return false;
  auto two = [&](int k) { return g.d[k] * 10 + g.d[k + 1]; };
  const int century = two(0);
  if (century != 19 && century != 20) return false;
  if (two(4) < 1 || two(4) > 12 || two(6) < 1 || two(6) > 31 || two(8) > 23 || two(10) > 59) return false;
  return g.n == 12 || two(12) <= 59;
}

bool yyyymmdd(const Group& g) {
  if (g.n != 8) return false;
  const int y = g.d[0] * 1000 + g.d[1] * 100 + g.d[2] * 10 + g.d[3];
  const int m = g.d[4] * 10 + g.d[5];
  const int d = g.d[6] * 10 + g.d[7];
  return y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

int rank(std::string_view rule) {
  if (rule == kPan) return 0;
  if (rule == kSinGrouped) return 1;
  if (rule == kSinContext) return 2;
  return 3;
}

class Scanner {
 public:
  explicit Scanner(std::string_view text)
      : p_(reinterpret_cast<const unsigned char*>(text.data())), n_(text.size()) {}

  std::optional<EgressHit> scan() {
    std::size_t i = 0;
    while (true) {
      i = skip_boring(p_, i, n_);
      if (i >= n_) return std::nullopt;
      if (p_[i] >= 0x80) {
        const CodePoint c = decode(p_ + i, n_ - i);
        if (digit_value(c.cp) < 0) {
          i += c.len;
          continue;
        }
      } else {
        if (iban_at(p_, n_, i)) return EgressHit{kIban, i - 2};
        // Most digits in a body are short numbers on their own ("200",
        // "3f9a", "57 requests"): under 7 digits with no digit after the
        // gap that follows, no rule can apply.
        std::size_t e = i + 1;
        while (e < n_ && is_ascii_digit(p_[e])) ++e;
        if (e - i < 7) {
          std::size_t q = e;
          while (q < n_ && q - e < kMaxGap && p_[q] < 0x80 && is_separator(p_[q])) ++q;
          if (q == n_ || (p_[q] < 0x80 && !is_ascii_digit(p_[q]))) {
            i = q;
            continue;
          }
        }
      }
      i = run(i);
      if (best_) return best_;
    }
  }

 private:
  Group& at(std::size_t g) { return ring_[g % kRing]; }

  // Reads the run starting at `start` (a digit) and records its best hit.
  // Returns the offset after its last digit.
  std::size_t run(std::size_t start) {
    run_begin_ = start;
    const unsigned char before = start > 0 ? p_[start - 1] : 0;
    glued_left_ = is_alpha(before);
    plus_ = before == '+';
    std::size_t pos = start;
    std::uint64_t gap = 0;
    std::size_t run_digits = 0;
    for (std::size_t g = 0;; ++g) {
      Group& grp = at(g);
      grp.begin = pos;
      grp.gap = gap;
      grp.date_head = false;
      std::size_t count = 0;
      while (pos < n_) {
        int v;
        std::size_t len = 1;
        if (p_[pos] < 0x80) {
          if (!is_ascii_digit(p_[pos])) break;
          v = p_[pos] - '0';
        } else {
          const CodePoint c = decode(p_ + pos, n_ - pos);
          v = digit_value(c.cp);
          if (v < 0) break;
          len = c.len;
        }
        if (count < kMaxPan) grp.d[count] = static_cast<std::uint8_t>(v);
        ++count;
        pos += len;
      }
      grp.end = pos;
      grp.n = count > kMaxPan ? kLongGroup : static_cast<std::uint8_t>(count);
      run_digits += count;
      grp.run_digits = run_digits;
      if (g >= 2) at(g - 2).date_head = is_date(at(g - 2), at(g - 1), grp);
      if (g >= 1) windows_ending(g - 1, &grp);

      // A gap of 1-3 separators followed by a digit continues the run.
      std::size_t q = pos;
      gap = 0;
      std::size_t seps = 0;
      bool next_digit = false;
      while (q < n_) {
        const CodePoint c = p_[q] < 0x80 ? CodePoint{p_[q], 1} : decode(p_ + q, n_ - q);
        if (seps > 0 && digit_value(c.cp) >= 0) {
          next_digit = true;
          break;
        }
        if (seps == kMaxGap || !is_separator(c.cp)) break;
        gap = (gap << 21) | c.cp;
        ++seps;
        q += c.len;
      }
      if (!next_digit) {
        glued_right_ = pos < n_ && is_alpha(p_[pos]);
        windows_ending(g, nullptr);
        if (ipv4(g)) {
          best_.reset();
        } else {
          whole_run(g);
        }
        return pos;
      }
      pos = q;
    }
  }

  // Every window [j..k] of at most kMaxPan digits, grown leftwards so that the
  // Luhn sum is extended, not recomputed. `next` is group k+1 (null at the end
  // of the run).
  void windows_ending(std::size_t k, const Group* next) {
    // Every windowed rule needs at least 9 digits.
    if (at(k).n == kLongGroup || at(k).run_digits < 9) return;
    unsigned luhn = 0;
    std::size_t total = 0;
    std::size_t weight = 0;  // digits already counted from the right
    bool one_inside = false;  // a one-digit group that is not the last group
    bool all_one = true;
    bool date = false;
    bool decimal = false;
    for (std::size_t j = k + 1; j-- > 0 && k - j < kMaxPan;) {
      const Group& grp = at(j);
      if (grp.n == kLongGroup || total + grp.n > kMaxPan) break;
      for (std::size_t x = grp.n; x-- > 0; ++weight) {
        unsigned d = grp.d[x];
        if (weight % 2 == 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        luhn += d;
      }
      total += grp.n;
      if (grp.n == 1 && j != k) one_inside = true;
      if (grp.n != 1) all_one = false;
      if (j + 2 <= k && grp.date_head) date = true;
      if (j < k && decimal_point(grp, at(j + 1))) decimal = true;
      // A later start never wins; at the same start only pan.luhn outranks.
      if (best_ && (grp.begin > best_->offset || (grp.begin == best_->offset && best_->rule == kPan))) continue;
      if (total < 7) continue;

      const bool fraction = j > 0 && grp.gap == '.' && (j == k || decimal_point(at(j - 1), grp));
      const bool shaped = !(one_inside && !all_one) && !date && !decimal && !fraction && !soft_border(j, k, next) &&
                          !(j == 0 && plus_ && total <= 15) &&
                          !(j == 0 && next == nullptr && glued_left_ && glued_right_);
      const bool valid = luhn % 10 == 0;
      std::string_view rule;
      if (shaped && valid && total >= kMinPan && pan_shaped(j, k, total)) {
        rule = kPan;
      } else if (shaped && valid && total == 9 && k - j == 2 && grp.n == 3 && at(j + 1).n == 3 && at(k).n == 3) {
        rule = kSinGrouped;
      } else if (k - j == 2 && transit_shaped(grp, at(j + 1), at(k)) &&
                 !(j == 0 && next == nullptr && glued_left_ && glued_right_)) {
        rule = kAccount;
      }
      if (!rule.empty() && (!best_ || grp.begin < best_->offset || rank(rule) < rank(best_->rule)))
        best_ = EgressHit{rule, grp.begin};
    }
  }

  // Part of a longer, regularly grouped number: the neighbour across a border
  // repeats the length and the gap of the group inside it.
  bool soft_border(std::size_t j, std::size_t k, const Group* next) {
    if (j == k) return false;
    if (j > 0 && at(j - 1).n == at(j).n && at(j).gap == at(j + 1).gap) return true;
    return next != nullptr && next->n == at(k).n && next->gap == at(k).gap;
  }

  // "45.4215296": a lone dot after at most three digits and before five or
  // more is a decimal point, not a card group border.
  static bool decimal_point(const Group& before, const Group& after) {
    return after.gap == '.' && before.n <= 3 && after.n >= 5 && after.n != kLongGroup;
  }

  bool pan_shaped(std::size_t j, std::size_t k, std::size_t total) {
    const Group& first = at(j);
    if (first.d[0] == 0) return false;
    if (first.d[0] == 1 && total != 15) return false;
    if (j == k && compact_timestamp(first)) return false;
    return true;
  }

  // Four dot-joined groups of 1-3 digits, each at most 255: no rule applies
  // to any part of an IPv4 address.
  bool ipv4(std::size_t last) {
    if (last != 3) return false;
    for (std::size_t g = 0; g <= last; ++g) {
      const Group& grp = at(g);
      if (grp.n == kLongGroup || grp.n > 3 || value(grp) > 255 || (g > 0 && grp.gap != '.')) return false;
    }
    return true;
  }

  static bool transit_shaped(const Group& a, const Group& b, const Group& c) {
    const bool head = (a.n == 5 && b.n == 3) || (a.n == 3 && b.n == 5);
    return head && c.n >= 7 && c.n <= 12;
  }

  // sin.context and account.context (a) take the whole run, once it has ended.
  void whole_run(std::size_t last) {
    if (at(last).run_digits < 7 || at(last).run_digits > 12 || (best_ && best_->offset <= run_begin_)) return;
    std::size_t total = 0;
    unsigned luhn = 0;
    for (std::size_t g = last + 1; g-- > 0;) {
      const Group& grp = at(g);
      if (grp.n == kLongGroup) return;
      if (grp.n == 1 && g != last && !all_single(last)) return;
      if (grp.date_head) return;
      for (std::size_t x = grp.n; x-- > 0; ++total) {
        unsigned d = grp.d[x];
        if (total % 2 == 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        luhn += d;
      }
    }
    if (total < 7 || total > 12 || plus_ || (glued_left_ && glued_right_)) return;
    for (std::size_t g = 1; g <= last; ++g)
      if (decimal_point(at(g - 1), at(g))) return;
    const std::size_t end = at(last).end;
    if (total == 9 && luhn % 10 == 0 && sin_words_.any(p_, n_, reach_back(kSinReach), end + kSinReach)) {
      best_ = EgressHit{kSinContext, run_begin_};
      return;
    }
    if (last == 0 && yyyymmdd(at(0))) return;
    // Phones: 3-3-4, and 3-4 after "(416) ".
    if (last == 2 && at(0).n == 3 && at(1).n == 3 && at(2).n == 4) return;
    if (last == 1 && at(0).n == 3 && at(1).n == 4 && after_paren()) return;
    // Money: a currency sign before it, or a decimal part of one or two digits.
    if (after_currency()) return;
    if (last == 1 && at(1).gap == '.' && at(1).n <= 2) return;
    if (!bank_words_.any(p_, n_, reach_back(kBankReach), end + kBankReach)) return;
    best_ = EgressHit{kAccount, run_begin_};
  }

  std::size_t reach_back(std::size_t reach) const { return run_begin_ > reach ? run_begin_ - reach : 0; }

  bool all_single(std::size_t last) {
    for (std::size_t g = 0; g <= last; ++g)
      if (at(g).n != 1) return false;
    return true;
  }

  bool after_paren() const {
    std::size_t i = run_begin_;
    if (i > 0 && p_[i - 1] == ' ') --i;
    return i > 0 && p_[i - 1] == ')';
  }

  bool after_currency() const {
    std::size_t i = run_begin_;
    if (i > 0 && p_[i - 1] == ' ') --i;
    if (i >= 1 && p_[i - 1] == '$') return true;
    if (i >= 2 && p_[i - 2] == 0xC2 && (p_[i - 1] == 0xA3 || p_[i - 1] == 0xA5)) return true;  // £ ¥
    return i >= 3 && p_[i - 3] == 0xE2 && p_[i - 2] == 0x82 && p_[i - 1] == 0xAC;             // €
  }

  const unsigned char* p_;
  std::size_t n_;
  std::array<Group, kRing> ring_{};
  std::size_t run_begin_ = 0;
  bool glued_left_ = false;
  bool glued_right_ = false;
  bool plus_ = false;
  std::optional<EgressHit> best_;
  WordCursor<kSinWords.size()> sin_words_{kSinWords, false};
  WordCursor<kBankWords.size()> bank_words_{kBankWords, true};
};

class DigitsFirstDetector final : public EgressDetector {
 public:
  std::optional<EgressHit> scan(std::string_view text) const override { return Scanner(text).scan(); }
};

}  // namespace

std::unique_ptr<EgressDetector> make_egress_detector(std::string_view type) {
  if (type == "digits_first") return std::make_unique<DigitsFirstDetector>();
  return nullptr;
}

}  // namespace aegis::compliance
