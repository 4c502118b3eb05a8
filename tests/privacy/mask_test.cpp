// Masking, the vault and restoring: placeholder stability, collisions,
// tolerance of altered placeholders, streaming at every split point.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "privacy/mask.hpp"
#include "privacy/person.hpp"
#include "privacy/restore.hpp"
#include "privacy/vault.hpp"

namespace aegis::privacy {
namespace {

using classify::Finding;

Finding at(std::string_view text, std::string_view value, std::string type, std::size_t from = 0) {
  const auto start = text.find(value, from);
  EXPECT_NE(start, std::string_view::npos) << value;
  return Finding{std::move(type), Level::RESTRICTED, start, start + value.size(), "test"};
}

TEST(PrivacyMask, TheIssueExample) {
  const std::string text = "John Doe's SIN is 046 454 286";
  Vault vault;
  const auto persons = detect_persons(text);
  const auto result = mask(text, {at(text, "046 454 286", "CA_SIN")}, persons, vault);
  EXPECT_EQ(result.masked, "PERSON_0's SIN is CA_SIN_0");
  ASSERT_EQ(result.entities.size(), 2u);
  EXPECT_EQ(result.entities[0].placeholder, "PERSON_0");
  EXPECT_EQ(result.entities[0].type, "PERSON");
  EXPECT_EQ(result.entities[0].value, "John Doe");
  EXPECT_EQ(result.entities[0].start, 0u);
  EXPECT_EQ(result.entities[0].end, 8u);
  EXPECT_EQ(result.entities[1].placeholder, "CA_SIN_0");
  EXPECT_EQ(result.entities[1].value, "046 454 286");
  EXPECT_EQ(restore(result.masked, vault), text);
}

TEST(PrivacyMask, SameValueSamePlaceholderWithinARequest) {
  const std::string text = "a@x.com wrote to b@x.com, then a@x.com again";
  Vault vault;
  const auto result = mask(text,
                           {at(text, "a@x.com", "EMAIL_ADDRESS"), at(text, "b@x.com", "EMAIL_ADDRESS"),
                            at(text, "a@x.com", "EMAIL_ADDRESS", 10)},
                           vault);
  EXPECT_EQ(result.masked, "EMAIL_ADDRESS_0 wrote to EMAIL_ADDRESS_1, then EMAIL_ADDRESS_0 again");
  EXPECT_EQ(vault.size(), 2u);
}

TEST(PrivacyMask, PlaceholdersAreStableAcrossCallsOfAConversation) {
  Vault vault;
  const std::string turn1 = "Card 4111 1111 1111 1111 belongs to Jane Roe.";
  const auto r1 = mask(turn1, {at(turn1, "4111 1111 1111 1111", "CREDIT_CARD")}, detect_persons(turn1), vault);
  EXPECT_EQ(r1.masked, "Card CREDIT_CARD_0 belongs to PERSON_0.");
  const std::string turn2 = "Is Jane Roe allowed a second card, 5500 0000 0000 0004, like 4111 1111 1111 1111?";
  const auto r2 = mask(turn2,
                       {at(turn2, "5500 0000 0000 0004", "CREDIT_CARD"), at(turn2, "4111 1111 1111 1111", "CREDIT_CARD")},
                       detect_persons(turn2), vault);
  EXPECT_EQ(r2.masked, "Is PERSON_0 allowed a second card, CREDIT_CARD_1, like CREDIT_CARD_0?");
  // The same value under another type is another placeholder.
  const std::string turn3 = "4111 1111 1111 1111";
  const auto r3 = mask(turn3, {Finding{"BANK_ACCOUNT", Level::RESTRICTED, 0, turn3.size(), "t"}}, vault);
  EXPECT_EQ(r3.masked, "BANK_ACCOUNT_0");
}

TEST(PrivacyMask, PlaceholderTextInTheInputIsRenumberedAround) {
  // The user literally wrote PERSON_0 (and a variant of PERSON_1): new placeholders skip those indices.
  const std::string text = "Rename PERSON_0 and person 1 to Alice Martin";
  Vault vault;
  const auto result = mask(text, {}, detect_persons(text), vault);
  EXPECT_EQ(result.masked, "Rename PERSON_0 and person 1 to PERSON_2");
  EXPECT_EQ(restore(result.masked, vault), text);
  // An answer that echoes the literal text keeps it.
  EXPECT_EQ(restore("PERSON_0 is now PERSON_2", vault), "PERSON_0 is now Alice Martin");
  // The skipped indices stay reserved for the rest of the conversation.
  const std::string later = "Also Bob Stone and Carol Diaz";
  EXPECT_EQ(mask(later, {}, detect_persons(later), vault).masked, "Also PERSON_3 and PERSON_4");
}

TEST(PrivacyMask, KnownPlaceholderTextInALaterTurnIsEscaped) {
  Vault vault;
  const std::string turn1 = "Call Alice Martin";
  EXPECT_EQ(mask(turn1, {}, detect_persons(turn1), vault).masked, "Call PERSON_0");
  // Now the user writes the placeholder itself: it must not turn into "Alice Martin" on the way back.
  const std::string turn2 = "What does PERSON_0 mean?";
  const auto r2 = mask(turn2, {}, detect_persons(turn2), vault);
  EXPECT_EQ(r2.masked, "What does LITERAL_0 mean?");
  ASSERT_EQ(r2.entities.size(), 1u);
  EXPECT_EQ(r2.entities[0].type, kLiteralType);
  EXPECT_EQ(r2.entities[0].value, "PERSON_0");
  EXPECT_EQ(restore(r2.masked, vault), turn2);
  EXPECT_EQ(restore("LITERAL_0 stands for PERSON_0", vault), "PERSON_0 stands for Alice Martin");
}

TEST(PrivacyMask, GluedValuesAreWidenedSoTheyRoundTrip) {
  const std::string text = "idJohn and 123456789012";
  Vault vault;
  // A finding preceded by letters, and one followed by digits.
  const auto result = mask(text,
                           {Finding{"PERSON", Level::INTERNAL, 2, 6, "t"}, Finding{"CA_SIN", Level::RESTRICTED, 11, 20, "t"}},
                           vault);
  EXPECT_EQ(result.masked, "PERSON_0 and CA_SIN_0");
  EXPECT_EQ(result.entities[0].value, "idJohn");
  EXPECT_EQ(result.entities[1].value, "123456789012");
  EXPECT_EQ(restore(result.masked, vault), text);
}

TEST(PrivacyMask, AdjacentFindingsRoundTrip) {
  const std::string text = "JohnDoe";
  Vault vault;
  const auto result = mask(text, {Finding{"PERSON", Level::INTERNAL, 0, 4, "t"}, Finding{"PERSON", Level::INTERNAL, 4, 7, "t"}},
                           vault);
  EXPECT_EQ(result.masked, "PERSON_0PERSON_1");
  EXPECT_EQ(restore(result.masked, vault), text);
}

TEST(PrivacyMask, TextThatBecomesAPlaceholderNextToAValueIsEscaped) {
  Vault vault;
  for (const char* name : {"Ann", "Bob", "Cy", "Di"}) vault.placeholder_for("PERSON", name);  // PERSON_0..3
  // In the input "comPERSON 3" is no placeholder (a letter precedes it); once the
  // address before it is masked, "PERSON 3" would be one. It is escaped.
  const std::string text = "mail:a@b.comPERSON 3";
  const auto result = mask(text, {Finding{"EMAIL_ADDRESS", Level::INTERNAL, 5, 12, "t"}}, vault);
  EXPECT_EQ(result.masked, "mail:EMAIL_ADDRESS_0LITERAL_0");
  EXPECT_EQ(restore(result.masked, vault), text);
}

TEST(PrivacyMask, PlainTextThatWouldExtendAPlaceholderIsTakenIntoTheValue) {
  Vault vault;
  vault.placeholder_for("CA_SIN", "046 454 286");  // CA_SIN_0
  // "CA " + "SIN_0" would read as CA_SIN_0: the value takes the "CA " in.
  const std::string text = "CA 123";
  const auto result = mask(text, {Finding{"SIN", Level::INTERNAL, 3, 6, "t"}}, vault);
  ASSERT_EQ(result.entities.size(), 1u);
  EXPECT_EQ(result.entities[0].value, "CA 123");
  EXPECT_EQ(result.entities[0].start, 0u);
  EXPECT_EQ(restore(result.masked, vault), text);
}

TEST(PrivacyMask, InvalidAndOverlappingFindingsAreIgnored) {
  const std::string text = "abc def";
  Vault vault;
  const auto result = mask(text,
                           {Finding{"A", Level::INTERNAL, 0, 3, "t"}, Finding{"B", Level::INTERNAL, 2, 5, "t"},
                            Finding{"C", Level::INTERNAL, 5, 99, "t"}, Finding{"D", Level::INTERNAL, 4, 4, "t"}},
                           {Finding{"PERSON", Level::INTERNAL, 1, 6, "p"}}, vault);
  EXPECT_EQ(result.masked, "A_0 def");
  EXPECT_EQ(restore(result.masked, vault), text);
}

TEST(PrivacyMask, RestoreOfMaskIsIdentityOnRandomInputs) {
  // Random texts built from pieces that stress the grammar, with random findings.
  const std::vector<std::string> pieces = {"PERSON_0", "person 1", "CA_SIN_0", "ca sin 2", "LITERAL_0", "x", "7", "0",
                                           " ", "_", "-", "\\_", "John", "Doe", "\n", "\xC3\xA9", "SIN", "CA", "**"};
  std::mt19937 rng(42);
  for (int round = 0; round < 3000; ++round) {
    Vault vault;
    for (int turn = 0; turn < 3; ++turn) {
      std::string text;
      const int n = static_cast<int>(rng() % 12);
      for (int k = 0; k < n; ++k) text += pieces[rng() % pieces.size()];
      std::vector<Finding> findings;
      std::size_t pos = 0;
      while (pos < text.size() && rng() % 3 != 0) {
        const std::size_t start = pos + rng() % (text.size() - pos);
        const std::size_t end = start + 1 + rng() % std::max<std::size_t>(1, text.size() - start);
        if (end > text.size()) break;
        static const char* kTypes[] = {"PERSON", "CA_SIN", "SIN", "LITERAL", "X"};
        findings.push_back(Finding{kTypes[rng() % 5], Level::INTERNAL, start, end, "r"});
        pos = end;
      }
      const auto result = mask(text, findings, vault);
      ASSERT_EQ(restore(result.masked, vault), text) << "round " << round << " turn " << turn << " text '" << text
                                                     << "' masked '" << result.masked << "'";
    }
  }
}

// ---------------------------------------------------------------- restore

class PrivacyRestore : public ::testing::Test {
 protected:
  void SetUp() override {
    vault_.placeholder_for("PERSON", "John Doe");      // PERSON_0
    vault_.placeholder_for("CREDIT_CARD", "4111 1111 1111 1111");  // CREDIT_CARD_0
    vault_.placeholder_for("EMAIL_ADDRESS", "jd@example.com");     // EMAIL_ADDRESS_0
    for (int i = 1; i <= 11; ++i) vault_.placeholder_for("PERSON", "P" + std::to_string(i));  // PERSON_1..11
  }
  Vault vault_;
};

TEST_F(PrivacyRestore, ToleratesTheWaysModelsAlterPlaceholders) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Hello PERSON_0.", "Hello John Doe."},
      {"Hello person_0.", "Hello John Doe."},
      {"Hello Person_0!", "Hello John Doe!"},
      {"Hello PERSON 0,", "Hello John Doe,"},
      {"Hello PERSON0", "Hello John Doe"},
      {"Hello PERSON-0", "Hello John Doe"},
      {"Hello PERSON\\_0", "Hello John Doe"},
      {"Hello [PERSON_0]", "Hello [John Doe]"},
      {"Hello **PERSON_0**", "Hello **John Doe**"},
      {"Hello __PERSON_0__", "Hello __John Doe__"},
      {"Hello \"PERSON_0\"", "Hello \"John Doe\""},
      {"Hello <PERSON_0>", "Hello <John Doe>"},
      {"Hello {PERSON_0}", "Hello {John Doe}"},
      {"(PERSON_0)", "(John Doe)"},
      {"PERSON_0's card", "John Doe's card"},
      {"card CREDIT_CARD_0", "card 4111 1111 1111 1111"},
      {"card credit card 0", "card 4111 1111 1111 1111"},
      {"card Credit-Card-0", "card 4111 1111 1111 1111"},
      {"card CREDITCARD_0", "card 4111 1111 1111 1111"},
      {"card CREDIT\\_CARD\\_0", "card 4111 1111 1111 1111"},
      {"mail email_address_0.", "mail jd@example.com."},
      {"PERSON_11 and PERSON_1", "P11 and P1"},
      {"PERSON_0PERSON_1", "John DoeP1"},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(restore(in, vault_), want) << in;
}

TEST_F(PrivacyRestore, LeavesUnknownAndNearMissesAlone) {
  for (const char* text : {"PERSON_12", "PERSON_01", "PERSON_0000", "xPERSON_0", "PERS ON_0", "PERSON__0",
                           "PERSON  0", "CREDIT_0", "CARD_0", "LOCATION_0", "PERSON_", "PERSON", "_0", "0"}) {
    EXPECT_EQ(restore(text, vault_), text) << text;
  }
  EXPECT_EQ(restore("PERSON_0 PERSON_99", vault_), "John Doe PERSON_99");
}

TEST_F(PrivacyRestore, LongestPlaceholderWinsAndEmptyVaultIsIdentity) {
  Vault vault;
  vault.placeholder_for("SIN", "111");
  vault.placeholder_for("CA_SIN", "222");
  EXPECT_EQ(restore("CA_SIN_0 / SIN_0 / ca sin 0", vault), "222 / 111 / 222");
  EXPECT_EQ(restore("PERSON_0", Vault{}), "PERSON_0");
}

// Every split point (one and two cuts) of several samples gives restore(whole).
TEST_F(PrivacyRestore, StreamingEqualsRestoreAtEveryChunkBoundary) {
  const std::vector<std::string> samples = {
      "Dear PERSON_0, your card CREDIT_CARD_0 is blocked.",
      "**person 1** and [PERSON_11] wrote to email_address_0; PERSON_12 is unknown",
      "PERSON_0PERSON_1 PERSON\\_0 credit-card-0 CREDITCARD_0 PERSON_1",
      "no placeholders here at all, just text with PERSONAL words and 2024 numbers",
      "PERSON_",
      "x PERSON_1",
      "PERSON_10",
      "caf\xC3\xA9 PERSON_0\n\n```\nCREDIT_CARD_0\n```",
  };
  for (const auto& s : samples) {
    const std::string want = restore(s, vault_);
    for (std::size_t a = 0; a <= s.size(); ++a) {
      StreamingRestorer r(vault_);
      std::string got = r.feed(std::string_view(s).substr(0, a));
      got += r.feed(std::string_view(s).substr(a));
      got += r.finish();
      ASSERT_EQ(got, want) << "sample '" << s << "' split at " << a;
      for (std::size_t b = a; b <= s.size(); ++b) {
        StreamingRestorer r2(vault_);
        std::string got2 = r2.feed(std::string_view(s).substr(0, a));
        got2 += r2.feed(std::string_view(s).substr(a, b - a));
        got2 += r2.feed(std::string_view(s).substr(b));
        got2 += r2.finish();
        ASSERT_EQ(got2, want) << "sample '" << s << "' split at " << a << "," << b;
      }
    }
    // One byte at a time.
    StreamingRestorer r(vault_);
    std::string got;
    for (char c : s) got += r.feed(std::string_view(&c, 1));
    got += r.finish();
    EXPECT_EQ(got, want) << s;
  }
}

TEST_F(PrivacyRestore, StreamingHoldsBackOnlyAPossiblePlaceholderStart) {
  StreamingRestorer r(vault_);
  EXPECT_EQ(r.feed("Hello there, "), "Hello there, ");  // nothing held: time to first token unchanged
  EXPECT_EQ(r.pending(), 0u);
  EXPECT_EQ(r.feed("dear PER"), "dear ");  // "PER" could become PERSON_0
  EXPECT_EQ(r.pending(), 3u);
  EXPECT_EQ(r.feed("SON_1"), "");  // could still be PERSON_10 or PERSON_11
  EXPECT_EQ(r.feed("1!"), "P11!");
  EXPECT_EQ(r.feed(" Perhaps"), " Perhaps");  // "PERH" cannot become a placeholder
  EXPECT_EQ(r.feed(" Pers"), " ");             // "Pers" still can
  EXPECT_EQ(r.feed("onal"), "Personal");       // ...until it cannot
  EXPECT_EQ(r.feed(" Zebra"), " Zebra");  // no placeholder starts with Z
  EXPECT_EQ(r.finish(), "");
}

TEST_F(PrivacyRestore, StreamingRandomChunkings) {
  std::mt19937 rng(7);
  const std::vector<std::string> words = {"PERSON_0", "person 1", "PERSON", "_", "1", "0", " ", "CREDIT", "CARD",
                                          "credit card 0", "Email_Address_0", "x", "\\", "**", "\n", "PERSON_11"};
  for (int round = 0; round < 2000; ++round) {
    std::string s;
    const int n = 1 + static_cast<int>(rng() % 15);
    for (int k = 0; k < n; ++k) s += words[rng() % words.size()];
    const std::string want = restore(s, vault_);
    StreamingRestorer r(vault_);
    std::string got;
    std::size_t pos = 0;
    while (pos < s.size()) {
      const std::size_t len = std::min<std::size_t>(s.size() - pos, rng() % 6);
      got += r.feed(std::string_view(s).substr(pos, len));
      pos += len;
    }
    got += r.finish();
    ASSERT_EQ(got, want) << "'" << s << "'";
  }
}

// ---------------------------------------------------------------- vault

TEST(PrivacyVault, PlaceholderPrefixes) {
  EXPECT_EQ(placeholder_prefix("CA_SIN"), "CA_SIN");
  EXPECT_EQ(placeholder_prefix("email_address"), "EMAIL_ADDRESS");
  EXPECT_EQ(placeholder_prefix("custom:employee-id 2"), "CUSTOM_EMPLOYEE_ID");
  EXPECT_EQ(placeholder_prefix("123"), "ENTITY");
  EXPECT_EQ(placeholder_prefix(std::string(100, 'A')).size(), 40u);
}

TEST(PrivacyVault, JsonRoundTrip) {
  Vault vault;
  vault.placeholder_for("PERSON", "Zo\xC3\xAB \"Q\" O'Neil");
  vault.placeholder_for("CA_SIN", "046 454 286");
  vault.placeholder_for("PERSON", std::string("bin\x01\xFF", 5));  // arbitrary bytes survive
  vault.reserve("PERSON#7");
  const std::string json = vault.to_json();
  auto back = Vault::from_json(json);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->size(), 3u);
  EXPECT_EQ(*back->value_of("PERSON_0"), "Zo\xC3\xAB \"Q\" O'Neil");
  EXPECT_EQ(*back->value_of("CA_SIN_0"), "046 454 286");
  EXPECT_EQ(*back->value_of("PERSON_1"), std::string("bin\x01\xFF", 5));
  EXPECT_EQ(back->to_json(), json);
  // It keeps numbering where it stopped, and skips the reserved index.
  for (int i = 2; i <= 6; ++i) back->placeholder_for("PERSON", "n" + std::to_string(i));
  EXPECT_EQ(back->placeholder_for("PERSON", "next"), "PERSON_8");
  EXPECT_EQ(back->placeholder_for("PERSON", "Zo\xC3\xAB \"Q\" O'Neil"), "PERSON_0");
  EXPECT_EQ(restore("PERSON_0 / CA_SIN_0", *back), "Zo\xC3\xAB \"Q\" O'Neil / 046 454 286");
}

TEST(PrivacyVault, RejectsMalformedJson) {
  for (const char* bad : {"", "[]", "{}", "{\"version\":2,\"entries\":[]}", "{\"version\":1}",
                          R"({"version":1,"entries":[{"placeholder":"PERSON_0","type":"PERSON"}]})",
                          R"({"version":1,"entries":[{"placeholder":"PERSON_01","type":"PERSON","value":"a"}]})",
                          R"({"version":1,"entries":[{"placeholder":"CA_SIN_0","type":"PERSON","value":"a"}]})",
                          R"({"version":1,"entries":[{"placeholder":"PERSON_0","type":"PERSON","value":"a"},
                                                     {"placeholder":"PERSON_0","type":"PERSON","value":"b"}]})"}) {
    auto v = Vault::from_json(bad);
    EXPECT_FALSE(v.ok()) << bad;
    if (!v.ok()) {
      EXPECT_EQ(v.error().code, ErrorCode::invalid_request);
    }
  }
}

TEST(PrivacyVault, ValueLookups) {
  Vault vault;
  EXPECT_EQ(vault.value_of("PERSON_0"), nullptr);
  vault.placeholder_for("PERSON", "Ann");
  EXPECT_NE(vault.value_of("PERSON_0"), nullptr);
  EXPECT_EQ(vault.value_of("person_0"), nullptr);  // exact form only; restore() is the tolerant one
  EXPECT_EQ(vault.value_of("PERSON_1"), nullptr);
  EXPECT_TRUE(vault.contains_value("Ann"));
  EXPECT_FALSE(vault.contains_value("Bob"));
}

}  // namespace
}  // namespace aegis::privacy
