#include "classify/detect.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "classify/entity_types.hpp"
#include "classify/validators.hpp"
#include "core/encoding.hpp"

namespace aegis::classify {

namespace {

constexpr BuiltinPattern kPatterns[] = {
    // Digit runs of 7+ digits with separators (up to three of space, tab, line
    // break, dash, dot between two digits); the run is re-extracted and split
    // into windows around the end offset.
    {Kind::number, R"(\d(?:[ \t\r\n.\-]{0,3}\d){6})", 0, true},
    {Kind::phone_paren, R"(\(\d{3}\)[ .\-]?\d{3}[ .\-]\d{4})", 0, false},
    {Kind::ipv4, R"(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})", 0, true},
    {Kind::ipv6, R"(::)", 0, true},
    {Kind::ipv6, R"([0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7})", 0, true},
    {Kind::email, R"(@[A-Za-z0-9])", 0, false},
    {Kind::postal, R"(\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][ \-]?\d[ABCEGHJ-NPRSTV-Z]\d\b)", 0, false},
    {Kind::iban, R"(\b[A-Za-z]{2}\d{2}[ \-]?[A-Za-z0-9]{4})", 0, false},
    {Kind::sk, R"(\bsk-)", 0, false},
    {Kind::stripe, R"(\b[rs]k_(?:live|test)_)", 0, false},
    {Kind::aws_id, R"(\b(?:AKIA|ASIA)[A-Z0-9]{16}\b)", 0, false},
    {Kind::aws_secret, R"(aws_?secret(?:_?access)?_?key|secret_?access_?key)", HS_FLAG_CASELESS, false},
    {Kind::github, R"(\bgh[pousr]_)", 0, false},
    {Kind::github_pat, R"(\bgithub_pat_)", 0, false},
    {Kind::slack, R"(\bxox[abprs]-)", 0, false},
    {Kind::google, R"(\bAIza[0-9A-Za-z_\-]{35})", 0, false},
    {Kind::jwt, R"(\beyJ)", 0, false},
    {Kind::pem, R"(-----BEGIN )", 0, false},
    {Kind::bearer, R"(\bbearer[ \t])", HS_FLAG_CASELESS, false},
    {Kind::assign_secret,
     R"((?:api[_\-]?key|api[_\-]?secret|secret|token|access[_\-]?key|private[_\-]?token|subscription[_\-]?key|account[_\-]?key)["']?[ \t]{0,3}[:=])",
     HS_FLAG_CASELESS, false},
    {Kind::assign_password, R"((?:passw(?:or)?d|pwd|passphrase)["']?[ \t]{0,3}[:=])", HS_FLAG_CASELESS, false},
    {Kind::url_credentials, R"([A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]{1,64}:)", 0, false},
    {Kind::account, R"(\b(?:account|acct|a/c|chequing|checking|savings|compte|folio))", HS_FLAG_CASELESS, false},
    {Kind::sin_slash, R"(\d{3}/\d{3}/\d{3})", 0, false},
    {Kind::authorization, R"(\bauthorization["']?[ \t]{0,3}[:=][ \t]{0,3}["']?)", HS_FLAG_CASELESS, false},
    {Kind::webhook, R"(hooks\.slack\.com/(?:services|workflows|triggers)/)", 0, false},
    {Kind::webhook, R"(\.webhook\.office\.com/)", 0, false},
    {Kind::webhook, R"(discord(?:app)?\.com/api/webhooks/)", 0, false},
    {Kind::huggingface, R"(\bhf_)", 0, false},
    {Kind::gitlab, R"(\bgl(?:pat|ptt|rt|dt)-)", 0, false},
    {Kind::npm, R"(\bnpm_)", 0, false},
    {Kind::sendgrid, R"(\bSG\.[A-Za-z0-9_\-]{16})", 0, false},
    {Kind::twilio, R"(\b(?:SK|AC)[0-9a-fA-F]{32}\b)", 0, false},
};

constexpr std::size_t kSinContextWindow = 48;
constexpr std::size_t kPhoneContextWindow = 32;
constexpr std::size_t kSsnContextWindow = 48;
constexpr std::size_t kCardContextWindow = 48;
constexpr std::size_t kCardContextAfter = 24;

bool is_sep_char(char c) noexcept { return c == ' ' || c == '-' || c == '.' || c == '\t' || c == '\r' || c == '\n'; }

// A separator between two digit groups, as people and systems write them: one
// to three of space, tab, line break (CR LF too), dash, dot, with at most one
// dash or dot and one line break ("4111 1111", "4111 - 1111", "4111.\n1111").
bool valid_sep(std::string_view sep) noexcept {
  if (sep.empty() || sep.size() > 3) return false;
  int punct = 0, lf = 0;
  for (char c : sep) {
    if (!is_sep_char(c)) return false;
    punct += (c == '-' || c == '.') ? 1 : 0;
    lf += c == '\n' ? 1 : 0;
  }
  return punct <= 1 && lf <= 1;
}

char sep_code(std::string_view sep) noexcept {
  if (sep.size() == 1 && (sep[0] == ' ' || sep[0] == '-' || sep[0] == '.' || sep[0] == '\t')) return sep[0];
  if (sep.find('\n') != std::string_view::npos) return '\n';
  return '~';
}

char sep_kind(std::string_view sep) noexcept {
  for (char c : sep) {
    if (c == '-' || c == '.') return c;
  }
  if (sep.find('\n') != std::string_view::npos) return '\n';
  return sep.find('\t') != std::string_view::npos ? '\t' : ' ';
}
bool is_b64url(char c) noexcept { return is_alnum(c) || c == '-' || c == '_'; }
bool is_b64(char c) noexcept { return is_alnum(c) || c == '+' || c == '/' || c == '='; }
bool is_high(char c) noexcept { return static_cast<unsigned char>(c) >= 0x80; }

// SIN words, English and French; "sin" also as a field, tag or column name
// ("sin": "...", <sin>, sin=, a CSV or Markdown column headed SIN).
bool sin_context(std::string_view t, std::size_t start) noexcept {
  return has_context_before(t, start, kSinContextWindow,
                            {"sin", "social insurance", "nas", "assurance sociale", "s.i.n", "n.a.s"}) ||
         column_header_has(t, start, {"sin", "social insurance", "nas", "assurance sociale", "s.i.n"});
}
bool phone_context(std::string_view t, std::size_t start) noexcept {
  return has_context_before(t, start, kPhoneContextWindow,
                            {"phone", "tel", "telephone", "mobile", "cell", "cellphone", "fax", "call", "ph",
                             "t\xc3\xa9l\xc3\xa9phone", "t\xc3\xa9l", "cellulaire", "sms", "whatsapp"});
}
bool bank_column(std::string_view t, std::size_t start) noexcept {
  return column_header_has(t, start,
                           {"account", "acct", "account number", "compte", "folio", "chequing", "checking", "savings"});
}
bool ssn_context(std::string_view t, std::size_t start) noexcept {
  return has_context_before(t, start, kSsnContextWindow, {"ssn", "social security"});
}

bool starts_with_ci(std::string_view text, std::string_view prefix) noexcept {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (to_lower(text[i]) != prefix[i]) return false;
  }
  return true;
}

bool equals_ci(std::string_view a, std::string_view lower) noexcept {
  return a.size() == lower.size() && starts_with_ci(a, lower);
}

// "config.secret", "process.env.API_KEY", "os.environ": a reference, not a value.
bool dotted_identifier(std::string_view v) noexcept {
  if (v.empty() || v.find('.') == std::string_view::npos) return false;
  bool at_start = true;
  for (char c : v) {
    if (c == '.') {
      if (at_start) return false;
      at_start = true;
      continue;
    }
    if (at_start) {
      if (!is_alpha(c) && c != '_' && c != '$') return false;
      at_start = false;
    } else if (!is_word(c) && c != '$') {
      return false;
    }
  }
  return !at_start;
}

// A random-looking secret body: long enough, mixed characters, not a placeholder.
bool secret_like(std::string_view body, std::size_t min_len, double min_entropy = 3.0) noexcept {
  return body.size() >= min_len && char_classes(body) >= 2 && shannon_entropy(body) >= min_entropy &&
         !looks_like_placeholder(body);
}

}  // namespace

std::span<const BuiltinPattern> builtin_patterns() noexcept { return kPatterns; }

void Detector::emit(std::size_t start, std::size_t end, std::string_view type, Level level, std::string_view rule,
                    std::uint8_t prio) {
  if (end <= start || end > t_.size()) return;
  out_.push_back(
      RawFinding{static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(end), level, prio, type, rule});
}

void Detector::on_candidate(Kind kind, std::uint32_t first_end, std::uint32_t last_end) {
  switch (kind) {
    case Kind::number: number(first_end - 1); break;
    case Kind::phone_paren: phone_paren(last_end); break;
    case Kind::ipv4: ipv4(last_end); break;
    case Kind::ipv6: ipv6(last_end); break;
    case Kind::email: email(last_end); break;
    case Kind::postal: postal(last_end); break;
    case Kind::iban: iban(last_end); break;
    case Kind::sk: sk(last_end); break;
    case Kind::stripe: stripe(last_end); break;
    case Kind::aws_id: aws_id(last_end); break;
    case Kind::aws_secret: aws_secret(last_end); break;
    case Kind::github: github(last_end, 4, 30); break;
    case Kind::github_pat: github(last_end, 11, 40); break;
    case Kind::slack: slack(last_end); break;
    case Kind::google: google(last_end); break;
    case Kind::jwt: jwt(last_end); break;
    case Kind::pem: pem(last_end); break;
    case Kind::bearer: bearer(last_end); break;
    case Kind::assign_secret: assignment(last_end, false); break;
    case Kind::assign_password: assignment(last_end, true); break;
    case Kind::url_credentials: url_credentials(last_end); break;
    case Kind::account: account(last_end); break;
    case Kind::sin_slash: sin_slash(last_end); break;
    case Kind::authorization: authorization(last_end); break;
    case Kind::webhook: webhook(last_end); break;
    case Kind::huggingface: token_prefix(last_end, 3, 30, false); break;
    case Kind::gitlab:
      token_prefix(last_end, static_cast<std::size_t>(last_end) >= 6 && t_[last_end - 6] == 'g' ? 6 : 5, 20, true);
      break;
    case Kind::npm: token_prefix(last_end, 4, 36, false); break;
    case Kind::sendgrid: sendgrid(last_end); break;
    case Kind::twilio: twilio(last_end); break;
    case Kind::custom: break;
  }
}

// ---------------------------------------------------------------------------
// Digit runs

void Detector::number(std::uint32_t pos) {
  if (pos < number_done_ || pos >= t_.size() || !is_digit(t_[pos])) return;
  const std::size_t n = t_.size();
  std::size_t s = pos;
  for (;;) {
    if (s >= 1 && is_digit(t_[s - 1])) {
      --s;
      continue;
    }
    std::size_t k = 1;
    while (k <= 3 && s >= k + 1 && is_sep_char(t_[s - k])) {
      if (is_digit(t_[s - k - 1])) break;
      ++k;
    }
    if (k <= 3 && s >= k + 1 && is_digit(t_[s - k - 1]) && valid_sep(t_.substr(s - k, k))) {
      s -= k + 1;
      continue;
    }
    break;
  }
  std::size_t e = pos + 1;
  for (;;) {
    if (e < n && is_digit(t_[e])) {
      ++e;
      continue;
    }
    std::size_t m = 0;
    while (m < 3 && e + m < n && is_sep_char(t_[e + m])) ++m;
    if (m >= 1 && e + m < n && is_digit(t_[e + m]) && valid_sep(t_.substr(e, m))) {
      e += m + 1;
      continue;
    }
    break;
  }
  number_done_ = e;
  analyze_run(s, e);
}

bool Detector::digits_of(std::size_t i, std::size_t j, char* buf, std::size_t cap, std::size_t& n) const noexcept {
  n = 0;
  for (std::size_t g = i; g <= j; ++g) {
    const auto& grp = groups_[g];
    if (n + grp.len() > cap) return false;
    std::memcpy(buf + n, t_.data() + grp.begin, grp.len());
    n += grp.len();
  }
  return true;
}

bool Detector::card_context(std::size_t start, std::size_t end) const noexcept {
  const std::initializer_list<std::string_view> kWords = {
      "card",       "cards",       "carte",       "cartes",     "tarjeta",    "carta",      "cart\xc3\xa3o",
      "karte",      "kreditkarte", "pan",         "cc",         "ccn",        "visa",       "debit",
      "d\u00e9bit", "credit",      "cr\u00e9dit", "creditcard", "cardnumber", "mastercard", "mc",
      "amex",       "maestro",     "discover",    "jcb",        "diners",     "unionpay",   "interac",
      "mir",        "rupay",       "uatp",        "verve",      "troy",       "dankort",    "cb"};
  return has_context_before(t_, start, kCardContextWindow, kWords) ||
         has_context_after(t_, end, kCardContextAfter, kWords) || column_header_has(t_, start, kWords);
}

void Detector::analyze_run(std::size_t s, std::size_t e) {
  groups_.clear();
  std::size_t g = s;
  std::size_t k0 = s;
  while (k0 < e) {
    if (is_digit(t_[k0])) {
      ++k0;
      continue;
    }
    std::size_t q = k0;
    while (q < e && !is_digit(t_[q])) ++q;
    const std::string_view sep = t_.substr(k0, q - k0);
    groups_.push_back(
        Group{static_cast<std::uint32_t>(g), static_cast<std::uint32_t>(k0), sep_code(sep), sep_kind(sep)});
    g = q;
    k0 = q;
  }
  groups_.push_back(Group{static_cast<std::uint32_t>(g), static_cast<std::uint32_t>(e), '\0', '\0'});
  const std::size_t k = groups_.size();
  // A run glued to a word ("abc123", "0x1F", a hash) loses the glued group.
  const bool glued_left = s > 0 && (is_word(t_[s - 1]));
  const bool glued_right = e < t_.size() && (is_word(t_[e]));
  const std::size_t lo = glued_left ? 1 : 0;
  const std::size_t hi = glued_right ? k - 1 : k;  // exclusive
  if (lo >= hi || hi > k) return;
  const bool plus = !glued_left && s > 0 && t_[s - 1] == '+' && (s < 2 || !is_alnum(t_[s - 2]));

  char d[20];
  std::size_t nd = 0;

  // Payment cards. The whole run (12..19 digits, groups of 2+ digits, any
  // separators, mixed too) is one number as written: a card with an issuer
  // prefix, or with a payment word nearby whatever its prefix (13..19).
  // Inside a longer run ("2024-05-14 4111...", two cards in a row, a card and
  // its CVV), a window of 13+ digits is a card when it is written consistently:
  // one kind of separator, groups of 3..6 digits (dots only in groups of 4).
  // Fail closed: no context is needed for an issuer prefix, and none vetoes one.
  for (std::size_t i = lo; i < hi; ++i) {
    char kind = 0;
    bool consistent = true;
    bool pairs_ok = true;  // groups of 2+ digits, the last one may be shorter ("4222 2222 2222 2")
    std::size_t digits = 0;
    for (std::size_t j = i; j < hi; ++j) {
      if (j > i) {
        const char kj = groups_[j - 1].kind_after;
        if (j == i + 1)
          kind = kj;
        else if (kj != kind)
          consistent = false;
        const auto prev_len = groups_[j - 1].len();
        if (prev_len < 3 || prev_len > 6) consistent = false;  // grouped cards: groups of 3..6 digits
        if (kind == '.' && prev_len != 4) consistent = false;  // dotted only as 4-4-4-4
        pairs_ok = pairs_ok && groups_[j - 1].len() >= 2;
      }
      digits += groups_[j].len();
      if (digits > 19) break;
      if (digits < 12) continue;
      const bool whole = i == lo && j + 1 == hi;
      // A 12-digit (Maestro) window is only ever a whole run: inside a longer
      // number it is far more often a slice of it than a card of its own.
      const bool window_ok = consistent && (j == i || groups_[j].len() <= 6) && digits >= 13;
      if (!(whole && pairs_ok) && !window_ok) continue;
      if (!digits_of(i, j, d, sizeof d, nd)) break;
      const std::string_view digits_view(d, nd);
      if (!luhn_valid(digits_view)) continue;
      if (card_network(digits_view) != CardNetwork::none) {
        emit(groups_[i].begin, groups_[j].end, entity::kCreditCard, Level::RESTRICTED, "card.luhn", priority::card);
      } else if (nd >= 13 && (whole || i == lo) && card_context(groups_[i].begin, groups_[j].end)) {
        emit(groups_[i].begin, groups_[j].end, entity::kCreditCard, Level::RESTRICTED, "card.context", priority::card);
      }
    }
  }

  // Maximal windows with one separator (SIN, SSN, NANP phones, transit numbers).
  for (std::size_t i = lo; i + 1 < hi;) {
    const char sep = groups_[i].sep_after;
    std::size_t j = i + 1;
    while (j + 1 < hi && groups_[j].sep_after == sep) ++j;
    const bool maximal = (i == 0 || groups_[i - 1].sep_after != sep) && (j == k - 1 || groups_[j].sep_after != sep);
    grouped_window(i, j, sep, maximal, plus, lo);
    i = j;
  }

  // Transit-institution-account written "00012-003 1234567" (dash, then space).
  for (std::size_t i = lo; i + 2 < hi; ++i) {
    const auto& a = groups_[i];
    const auto& b = groups_[i + 1];
    const auto& c = groups_[i + 2];
    if (a.sep_after != '-' || b.sep_after != ' ') continue;
    if (!((a.len() == 5 && b.len() == 3) || (a.len() == 3 && b.len() == 5))) continue;
    if (c.len() < 7 || c.len() > 12) continue;
    if (i > 0 && groups_[i - 1].sep_after == '-') continue;
    if (i + 3 < k && groups_[i + 2].sep_after == ' ') continue;
    emit(a.begin, c.end, entity::kBankAccount, Level::RESTRICTED, "bank.transit", priority::transit);
  }

  for (std::size_t i = lo; i < hi; ++i) plain_group(i, plus, lo);

  // E.164: "+" then 8..15 digits (any single separators), first digit 1-9.
  if (plus && lo == 0) {
    std::size_t digits = 0;
    for (std::size_t i = 0; i < hi; ++i) digits += groups_[i].len();
    if (digits >= 8 && digits <= 15 && t_[groups_[0].begin] != '0') {
      emit(s - 1, groups_[hi - 1].end, entity::kPhone, Level::INTERNAL, "phone.e164", priority::phone);
    }
  }
}

void Detector::grouped_window(std::size_t i, std::size_t j, char sep, bool maximal, bool plus, std::size_t lo) {
  if (!maximal) return;
  const std::size_t m = j - i + 1;
  char d[24];
  std::size_t nd = 0;
  if (!digits_of(i, j, d, sizeof d, nd)) return;
  const std::string_view digits(d, nd);
  const std::size_t start = groups_[i].begin;
  const std::size_t end = groups_[j].end;
  auto len = [this, i](std::size_t off) { return groups_[i + off].len(); };

  // Single spaces, dashes and dots; tabs, line breaks and longer separators
  // only for a SIN with its context word.
  const bool plain_sep = sep == ' ' || sep == '-' || sep == '.';
  if (m == 3 && len(0) == 3 && len(1) == 3 && len(2) == 3 && sin_valid(digits)) {
    const bool ctx = sin_context(t_, start);
    bool accept = ctx;
    if (!ctx && plain_sep && !sin_needs_context(digits)) {
      // Without a SIN word, a grouped number next to a currency or a phone word is not a SIN.
      accept = !currency_adjacent(start, end) && !phone_context(t_, start);
    }
    if (accept) {
      emit(start, end, entity::kCaSin, Level::RESTRICTED, ctx ? "sin.context" : "sin.luhn", priority::sin);
    }
  }
  if (!plain_sep) return;
  if (m == 3 && len(0) == 3 && len(1) == 2 && len(2) == 4 && (sep == '-' || sep == ' ') &&
      ssn_structure_valid(digits)) {
    emit(start, end, entity::kUsSsn, Level::INTERNAL, "ssn.format", priority::ssn);
  }
  // North American numbers: 416-555-0199, 1 416 555 0199, +1.416.555.0199
  auto nanp_ok = [](std::string_view ten) { return ten[0] >= '2' && ten[3] >= '2'; };
  if (m == 3 && len(0) == 3 && len(1) == 3 && len(2) == 4 && nanp_ok(digits)) {
    std::size_t s = start;
    // A leading country code "1" group with another separator: "+1 416-555-0199".
    if (i == 1 && lo == 0 && groups_[0].len() == 1 && t_[groups_[0].begin] == '1') {
      s = groups_[0].begin;
      if (plus) --s;
    }
    emit(s, end, entity::kPhone, Level::INTERNAL, "phone.nanp", priority::phone);
  }
  if (m == 4 && len(0) == 1 && d[0] == '1' && len(1) == 3 && len(2) == 3 && len(3) == 4 && nanp_ok(digits.substr(1))) {
    const std::size_t s = (plus && i == 0) ? start - 1 : start;
    emit(s, end, entity::kPhone, Level::INTERNAL, "phone.nanp", priority::phone);
  }
  if (m == 3 && (sep == '-' || sep == ' ') && ((len(0) == 5 && len(1) == 3) || (len(0) == 3 && len(1) == 5)) &&
      len(2) >= 7 && len(2) <= 12) {
    emit(start, end, entity::kBankAccount, Level::RESTRICTED, "bank.transit", priority::transit);
  }
}

void Detector::plain_group(std::size_t i, bool plus, std::size_t lo) {
  const auto& g = groups_[i];
  // A group joined to its neighbours by '.' or '-' is part of a decimal, a
  // date or a longer code, not a number of its own.
  auto joined = [](char sep) { return sep == '.' || sep == '-'; };
  if (i > 0 && joined(groups_[i - 1].sep_after)) return;
  if (i + 1 < groups_.size() && joined(g.sep_after)) return;
  const std::string_view digits = t_.substr(g.begin, g.len());
  const std::size_t start = g.begin;
  // A table column headed "account" (CSV, Markdown): its 7..17-digit values are bank accounts.
  if (digits.size() >= 7 && digits.size() <= 17 && bank_column(t_, start)) {
    emit(start, g.end, entity::kBankAccount, Level::RESTRICTED, "bank.column", priority::account);
  }
  if (digits.size() == 9) {
    if (sin_valid(digits) && sin_context(t_, start)) {
      emit(start, g.end, entity::kCaSin, Level::RESTRICTED, "sin.context", priority::sin);
    } else if (ssn_structure_valid(digits) && ssn_context(t_, start)) {
      emit(start, g.end, entity::kUsSsn, Level::INTERNAL, "ssn.context", priority::ssn);
    }
  } else if (digits.size() == 10 && digits[0] >= '2' && digits[3] >= '2') {
    if (phone_context(t_, start)) emit(start, g.end, entity::kPhone, Level::INTERNAL, "phone.nanp", priority::phone);
  } else if (digits.size() == 11 && digits[0] == '1' && digits[1] >= '2' && digits[4] >= '2') {
    const bool leading_plus = plus && i == lo && i == 0;
    if (leading_plus || phone_context(t_, start)) {
      emit(leading_plus ? start - 1 : start, g.end, entity::kPhone, Level::INTERNAL, "phone.nanp", priority::phone);
    }
  }
}

bool Detector::currency_adjacent(std::size_t start, std::size_t end) const noexcept {
  auto currency_before = [this](std::size_t p) {
    std::size_t q = p;
    if (q > 0 && t_[q - 1] == ' ') --q;
    if (q == 0) return false;
    const char c = t_[q - 1];
    if (c == '$') return true;
    if (q >= 2 && static_cast<unsigned char>(t_[q - 2]) == 0xC2 &&
        (static_cast<unsigned char>(c) == 0xA3 || static_cast<unsigned char>(c) == 0xA5)) {
      return true;  // £ ¥
    }
    if (q >= 3 && t_.substr(q - 3, 3) == "\xE2\x82\xAC") return true;  // €
    if (q >= 3) {
      const auto code = t_.substr(q - 3, 3);
      if (code == "CAD" || code == "USD" || code == "EUR" || code == "GBP") return true;
    }
    return false;
  };
  auto currency_after = [this](std::size_t p) {
    std::size_t q = p;
    if (q < t_.size() && t_[q] == ' ') ++q;
    const auto rest = t_.substr(std::min(q, t_.size()));
    if (!rest.empty() && rest[0] == '$') return true;
    if (rest.starts_with("\xE2\x82\xAC") || rest.starts_with("\xC2\xA3")) return true;
    for (std::string_view word : {"cad", "usd", "eur", "gbp", "dollars", "euros"}) {
      if (starts_with_ci(rest, word) && (rest.size() == word.size() || !is_alpha(rest[word.size()]))) return true;
    }
    return false;
  };
  return currency_before(start) || currency_after(end);
}

// ---------------------------------------------------------------------------
// Phones, IP addresses, e-mail, postal codes, IBAN

void Detector::phone_paren(std::uint32_t end) {
  if (end < 13) return;
  // "(416)555-0199" is 13 bytes, "(416) 555-0199" 14.
  if (t_[end - 13] != '(' && end < 14) return;
  std::size_t s = t_[end - 13] == '(' ? end - 13 : end - 14;
  if (t_[s] != '(' || t_[s + 4] != ')') return;
  if (end < t_.size() && is_alnum(t_[end])) return;
  const char area = t_[s + 1];
  const std::size_t exch = is_digit(t_[s + 5]) ? s + 5 : s + 6;
  if (area < '2' || t_[exch] < '2') return;
  // "+1 (416) 555-0199", "1-(416) ..."
  if (s >= 2 && t_[s - 2] == '1' && (t_[s - 1] == ' ' || t_[s - 1] == '-')) {
    if (s >= 3 && t_[s - 3] == '+')
      s -= 3;
    else if (s < 3 || !is_alnum(t_[s - 3]))
      s -= 2;
  } else if (s >= 2 && t_[s - 2] == '+' && t_[s - 1] == '1') {
    s -= 2;
  }
  emit(s, end, entity::kPhone, Level::INTERNAL, "phone.nanp", priority::phone);
}

void Detector::ipv4(std::uint32_t last_end) {
  const std::size_t pos = last_end - 1;
  if (pos < ipv4_done_) return;
  auto in_token = [](char c) { return is_digit(c) || c == '.'; };
  std::size_t s = pos;
  while (s > 0 && in_token(t_[s - 1])) --s;
  std::size_t e = pos + 1;
  while (e < t_.size() && in_token(t_[e])) ++e;
  ipv4_done_ = e;
  while (s < e && t_[s] == '.') ++s;
  while (e > s && t_[e - 1] == '.') --e;
  if (e - s < 7 || e - s > 15) return;
  if (s > 0 && is_word(t_[s - 1])) return;
  if (e < t_.size() && is_word(t_[e])) return;
  int parts = 0;
  std::size_t p = s;
  while (p < e) {
    std::size_t q = p;
    int value = 0;
    while (q < e && is_digit(t_[q])) value = value * 10 + (t_[q++] - '0');
    if (q == p || q - p > 3 || value > 255) return;
    ++parts;
    if (q < e) {
      if (t_[q] != '.') return;
      ++q;
    }
    p = q;
  }
  if (parts != 4) return;
  if (has_context_before(t_, s, 16, {"version", "ver", "release", "build", "v"})) return;
  emit(s, e, entity::kIpAddress, Level::INTERNAL, "ip.v4", priority::ip);
}

void Detector::ipv6(std::uint32_t last_end) {
  const std::size_t pos = last_end - 1;
  if (pos < ipv6_done_) return;
  auto in_token = [](char c) { return is_hex(c) || c == ':' || c == '.'; };
  std::size_t s = pos;
  while (s > 0 && in_token(t_[s - 1])) --s;
  std::size_t e = pos + 1;
  while (e < t_.size() && in_token(t_[e])) ++e;
  ipv6_done_ = e;
  while (e > s && t_[e - 1] == '.') --e;
  if (e - s >= 2 && t_[e - 1] == ':' && t_[e - 2] != ':') --e;  // "fe80::1:" at a sentence end
  if (e - s >= 2 && t_[s] == ':' && t_[s + 1] != ':') ++s;      // "address:fe80::1"
  if (e <= s || e - s < 3 || e - s > 45) return;
  if (s > 0 && is_word(t_[s - 1])) return;
  if (e < t_.size() && is_word(t_[e])) return;
  const std::string_view token = t_.substr(s, e - s);
  if (std::count(token.begin(), token.end(), ':') < 2) return;
  if (std::none_of(token.begin(), token.end(), is_digit)) return;
  char buf[48];
  std::memcpy(buf, token.data(), token.size());
  buf[token.size()] = '\0';
  unsigned char addr[16];
  if (inet_pton(AF_INET6, buf, addr) != 1) return;
  emit(s, e, entity::kIpAddress, Level::INTERNAL, "ip.v6", priority::ip);
}

void Detector::email(std::uint32_t end) {
  if (end < 2) return;
  const std::size_t at = end - 2;
  if (t_[at] != '@') return;
  auto local_char = [](char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || is_high(c);
  };
  std::size_t ls = at;
  while (ls > 0 && local_char(t_[ls - 1])) {
    --ls;
    if (at - ls > 64) return;
  }
  while (ls < at && t_[ls] == '.') ++ls;
  if (ls == at || t_[at - 1] == '.') return;
  if (t_.substr(ls, at - ls).find("..") != std::string_view::npos) return;
  // Domain: labels of [A-Za-z0-9-] separated by single dots.
  std::size_t p = at + 1;
  std::size_t labels = 0;
  std::size_t last_label = 0;
  for (;;) {
    const std::size_t label_start = p;
    while (p < t_.size() && (is_alnum(t_[p]) || t_[p] == '-')) ++p;
    if (p == label_start || p - (at + 1) > 253) return;
    if (t_[label_start] == '-' || t_[p - 1] == '-') return;
    ++labels;
    last_label = label_start;
    if (p + 1 < t_.size() && t_[p] == '.' && is_alnum(t_[p + 1])) {
      ++p;
      continue;
    }
    break;
  }
  if (labels < 2) return;
  const std::string_view tld = t_.substr(last_label, p - last_label);
  if (tld.size() < 2) return;
  if (!starts_with_ci(tld, "xn--") && !std::all_of(tld.begin(), tld.end(), is_alpha)) return;
  if (p < t_.size() && (t_[p] == '_' || t_[p] == '@')) return;
  const std::string_view domain = t_.substr(at + 1, p - at - 1);
  if (is_internal_domain(domain, internal_domains_)) {
    emit(ls, p, entity::kEmail, Level::CONFIDENTIAL, "email.internal", priority::email_internal);
  } else {
    emit(ls, p, entity::kEmail, Level::INTERNAL, "email", priority::email);
  }
}

void Detector::postal(std::uint32_t end) {
  if (end < 6) return;
  const std::size_t s = (end >= 7 && (t_[end - 4] == ' ' || t_[end - 4] == '-')) ? end - 7 : end - 6;
  emit(s, end, entity::kCaPostalCode, Level::INTERNAL, "postal.ca", priority::postal);
}

void Detector::iban(std::uint32_t end) {
  if (end < 8) return;
  const std::size_t s = (t_[end - 5] == ' ' || t_[end - 5] == '-') ? end - 9 : end - 8;
  if (s < iban_done_) return;
  const char country[2] = {to_upper(t_[s]), to_upper(t_[s + 1])};
  const std::size_t want = iban_length(std::string_view(country, 2));
  if (want == 0) return;
  // Any letter case; compact, or with single spaces or dashes between
  // characters after the check digits (groups of four, or a national
  // grouping such as "FR76 30006 00001 ...").
  char buf[40];
  std::size_t count = 0;
  std::size_t p = s;
  while (count < want) {
    if (p >= t_.size()) return;
    char c = t_[p];
    if (count >= 4 && (c == ' ' || c == '-') && p + 1 < t_.size() && is_alnum(t_[p + 1])) {
      c = t_[++p];
    }
    if (!is_alnum(c)) return;
    buf[count++] = to_upper(c);
    ++p;
  }
  if (p < t_.size() && is_word(t_[p])) return;
  if (!iban_valid(std::string_view(buf, count))) return;
  iban_done_ = p;
  emit(s, p, entity::kIban, Level::RESTRICTED, "iban.mod97", priority::iban);
}

void Detector::sin_slash(std::uint32_t end) {
  // "046/454/286": slashes also write dates and fractions, so only with a SIN word.
  const std::size_t s = end - 11;
  if (s > 0 && (is_word(t_[s - 1]) || t_[s - 1] == '/')) return;
  if (end < t_.size() && (is_word(t_[end]) || t_[end] == '/')) return;
  const char d[9] = {t_[s], t_[s + 1], t_[s + 2], t_[s + 4], t_[s + 5], t_[s + 6], t_[s + 8], t_[s + 9], t_[s + 10]};
  const std::string_view digits(d, 9);
  if (!sin_valid(digits) || !sin_context(t_, s)) return;
  emit(s, end, entity::kCaSin, Level::RESTRICTED, "sin.context", priority::sin);
}

// ---------------------------------------------------------------------------
// Secrets

void Detector::sk(std::uint32_t end) {
  const std::size_t s = end - 3;
  std::size_t p = end;
  while (p < t_.size() && (is_alnum(t_[p]) || t_[p] == '-' || t_[p] == '_') && p - s < 400) ++p;
  std::string_view body = t_.substr(end, p - end);
  if (looks_like_placeholder(body)) return;
  std::string_view rule = "secret.openai";
  if (body.starts_with("ant-")) {
    rule = "secret.anthropic";
    body.remove_prefix(4);
    for (std::string_view sub : {"api03-", "admin01-", "sid01-", "oat01-", "ort01-"}) {
      if (body.starts_with(sub)) {
        body.remove_prefix(sub.size());
        break;
      }
    }
  } else {
    for (std::string_view sub : {"proj-", "svcacct-", "admin-", "None-"}) {
      if (body.starts_with(sub)) {
        body.remove_prefix(sub.size());
        break;
      }
    }
  }
  if (!secret_like(body, 20)) return;
  emit(s, p, entity::kApiKey, Level::CONFIDENTIAL, rule, priority::vendor_key);
}

void Detector::stripe(std::uint32_t end) {
  const std::size_t s = end - 8;
  std::size_t p = end;
  while (p < t_.size() && is_alnum(t_[p]) && p - s < 300) ++p;
  if (p < t_.size() && (t_[p] == '_' || t_[p] == '-')) return;
  if (!secret_like(t_.substr(end, p - end), 16)) return;
  emit(s, p, entity::kApiKey, Level::CONFIDENTIAL, "secret.stripe", priority::vendor_key);
}

void Detector::aws_id(std::uint32_t end) {
  const std::size_t s = end - 20;
  const std::string_view id = t_.substr(s, 20);
  if (id.ends_with("EXAMPLE") || looks_like_placeholder(id.substr(4))) return;
  emit(s, end, entity::kApiKey, Level::CONFIDENTIAL, "secret.aws_access_key_id", priority::vendor_key);
}

void Detector::aws_secret(std::uint32_t end) {
  std::size_t p = end;
  while (p < t_.size() && is_word(t_[p]) && p - end < 16) ++p;
  if (p < t_.size() && (t_[p] == '"' || t_[p] == '\'')) ++p;
  while (p < t_.size() && (t_[p] == ' ' || t_[p] == '\t')) ++p;
  if (p >= t_.size() || (t_[p] != '=' && t_[p] != ':')) return;
  ++p;
  while (p < t_.size() && (t_[p] == ' ' || t_[p] == '\t' || t_[p] == '"' || t_[p] == '\'' || t_[p] == '>')) ++p;
  const std::size_t vs = p;
  while (p < t_.size() && is_b64(t_[p]) && p - vs <= 40) ++p;
  if (p - vs != 40) return;
  const std::string_view value = t_.substr(vs, 40);
  if (value.find("EXAMPLE") != std::string_view::npos || !secret_like(value, 40, 3.5)) return;
  emit(vs, p, entity::kApiKey, Level::CONFIDENTIAL, "secret.aws_secret_key", priority::aws_secret);
}

void Detector::github(std::uint32_t end, std::size_t prefix_len, std::size_t min_body) {
  const std::size_t s = end - prefix_len;
  std::size_t p = end;
  const bool pat = prefix_len > 4;
  while (p < t_.size() && (is_alnum(t_[p]) || (pat && t_[p] == '_')) && p - s < 300) ++p;
  if (!secret_like(t_.substr(end, p - end), min_body)) return;
  emit(s, p, entity::kApiKey, Level::CONFIDENTIAL, "secret.github", priority::vendor_key);
}

void Detector::slack(std::uint32_t end) {
  const std::size_t s = end - 5;
  std::size_t p = end;
  while (p < t_.size() && (is_alnum(t_[p]) || t_[p] == '-') && p - s < 300) ++p;
  const std::string_view body = t_.substr(end, p - end);
  if (body.size() < 10 || std::none_of(body.begin(), body.end(), is_digit) || looks_like_placeholder(body)) return;
  emit(s, p, entity::kApiKey, Level::CONFIDENTIAL, "secret.slack", priority::vendor_key);
}

void Detector::google(std::uint32_t end) {
  const std::size_t s = end - 39;
  if (end < t_.size() && (is_word(t_[end]) || t_[end] == '-')) return;
  if (!secret_like(t_.substr(s + 4, 35), 35)) return;
  emit(s, end, entity::kApiKey, Level::CONFIDENTIAL, "secret.google", priority::vendor_key);
}

void Detector::jwt(std::uint32_t end) {
  const std::size_t s = end - 3;
  std::size_t p = s;
  std::size_t seg_len[3] = {0, 0, 0};
  // header.payload[.signature]: a token without its signature (two parts) still
  // carries the claims and is replayable against services that accept alg none.
  for (int seg = 0; seg < 3; ++seg) {
    const std::size_t b = p;
    while (p < t_.size() && is_b64url(t_[p]) && p - b < 8192) ++p;
    seg_len[seg] = p - b;
    if (seg < 2) {
      if (p >= t_.size() || t_[p] != '.') {
        if (seg == 1) break;  // two parts
        return;
      }
      ++p;
    }
  }
  if (seg_len[0] < 10 || seg_len[1] < 10) return;
  if (t_.substr(s + seg_len[0] + 1, 2) != "ey") return;  // the payload is a JSON object too
  if (p < t_.size() && (t_[p] == '.' || t_[p] == '=')) {
    // A JWE or a longer dotted token still starts with a JWT; cover what is there.
    while (p < t_.size() && (is_b64url(t_[p]) || t_[p] == '.') && p - s < 16384) ++p;
    while (p > s && t_[p - 1] == '.') --p;
  }
  emit(s, p, entity::kJwt, Level::CONFIDENTIAL, "secret.jwt", priority::jwt);
}

void Detector::pem(std::uint32_t end) {
  const std::size_t s = end - 11;
  const std::size_t dash = t_.substr(0, std::min(t_.size(), std::size_t{end} + 70)).find("-----", end);
  if (dash == std::string_view::npos) return;
  const std::string_view label = t_.substr(end, dash - end);
  if (!label.ends_with("PRIVATE KEY") && !label.ends_with("PRIVATE KEY BLOCK")) return;
  const std::size_t body = dash + 5;
  constexpr std::size_t kMaxBody = std::size_t{64} * 1024;
  // Next "-----END " at or after body; cached, so repeated headers stay linear.
  if (!pem_cached_ || body < pem_searched_from_ || (pem_next_end_ != std::string_view::npos && pem_next_end_ < body)) {
    pem_next_end_ = t_.find("-----END ", body);
    pem_searched_from_ = body;
    pem_cached_ = true;
  }
  std::size_t stop = std::string_view::npos;
  std::size_t body_end = 0;
  if (pem_next_end_ != std::string_view::npos && pem_next_end_ - body <= kMaxBody) {
    body_end = pem_next_end_;
    const std::size_t close = t_.find("-----", pem_next_end_ + 9);
    stop = (close != std::string_view::npos && close - pem_next_end_ < 80) ? close + 5 : pem_next_end_ + 9;
  } else {
    // No END line: cover the base64 body that follows (fail closed).
    std::size_t p = body;
    std::size_t last = body;
    while (p < t_.size() && p - body < kMaxBody) {
      const char c = t_[p];
      if (is_b64(c))
        last = p + 1;
      else if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
        break;
      ++p;
    }
    body_end = last;
    stop = last;
  }
  std::size_t b64 = 0;
  for (std::size_t p = body; p < body_end; ++p) b64 += is_b64(t_[p]) ? 1 : 0;
  if (b64 < 16) return;  // "-----BEGIN PRIVATE KEY-----\n...\n-----END ..." is an example
  emit(s, stop, entity::kPrivateKey, Level::CONFIDENTIAL, "secret.private_key", priority::private_key);
}

void Detector::bearer(std::uint32_t end) {
  std::size_t p = end;
  while (p < t_.size() && (t_[p] == ' ' || t_[p] == '\t')) ++p;
  const std::size_t vs = p;
  auto token_char = [](char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=' || c == '-';
  };
  while (p < t_.size() && token_char(t_[p]) && p - vs < 8192) ++p;
  while (p > vs && t_[p - 1] == '.') --p;
  if (p < t_.size() && (t_[p] == '<' || t_[p] == '{' || t_[p] == '$')) return;
  if (!secret_like(t_.substr(vs, p - vs), 16)) return;
  emit(vs, p, entity::kBearerToken, Level::CONFIDENTIAL, "secret.bearer", priority::bearer);
}

void Detector::assignment(std::uint32_t end, bool password) {
  std::size_t p = end;
  while (p < t_.size() && (t_[p] == '=' || t_[p] == '>')) ++p;  // "==", "=>", ":="
  while (p < t_.size() && (t_[p] == ' ' || t_[p] == '\t')) ++p;
  if (p >= t_.size()) return;
  std::size_t vs = p;
  std::size_t ve = 0;
  const char q = t_[p];
  if (q == '"' || q == '\'' || q == '`') {
    vs = ++p;
    while (p < t_.size() && t_[p] != q && t_[p] != '\n' && p - vs < 1024) ++p;
    if (p >= t_.size() || t_[p] != q) return;
    ve = p;
  } else {
    auto delim = [](char c) {
      return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ';' || c == '&' || c == ')' ||
             c == '}' || c == ']' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`';
    };
    while (p < t_.size() && !delim(t_[p]) && p - vs < 1024) ++p;
    ve = p;
    while (ve > vs && (t_[ve - 1] == '.' || t_[ve - 1] == ':')) --ve;
  }
  const std::string_view value = t_.substr(vs, ve - vs);
  if (value.empty() || looks_like_placeholder(value) || dotted_identifier(value)) return;
  if (value.find('(') != std::string_view::npos || value.find(' ') != std::string_view::npos) return;
  for (std::string_view word : {"null", "none", "true", "false", "undefined", "nil", "required", "optional"}) {
    if (equals_ci(value, word)) return;
  }
  if (password) {
    const bool ok =
        (value.size() >= 6 && char_classes(value) >= 2) || (value.size() >= 12 && shannon_entropy(value) >= 3.0);
    if (!ok) return;
    emit(vs, ve, entity::kApiKey, Level::CONFIDENTIAL, "secret.password", priority::password);
  } else {
    if (!secret_like(value, 16)) return;
    emit(vs, ve, entity::kApiKey, Level::CONFIDENTIAL, "secret.assignment", priority::assignment);
  }
}

void Detector::url_credentials(std::uint32_t end) {
  // end is just past "scheme://user:"
  std::size_t p = end;
  while (p < t_.size() &&
         !(t_[p] == '@' || t_[p] == '/' || t_[p] == ' ' || t_[p] == '\n' || t_[p] == '\t' || t_[p] == '"' ||
           t_[p] == '\'') &&
         p - end < 256) {
    ++p;
  }
  if (p >= t_.size() || t_[p] != '@' || p == end) return;
  const std::string_view pass = t_.substr(end, p - end);
  for (std::string_view word : {"password", "pass", "passwd", "pwd", "secret"}) {
    if (equals_ci(pass, word)) return;
  }
  if (looks_like_placeholder(pass)) return;
  emit(end, p, entity::kApiKey, Level::CONFIDENTIAL, "secret.url_password", priority::url_password);
}

void Detector::authorization(std::uint32_t end) {
  // "Authorization: <scheme> <credentials>" or "Authorization: <credentials>".
  std::size_t p = end;
  auto token_char = [](char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=' || c == '-' || c == ':';
  };
  const std::size_t a = p;
  while (p < t_.size() && token_char(t_[p]) && p - a < 8192) ++p;
  std::string_view first = t_.substr(a, p - a);
  std::size_t vs = a;
  std::string_view scheme;
  if (p < t_.size() && t_[p] == ' ' && !first.empty() &&
      std::all_of(first.begin(), first.end(), [](char c) { return is_alpha(c) || c == '-'; })) {
    scheme = first;
    vs = p + 1;
    p = vs;
    while (p < t_.size() && token_char(t_[p]) && p - vs < 8192) ++p;
  }
  while (p > vs && (t_[p - 1] == '.' || t_[p - 1] == ':')) --p;
  const std::string_view value = t_.substr(vs, p - vs);
  if (equals_ci(scheme, "bearer") || value.empty()) return;  // the bearer rule
  if (p < t_.size() && (t_[p] == '<' || t_[p] == '{' || t_[p] == '$')) return;
  if (looks_like_placeholder(value)) return;
  if (equals_ci(scheme, "basic")) {
    // base64("user:password"): decode and require a user, a colon, a password.
    // Read leniently: either alphabet, padding optional, anything after '=' ignored.
    std::string text(value.substr(0, value.find('=')));
    std::ranges::replace(text, '-', '+');
    std::ranges::replace(text, '_', '/');
    if (text.size() % 4 == 1) {  // the last letter's six bits make no byte
      if (!is_b64(text.back())) return;
      text.pop_back();
    }
    text.append((4 - text.size() % 4) % 4, '=');
    const auto bytes = base64_decode(text);
    if (!bytes || bytes->size() > 192) return;
    const std::string_view decoded = *bytes;
    const std::size_t colon = decoded.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 >= decoded.size()) return;
    for (char c : decoded) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) return;
    }
    if (looks_like_placeholder(decoded.substr(colon + 1))) return;
    emit(vs, p, entity::kApiKey, Level::CONFIDENTIAL, "secret.basic_auth", priority::bearer);
    return;
  }
  // Token, ApiKey, SSWS, a scheme-less key: a random-looking credential.
  if (!secret_like(value, 16)) return;
  emit(vs, p, entity::kApiKey, Level::CONFIDENTIAL, "secret.authorization", priority::bearer);
}

void Detector::webhook(std::uint32_t end) {
  // The URL is the secret: cover it from its scheme (or its host) to its last path character.
  std::size_t s = end;
  while (s > 0 &&
         (is_alnum(t_[s - 1]) || t_[s - 1] == '.' || t_[s - 1] == '-' || t_[s - 1] == '/' || t_[s - 1] == ':') &&
         end - s < 128) {
    --s;
  }
  while (s < end && (t_[s] == '/' || t_[s] == ':' || t_[s] == '.')) ++s;
  std::size_t p = end;
  auto url_char = [](char c) {
    return is_alnum(c) || c == '/' || c == '_' || c == '-' || c == '.' || c == '@' || c == '%' || c == '=' ||
           c == '?' || c == '&' || c == '~';
  };
  while (p < t_.size() && url_char(t_[p]) && p - end < 1024) ++p;
  while (p > end && (t_[p - 1] == '.' || t_[p - 1] == '/')) --p;
  const std::string_view path = t_.substr(end, p - end);
  std::size_t alnum = 0;
  for (char c : path) alnum += is_alnum(c) ? 1 : 0;
  if (alnum < 16 || looks_like_placeholder(path) || path.find("XXX") != std::string_view::npos) return;
  emit(s, p, entity::kApiKey, Level::CONFIDENTIAL, "secret.webhook", priority::vendor_key);
}

void Detector::token_prefix(std::uint32_t end, std::size_t prefix_len, std::size_t min_body, bool dashes) {
  // hf_..., npm_..., glpat-...: a vendor prefix and a random body.
  const std::size_t s = end - prefix_len;
  std::size_t p = end;
  while (p < t_.size() && (is_alnum(t_[p]) || (dashes && (t_[p] == '-' || t_[p] == '_'))) && p - s < 300) ++p;
  if (p < t_.size() && (t_[p] == '_' || t_[p] == '-')) return;
  if (!secret_like(t_.substr(end, p - end), min_body)) return;
  emit(s, p, entity::kApiKey, Level::CONFIDENTIAL, "secret.vendor", priority::vendor_key);
}

void Detector::sendgrid(std::uint32_t end) {
  // SG.<22 id chars>.<43 secret chars>
  const std::size_t s = end - 19;
  std::size_t p = s + 3;
  while (p < t_.size() && (is_alnum(t_[p]) || t_[p] == '_' || t_[p] == '-') && p - s < 64) ++p;
  if (p >= t_.size() || t_[p] != '.') return;
  const std::size_t b = ++p;
  while (p < t_.size() && (is_alnum(t_[p]) || t_[p] == '_' || t_[p] == '-') && p - b < 128) ++p;
  if (!secret_like(t_.substr(b, p - b), 30)) return;
  emit(s, p, entity::kApiKey, Level::CONFIDENTIAL, "secret.sendgrid", priority::vendor_key);
}

void Detector::twilio(std::uint32_t end) {
  // SK + 32 hex is an API key SID; AC + 32 hex is the account SID, a credential
  // only next to its auth token.
  const std::size_t s = end - 34;
  const std::string_view body = t_.substr(s + 2, 32);
  if (looks_like_placeholder(body) || shannon_entropy(body) < 3.0) return;
  if (t_[s] == 'A') {
    const std::initializer_list<std::string_view> kWords = {"auth token", "auth_token", "authtoken",
                                                            "twilio_auth_token", "auth-token"};
    if (!has_context_before(t_, s, 96, kWords) && !has_context_after(t_, end, 96, kWords)) return;
  }
  emit(s, end, entity::kApiKey, Level::CONFIDENTIAL, "secret.twilio", priority::vendor_key);
}

void Detector::account(std::uint32_t end) {
  // "checking" is also an everyday verb ("after checking 15000000 rows"): it
  // introduces a number only through punctuation or a word such as "no".
  const bool ambiguous = end >= 8 && starts_with_ci(t_.substr(end - 8, 8), "checking");
  bool introduced = !ambiguous;
  std::size_t p = end;
  if (p < t_.size() && (t_[p] == 's' || t_[p] == 'S') && !(p + 1 < t_.size() && is_alpha(t_[p + 1]))) ++p;
  if (p < t_.size() && is_alpha(t_[p])) return;  // "accounting", "checkings..."
  const std::size_t limit = std::min(t_.size(), p + 40);
  while (p < limit) {
    const char c = t_[p];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ':' || c == '#' || c == '=' || c == '.' || c == '-' ||
        c == '"' || c == '\'' || c == '(' || c == '_') {
      introduced |= c == ':' || c == '#' || c == '=';
      ++p;
      continue;
    }
    if (is_digit(c)) break;
    if (is_alpha(c) || is_high(c)) {
      std::size_t q = p;
      while (q < t_.size() && (is_alpha(t_[q]) || is_high(t_[q]))) ++q;
      const std::string_view word = t_.substr(p, q - p);
      bool filler = false;
      for (std::string_view f : {"no",
                                 "number",
                                 "num",
                                 "nr",
                                 "nbr",
                                 "n",
                                 "is",
                                 "de",
                                 "du",
                                 "numero",
                                 "num\xc3\xa9ro",
                                 "n\xc2\xb0",
                                 "no\xc2\xb0",
                                 "n\xc2\xba",
                                 "id",
                                 "est",
                                 "account",
                                 "acct",
                                 "bancaire",
                                 "bank",
                                 "ch\xc3\xa8ques",
                                 "cheques",
                                 "ch\xc3\xa8que",
                                 "cheque",
                                 "\xc3\xa9pargne",
                                 "epargne",
                                 "courant",
                                 "savings",
                                 "chequing",
                                 "checking"}) {
        if (equals_ci(word, f)) {
          filler = true;
          break;
        }
      }
      if (!filler) return;
      introduced |=
          !equals_ci(word, "is") && !equals_ci(word, "de") && !equals_ci(word, "du") && !equals_ci(word, "est");
      p = q;
      continue;
    }
    return;
  }
  if (p >= limit || !is_digit(t_[p]) || !introduced) return;
  const std::size_t ds = p;
  if (ds > 0 && is_word(t_[ds - 1])) return;
  std::size_t digits = 0;
  for (;;) {
    if (p < t_.size() && is_digit(t_[p])) {
      ++p;
      ++digits;
    } else if (p + 1 < t_.size() && (t_[p] == ' ' || t_[p] == '-') && is_digit(t_[p + 1])) {
      ++p;
    } else {
      break;
    }
    if (digits > 17) return;
  }
  if (p < t_.size() && is_word(t_[p])) return;
  if (digits < 7) return;
  // Precision guard: accounts that are not bank accounts. A cloud account
  // ("AWS account 123456789012", "Account ID: ... (AWS)"), a CRM or customer
  // account, a general-ledger account or code, a user or service account.
  const std::size_t word_start = [&] {
    std::size_t w = end;
    while (w > 0 && (is_alpha(t_[w - 1]) || t_[w - 1] == '/')) --w;
    return w;
  }();
  if (has_context_before(
          t_, word_start, 24,
          {"aws",     "amazon", "azure",   "gcp",     "cloud",  "customer",  "crm",    "salesforce", "hubspot",
           "gl",      "g/l",    "ledger",  "service", "user",   "email",     "e-mail", "billing",    "loyalty",
           "rewards", "member", "twitter", "github",  "google", "microsoft", "iam",    "order"}) ||
      has_context_after(t_, p, 24, {"aws", "azure", "gcp", "google cloud", "amazon"})) {
    return;
  }
  emit(ds, p, entity::kBankAccount, Level::RESTRICTED, "bank.context", priority::account);
}

}  // namespace aegis::classify
