#include "classify/classifier.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "classify/entity_types.hpp"
#include "support/digits_in_script.hpp"

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

  EXPECT_TRUE(found("ref 4111111111111112").empty());         // Luhn fails
  EXPECT_TRUE(found("ref 1234567812345670").empty());         // Luhn ok, no network
  EXPECT_TRUE(found("sha a4111111111111111b").empty());       // glued to a word
  EXPECT_TRUE(found("41111111111111111111 digits").empty());  // 20 digits
}

TEST(ClassifierEntities, CardGroupingsAsWritten) {
  // Mixed and repeated separators within one number are still one number (issue 12).
  EXPECT_EQ(found("4111 1111-1111 1111"), one(entity::kCreditCard, "4111 1111-1111 1111"));
  EXPECT_EQ(found("4111-1111 1111-1111"), one(entity::kCreditCard, "4111-1111 1111-1111"));
  EXPECT_EQ(found("4111  1111 1111 1111"), one(entity::kCreditCard, "4111  1111 1111 1111"));
  // ...and a card next to another number with a different separator is still found.
  EXPECT_EQ(found("2024-05-14 4111111111111111"), one(entity::kCreditCard, "4111111111111111"));
  // Two cards in a row, a card and its CVV: the consistent window is the card.
  EXPECT_EQ(found("4111 1111 1111 1111 5555 5555 5555 4444"),
            (Found{{"CREDIT_CARD", "4111 1111 1111 1111"}, {"CREDIT_CARD", "5555 5555 5555 4444"}}));
  EXPECT_EQ(found("pan 4111 1111 1111 1111 123"), one(entity::kCreditCard, "4111 1111 1111 1111"));

  EXPECT_TRUE(found("4111 1111 1111 1112").empty());  // Luhn fails
  EXPECT_TRUE(found("4111/1111/1111/1111").empty());  // a slash is not a card separator
  EXPECT_TRUE(found("4111 1111 / 1111 1111").empty());
  EXPECT_TRUE(found("4111 1111 x 1111 1111").empty());            // other characters between groups
  EXPECT_TRUE(found("4111    1111 1111 1111").empty());           // four spaces: two numbers
  EXPECT_TRUE(found("4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1").empty());  // single digits: a list
}

TEST(ClassifierCards, TheMaestroReport) {
  const std::string text = "Charge my Maestro card 6759 6498 2643 8453 for the renewal";
  EXPECT_EQ(found(text), one(entity::kCreditCard, "6759 6498 2643 8453"));
  EXPECT_EQ(level_of(text), Level::RESTRICTED);
  EXPECT_EQ(level_of("Charge 6759 6498 2643 8453 for the renewal"), Level::RESTRICTED);  // no word needed
}

TEST(ClassifierCards, EveryPaymentNetwork) {
  for (const std::string pan :
       {"2201945807302152" /* Mir */, "6071736819303645" /* RuPay */, "126212997220033" /* UATP */,
        "9792322453832363" /* Troy */, "501840562240" /* Maestro, 12 digits */, "5019154990951454" /* Dankort */,
        "6759475277204056084" /* Maestro, 19 digits */, "506099421247201987" /* Verve */}) {
    EXPECT_EQ(found("ref " + pan + " ok"), one(entity::kCreditCard, pan)) << pan;
  }
  EXPECT_TRUE(found("ref 1613589525481452 ok").empty());  // Luhn-valid, 16 digits starting with 1: no network
  EXPECT_TRUE(found("ref 7656907029313754 ok").empty());  // Luhn-valid, no network, no payment word
  EXPECT_TRUE(found("ref 501840562241 ok").empty());      // Maestro-shaped, Luhn fails
}

TEST(ClassifierCards, APaymentWordMakesAnyPrefixACard) {
  for (const std::string text :
       {"card number 7656907029313754", "numéro de carte: 7656907029313754", "tarjeta 7656907029313754",
        "PAN=7656907029313754", "CC# 7656907029313754", "débit 7656 9070 2931 3754", "7656907029313754 (visa)"}) {
    EXPECT_EQ(found(text), one(entity::kCreditCard,
                               text.find("7656 ") != std::string::npos ? "7656 9070 2931 3754" : "7656907029313754"))
        << text;
  }
  EXPECT_EQ(default_classifier().classify("card number 7656907029313754").findings.at(0).rule, "card.context");
  // A CSV column headed "card", far from the value.
  const std::string csv = "id,holder name,card,notes\n1," + std::string(60, 'x') + ",7656907029313754,none";
  EXPECT_EQ(found(csv), one(entity::kCreditCard, "7656907029313754"));
  EXPECT_TRUE(found("card number 7656907029313755").empty());  // Luhn fails
  EXPECT_TRUE(found("card number 785847195407").empty());      // 12 digits need an issuer prefix
  EXPECT_TRUE(found("cardinal 7656907029313754").empty());     // not the word "card"
}

TEST(ClassifierCards, GroupingsPeopleAndSystemsWrite) {
  const std::map<std::string, std::string> forms = {
      {"pairs", "67 59 64 98 26 43 84 53"},
      {"newline", "6759\n6498\n2643\n8453"},
      {"crlf", "67596498\r\n26438453"},
      {"tab", "6759\t6498\t2643\t8453"},
      {"spaced dash", "6759 - 6498 - 2643 - 8453"},
      {"mixed", "6759 6498-2643.8453"},
      {"amex 4-6-5", "3782 822463 10005"},
      {"uatp 4-5-6", "1262 12997 220033"},
      {"13 digits", "4222 2222 2222 2"},
  };
  for (const auto& [name, form] : forms) {
    EXPECT_EQ(found("number: " + form + " ok"), one(entity::kCreditCard, form)) << name;
  }
  // Space variants are lumped to ' ' by normalisation: NBSP, thin space, narrow NBSP, figure space.
  for (const std::string sp : {"\xc2\xa0", "\xe2\x80\x89", "\xe2\x80\xaf", "\xe2\x80\x87"}) {
    std::string value = "6759";
    value.append(sp).append("6498").append(sp).append("2643").append(sp).append("8453");
    EXPECT_EQ(found("n " + value + " ok"), one(entity::kCreditCard, value));
  }
}

TEST(ClassifierEntities, CanadianSin) {
  EXPECT_EQ(found("SIN 046 454 286"), one(entity::kCaSin, "046 454 286"));
  EXPECT_EQ(found("file 123-456-782 today"), one(entity::kCaSin, "123-456-782"));  // grouped, assigned prefix
  EXPECT_EQ(found("social insurance number: 123456782"), one(entity::kCaSin, "123456782"));
  EXPECT_EQ(found("NAS : 046-454-286"), one(entity::kCaSin, "046-454-286"));
  EXPECT_EQ(found("numéro d'assurance sociale 046454286"), one(entity::kCaSin, "046454286"));

  EXPECT_TRUE(found("ref 046 454 286").empty());     // starts with 0: needs context
  EXPECT_TRUE(found("order 123456782").empty());     // plain: needs context
  EXPECT_TRUE(found("SIN 123 456 789").empty());     // Luhn fails
  EXPECT_TRUE(found("SIN 123-456 782").empty());     // mixed separators
  EXPECT_TRUE(found("total $123 456 782").empty());  // grouped amount
  EXPECT_TRUE(found("total 123 456 782 CAD").empty());
  EXPECT_TRUE(found("1 123 456 782 units").empty());  // part of a longer grouped number
  EXPECT_TRUE(found("phone 123 456 782").empty());
  EXPECT_TRUE(found("using 046454286").empty());                               // "sin" inside a word is no context
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
  EXPECT_EQ(found("Authorization: Bearer Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3Fg5"),
            one(entity::kBearerToken, "Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3Fg5"));
  const std::string pem =
      "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAxq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3Fg5Js0\nTy2Ue7Io4Ap9Sl1Mn6Bv3\n"
      "-----END RSA PRIVATE KEY-----";
  EXPECT_EQ(found("key:\n" + pem + "\nthanks"), one(entity::kPrivateKey, pem));
  EXPECT_EQ(found("api_key=Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3"), one(entity::kApiKey, "Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3"));
  EXPECT_EQ(found("{\"client_secret\": \"Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3\"}"),
            one(entity::kApiKey, "Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3"));
  EXPECT_EQ(found("password=hunter22"), one(entity::kApiKey, "hunter22"));
  EXPECT_EQ(found("postgres://app:s3cretPw9@db/x"), one(entity::kApiKey, "s3cretPw9"));
}

TEST(ClassifierEntities, SecretLookalikesAreNotSecrets) {
  for (const std::string text :
       {"OPENAI_API_KEY=sk-...", "sk-xxxxxxxxxxxxxxxxxxxxxxxx", "api_key=<your-key>", "api_key=${API_KEY}",
        "api_key=YOUR_API_KEY", "AKIAIOSFODNN7EXAMPLE",
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "pk_live_Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3",
        "pk_test_Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3", "id 550e8400-e29b-41d4-a716-446655440000",
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

  EXPECT_TRUE(found("order 4165550199").empty());  // a bare 10-digit run needs a phone word
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

TEST(ClassifierEntities, SinSeparatorsAndFieldNames) {
  EXPECT_EQ(found("{\"sin\": \"046/454/286\"}"), one(entity::kCaSin, "046/454/286"));
  EXPECT_EQ(found("<sin>046.454.286</sin>"), one(entity::kCaSin, "046.454.286"));
  EXPECT_EQ(found("sin=130/692/544&x=1"), one(entity::kCaSin, "130/692/544"));
  EXPECT_EQ(found("no d'assurance sociale 046/454/286"), one(entity::kCaSin, "046/454/286"));
  EXPECT_EQ(found("S.I.N.: 046 454 286"), one(entity::kCaSin, "046 454 286"));
  EXPECT_EQ(found("SIN:\t046\t454\t286"), one(entity::kCaSin, "046\t454\t286"));
  // A CSV column named sin, the header far above the value.
  std::string csv = "employee,department,sin,start\n";
  for (int i = 0; i < 5; ++i) csv += "E-" + std::to_string(i) + ",engineering and operations,pending,2024-01-01\n";
  csv += "E-9,engineering and operations,046454286,2024-06-01\n";
  EXPECT_EQ(found(csv), one(entity::kCaSin, "046454286"));
  EXPECT_EQ(found("| Employee | SIN |\n|---|---|\n| E-7 | 046/454/286 |"), one(entity::kCaSin, "046/454/286"));

  EXPECT_TRUE(found("ref 130/692/544").empty());                         // a slash needs a SIN word
  EXPECT_TRUE(found("sin=130/692/545").empty());                         // Luhn fails
  EXPECT_TRUE(found("ratio 1/130/692/544").empty());                     // part of a longer slashed value
  EXPECT_TRUE(found("scores\n130\t692\t544").empty());                   // tabs without a SIN word
  EXPECT_TRUE(found("employee,dept,badge\nE-9,ops,046454286").empty());  // another column
}

TEST(ClassifierEntities, IbanCaseAndSeparators) {
  EXPECT_EQ(found("iban:gb82west12345698765432"), one(entity::kIban, "gb82west12345698765432"));
  EXPECT_EQ(found("IBAN GB82-WEST-1234-5698-7654-32."), one(entity::kIban, "GB82-WEST-1234-5698-7654-32"));
  EXPECT_EQ(found("de89 3704 0044 0532 0130 00"), one(entity::kIban, "de89 3704 0044 0532 0130 00"));
  EXPECT_EQ(found("FR14 20041 01005 0500013M026 06"), one(entity::kIban, "FR14 20041 01005 0500013M026 06"));
  EXPECT_TRUE(found("iban:gb82west12345698765431").empty());  // mod-97 fails
  EXPECT_TRUE(found("gb82west1234569876543").empty());        // too short for GB
  EXPECT_TRUE(found("GB82--WEST12345698765432").empty());     // two separators in a row
}

TEST(ClassifierEntities, BankAccountContextsAndPrecisionGuard) {
  EXPECT_EQ(found("Compte bancaire : 1234567"), one(entity::kBankAccount, "1234567"));
  EXPECT_EQ(found("Mon numéro de compte est 1234567."), one(entity::kBankAccount, "1234567"));
  EXPECT_EQ(found("caisse populaire, folio 1234567"), one(entity::kBankAccount, "1234567"));
  EXPECT_EQ(found("credit union account: 12345678"), one(entity::kBankAccount, "12345678"));
  EXPECT_EQ(found("void cheque attached, account 1234567"), one(entity::kBankAccount, "1234567"));
  EXPECT_EQ(found("direct deposit account # 1234567"), one(entity::kBankAccount, "1234567"));
  EXPECT_EQ(found("compte chèques 1234567"), one(entity::kBankAccount, "1234567"));
  EXPECT_EQ(found("name,account,currency\nJane Roe,1234567,CAD"), one(entity::kBankAccount, "1234567"));
  EXPECT_EQ(found("void cheque: 12345 003 1234567"), one(entity::kBankAccount, "12345 003 1234567"));

  EXPECT_TRUE(found("AWS account 123456789012 owns the bucket").empty());
  EXPECT_TRUE(found("Account ID: 123456789012 (AWS)").empty());
  EXPECT_TRUE(found("arn:aws:iam::123456789012:role/deploy").empty());
  EXPECT_TRUE(found("customer account 12345678 was merged").empty());
  EXPECT_TRUE(found("CRM account 12345678").empty());
  EXPECT_TRUE(found("GL account 4000-100-200").empty());
  EXPECT_TRUE(found("Order number 12345678 shipped").empty());
  EXPECT_TRUE(found("name,order,currency\nJane Roe,1234567,CAD").empty());
}

TEST(ClassifierSecrets, BroaderCredentials) {
  const std::string body = "Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3Fg5Js0Ty2Ue7Io4Ap9Sl1Mn6Bv3";
  const std::string hex = "3f9a1c07b2e84d5f9a6c1e0b7d2f4a83";
  auto key = [&](const std::string& text, const std::string& value) {
    EXPECT_EQ(found(text), one(entity::kApiKey, value)) << text;
    EXPECT_EQ(level_of(text), Level::CONFIDENTIAL) << text;
  };
  key("Authorization: Basic YWxpY2U6UzNjcjN0UHch", "YWxpY2U6UzNjcjN0UHch");  // alice:S3cr3tPw!
  // Basic values are read leniently: padded or not, either base64 alphabet.
  key("Authorization: Basic YWxpY2U6eD4+P1RvazNuIQ==", "YWxpY2U6eD4+P1RvazNuIQ==");  // alice:x>>?Tok3n!
  key("Authorization: Basic YWxpY2U6eD4+P1RvazNuIQ", "YWxpY2U6eD4+P1RvazNuIQ");
  key("Authorization: Basic YWxpY2U6eD4-P1RvazNuIQ", "YWxpY2U6eD4-P1RvazNuIQ");
  key("Authorization: Basic Ym9iOkh1bnRlcjI_Pw==", "Ym9iOkh1bnRlcjI_Pw==");     // bob:Hunter2??
  EXPECT_TRUE(found("Authorization: Basic YWxpY2U6eD4+P1Rva~NuIQ==").empty());  // '~' is no base64 letter
  key("curl -H 'Authorization: Token " + body.substr(0, 32) + "'", body.substr(0, 32));
  key("authorization=" + body.substr(0, 40), body.substr(0, 40));
  key("https://hooks.slack.com/services/T0A1B2C3D/B0E1F2G3H/" + body.substr(0, 24),
      "https://hooks.slack.com/services/T0A1B2C3D/B0E1F2G3H/" + body.substr(0, 24));
  key("post to https://contoso.webhook.office.com/webhookb2/" + body.substr(0, 30) + " now",
      "https://contoso.webhook.office.com/webhookb2/" + body.substr(0, 30));
  key("https://discord.com/api/webhooks/1098765432109876543/" + body,
      "https://discord.com/api/webhooks/1098765432109876543/" + body);
  key("ANTHROPIC_ADMIN_KEY=sk-ant-admin01-" + body, "sk-ant-admin01-" + body);
  key("HF_TOKEN=hf_" + body.substr(0, 34), "hf_" + body.substr(0, 34));
  key("glpat-" + body.substr(0, 20), "glpat-" + body.substr(0, 20));
  key("//registry.npmjs.org/:_authToken=npm_" + body.substr(0, 36), "npm_" + body.substr(0, 36));
  key("SG." + body.substr(0, 22) + "." + body.substr(5, 43), "SG." + body.substr(0, 22) + "." + body.substr(5, 43));
  key("twilio SK" + hex, "SK" + hex);
  key("AZURE_OPENAI_API_KEY=" + hex, hex);
  key("Ocp-Apim-Subscription-Key: " + hex, hex);
  key("mongodb+srv://app:Pw9xq7Lm2Rt@cluster0.example.net/db", "Pw9xq7Lm2Rt");
  // AC + 32 hex is the account SID: a credential next to its auth token.
  EXPECT_TRUE(found("account sid AC" + hex).empty());
  EXPECT_EQ(level_of("TWILIO_ACCOUNT_SID=AC" + hex + " TWILIO_AUTH_TOKEN=" + hex), Level::CONFIDENTIAL);
  EXPECT_EQ(found("sid AC" + hex + ", auth token on file").size(), 1u);
  // Two-part JWT: header.payload without a signature.
  const std::string jwt2 = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1LTQ4MjEzIiwiYWRtaW4iOnRydWV9";
  EXPECT_EQ(found("token " + jwt2 + " end"), one(entity::kJwt, jwt2));

  for (const std::string text :
       {"Authorization: Basic <base64>", "Authorization: Basic dXNlcg==" /* "user": no password */,
        "Authorization: Token <your-token>", "a basic understanding of tokens", "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "https://hooks.slack.com/services/XXX/YYY/ZZZ",
        "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX", "sk-ant-admin01-...",
        "glpat-xxxxxxxxxxxxxxxxxxxx", "npm_YOUR_TOKEN_HERE", "SG.xxxxxxxxxxxxxxxxxxxxxx.yyyy",
        "eyJhbGciOiJIUzI1NiJ9 alone", "postgres://user:password@localhost/db"}) {
    EXPECT_TRUE(found(text).empty()) << text;
  }
}

// ---------------------------------------------------------------------------
// Normalisation: matching sees through obfuscation, offsets stay in the original

TEST(ClassifierNormalization, DecimalDigitsOfEveryScript) {
  // 6759 6498 2643 8453 in Arabic-Indic, Extended Arabic-Indic, Devanagari, Bengali and Thai digits.
  auto in_script = [](char32_t zero, const std::string& ascii) { return test_support::in_script(ascii, zero); };
  for (char32_t zero : {char32_t{0x660}, char32_t{0x6F0}, char32_t{0x966}, char32_t{0x9E6}, char32_t{0xE50}}) {
    const std::string value = in_script(zero, "6759 6498 2643 8453");
    const std::string text = "carte " + value + " merci";
    const auto r = default_classifier().classify(text);
    ASSERT_EQ(r.findings.size(), 1u) << static_cast<unsigned>(zero);
    EXPECT_EQ(r.findings[0].entity_type, entity::kCreditCard);
    EXPECT_EQ(text.substr(r.findings[0].start, r.findings[0].end - r.findings[0].start), value);
    EXPECT_TRUE(default_classifier().classify("carte " + in_script(zero, "6759 6498 2643 8454")).findings.empty());
  }
  // A SIN in Devanagari digits.
  EXPECT_EQ(found("SIN " + in_script(0x966, "046 454 286")), one(entity::kCaSin, in_script(0x966, "046 454 286")));
}

TEST(ClassifierNormalization, FullWidthDigitsMapToOriginalOffsets) {
  const std::string text =
      "card \xef\xbc\x94\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91"
      "111111111111 ok";  // ４１１１ + 12 ASCII
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
  const std::string text =
      "SIN\xc2\xa0"
      "046\xc2\xad"
      "454\xc2\xad"
      "286";
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

  // Values masked anyway (external e-mail, phone, IP) leave a marked text PUBLIC...
  EXPECT_EQ(level_of("[PUBLIC]\nWrite to press@example.com"), Level::PUBLIC);
  EXPECT_EQ(level_of("Write to press@example.com", Marking{true}), Level::PUBLIC);
  EXPECT_EQ(level_of("[PUBLIC]\nCall 416-555-0199 or visit 203.0.113.7", Marking{}), Level::PUBLIC);
  EXPECT_EQ(level_of("Write to press@example.com"), Level::INTERNAL);  // unmarked: INTERNAL as always
  // ...other INTERNAL findings keep it INTERNAL; a marking never lowers a level.
  EXPECT_EQ(level_of("[PUBLIC]\nShip to K1A 0B1"), Level::INTERNAL);
  EXPECT_EQ(level_of("[PUBLIC]\nSSN 123-45-6789"), Level::INTERNAL);
  EXPECT_EQ(level_of("[PUBLIC]\nWrite to press@example-corp.com"), Level::CONFIDENTIAL);  // internal domain
  EXPECT_EQ(level_of("[PUBLIC]\nWrite to press@example.com, SIN 046 454 286"), Level::RESTRICTED);
  EXPECT_EQ(level_of("[PUBLIC]\ncard 4111111111111111"), Level::RESTRICTED);
  EXPECT_EQ(level_of("key sk-proj-Xq7Lm2Rt9Vb4Nw8Kz1Pc6Hd3Fg5Js0", Marking{true}), Level::CONFIDENTIAL);

  // Only the first non-blank line, and only the marker on its own.
  EXPECT_EQ(level_of("hello\n[PUBLIC]\n"), Level::INTERNAL);
  EXPECT_EQ(level_of("[PUBLIC] and more on the line"), Level::INTERNAL);
  EXPECT_EQ(level_of("classification: internal"), Level::INTERNAL);
  EXPECT_TRUE(text_marked_public("\xef\xbb\xbf[PUBLIC]") == false);  // raw: the BOM is not blank...
  EXPECT_EQ(level_of("\xef\xbb\xbf[PUBLIC]\nhi"), Level::PUBLIC);    // ...but classify() removes it first
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
  EXPECT_EQ(c->classify("EMP-\xef\xbc\x90\xef\xbc\x90\xef\xbc\x94\xef\xbc\x92\xef\xbc\x91\xef\xbc\x91").findings.size(),
            1u);
}

TEST(ClassifierCustom, ValidatorsAndContextWords) {
  config::ClassificationConfig cfg;
  cfg.custom_recognizers.push_back(recognizer("member", R"(\bM\d{8}\b)", "MEMBER_NO", Level::RESTRICTED, "luhn"));
  cfg.custom_recognizers.push_back(
      recognizer("ref", R"(\b[A-Z]{2}\d{2}[A-Z0-9]{6,20}\b)", "BANK_REF", Level::RESTRICTED, "mod97"));
  cfg.custom_recognizers.push_back(
      recognizer("policy", R"(\b\d{7}\b)", "POLICY_NO", Level::CONFIDENTIAL, "", {"policy", "police"}));
  const auto c = make_classifier(cfg);
  EXPECT_EQ(found(*c, "M12345674"), one("MEMBER_NO", "M12345674"));  // 12345674 passes Luhn
  EXPECT_TRUE(found(*c, "M12345678").empty());
  EXPECT_EQ(found(*c, "ref NL91ABNA0417164300"),
            (Found{{"IBAN_CODE", "NL91ABNA0417164300"}}));  // built-in wins the tie
  EXPECT_EQ(found(*c, "ref GB20NWBK6016133192"),
            one("BANK_REF", "GB20NWBK6016133192"));  // mod-97 ok, not an IBAN length
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
  expected.reserve(texts.size());
  for (const auto& t : texts) expected.push_back(c->classify(t));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::size_t k = static_cast<std::size_t>(i + t) % texts.size();
        const auto r = c->classify(texts[k]);
        bool same = r.level == expected[k].level && r.findings.size() == expected[k].findings.size();
        for (std::size_t j = 0; same && j < r.findings.size(); ++j) {
          same = r.findings[j].start == expected[k].findings[j].start &&
                 r.findings[j].end == expected[k].findings[j].end &&
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
