#include "compliance/egress_detector.hpp"
#include "support/digits_in_script.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace aegis::compliance {
namespace {

const EgressDetector& detector() {
  static const auto d = make_egress_detector("digits_first");
  return *d;
}

std::optional<EgressHit> scan(std::string_view text) { return detector().scan(text); }

std::string rule_of(std::string_view text) {
  const auto hit = scan(text);
  return hit ? std::string(hit->rule) : std::string("none");
}

// The test's own Luhn, so that a number is built valid (or invalid) on purpose.
int luhn_check_digit(const std::string& body) {
  int sum = 0;
  bool dbl = true;  // the check digit, appended on the right, is not doubled
  for (auto it = body.rbegin(); it != body.rend(); ++it, dbl = !dbl) {
    int d = *it - '0';
    if (dbl) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return (10 - sum % 10) % 10;
}
std::string with_luhn(const std::string& body) { return body + static_cast<char>('0' + luhn_check_digit(body)); }
std::string without_luhn(const std::string& body) {
  return body + static_cast<char>('0' + (luhn_check_digit(body) + 1) % 10);
}

// Splits digits into groups of the given sizes (the last size repeats).
std::string group(const std::string& digits, const std::vector<std::size_t>& sizes, const std::vector<std::string>& seps) {
  std::string out;
  std::size_t i = 0;
  std::size_t g = 0;
  while (i < digits.size()) {
    const std::size_t size = sizes[std::min(g, sizes.size() - 1)];
    if (g > 0) out += seps[(g - 1) % seps.size()];
    out += digits.substr(i, size);
    i += size;
    ++g;
  }
  return out;
}

using test_support::in_script;

const std::string kNbsp = "\xC2\xA0";
const std::string kThin = "\xE2\x80\x89";
const std::string kNarrow = "\xE2\x80\xAF";
const std::string kFigure = "\xE2\x80\x87";
const std::string kEnDash = "\xE2\x80\x93";
const std::string kMinus = "\xE2\x88\x92";

const std::string kMaestro = "6759649826438453";

// ------------------------------------------------------------------ factory --

TEST(EgressDetectorFactory, KnowsDigitsFirstAndNothingElse) {
  EXPECT_NE(make_egress_detector("digits_first"), nullptr);
  EXPECT_NE(make_egress_detector(), nullptr);
  EXPECT_EQ(make_egress_detector("regex"), nullptr);
  EXPECT_EQ(make_egress_detector(""), nullptr);
}

// ------------------------------------------------------------------- pan.luhn --

TEST(EgressDetectorPan, MaestroInEverySeparatorStyle) {
  ASSERT_EQ(luhn_check_digit(kMaestro.substr(0, 15)), 3) << "the fixture itself must be Luhn-valid";
  const std::vector<std::string> spellings = {
      "6759 6498 2643 8453",
      "6759649826438453",
      "6759.6498.2643.8453",
      "6759-6498-2643-8453",
      "6759/6498/2643/8453",
      "67 59 64 98 26 43 84 53",
      "6759\n6498\n2643\n8453",
      "6759\r\n6498\r\n2643\r\n8453",
      "6759\t6498\t2643\t8453",
      "6759" + kNbsp + "6498" + kNbsp + "2643" + kNbsp + "8453",
      "6759" + kThin + "6498" + kThin + "2643" + kThin + "8453",
      "6759" + kNarrow + "6498" + kNarrow + "2643" + kNarrow + "8453",
      "6759" + kFigure + "6498" + kFigure + "2643" + kFigure + "8453",
      "6759 " + kEnDash + " 6498 " + kEnDash + " 2643 " + kEnDash + " 8453",
      "6759" + kMinus + "6498" + kMinus + "2643" + kMinus + "8453",
      "6759 6498-2643.8453",
      "6759 - 6498 / 2643." + kNbsp + "8453",
      "6 7 5 9 6 4 9 8 2 6 4 3 8 4 5 3",
  };
  for (const auto& s : spellings) {
    const auto hit = scan("card: " + s + " thanks");
    ASSERT_TRUE(hit) << s;
    EXPECT_EQ(hit->rule, "pan.luhn") << s;
    EXPECT_EQ(hit->offset, 6u) << s;
  }
}

TEST(EgressDetectorPan, UnicodeDigitsOfOtherScripts) {
  for (char32_t zero : {0x660u, 0x6F0u, 0xFF10u, 0x966u, 0x9E6u, 0xE50u, 0x1D7CEu}) {
    const std::string text = "{\"note\":\"" + in_script("6759 6498 2643 8453", zero) + "\"}";
    EXPECT_EQ(rule_of(text), "pan.luhn") << std::hex << static_cast<unsigned>(zero);
  }
  // Scripts mixed within one number.
  EXPECT_EQ(rule_of(in_script("6759", 0x660) + " " + in_script("6498", 0xFF10) + " 2643 " + in_script("8453", 0x966)),
            "pan.luhn");
  // CJK text does not space its numbers: no letter glue for non-ASCII letters.
  EXPECT_EQ(rule_of("卡号" + in_script("6759649826438453", 0xFF10) + "有效"), "pan.luhn");
}

TEST(EgressDetectorPan, OtherSchemesAndLengths) {
  EXPECT_EQ(rule_of("Amex 3782 822463 10005 exp 04/27"), "pan.luhn");  // 4-6-5
  const std::string uatp = with_luhn("13541234567890");                   // 15 digits, MII 1
  EXPECT_EQ(rule_of("UATP " + group(uatp, {4, 5, 6}, {" "})), "pan.luhn");
  const std::string maestro12 = with_luhn("67596498264");
  ASSERT_EQ(maestro12.size(), 12u);
  EXPECT_EQ(rule_of("Maestro " + maestro12), "pan.luhn");
  EXPECT_EQ(rule_of("Maestro " + group(maestro12, {4}, {" "})), "pan.luhn");
  const std::string maestro19 = with_luhn("675964982643845312");
  ASSERT_EQ(maestro19.size(), 19u);
  EXPECT_EQ(rule_of("Maestro " + maestro19), "pan.luhn");
  EXPECT_EQ(rule_of("Maestro " + group(maestro19, {4}, {" "})), "pan.luhn");
  EXPECT_EQ(rule_of("Mir " + group(with_luhn("220012345678901"), {4}, {" "})), "pan.luhn");
  // A card followed by its expiry and CVV in one run.
  EXPECT_EQ(rule_of("6759 6498 2643 8453 12/27 123"), "pan.luhn");
  EXPECT_EQ(rule_of("6759649826438453 12/27"), "pan.luhn");
  // Two cards, one a line.
  EXPECT_EQ(rule_of("cards:\n6759 6498 2643 8452\n4111 1111 1111 1111\n"), "pan.luhn");
}

TEST(EgressDetectorPan, LuhnFailingVariantsDoNotFire) {
  EXPECT_EQ(rule_of("card: 6759 6498 2643 8454"), "none");
  EXPECT_EQ(rule_of("card: 6759-6498-2643-8450"), "none");
  EXPECT_EQ(rule_of("card: " + in_script("6759 6498 2643 8454", 0x660)), "none");
  EXPECT_EQ(rule_of("Amex 3782 822463 10006"), "none");
  EXPECT_EQ(rule_of("UATP " + group(without_luhn("13541234567890"), {4, 5, 6}, {" "})), "none");
  EXPECT_EQ(rule_of("Maestro " + without_luhn("67596498264")), "none");
  EXPECT_EQ(rule_of("Maestro " + without_luhn("675964982643845312")), "none");
}

TEST(EgressDetectorPan, ReportsTheEarliestValue) {
  const std::string text = "first 4111 1111 1111 1111 then SIN 046 454 286";
  const auto hit = scan(text);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->rule, "pan.luhn");
  EXPECT_EQ(hit->offset, text.find("4111"));
  const std::string later = "SIN 046 454 286 then 4111 1111 1111 1111";
  const auto hit2 = scan(later);
  ASSERT_TRUE(hit2);
  EXPECT_EQ(hit2->rule, "sin.grouped");
  EXPECT_EQ(hit2->offset, 4u);
}

TEST(EgressDetectorPan, DocumentedNonCardShapes) {
  EXPECT_EQ(rule_of("\"ts\": 1715678493123"), "none") << "13 digits starting with 1: epoch ms";
  EXPECT_EQ(rule_of("\"ts\": 20240514092133"), "none") << "compact timestamp";
  EXPECT_EQ(rule_of("0000000000000000000"), "none") << "leading zero";
  // Runs glued to letters on both sides are inside hashes and identifiers...
  EXPECT_EQ(rule_of("sha a6759649826438453b"), "none");
  // ...but one side is not enough.
  EXPECT_EQ(rule_of("cc6759649826438453"), "pan.luhn");
  EXPECT_EQ(rule_of("6759649826438453exp"), "pan.luhn");
  // Long unbroken digit strings are not cards, nor are their parts.
  EXPECT_EQ(rule_of("id 67596498264384530000"), "none");
  // A coordinate pair whose 18 digits happen to pass Luhn.
  const std::string coords = with_luhn("45421529675697193");
  EXPECT_EQ(rule_of("gps " + coords.substr(0, 2) + "." + coords.substr(2, 7) + " -" + coords.substr(9, 2) + "." +
                    coords.substr(11)),
            "none");
  EXPECT_EQ(rule_of("gps " + group(coords, {2, 7, 2, 7}, {" "})), "pan.luhn") << "no decimal point, no excuse";
  // Amex split by dots is not a decimal number: four digits before the dot.
  EXPECT_EQ(rule_of("3782.822463.10005"), "pan.luhn");
  // An IPv4 address is never a SIN, though its last three octets pass Luhn...
  const std::string octets = with_luhn("12313420");
  const std::string dotted = octets.substr(0, 3) + "." + octets.substr(3, 3) + "." + octets.substr(6);
  EXPECT_EQ(rule_of("peer 10." + dotted + ":443"), "none");
  // ...while the same three groups alone are shaped like one.
  EXPECT_EQ(rule_of("ref " + dotted), "sin.grouped");
  // A regularly grouped 22-digit tracking number holds no card, though its
  // first sixteen digits pass Luhn; a different border makes them one.
  const std::string tracking = with_luhn("940011120206213") + "578908";
  EXPECT_EQ(rule_of("USPS " + group(tracking, {4}, {" "})), "none");
  EXPECT_EQ(rule_of("USPS " + group(tracking, {4, 4, 4, 4, 2}, {" ", " ", " ", "\n"})), "pan.luhn");
  // E.164 phone numbers (at most 15 digits after the '+').
  const std::string phone = with_luhn("44207946095");
  ASSERT_EQ(phone.size(), 12u);
  EXPECT_EQ(rule_of("+" + phone), "none");
  EXPECT_EQ(rule_of("#" + phone), "pan.luhn");
}

// Every Luhn-valid number, in every grouping and context a person or a program
// writes one, fires. First digits follow the documented pan.luhn domain: 3-9
// for any length, 1 only for 15 digits, 2 for Mir/Mastercard 16-19.
TEST(EgressDetectorPan, GeneratedSweepAllFire) {
  std::mt19937_64 rng(20240514);
  auto digit = [&] { return static_cast<char>('0' + rng() % 10); };
  const std::vector<std::vector<std::string>> separators = {
      {" "}, {"-"}, {"."}, {"\n"}, {kNbsp}, {kThin}, {kNarrow}, {" ", "-", ".", kNbsp, kThin, "\n"}};
  const std::vector<std::vector<std::size_t>> groupings = {{100}, {4}, {2}, {3}, {4, 6}, {4, 5, 6}, {6}};
  const std::vector<std::pair<std::string, std::string>> contexts = {
      {"", ""},
      {"{\"messages\":[{\"role\":\"user\",\"content\":\"my card is ", "\"}]}"},
      {"name,card,expiry\nJane Doe,", ",2027-12\n"},
      {"2024-05-14T09:21:33Z INFO payment card=", " status=declined retries=0"},
      {"| customer | card |\n|---|---|\n| Jane | ", " |\n"},
  };
  int total = 0;
  int fired = 0;
  for (int n = 0; n < 200; ++n) {
    const std::size_t length = 12 + static_cast<std::size_t>(n % 8);
    std::string body;
    if (n % 10 == 0 && length == 15) {
      body = "1";
    } else if (n % 7 == 0 && length >= 16) {
      body = std::to_string(2221 + rng() % 500);
    } else {
      body = std::string(1, static_cast<char>('3' + rng() % 7));
    }
    while (body.size() < length - 1) body += digit();
    const std::string number = with_luhn(body);
    for (const auto& sizes : groupings) {
      for (const auto& seps : separators) {
        const std::string grouped = group(number, sizes, seps);
        for (const auto& [before, after] : contexts) {
          const auto hit = scan(before + grouped + after);
          ++total;
          if (hit && hit->rule == "pan.luhn" && hit->offset == before.size()) {
            ++fired;
          } else {
            ADD_FAILURE() << "missed: [" << before << grouped << after << "] got "
                          << (hit ? std::string(hit->rule) + "@" + std::to_string(hit->offset) : "none");
          }
        }
      }
    }
  }
  std::printf("[ sweep    ] %d/%d Luhn-valid numbers fired pan.luhn\n", fired, total);
  EXPECT_EQ(fired, total);
}

// ------------------------------------------------------------------------ SIN --

TEST(EgressDetectorSin, GroupedThreeThreeThree) {
  EXPECT_EQ(rule_of("046 454 286"), "sin.grouped");
  EXPECT_EQ(rule_of("046-454-286"), "sin.grouped");
  EXPECT_EQ(rule_of("046/454/286"), "sin.grouped");
  EXPECT_EQ(rule_of("NAS : 046.454.286"), "sin.grouped");
  EXPECT_EQ(rule_of("ref 046" + kNbsp + "454" + kNbsp + "286"), "sin.grouped");
  EXPECT_EQ(rule_of(in_script("046 454 286", 0x660)), "sin.grouped");
  EXPECT_EQ(rule_of(in_script("046 454 286", 0xFF10)), "sin.grouped");
}

TEST(EgressDetectorSin, UngroupedNeedsASinWord) {
  EXPECT_EQ(rule_of("{\"sin\": \"046454286\"}"), "sin.context");
  EXPECT_EQ(rule_of("{\"customer_sin\":\"046454286\"}"), "sin.context");
  EXPECT_EQ(rule_of("{\"customerSin\":\"046454286\"}"), "sin.context");
  EXPECT_EQ(rule_of("S.I.N. 046454286"), "sin.context");
  EXPECT_EQ(rule_of("Social Insurance Number: 04645 4286"), "sin.context");
  EXPECT_EQ(rule_of("numéro d'assurance sociale 046454286"), "sin.context");
  EXPECT_EQ(rule_of("046454286 is my SIN"), "sin.context");
  EXPECT_EQ(rule_of("SIN on file, see the attachment for the rest of the record please: 046454286"), "sin.context");
  // No SIN word (or one that is part of another word): not a SIN.
  EXPECT_EQ(rule_of("{\"id\": \"046454286\"}"), "none");
  EXPECT_EQ(rule_of("{\"business\": \"046454286\"}"), "none");
  EXPECT_EQ(rule_of("SIN " + std::string(120, 'x') + " 046454286"), "none");
}

TEST(EgressDetectorSin, LuhnFailingVariantsDoNotFire) {
  EXPECT_EQ(rule_of("046 454 287"), "none");
  EXPECT_EQ(rule_of("046-454-280"), "none");
  EXPECT_EQ(rule_of("{\"sin\": \"046454287\"}"), "none");
  EXPECT_EQ(rule_of("NAS : 046.454.281"), "none");
}

// ----------------------------------------------------------------------- IBAN --

TEST(EgressDetectorIban, Mod97AtTheRegisteredLength) {
  EXPECT_EQ(rule_of("GB82 WEST 1234 5698 7654 32"), "iban.mod97");
  EXPECT_EQ(rule_of("DE89370400440532013000"), "iban.mod97");
  EXPECT_EQ(rule_of("iban: gb82 west 1234 5698 7654 32"), "iban.mod97");
  EXPECT_EQ(rule_of("GB82-WEST-1234-5698-7654-32"), "iban.mod97");
  EXPECT_EQ(rule_of("{\"iban\":\"FR1420041010050500013M02606\"}"), "iban.mod97");
  EXPECT_EQ(rule_of("NO9386011117947"), "iban.mod97");
  const std::string text = "pay to DE89 3704 0044 0532 0130 00 today";
  const auto hit = scan(text);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->rule, "iban.mod97");
  EXPECT_EQ(hit->offset, text.find("DE89"));
}

TEST(EgressDetectorIban, WrongCheckOrLengthDoesNotFire) {
  EXPECT_NE(rule_of("GB82 WEST 1234 5698 7654 33"), "iban.mod97");
  EXPECT_NE(rule_of("GB83WEST12345698765432"), "iban.mod97");
  EXPECT_NE(rule_of("DE8937040044053201300"), "iban.mod97");   // one short
  EXPECT_NE(rule_of("DE893704004405320130001"), "iban.mod97");  // one long
  EXPECT_NE(rule_of("QQ89370400440532013000"), "iban.mod97");  // no such country
}

// -------------------------------------------------------------------- account --

TEST(EgressDetectorAccount, CanadianBankAccount) {
  EXPECT_EQ(rule_of("transit 00012, institution 003, account 1234567"), "account.context");
  EXPECT_EQ(rule_of("00012-003-1234567"), "account.context");
  EXPECT_EQ(rule_of("003-00012-1234567"), "account.context");
  EXPECT_EQ(rule_of("Direct deposit to my chequing 123456789 please"), "account.context");
  EXPECT_EQ(rule_of("numéro de compte bancaire : 1234567"), "account.context");
  EXPECT_EQ(rule_of("{\"bank_account\": \"12345678\"}"), "account.context");
  EXPECT_EQ(rule_of("Caisse Desjardins, folio 1234567"), "account.context");
}

TEST(EgressDetectorAccount, NoBankWordOrNotAnAccount) {
  EXPECT_EQ(rule_of("order 1234567 shipped"), "none");
  EXPECT_EQ(rule_of("AWS account 123456789013 in us-east-1"), "none");
  EXPECT_EQ(rule_of("{\"aws_account_id\": \"123456789013\"}"), "none");
  EXPECT_EQ(rule_of("your package is in transit, tracking 12345678"), "none");
  EXPECT_EQ(rule_of("deposit of $1234567 received"), "none");
  EXPECT_EQ(rule_of("savings balance 12345.67"), "none");
  EXPECT_EQ(rule_of("bank deposit on 2024-05-14"), "none");
  EXPECT_EQ(rule_of("bank deposit on 20240514"), "none");
  EXPECT_EQ(rule_of("call the bank at 416-555-0199"), "none");
  EXPECT_EQ(rule_of("call the bank at (416) 555-0199"), "none");
  EXPECT_EQ(rule_of("bank hotline +1 416 555 0199"), "none");
}

// ----------------------------------------------------------------- robustness --

TEST(EgressDetectorRobustness, InvalidUtf8AndNuls) {
  const std::string junk[] = {
      std::string("\xFF\xFE\xFD", 3),   std::string("\xC0\xB0\xC0\xB1", 4),  // overlong '0' '1'
      std::string("\xE0\x80", 2),       std::string("\xF0\x9D\x9F", 3),      // truncated
      std::string("\xED\xA0\x80", 3),   std::string("\0\0\0", 3),
      std::string("\xD9", 1),           std::string("\xEF\xBC", 2),
  };
  for (const auto& j : junk) {
    EXPECT_EQ(rule_of(j), "none");
    EXPECT_EQ(rule_of(j + "6759 6498 2643 8453"), "pan.luhn");
    EXPECT_EQ(rule_of("6759 6498 2643 8453" + j), "pan.luhn");
  }
  // A truncated sequence never swallows the digits after it.
  EXPECT_EQ(rule_of(std::string("\xE4", 1) + "6759649826438453"), "pan.luhn");
  // Overlong spellings are not digits.
  std::string overlong;
  for (char c : kMaestro) overlong += std::string{static_cast<char>(0xC0), static_cast<char>(0x80 | (c & 0x3F))};
  EXPECT_EQ(rule_of(overlong), "none");
  // A NUL is not a separator.
  EXPECT_EQ(rule_of(std::string("6759 6498\0 2643 8453", 20)), "none");

  std::mt19937_64 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(1 + rng() % 300, '\0');
    for (auto& b : bytes) b = static_cast<char>(rng() % 4 == 0 ? '0' + rng() % 10 : rng() % 256);
    (void)scan(bytes);
  }
}

TEST(EgressDetectorRobustness, MegabyteInputsComplete) {
  const std::size_t mb = 1 << 20;
  std::string digits_and_seps;
  std::mt19937_64 rng(99);
  const char* seps[] = {" ", "-", ".", "/", "  ", " - "};
  while (digits_and_seps.size() < mb) {
    for (int k = 1 + static_cast<int>(rng() % 5); k-- > 0;) digits_and_seps += static_cast<char>('0' + rng() % 10);
    digits_and_seps += seps[rng() % 6];
  }
  (void)scan(digits_and_seps);
  (void)scan(std::string(mb, '7'));
  (void)scan(std::string(mb, '1') + "6759 6498 2643 8453");
  std::string ones;
  while (ones.size() < mb) ones += "1 ";
  (void)scan(ones);
  std::string arabic;
  while (arabic.size() < mb) arabic += in_script("0123456789 ", 0x660);
  (void)scan(arabic);
  std::string sin_words;
  while (sin_words.size() < mb) sin_words += "SIN 123 456 789 account 1234567 ";
  (void)scan(sin_words);
  // A value at the very end of a megabyte of ordinary text is still found.
  std::string text;
  while (text.size() < mb) text += "Lorem ipsum dolor sit amet, 12 consectetur 2024-05-14 elit. ";
  EXPECT_EQ(rule_of(text + "6759 6498 2643 8453"), "pan.luhn");
}

// ------------------------------------------------------------ hard negatives --

struct Negatives {
  std::vector<std::pair<std::string, std::string>> items;  // (category, text)
  std::mt19937_64 rng{424242};

  std::uint64_t r(std::uint64_t n) { return rng() % n; }
  std::string digits(std::size_t n, bool nonzero_first = true) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += static_cast<char>('0' + (i == 0 && nonzero_first ? 1 + r(9) : r(10)));
    return s;
  }
  std::string hex(std::size_t n) {
    static const char* h = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += h[r(16)];
    return s;
  }
  std::string two(std::uint64_t v) { return (v < 10 ? "0" : "") + std::to_string(v); }
  std::string date() { return std::to_string(2015 + r(12)) + "-" + two(1 + r(12)) + "-" + two(1 + r(28)); }
  std::string time() { return two(r(24)) + ":" + two(r(60)) + ":" + two(r(60)); }
  void add(const std::string& cat, const std::string& text) { items.emplace_back(cat, text); }
};

std::vector<std::pair<std::string, std::string>> hard_negatives() {
  Negatives g;
  const int n = 40;
  for (int i = 0; i < n; ++i) {
    const std::string d = g.date();
    const std::string t = g.time();
    const std::uint64_t epoch = 1500000000 + g.r(400000000);
    // Prices.
    g.add("price", "The total is $" + std::to_string(1 + g.r(9)) + "," + g.digits(3, false) + "." + g.digits(2, false) +
                       " (tax incl.), you saved $" + std::to_string(g.r(300)) + ".99");
    g.add("price", "{\"price\": " + std::to_string(g.r(100000)) + "." + g.digits(2, false) +
                       ", \"currency\": \"CAD\", \"qty\": " + std::to_string(1 + g.r(20)) + "}");
    g.add("price", "Prix : " + std::to_string(1 + g.r(99)) + " " + g.digits(3, false) + "," + g.digits(2, false) +
                       " € TTC, livraison " + std::to_string(g.r(20)) + ",90 €");
    // Dates and timestamps.
    g.add("date", d + "T" + t + "." + g.digits(3, false) + "Z INFO request_id=" + g.hex(8) + " latency_ms=" +
                      std::to_string(g.r(2000)));
    g.add("date", "{\"created_at\": " + std::to_string(epoch) + g.digits(3, false) + ", \"updated\": \"" + d + " " +
                      t + "\"}");
    g.add("date", "{\"ts_us\": " + std::to_string(epoch) + g.digits(6, false) + ", \"epoch\": " +
                      std::to_string(epoch) + "}");
    g.add("date", "backup-" + d.substr(0, 4) + d.substr(5, 2) + d.substr(8, 2) + t.substr(0, 2) + t.substr(3, 2) +
                      t.substr(6, 2) + ".tar.gz written at " + d + " " + t);
    g.add("date", "Valid " + d.substr(8, 2) + "/" + d.substr(5, 2) + "/" + d.substr(0, 4) + " - " +
                      g.two(1 + g.r(28)) + "/" + d.substr(5, 2) + "/" + d.substr(0, 4) + ", interval " + d + "/" +
                      g.date());
    // Phone numbers.
    const std::string area = std::to_string(200 + g.r(800));
    const std::string line = "555-0" + g.digits(3, false);
    g.add("phone", "Call us at (" + area + ") " + line + " or " + area + "-" + line + ", fax 1-800-" + line);
    g.add("phone", "WhatsApp: +1 " + area + " 555 0" + g.digits(3, false) + ", UK office +44 20 " + g.digits(4) +
                       " " + g.digits(4));
    g.add("phone", "{\"phone\": \"+" + std::to_string(1 + g.r(98)) + g.digits(10) + "\"}");
    g.add("phone", "Tel. +33 1 " + g.digits(2) + " " + g.digits(2) + " " + g.digits(2) + " " + g.digits(2) +
                       " / +49 30 " + g.digits(8));
    // Identifiers.
    g.add("uuid", "{\"id\": \"" + g.hex(8) + "-" + g.hex(4) + "-4" + g.hex(3) + "-a" + g.hex(3) + "-" + g.hex(12) +
                      "\", \"trace\": \"" + g.hex(32) + "\"}");
    g.add("git", "commit " + g.hex(40) + "\nMerge: " + g.hex(7) + " " + g.hex(7) + "\n    fix retry (#" +
                     std::to_string(g.r(9000)) + ")");
    g.add("version", "Upgraded to v" + std::to_string(g.r(20)) + "." + std::to_string(g.r(30)) + "." +
                         std::to_string(g.r(100)) + " (build " + std::to_string(10 + g.r(20)) + ".0." +
                         std::to_string(19000 + g.r(1000)) + "." + std::to_string(g.r(5000)) + "), Chrome/124.0." +
                         std::to_string(6000 + g.r(999)) + "." + std::to_string(g.r(200)));
    // Order, invoice and tracking numbers: random ones are Luhn-valid one time
    // in ten, and firing on those is accepted.
    g.add("order", "Your order #" + g.digits(8 + g.r(9)) + " has shipped.");
    g.add("order", "{\"order_id\": \"ord_" + g.digits(14) + "\", \"invoice\": \"INV-" + d.substr(0, 4) + "-" +
                       g.digits(6, false) + "\"}");
    g.add("order", "Invoice " + without_luhn(g.digits(15)) + " is due on " + d);
    g.add("tracking", "Tracking: 1Z" + g.hex(6) + "03" + g.digits(10) + " (UPS), FedEx " + g.digits(12) +
                          ", USPS " + group("94" + g.digits(20, false), {4}, {" "}));
    g.add("tracking", "Canada Post tracking number " + g.digits(16) + " — in transit");
    // Networks.
    g.add("network", "upstream=" + std::to_string(g.r(256)) + "." + std::to_string(g.r(256)) + "." +
                         std::to_string(g.r(256)) + "." + std::to_string(g.r(256)) + ":" + std::to_string(g.r(65536)) +
                         " peer " + std::to_string(100 + g.r(156)) + "." + std::to_string(100 + g.r(156)) + "." +
                         std::to_string(100 + g.r(156)) + "." + std::to_string(100 + g.r(156)));
    g.add("network", "addr 2001:db8:" + g.hex(4) + "::" + g.hex(4) + ":" + std::to_string(g.r(9999)) + " fe80::" +
                         g.hex(4) + ":" + g.hex(4) + "%eth0");
    // Cloud accounts outside any banking context.
    const std::string aws = g.digits(12);
    g.add("aws", "arn:aws:iam::" + aws + ":role/Deploy assumed in us-east-1");
    g.add("aws", "Deploying stack to AWS account " + aws + " (region ca-central-1)");
    g.add("aws", "{\"aws_account_id\": \"" + aws + "\", \"region\": \"us-west-2\"}");
    // Postal codes.
    g.add("postal", "Ship to Ottawa, ON K1A 0B1, or Beverly Hills, CA " + std::to_string(10000 + g.r(89999)) + "-" +
                        g.digits(4, false));
    // ISBNs (a valid ISBN-13 is Luhn-valid about one time in ten).
    std::string isbn = "978" + g.digits(9, false);
    int s = 0;
    for (std::size_t k = 0; k < 12; ++k) s += (isbn[k] - '0') * (k % 2 ? 3 : 1);
    isbn += static_cast<char>('0' + (10 - s % 10) % 10);
    g.add("isbn", "ISBN " + isbn.substr(0, 3) + "-" + isbn.substr(3, 1) + "-" + isbn.substr(4, 3) + "-" +
                      isbn.substr(7, 5) + "-" + isbn.substr(12) + " (paperback)");
    g.add("isbn", "{\"isbn13\": \"" + isbn + "\"}");
    // Coordinates.
    const std::string lat = std::to_string(40 + g.r(10)) + "." + g.digits(7, false);
    const std::string lon = std::to_string(70 + g.r(10)) + "." + g.digits(7, false);
    g.add("coords", "Meet at " + lat + ", -" + lon + " (see map)");
    g.add("coords", "{\"type\":\"Point\",\"coordinates\":[-" + lon + "," + lat + "]}");
    g.add("coords", "gps " + lat + " -" + lon);
    // LLM request/response metadata and numeric payloads.
    g.add("json", "{\"model\":\"gpt-4o\",\"usage\":{\"prompt_tokens\":" + std::to_string(g.r(100000)) +
                      ",\"completion_tokens\":" + std::to_string(g.r(4000)) + ",\"total_tokens\":" +
                      std::to_string(g.r(104000)) + "},\"created\":" + std::to_string(epoch) +
                      ",\"max_tokens\":4096,\"temperature\":0.7}");
    g.add("json", "{\"embedding\":[0." + g.digits(16, false) + ",-0." + g.digits(10, false) + ",0.00" +
                      g.digits(15, false) + "],\"logprob\":-" + std::to_string(g.r(9)) + "." + g.digits(17, false) +
                      "}");
    // Banking words around values that are not accounts.
    g.add("bank", "Your deposit of $" + std::to_string(1000 + g.r(9000)) + "." + g.digits(2, false) + " on " + d +
                      " was received; call the bank at 1-800-" + line + ".");
    g.add("bank", "Savings goal: " + std::to_string(10000 + g.r(90000)) + ".00 by " + d + ", account opened " + d);
  }
  return g.items;
}

TEST(EgressDetectorHardNegatives, FiringRateUnderFivePercent) {
  const auto items = hard_negatives();
  std::map<std::string, std::pair<int, int>> by_category;  // fired, total
  int fired = 0;
  for (const auto& [cat, text] : items) {
    const auto hit = scan(text);
    auto& c = by_category[cat];
    ++c.second;
    if (hit) {
      ++fired;
      ++c.first;
      std::printf("[ fired    ] %s %s@%zu: %s\n", cat.c_str(), std::string(hit->rule).c_str(), hit->offset,
                  text.c_str());
    }
  }
  for (const auto& [cat, c] : by_category) std::printf("[ negative ] %-9s %d/%d\n", cat.c_str(), c.first, c.second);
  const double rate = static_cast<double>(fired) / static_cast<double>(items.size());
  std::printf("[ negative ] firing rate %d/%zu = %.2f%%\n", fired, items.size(), rate * 100);
  EXPECT_LT(rate, 0.05);
}

}  // namespace
}  // namespace aegis::compliance
