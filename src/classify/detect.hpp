#pragma once
// The built-in rules: one Vectorscan expression per trigger (mostly a literal
// prefix or a short digit shape, cheap to scan for) and, per kind, the code
// that finds the exact span around a trigger's end offset and validates it.
// Spans are found with small bounded scans around the end offset, so no
// pattern needs HS_FLAG_SOM_LEFTMOST.
//
// Rules (Finding::rule), on the normalised text (digits of every script are ASCII there):
//   Digit runs: digit groups joined by separators of one to three characters among space, tab,
//   line break (CR LF too), dash and dot, with at most one dash or dot and one line break.
//   card.luhn        A payment network's prefix and length (validators.hpp: the majors, Maestro
//                    12-19, Mir, RuPay, Dankort, UATP, Troy, ...) and Luhn, over either
//                    - the whole run: 12-19 digits, any grouping, mixed separators too, groups of
//                      2+ digits except a shorter last one ("67 59 64 98 ...", "4222 2222 2222 2"), or
//                    - a window of 13-19 digits inside a longer run, written consistently: one kind
//                      of separator, groups of 3-6 digits (dots only 4-4-4-4): "2024-05-14 4111...",
//                      two cards in a row, a card and its CVV.
//                    Fail closed: no context is needed or can veto it ("order #4111111111111111").
//   card.context     Luhn-valid 13-19 digits (the whole run, or a consistent window at its start)
//                    outside every issuer range, with a payment word (card, carte, tarjeta, PAN, CC,
//                    visa, debit, débit, credit, crédit, mastercard, amex, ...) within 48 bytes
//                    before or 24 after, or heading its table column.
//   sin.luhn         3-3-3 with one separator (space, dash or dot), Luhn, first digit 1-7 or 9, not
//                    part of a longer grouped number, not next to a currency sign/code, no phone word.
//   sin.context      Luhn-valid 9 digits (plain, or starting with 0 or 8, or 3-3-3 with tabs, line
//                    breaks, longer separators or slashes "046/454/286") with a SIN word: "SIN",
//                    "S.I.N.", "social insurance", "NAS", "assurance sociale" (any case, whole words;
//                    "sin" also as a field, tag or key: "sin": ..., <sin>, sin=) in the 48 bytes
//                    before, or a table column (CSV, TSV, Markdown) headed by one.
//   bank.transit     transit-institution-account 5-3-(7..12) or 3-5-(7..12), dashes or spaces
//                    ("00012-003 1234567" too).
//   bank.context     7-17 digits introduced by account/acct/a/c/chequing/checking/savings/compte/folio
//                    (+ fillers such as "no.", "number", "#", ":", "bank", "bancaire", "de", "est");
//                    "checking" needs ":"/"#"/"no". Not after a cloud, CRM, customer, ledger (GL),
//                    service or user qualifier ("AWS account 123456789012", "customer account ...",
//                    "GL account ...") nor before "(AWS)".
//   bank.column      7-17 digits in a table column headed account/acct/compte/folio/...
//   iban.mod97       registered country, its exact length, any letter case, compact or with single
//                    spaces or dashes between characters after the check digits, mod-97.
//   secret.*         anthropic (sk-ant-, admin keys sk-ant-admin01- too), openai (sk-, sk-proj-),
//                    aws_access_key_id (AKIA/ASIA, not ...EXAMPLE), aws_secret_key (40 chars after
//                    aws_secret_access_key/SecretAccessKey), github, slack, stripe (sk_/rk_ live/test;
//                    never pk_), google (AIza), vendor (hf_ Hugging Face, glpat-/glptt-/glrt-/gldt-
//                    GitLab, npm_), sendgrid (SG.<id>.<secret>), twilio (SK + 32 hex; AC + 32 hex only
//                    with "auth token" within 96 bytes), webhook (Slack hooks.slack.com/services/...,
//                    Teams *.webhook.office.com/..., Discord discord.com/api/webhooks/...: the URL),
//                    jwt (three parts, or header.payload without a signature), private_key (PEM
//                    block), bearer, basic_auth ("Authorization: Basic" + base64 of user:password),
//                    authorization (any other "Authorization:" credential: Token, ApiKey, none),
//                    assignment (api_key/secret/token/subscription_key/account_key/... = value; so
//                    AZURE_OPENAI_API_KEY=..., Ocp-Apim-Subscription-Key: ...), password, url_password.
//                    Values must look random (>= 2 of upper/lower/digit, entropy >= 3 bits/char) and
//                    not like a placeholder ("sk-...", "<your-key>", "${API_KEY}", "YOUR_API_KEY", "xxxx").
//                    Bare UUIDs and hex digests never match a rule; as the value of a secret-named
//                    assignment (token=..., api_key=...) they are secrets.
//   email / email.internal, phone.nanp / phone.e164, ssn.format / ssn.context, ip.v4 / ip.v6, postal.ca.
#include <hs/hs.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/classification.hpp"

namespace aegis::classify {

enum class Kind : std::uint8_t {
  number,           // digit runs: cards, SINs, SSNs, phones, transit-institution-account
  phone_paren,      // (416) 555-0199
  ipv4,
  ipv6,
  email,
  postal,           // Canadian postal code
  iban,
  sk,               // sk-... (OpenAI), sk-ant-... (Anthropic)
  stripe,           // sk_live_, rk_live_, sk_test_, rk_test_
  aws_id,           // AKIA / ASIA
  aws_secret,       // aws_secret_access_key = <40 chars>
  github,           // ghp_ gho_ ghu_ ghs_ ghr_
  github_pat,       // github_pat_
  slack,            // xoxb- xoxa- xoxp- xoxr- xoxs-
  google,           // AIza...
  jwt,
  pem,              // -----BEGIN ... PRIVATE KEY-----
  bearer,           // Bearer <token>
  assign_secret,    // api_key= secret= token= client_secret: ...
  assign_password,  // password= passwd: pwd= ...
  url_credentials,  // scheme://user:password@host
  account,          // account / acct / chequing / savings / compte / folio ... followed by a number
  sin_slash,        // 046/454/286 (a SIN only with a SIN word)
  authorization,    // Authorization: <scheme> <credentials> (Basic, Token, ApiKey, none)
  webhook,          // Slack, Microsoft Teams, Discord webhook URLs
  huggingface,      // hf_
  gitlab,           // glpat- glptt- glrt- gldt-
  npm,              // npm_
  sendgrid,         // SG.<id>.<secret>
  twilio,           // SK/AC + 32 hex
  custom,
};

struct BuiltinPattern {
  Kind kind;
  const char* expression;
  unsigned flags;
  bool merge;  // consecutive end offsets of one pattern are one candidate (runs)
};

// Every built-in trigger; the pattern id is the index.
std::span<const BuiltinPattern> builtin_patterns() noexcept;

// A finding in normalised offsets, before overlap resolution.
struct RawFinding {
  std::uint32_t start = 0;
  std::uint32_t end = 0;
  Level level = Level::INTERNAL;
  std::uint8_t priority = 0;  // tie-break between equally restrictive, equally long findings
  std::string_view type;      // static storage, or owned by the classifier (custom)
  std::string_view rule;
};

namespace priority {
inline constexpr std::uint8_t card = 100, iban = 96, sin = 92, transit = 88, account = 84, private_key = 76,
                              vendor_key = 72, jwt = 68, aws_secret = 66, bearer = 60, url_password = 56,
                              assignment = 52, password = 50, email_internal = 44, ssn = 40, email = 38,
                              phone = 34, ip = 30, postal = 26, custom = 10;
}

// Per-call state: finds spans around candidates of one text, appending to `out`.
class Detector {
 public:
  Detector(std::string_view text, std::span<const std::string> internal_domains, std::vector<RawFinding>& out)
      : t_(text), internal_domains_(internal_domains), out_(out) {}

  // `first_end`/`last_end`: the first and last end offsets of a (merged) candidate.
  void on_candidate(Kind kind, std::uint32_t first_end, std::uint32_t last_end);

 private:
  struct Group {
    std::uint32_t begin, end;
    // Separator to the next group, 0 for the last: ' ', '-' or '.' when it is that one
    // character, '\t' a tab, '\n' anything with a line break, '~' any other sequence.
    char sep_after;
    // Its kind, for cards: '-' or '.' when it holds one, else '\n', '\t' or ' '.
    char kind_after;
    std::uint32_t len() const noexcept { return end - begin; }
  };

  void emit(std::size_t start, std::size_t end, std::string_view type, Level level, std::string_view rule,
            std::uint8_t prio);

  void number(std::uint32_t pos);
  void analyze_run(std::size_t s, std::size_t e);
  void grouped_window(std::size_t i, std::size_t j, char sep, bool maximal, bool plus, std::size_t lo);
  void plain_group(std::size_t i, bool plus, std::size_t lo);
  bool digits_of(std::size_t i, std::size_t j, char* buf, std::size_t cap, std::size_t& n) const noexcept;

  void phone_paren(std::uint32_t end);
  void ipv4(std::uint32_t last_end);
  void ipv6(std::uint32_t last_end);
  void email(std::uint32_t end);
  void postal(std::uint32_t end);
  void iban(std::uint32_t end);
  void sk(std::uint32_t end);
  void stripe(std::uint32_t end);
  void aws_id(std::uint32_t end);
  void aws_secret(std::uint32_t end);
  void github(std::uint32_t end, std::size_t prefix_len, std::size_t min_body);
  void slack(std::uint32_t end);
  void google(std::uint32_t end);
  void jwt(std::uint32_t end);
  void pem(std::uint32_t end);
  void bearer(std::uint32_t end);
  void assignment(std::uint32_t end, bool password);
  void url_credentials(std::uint32_t end);
  void account(std::uint32_t end);
  void sin_slash(std::uint32_t end);
  void authorization(std::uint32_t end);
  void webhook(std::uint32_t end);
  void token_prefix(std::uint32_t end, std::size_t prefix_len, std::size_t min_body, bool dashes);
  void sendgrid(std::uint32_t end);
  void twilio(std::uint32_t end);

  bool currency_adjacent(std::size_t start, std::size_t end) const noexcept;
  bool card_context(std::size_t start, std::size_t end) const noexcept;

  std::string_view t_;
  std::span<const std::string> internal_domains_;
  std::vector<RawFinding>& out_;
  std::vector<Group> groups_;
  std::size_t number_done_ = 0;
  std::size_t ipv4_done_ = 0;
  std::size_t ipv6_done_ = 0;
  std::size_t iban_done_ = 0;
  // Cache of the search for the next "-----END " (amortised linear PEM scanning).
  std::size_t pem_searched_from_ = 0;
  std::size_t pem_next_end_ = std::string_view::npos;
  bool pem_cached_ = false;
};

}  // namespace aegis::classify
