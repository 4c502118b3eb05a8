#include "classify/validators.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "classify/normalize.hpp"

namespace aegis::classify {
namespace {

TEST(ClassifyValidators, LuhnAcceptsTestCardsAndRejectsNeighbours) {
  for (const char* n : {"4111111111111111", "5555555555554444", "2223003122003222", "378282246310005",
                        "6011111111111117", "3530111333300000", "30569309025904", "6200000000000005", "046454286",
                        "123456782", "79927398713"}) {
    EXPECT_TRUE(luhn_valid(n)) << n;
  }
  for (const char* n : {"4111111111111112", "1234567812345678", "123456789", "79927398710", "", "0", "4111-1111"}) {
    EXPECT_FALSE(luhn_valid(n)) << n;
  }
}

TEST(ClassifyValidators, Mod97AndIban) {
  EXPECT_TRUE(mod97_valid("GB82WEST12345698765432"));
  EXPECT_TRUE(mod97_valid("GB82 WEST 1234 5698 7654 32"));
  EXPECT_TRUE(mod97_valid("gb82west12345698765432"));
  EXPECT_TRUE(mod97_valid("DE89370400440532013000"));
  EXPECT_FALSE(mod97_valid("GB82WEST12345698765431"));
  EXPECT_FALSE(mod97_valid("GB82-WEST-1234"));
  EXPECT_FALSE(mod97_valid("GB8"));

  EXPECT_TRUE(iban_valid("GB82WEST12345698765432"));
  EXPECT_TRUE(iban_valid("DE89370400440532013000"));
  EXPECT_TRUE(iban_valid("FR1420041010050500013M02606"));
  EXPECT_TRUE(iban_valid("NL91ABNA0417164300"));
  EXPECT_FALSE(iban_valid("GB82WEST1234569876543"));    // wrong length for GB
  EXPECT_FALSE(iban_valid("XX82WEST12345698765432"));   // unknown country
  EXPECT_FALSE(iban_valid("GB82 WEST 1234 5698 7654 32"));  // compact form only
  EXPECT_EQ(iban_length("GB"), 22u);
  EXPECT_EQ(iban_length("DE"), 22u);
  EXPECT_EQ(iban_length("NO"), 15u);
  EXPECT_EQ(iban_length("US"), 0u);
}

TEST(ClassifyValidators, CardNetworksByPrefixAndLength) {
  EXPECT_EQ(card_network("4111111111111111"), CardNetwork::visa);
  EXPECT_EQ(card_network("4222222222222"), CardNetwork::visa);
  EXPECT_EQ(card_network("5555555555554444"), CardNetwork::mastercard);
  EXPECT_EQ(card_network("2221000000000009"), CardNetwork::mastercard);
  EXPECT_EQ(card_network("2720999999999996"), CardNetwork::mastercard);
  EXPECT_EQ(card_network("2220999999999999"), CardNetwork::none);
  EXPECT_EQ(card_network("2721000000000000"), CardNetwork::none);
  EXPECT_EQ(card_network("378282246310005"), CardNetwork::amex);
  EXPECT_EQ(card_network("341111111111111"), CardNetwork::amex);
  EXPECT_EQ(card_network("3782822463100050"), CardNetwork::none);  // Amex is 15 digits
  EXPECT_EQ(card_network("6011111111111117"), CardNetwork::discover);
  EXPECT_EQ(card_network("6445644564456445"), CardNetwork::discover);
  EXPECT_EQ(card_network("6500000000000002"), CardNetwork::discover);
  EXPECT_EQ(card_network("6430000000000000"), CardNetwork::maestro);  // 643: Maestro range (56-69)
  EXPECT_EQ(card_network("3528000000000007"), CardNetwork::jcb);
  EXPECT_EQ(card_network("3589000000000000"), CardNetwork::jcb);
  EXPECT_EQ(card_network("3527000000000000"), CardNetwork::none);
  EXPECT_EQ(card_network("30569309025904"), CardNetwork::diners);
  EXPECT_EQ(card_network("36227206271667"), CardNetwork::diners);
  EXPECT_EQ(card_network("38520000023237"), CardNetwork::diners);
  EXPECT_EQ(card_network("3060000000000000"), CardNetwork::none);
  EXPECT_EQ(card_network("6200000000000005"), CardNetwork::unionpay);
  EXPECT_EQ(card_network("6205500000000000004"), CardNetwork::unionpay);
  EXPECT_EQ(card_network("411111111111"), CardNetwork::none);          // 12 digits: only Maestro
  EXPECT_EQ(card_network("501840562240"), CardNetwork::maestro);
  EXPECT_EQ(card_network("6759649826438453"), CardNetwork::maestro);
  EXPECT_EQ(card_network("6759475277204056084"), CardNetwork::maestro);
  EXPECT_EQ(card_network("2201945807302152"), CardNetwork::mir);
  EXPECT_EQ(card_network("2205000000000000"), CardNetwork::none);
  EXPECT_EQ(card_network("6071736819303645"), CardNetwork::rupay);
  EXPECT_EQ(card_network("8200000000000000"), CardNetwork::rupay);
  EXPECT_EQ(card_network("8171000000000000"), CardNetwork::unionpay);
  EXPECT_EQ(card_network("5019154990951454"), CardNetwork::dankort);
  EXPECT_EQ(card_network("126212997220033"), CardNetwork::uatp);
  EXPECT_EQ(card_network("1262129972200331"), CardNetwork::none);  // UATP is 15 digits
  EXPECT_EQ(card_network("9792322453832363"), CardNetwork::troy);
  EXPECT_EQ(card_network("9791000000000000"), CardNetwork::none);
  EXPECT_EQ(card_network("7656907029313754"), CardNetwork::none);
  EXPECT_EQ(card_network("41111111111111111111"), CardNetwork::none);  // 20 digits
  EXPECT_EQ(card_network("1234567812345670"), CardNetwork::none);

  EXPECT_TRUE(card_valid("4111111111111111"));
  EXPECT_FALSE(card_valid("4111111111111112"));
  EXPECT_FALSE(card_valid("1234567812345670"));  // Luhn-valid but no network
}

TEST(ClassifyValidators, SinRules) {
  EXPECT_TRUE(sin_valid("046454286"));
  EXPECT_TRUE(sin_valid("123456782"));
  EXPECT_FALSE(sin_valid("123456789"));
  EXPECT_FALSE(sin_valid("12345678"));
  EXPECT_FALSE(sin_valid("1234567820"));
  EXPECT_TRUE(sin_needs_context("046454286"));
  EXPECT_TRUE(sin_needs_context("812345674"));
  EXPECT_FALSE(sin_needs_context("123456782"));
  EXPECT_FALSE(sin_needs_context("946454286"));  // temporary residents: 9 is assigned
}

TEST(ClassifyValidators, SsnStructure) {
  EXPECT_TRUE(ssn_structure_valid("123456789"));
  EXPECT_TRUE(ssn_structure_valid("078051120"));
  EXPECT_FALSE(ssn_structure_valid("000123456"));
  EXPECT_FALSE(ssn_structure_valid("666123456"));
  EXPECT_FALSE(ssn_structure_valid("900123456"));
  EXPECT_FALSE(ssn_structure_valid("123003456"));
  EXPECT_FALSE(ssn_structure_valid("123450000"));
}

TEST(ClassifyValidators, PlaceholdersUuidsAndHashes) {
  for (const char* v : {"", "...", "sk-...", "<your-key>", "${API_KEY}", "{{token}}", "YOUR_API_KEY", "API_KEY",
                        "xxxxxxxxxxxxxxxx", "****************", "AKIAIOSFODNN7EXAMPLE", "changeme", "$SECRET",
                        "aaaaaaaaaaaaaaaaaaaa", "replace-with-real-key", "%s"}) {
    EXPECT_TRUE(looks_like_placeholder(v)) << v;
  }
  for (const char* v : {"Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3", "hunter22", "d41d8cd98f00b204e9800998ecf8427e"}) {
    EXPECT_FALSE(looks_like_placeholder(v)) << v;
  }
  EXPECT_TRUE(is_uuid("550e8400-e29b-41d4-a716-446655440000"));
  EXPECT_FALSE(is_uuid("550e8400-e29b-41d4-a716-44665544000"));
  EXPECT_FALSE(is_uuid("550e8400xe29b-41d4-a716-446655440000"));
  EXPECT_TRUE(is_hex_digest("d41d8cd98f00b204e9800998ecf8427e"));
  EXPECT_TRUE(is_hex_digest("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
  EXPECT_TRUE(is_hex_digest("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  EXPECT_FALSE(is_hex_digest("da39a3ee5e6b4b0d3255bfef95601890afd8070"));
  EXPECT_FALSE(is_hex_digest("zz39a3ee5e6b4b0d3255bfef95601890afd80709"));
}

TEST(ClassifyValidators, EntropyAndClasses) {
  EXPECT_DOUBLE_EQ(shannon_entropy("aaaa"), 0.0);
  EXPECT_DOUBLE_EQ(shannon_entropy("abab"), 1.0);
  EXPECT_GT(shannon_entropy("Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3"), 4.0);
  EXPECT_EQ(char_classes("abc"), 1);
  EXPECT_EQ(char_classes("abC1"), 3);
  EXPECT_EQ(char_classes("-_/"), 0);
}

TEST(ClassifyValidators, ContextWordsAreCaseInsensitiveAndWordBounded) {
  const std::string text = "Employee SIN: 046454286";
  const auto pos = text.find('0');
  EXPECT_TRUE(has_context_before(text, pos, 48, {"sin"}));
  EXPECT_TRUE(has_context_before("my social insurance number is 046454286", 30, 48, {"social insurance"}));
  EXPECT_FALSE(has_context_before("using 046454286", 6, 48, {"sin"}));   // inside a word
  EXPECT_FALSE(has_context_before("sine 046454286", 5, 48, {"sin"}));
  EXPECT_FALSE(has_context_before("SIN" + std::string(60, ' ') + "046454286", 63, 48, {"sin"}));  // too far
  const std::vector<std::string> words = {"employee"};
  EXPECT_TRUE(has_context_after("E-123 (employee)", 5, 16, words));
  EXPECT_FALSE(has_context_after("E-123 employees", 5, 16, words));
}

TEST(ClassifyValidators, ColumnHeaders) {
  const std::string csv = "id,name,sin\n1,Jane,046454286\n2,John,130692544";
  EXPECT_TRUE(column_header_has(csv, csv.find("046"), {"sin"}));
  EXPECT_TRUE(column_header_has(csv, csv.find("130"), {"sin"}));
  EXPECT_FALSE(column_header_has(csv, csv.find("Jane"), {"sin"}));
  EXPECT_FALSE(column_header_has(csv, 0, {"id"}));  // no line above
  const std::string md = "| who | Card Number |\n|---|---|\n| J | 4111 |";
  EXPECT_TRUE(column_header_has(md, md.find("4111"), {"card"}));
  const std::string gap = "id,sin\n\n1,046454286";  // a blank line ends the table
  EXPECT_FALSE(column_header_has(gap, gap.find("046"), {"sin"}));
  const std::string tsv = "id\tsin\n1\t046454286";
  EXPECT_TRUE(column_header_has(tsv, tsv.find("046"), {"sin"}));
  EXPECT_FALSE(column_header_has("using sin\n046454286", 10, {"sin"}));  // no delimiter: not a table
}

TEST(ClassifyValidators, InternalDomainsIncludeSubdomainsOnly) {
  const std::vector<std::string> internal = {"example-corp.com"};
  EXPECT_TRUE(is_internal_domain("example-corp.com", internal));
  EXPECT_TRUE(is_internal_domain("EXAMPLE-CORP.COM", internal));
  EXPECT_TRUE(is_internal_domain("mail.eng.example-corp.com", internal));
  EXPECT_FALSE(is_internal_domain("example-corp.com.evil.example.net", internal));
  EXPECT_FALSE(is_internal_domain("notexample-corp.com", internal));
  EXPECT_FALSE(is_internal_domain("example-corp.co", internal));
}

// ---------------------------------------------------------------------------

TEST(ClassifyNormalize, AsciiIsUsedWithoutACopy) {
  const std::string text = "plain ascii 4111 1111 1111 1111";
  NormalizedText n;
  n.reset(text);
  EXPECT_TRUE(n.identity());
  EXPECT_EQ(n.text().data(), text.data());
  EXPECT_EQ(n.to_original(6, 11), std::make_pair(std::size_t{6}, std::size_t{11}));
}

TEST(ClassifyNormalize, FullWidthDigitsBecomeAsciiAndMapBack) {
  const std::string text = "ID \xef\xbc\x94\xef\xbc\x91";  // "ID ４１"
  NormalizedText n;
  n.reset(text);
  EXPECT_FALSE(n.identity());
  EXPECT_EQ(n.text(), "ID 41");
  EXPECT_EQ(n.to_original(3, 5), std::make_pair(std::size_t{3}, std::size_t{9}));
  EXPECT_EQ(n.to_original(4, 5), std::make_pair(std::size_t{6}, std::size_t{9}));
}

TEST(ClassifyNormalize, ZeroWidthAndSoftHyphenAreRemoved) {
  const std::string text = "41\xe2\x80\x8b" "11\xc2\xad" "22\xef\xbb\xbf" "3\xe2\x81\xa0" "4\xe2\x80\x8d";
  NormalizedText n;
  n.reset(text);
  EXPECT_EQ(n.text(), "4111223" "4");
  // The whole normalised text maps back to the first and the last kept byte.
  const auto [s, e] = n.to_original(0, n.text().size());
  EXPECT_EQ(s, 0u);
  EXPECT_EQ(e, text.size() - 3);  // the trailing zero-width joiner is not part of any kept character
}

TEST(ClassifyNormalize, DigitsOfEveryScriptBecomeAsciiAndMapBack) {
  NormalizedText n;
  // Arabic-Indic 4 1, Extended Arabic-Indic 5, Devanagari 9, Bengali 0, Thai 7, Mathematical bold 3 (NFKC).
  const std::string text = "n \xd9\xa4\xd9\xa1 \xdb\xb5\xe0\xa5\xaf\xe0\xa7\xa6\xe0\xb9\x97\xf0\x9d\x9f\x91";
  n.reset(text);
  EXPECT_EQ(n.text(), "n 41 59073");
  EXPECT_EQ(n.to_original(2, 4), std::make_pair(std::size_t{2}, std::size_t{6}));   // two 2-byte digits
  EXPECT_EQ(n.to_original(5, 10), std::make_pair(std::size_t{7}, text.size()));
  EXPECT_EQ(n.to_original(6, 7), std::make_pair(std::size_t{9}, std::size_t{12}));  // the Devanagari 9
}

TEST(ClassifyNormalize, SpacesAndDashesAreLumped) {
  NormalizedText n;
  const std::string text = "a\xc2\xa0" "b\xe2\x80\x93" "c\xe2\x80\x91" "d\xe3\x80\x80" "e";  // NBSP, en dash, nb hyphen, ideographic space
  n.reset(text);
  EXPECT_EQ(n.text(), "a b-c-d e");
  // Thin space, narrow NBSP, figure space, minus sign.
  n.reset("1\xe2\x80\x89" "2\xe2\x80\xaf" "3\xe2\x80\x87" "4\xe2\x88\x92" "5");
  EXPECT_EQ(n.text(), "1 2 3 4-5");
}

TEST(ClassifyNormalize, CombiningMarksComposeAndInvalidBytesSurvive) {
  NormalizedText n;
  const std::string composed = "caf" "e\xcc\x81";  // e + combining acute
  n.reset(composed);
  EXPECT_EQ(n.text(), "caf\xc3\xa9");
  EXPECT_EQ(n.to_original(3, 5), std::make_pair(std::size_t{3}, std::size_t{6}));

  const std::string invalid = "a\xff" "b\xc3";
  n.reset(invalid);
  EXPECT_EQ(n.text(), invalid);
}

}  // namespace
}  // namespace aegis::classify
