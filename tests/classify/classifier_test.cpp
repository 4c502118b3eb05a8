#include "classify/classifier.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "classify/entity_types.hpp"

namespace aegis::classify {
namespace {

using Found = std::vector<std::pair<std::string, std::string>>;  // (type, matched text)

const Classifier& default_classifier() {
  static const auto c = [] {
    config::ClassificationConfig cfg;
    cfg.internal_domains = {"example-corp.com"};
    return make_classifier(cfg);
  }();
  return *c;
}

Found found(const Classifier& c, const std::string& text, const Marking& marking = {}) {
  Found out;
  const auto r = c.classify(text, marking);
  for (const auto& f : r.findings) out.emplace_back(f.entity_type, text.substr(f.start, f.end - f.start));
  return out;
}
Found found(const std::string& text) { return found(default_classifier(), text); }
Level level_of(const std::string& text, const Marking& marking = {}) {
  return default_classifier().classify(text, marking).level;
}

Found one(std::string_view type, std::string value) { return Found{{std::string(type), std::move(value)}}; }

// ---------------------------------------------------------------------------
// Entity types, positive and negative

TEST(ClassifierEntities, CreditCards) {
  EXPECT_EQ(found("card 4111111111111111."), one(entity::kCreditCard, "4111111111111111"));
  EXPECT_EQ(found("card 4111 1111 1111 1111 exp"), one(entity::kCreditCard, "4111 1111 1111 1111"));
  EXPECT_EQ(found("card 5555-5555-5555-4444"), one(entity::kCreditCard, "5555-5555-5555-4444"));
  EXPECT_EQ(found("mc 2223003122003222"), one(entity::kCreditCard, "2223003122003222"));
  EXPECT_EQ(found("amex 3782 822463 10005"), one(entity::kCreditCard, "3782 822463 10005"));
  EXPECT_EQ(found("unionpay 6205500000000000004"), one(entity::kCreditCard, "6205500000000000004"));
  // Fail closed: an order number with a card prefix that passes Luhn is a card.
  EXPECT_EQ(found("Order #4111111111111111 shipped"), one(entity::kCreditCard, "4111111111111111"));
  EXPECT_EQ(level_of("Order #4111111111111111 shipped"), Level::RESTRICTED);

  EXPECT_TRUE(found("ref 4111111111111112").empty());        // Luhn fails
  EXPECT_TRUE(found("ref 1234567812345670").empty());        // Luhn ok, no network
  EXPECT_TRUE(found("sha a4111111111111111b").empty());      // glued to a word
  EXPECT_TRUE(found("41111111111111111111 digits").empty()); // 20 digits
}

TEST(ClassifierEntities, CardSeparatorsMustBeConsistent) {
  EXPECT_TRUE(found("4111 1111-1111 1111").empty());
  EXPECT_TRUE(found("4111-1111 1111-1111").empty());
  EXPECT_TRUE(found("4111  1111 1111 1111").empty());  // a double space breaks the run
  // ...but a card next to another number with a different separator is still found.
  EXPECT_EQ(found("2024-05-14 4111111111111111"), one(entity::kCreditCard, "4111111111111111"));
}

TEST(ClassifierEntities, CanadianSin) {
  EXPECT_EQ(found("SIN 046 454 286"), one(entity::kCaSin, "046 454 286"));
  EXPECT_EQ(found("file 123-456-782 today"), one(entity::kCaSin, "123-456-782"));  // grouped, assigned prefix
  EXPECT_EQ(found("social insurance number: 123456782"), one(entity::kCaSin, "123456782"));
  EXPECT_EQ(found("NAS : 046-454-286"), one(entity::kCaSin, "046-454-286"));
  EXPECT_EQ(found("numéro d'assurance sociale 046454286"), one(entity::kCaSin, "046454286"));

  EXPECT_TRUE(found("ref 046 454 286").empty());         // starts with 0: needs context
  EXPECT_TRUE(found("order 123456782").empty());         // plain: needs context
  EXPECT_TRUE(found("SIN 123 456 789").empty());         // Luhn fails
  EXPECT_TRUE(found("SIN 123-456 782").empty());         // mixed separators
  EXPECT_TRUE(found("total $123 456 782").empty());      // grouped amount
  EXPECT_TRUE(found("total 123 456 782 CAD").empty());
  EXPECT_TRUE(found("1 123 456 782 units").empty());     // part of a longer grouped number
  EXPECT_TRUE(found("phone 123 456 782").empty());
  EXPECT_TRUE(found("using 046454286").empty());         // "sin" inside a word is no context
  EXPECT_EQ(found("call 416-555-0199"), one(entity::kPhone, "416-555-0199"));  // a phone is not a SIN
}

TEST(ClassifierEntities, SinContextWindow) {
  const std::string near = "SIN" + std::string(30, ' ') + "046454286";
  const std::string far = "SIN" + std::string(80, ' ') + "046454286";
  EXPECT_EQ(found(near), one(entity::kCaSin, "046454286"));
  EXPECT_TRUE(found(far).empty());
  const std::string after = "046454286 is my SIN";  // the word must stand before the number
  EXPECT_TRUE(found(after).empty());
}

TEST(ClassifierEntities, BankAccounts) {
  EXPECT_EQ(found("deposit 12345-003-1234567"), one(entity::kBankAccount, "12345-003-1234567"));
  EXPECT_EQ(found("deposit 00012-003 1234567"), one(entity::kBankAccount, "00012-003 1234567"));
  EXPECT_EQ(found("account 1234567"), one(entity::kBankAccount, "1234567"));
  EXPECT_EQ(found("acct #: 98765432"), one(entity::kBankAccount, "98765432"));
  EXPECT_EQ(found("Chequing no. 0012345678"), one(entity::kBankAccount, "0012345678"));
  EXPECT_EQ(found("savings account number is 12345678901"), one(entity::kBankAccount, "12345678901"));
  EXPECT_EQ(found("a/c 7654321"), one(entity::kBankAccount, "7654321"));
  EXPECT_EQ(found("compte: 7654321"), one(entity::kBankAccount, "7654321"));
  EXPECT_TRUE(found("account 2024 created").empty());
  EXPECT_TRUE(found("accounting 12345678").empty());
  EXPECT_TRUE(found("account was opened 12345678").empty());
  EXPECT_TRUE(found("after checking 15000000 rows").empty());  // "checking" the verb
  EXPECT_EQ(found("Checking: 15000000"), one(entity::kBankAccount, "15000000"));
  EXPECT_EQ(found("checking no 15000000"), one(entity::kBankAccount, "15000000"));
}

TEST(ClassifierEntities, Iban) {
  EXPECT_EQ(found("IBAN GB82WEST12345698765432."), one(entity::kIban, "GB82WEST12345698765432"));
  EXPECT_EQ(found("IBAN GB82 WEST 1234 5698 7654 32 ok"), one(entity::kIban, "GB82 WEST 1234 5698 7654 32"));
  EXPECT_EQ(found("DE89370400440532013000"), one(entity::kIban, "DE89370400440532013000"));
  EXPECT_TRUE(found("GB82WEST12345698765431").empty());
  EXPECT_TRUE(found("GB82WEST123456987654321").empty());  // too long for GB
  EXPECT_EQ(level_of("IBAN DE89370400440532013000"), Level::RESTRICTED);
}

TEST(ClassifierEntities, VendorSecrets) {
  const std::string body = "Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3Fg5Js0Ty2Ue7Io4Ap9Sl1Mn6Bv3";
  EXPECT_EQ(found("sk-ant-api03-" + body), one(entity::kApiKey, "sk-ant-api03-" + body));
  EXPECT_EQ(found("key sk-proj-" + body), one(entity::kApiKey, "sk-proj-" + body));
  EXPECT_EQ(found("key sk-" + body.substr(0, 48)), one(entity::kApiKey, "sk-" + body.substr(0, 48)));
  EXPECT_EQ(found("AKIAZ3MSJV4WXHRPQK7A"), one(entity::kApiKey, "AKIAZ3MSJV4WXHRPQK7A"));
  EXPECT_EQ(found("ASIAZ3MSJV4WXHRPQK7A"), one(entity::kApiKey, "ASIAZ3MSJV4WXHRPQK7A"));
  EXPECT_EQ(found("aws_secret_access_key=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"),
            one(entity::kApiKey, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq7Lm2Rt9V"));
  EXPECT_EQ(found("ghp_" + body.substr(0, 36)), one(entity::kApiKey, "ghp_" + body.substr(0, 36)));
  EXPECT_EQ(found("gho_" + body.substr(0, 36)), one(entity::kApiKey, "gho_" + body.substr(0, 36)));
  EXPECT_EQ(found("github_pat_" + body + "_" + body), one(entity::kApiKey, "github_pat_" + body + "_" + body));
  EXPECT_EQ(found("xoxb-17653672481-19874698323-" + body.substr(0, 24)),
            one(entity::kApiKey, "xoxb-17653672481-19874698323-" + body.substr(0, 24)));
  EXPECT_EQ(found("sk_live_" + body.substr(0, 24)), one(entity::kApiKey, "sk_live_" + body.substr(0, 24)));
  EXPECT_EQ(found("rk_live_" + body.substr(0, 24)), one(entity::kApiKey, "rk_live_" + body.substr(0, 24)));
  EXPECT_EQ(found("AIzaSyD-" + body.substr(0, 31)), one(entity::kApiKey, "AIzaSyD-" + body.substr(0, 31)));
  EXPECT_EQ(level_of("sk-proj-" + body), Level::CONFIDENTIAL);
}

TEST(ClassifierEntities, TokensAndKeys) {
  const std::string jwt =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIy"
      "fQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  EXPECT_EQ(found("token " + jwt + " end"), one(entity::kJwt, jwt));
  EXPECT_EQ(found("Authorization: Bearer " + jwt), one(entity::kJwt, jwt));  // JWT is the more specific type
  EXPECT_EQ(found("Authorization: Bearer Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3Fg5"), one(entity::kBearerToken, "Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3Fg5"));
  const std::string pem =
      "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAxq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3Fg5Js0\nTy2Ue7Io4Ap9Sl1Mn6Bv3\n"
      "-----END RSA PRIVATE KEY-----";
  EXPECT_EQ(found("key:\n" + pem + "\nthanks"), one(entity::kPrivateKey, pem));
  EXPECT_EQ(found("api_key=Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3"), one(entity::kApiKey, "Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3"));
  EXPECT_EQ(found("{\"client_secret\": \"Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3\"}"), one(entity::kApiKey, "Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3"));
  EXPECT_EQ(found("password=hunter22"), one(entity::kApiKey, "hunter22"));
  EXPECT_EQ(found("postgres://app:s3cretPw9@db/x"), one(entity::kApiKey, "s3cretPw9"));
}

TEST(ClassifierEntities, SecretLookalikesAreNotSecrets) {
  for (const std::string text : {
           "OPENAI_API_KEY=sk-...", "sk-xxxxxxxxxxxxxxxxxxxxxxxx", "api_key=<your-key>", "api_key=${API_KEY}",
           "api_key=YOUR_API_KEY", "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
           "pk_live_Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3", "pk_test_Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3", "id 550e8400-e29b-41d4-a716-446655440000",
           "commit e83c5163316f89bfbde7d9ab23ca2e25604af290", "md5 d41d8cd98f00b204e9800998ecf8427e",
           "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "Bearer of bad news",
           "password: required", "token = os.environ['TOKEN']", "max_tokens: 4096",
           "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----", "Authorization: Bearer <token>"}) {
    EXPECT_TRUE(found(text).empty()) << text;
  }
}

TEST(ClassifierEntities, PersonalInformation) {
  EXPECT_EQ(found("mail jane@example.com."), one(entity::kEmail, "jane@example.com"));
  EXPECT_EQ(found("tel (416) 555-0199"), one(entity::kPhone, "(416) 555-0199"));
  EXPECT_EQ(found("tel +1 416-555-0199"), one(entity::kPhone, "+1 416-555-0199"));
  EXPECT_EQ(found("tel 416.555.0199"), one(entity::kPhone, "416.555.0199"));
  EXPECT_EQ(found("uk +44 20 7183 8750"), one(entity::kPhone, "+44 20 7183 8750"));
  EXPECT_EQ(found("fr +33142685300"), one(entity::kPhone, "+33142685300"));
  EXPECT_EQ(found("SSN 123-45-6789"), one(entity::kUsSsn, "123-45-6789"));
  EXPECT_EQ(found("host 192.168.10.20:80"), one(entity::kIpAddress, "192.168.10.20"));
  EXPECT_EQ(found("host 2001:db8::8a2e:370:7334"), one(entity::kIpAddress, "2001:db8::8a2e:370:7334"));
  EXPECT_EQ(found("Ottawa K1A 0B1"), one(entity::kCaPostalCode, "K1A 0B1"));
  EXPECT_EQ(level_of("mail jane@example.com"), Level::INTERNAL);

  EXPECT_TRUE(found("order 4165550199").empty());        // a bare 10-digit run needs a phone word
  EXPECT_TRUE(found("SSN 666-12-3456").empty());
  EXPECT_TRUE(found("v1.2.3.4 and 256.1.1.1").empty());
  EXPECT_TRUE(found("at 12:30:45, std::string").empty());
  EXPECT_TRUE(found("user@localhost").empty());
  EXPECT_TRUE(found("ZX1 2AB").empty());
}

TEST(ClassifierEntities, InternalEmailDomainsAndSubdomains) {
  const auto& c = default_classifier();
  auto email_level = [&](const std::string& text) {
    const auto r = c.classify(text);
    EXPECT_EQ(r.findings.size(), 1u) << text;
    return r.findings.empty() ? Level::PUBLIC : r.findings[0].level;
  };
  EXPECT_EQ(email_level("a@example-corp.com"), Level::CONFIDENTIAL);
  EXPECT_EQ(email_level("a@EXAMPLE-CORP.COM"), Level::CONFIDENTIAL);
  EXPECT_EQ(email_level("a@mail.eng.example-corp.com"), Level::CONFIDENTIAL);
  EXPECT_EQ(email_level("a@example-corp.com.evil.example.net"), Level::INTERNAL);
  EXPECT_EQ(email_level("a@notexample-corp.com"), Level::INTERNAL);
  EXPECT_EQ(c.classify("a@example-corp.com").findings[0].rule, "email.internal");

  config::ClassificationConfig none;
  EXPECT_EQ(make_classifier(none)->classify("a@example-corp.com").level, Level::INTERNAL);
}

TEST(ClassifierEntities, OverlapsKeepTheMoreRestrictiveThenTheLonger) {
  // A card inside a secret-looking assignment: RESTRICTED wins.
  auto r = default_classifier().classify("token=4111111111111111");
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].entity_type, entity::kCreditCard);
  // An account context around a transit number: one finding.
  r = default_classifier().classify("account 00012-003 1234567");
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].entity_type, entity::kBankAccount);
  // A secret's password part that looks like an e-mail local part.
  r = default_classifier().classify("redis://u:Pw9xq7Lm2@cache.example.net");
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].entity_type, entity::kApiKey);
}

// ---------------------------------------------------------------------------
// Normalisation: matching sees through obfuscation, offsets stay in the original

TEST(ClassifierNormalization, FullWidthDigitsMapToOriginalOffsets) {
  const std::string text = "card \xef\xbc\x94\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91" "111111111111 ok";  // ４１１１ + 12 ASCII
  const auto r = default_classifier().classify(text);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].entity_type, entity::kCreditCard);
  EXPECT_EQ(r.findings[0].start, 5u);
  EXPECT_EQ(r.findings[0].end, 5u + 12 + 12);
}

TEST(ClassifierNormalization, ZeroWidthInsideACardIsSeenThrough) {
  const std::string zw = "\xe2\x80\x8b";
  const std::string text = "x 4111" + zw + "1111" + zw + "1111" + zw + "1111 y";
  const auto r = default_classifier().classify(text);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].entity_type, entity::kCreditCard);
  EXPECT_EQ(text.substr(r.findings[0].start, r.findings[0].end - r.findings[0].start),
            "4111" + zw + "1111" + zw + "1111" + zw + "1111");
}

TEST(ClassifierNormalization, SoftHyphenAndNbspInsideASin) {
  const std::string text = "SIN\xc2\xa0" "046\xc2\xad" "454\xc2\xad" "286";
  const auto r = default_classifier().classify(text);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].entity_type, entity::kCaSin);
  EXPECT_EQ(r.findings[0].start, 5u);
  EXPECT_EQ(r.findings[0].end, text.size());
}

TEST(ClassifierNormalization, FindingsLandOnUtf8Boundaries) {
  const std::string text = "Zoë's email is zoë@example.com, SIN ０４６ ４５４ ２８６ — café";
  const auto r = default_classifier().classify(text);
  ASSERT_EQ(r.findings.size(), 2u);
  for (const auto& f : r.findings) {
    EXPECT_NE(static_cast<unsigned char>(text[f.start]) & 0xC0, 0x80);
    if (f.end < text.size()) {
      EXPECT_NE(static_cast<unsigned char>(text[f.end]) & 0xC0, 0x80);
    }
  }
  EXPECT_EQ(text.substr(r.findings[0].start, r.findings[0].end - r.findings[0].start), "zoë@example.com");
  EXPECT_EQ(text.substr(r.findings[1].start, r.findings[1].end - r.findings[1].start), "０４６ ４５４ ２８６");
}

// ---------------------------------------------------------------------------
// Levels and the PUBLIC marking

TEST(ClassifierMarking, PublicOnlyWhenMarkedAndNothingAboveIsFound) {
  EXPECT_EQ(level_of("plain text"), Level::INTERNAL);
  EXPECT_EQ(level_of("[PUBLIC]\nOffice hours are 9 to 5."), Level::PUBLIC);
  EXPECT_EQ(level_of("\n \n  [public]  \r\nOffice hours."), Level::PUBLIC);
  EXPECT_EQ(level_of("classification: public\nBlog draft."), Level::PUBLIC);
  EXPECT_EQ(level_of("Classification:PUBLIC\nBlog draft."), Level::PUBLIC);
  EXPECT_EQ(level_of("classification: \"public\"\nBlog draft."), Level::PUBLIC);
  EXPECT_EQ(level_of("Office hours.", Marking{true}), Level::PUBLIC);

  // PII (INTERNAL) keeps a marked text INTERNAL; a marking never lowers a level.
  EXPECT_EQ(level_of("[PUBLIC]\nWrite to press@example.com"), Level::INTERNAL);
  EXPECT_EQ(level_of("Write to press@example.com", Marking{true}), Level::INTERNAL);
  EXPECT_EQ(level_of("[PUBLIC]\ncard 4111111111111111"), Level::RESTRICTED);
  EXPECT_EQ(level_of("key sk-proj-Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3Fg5Js0", Marking{true}), Level::CONFIDENTIAL);

  // Only the first non-blank line, and only the marker on its own.
  EXPECT_EQ(level_of("hello\n[PUBLIC]\n"), Level::INTERNAL);
  EXPECT_EQ(level_of("[PUBLIC] and more on the line"), Level::INTERNAL);
  EXPECT_EQ(level_of("classification: internal"), Level::INTERNAL);
  EXPECT_TRUE(text_marked_public("\xef\xbb\xbf[PUBLIC]") == false);  // raw: the BOM is not blank...
  EXPECT_EQ(level_of("\xef\xbb\xbf[PUBLIC]\nhi"), Level::PUBLIC);     // ...but classify() removes it first
}

TEST(ClassifierMarking, EmptyAndHugeInputs) {
  EXPECT_EQ(default_classifier().classify("").level, Level::INTERNAL);
  EXPECT_TRUE(default_classifier().classify("").findings.empty());
  std::string big(1 << 20, 'a');
  big.replace(500000, 16, "4111111111111111");
  big[499999] = ' ';
  big[500016] = ' ';
  const auto r = default_classifier().classify(big);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].start, 500000u);
}

TEST(ClassifierMarking, AdversarialRunsStayBounded) {
  // Long digit runs, repeated triggers: no finding out of range, no quadratic blow-up.
  std::string digits(200000, '1');
  std::string spaced;
  for (int i = 0; i < 50000; ++i) spaced += "1 ";
  std::string ats;
  for (int i = 0; i < 50000; ++i) ats += "a@b.";
  std::string pems;
  for (int i = 0; i < 5000; ++i) pems += "-----BEGIN PRIVATE KEY-----";
  for (const auto* text : {&digits, &spaced, &ats, &pems}) {
    const auto r = default_classifier().classify(*text);
    for (const auto& f : r.findings) EXPECT_LE(f.end, text->size());
  }
}

// ---------------------------------------------------------------------------
// Custom recognizers

config::CustomRecognizer recognizer(std::string name, std::string pattern, std::string type, Level level,
                                    std::string validator = "", std::vector<std::string> context = {}) {
  config::CustomRecognizer r;
  r.name = std::move(name);
  r.pattern = std::move(pattern);
  r.entity_type = std::move(type);
  r.level = level;
  r.validator = std::move(validator);
  r.context_words = std::move(context);
  return r;
}

TEST(ClassifierCustom, RecognizersJoinTheScan) {
  config::ClassificationConfig cfg;
  cfg.custom_recognizers.push_back(recognizer("employee_id", R"(\bEMP-\d{6}\b)", "EMPLOYEE_ID", Level::CONFIDENTIAL));
  const auto c = make_classifier(cfg);
  const auto r = c->classify("badge EMP-004211 and EMP-12 and card 4111111111111111");
  ASSERT_EQ(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].entity_type, "EMPLOYEE_ID");
  EXPECT_EQ(r.findings[0].rule, "custom:employee_id");
  EXPECT_EQ(r.findings[0].level, Level::CONFIDENTIAL);
  EXPECT_EQ(r.findings[0].start, 6u);
  EXPECT_EQ(r.findings[0].end, 16u);
  EXPECT_EQ(r.findings[1].entity_type, entity::kCreditCard);
  EXPECT_EQ(r.level, Level::RESTRICTED);
  EXPECT_EQ(c->classify("badge EMP-004211").level, Level::CONFIDENTIAL);
  // Custom patterns run on the normalised text too: full-width digits.
  EXPECT_EQ(c->classify("EMP-\xef\xbc\x90\xef\xbc\x90\xef\xbc\x94\xef\xbc\x92\xef\xbc\x91\xef\xbc\x91").findings.size(), 1u);
}

TEST(ClassifierCustom, ValidatorsAndContextWords) {
  config::ClassificationConfig cfg;
  cfg.custom_recognizers.push_back(recognizer("member", R"(\bM\d{8}\b)", "MEMBER_NO", Level::RESTRICTED, "luhn"));
  cfg.custom_recognizers.push_back(recognizer("ref", R"(\b[A-Z]{2}\d{2}[A-Z0-9]{6,20}\b)", "BANK_REF", Level::RESTRICTED, "mod97"));
  cfg.custom_recognizers.push_back(
      recognizer("policy", R"(\b\d{7}\b)", "POLICY_NO", Level::CONFIDENTIAL, "", {"policy", "police"}));
  const auto c = make_classifier(cfg);
  EXPECT_EQ(found(*c, "M12345674"), one("MEMBER_NO", "M12345674"));  // 12345674 passes Luhn
  EXPECT_TRUE(found(*c, "M12345678").empty());
  EXPECT_EQ(found(*c, "ref NL91ABNA0417164300"), (Found{{"IBAN_CODE", "NL91ABNA0417164300"}}));  // built-in wins the tie
  EXPECT_EQ(found(*c, "ref GB20NWBK6016133192"), one("BANK_REF", "GB20NWBK6016133192"));  // mod-97 ok, not an IBAN length
  EXPECT_TRUE(found(*c, "ref GB21NWBK6016133192").empty());
  EXPECT_EQ(found(*c, "Policy number 1234567"), one("POLICY_NO", "1234567"));
  EXPECT_EQ(found(*c, "1234567 (police)"), one("POLICY_NO", "1234567"));
  EXPECT_TRUE(found(*c, "room 1234567").empty());
}

TEST(ClassifierCustom, PatternsVectorscanCannotCompileFallBackToRe2) {
  config::ClassificationConfig cfg;
  // (?U) (ungreedy) is RE2 syntax Vectorscan rejects: this recognizer runs on RE2 alone.
  cfg.custom_recognizers.push_back(recognizer("lazy", R"((?U)TKT-\d+)", "TICKET", Level::INTERNAL));
  cfg.custom_recognizers.push_back(recognizer("case", R"((?i)proj-[a-z]{4}\b)", "PROJECT", Level::CONFIDENTIAL));
  const auto c = make_classifier(cfg);
  EXPECT_EQ(found(*c, "see TKT-4411 now"), one("TICKET", "TKT-4"));  // ungreedy: the shortest match
  EXPECT_EQ(found(*c, "see PROJ-Abcd"), one("PROJECT", "PROJ-Abcd"));
}

TEST(ClassifierCustom, InvalidConfigurationThrowsNamingTheRecognizer) {
  auto throws_with = [](config::CustomRecognizer r, const std::string& needle) {
    config::ClassificationConfig cfg;
    cfg.custom_recognizers.push_back(std::move(r));
    try {
      make_classifier(cfg);
      ADD_FAILURE() << "expected an exception mentioning " << needle;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  throws_with(recognizer("broken", "EMP-(\\d+", "X", Level::INTERNAL), "'broken'");
  throws_with(recognizer("backref", "(a)\\1", "X", Level::INTERNAL), "invalid pattern");
  throws_with(recognizer("empty", "x*", "X", Level::INTERNAL), "empty string");
  throws_with(recognizer("val", "X\\d+", "X", Level::INTERNAL, "crc32"), "unknown validator");
  throws_with(recognizer("notype", "X\\d+", "", Level::INTERNAL), "entity_type");
}

// ---------------------------------------------------------------------------

TEST(ClassifierThreads, ClassifyFromFourThreads) {
  config::ClassificationConfig cfg;
  cfg.internal_domains = {"example-corp.com"};
  cfg.custom_recognizers.push_back(recognizer("employee_id", R"(\bEMP-\d{6}\b)", "EMPLOYEE_ID", Level::CONFIDENTIAL));
  const auto c = make_classifier(cfg);
  std::vector<std::string> texts = {
      "card 4111 1111 1111 1111 and SIN 046 454 286",
      "mail a@example-corp.com, EMP-004211, ip 10.0.0.1",
      "caf\xc3\xa9 \xef\xbc\x94\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91 1111 1111 1111",
      "nothing to see here",
      "IBAN GB82 WEST 1234 5698 7654 32, key sk-proj-Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3Fg5Js0",
  };
  std::vector<Classification> expected;
  for (const auto& t : texts) expected.push_back(c->classify(t));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::size_t k = static_cast<std::size_t>(i + t) % texts.size();
        const auto r = c->classify(texts[k]);
        bool same = r.level == expected[k].level && r.findings.size() == expected[k].findings.size();
        for (std::size_t j = 0; same && j < r.findings.size(); ++j) {
          same = r.findings[j].start == expected[k].findings[j].start && r.findings[j].end == expected[k].findings[j].end &&
                 r.findings[j].entity_type == expected[k].findings[j].entity_type;
        }
        if (!same) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(expected[0].level, Level::RESTRICTED);
  EXPECT_EQ(expected[2].level, Level::RESTRICTED);
}

}  // namespace
}  // namespace aegis::classify
