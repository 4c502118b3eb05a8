// Invented PII in answers (alert / redact) and block mode (422, types only).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "privacy/block.hpp"
#include "privacy/invented.hpp"
#include "privacy/person.hpp"
#include "privacy/vault.hpp"

namespace aegis::privacy {
namespace {

using classify::Finding;

Finding at(std::string_view text, std::string_view value, std::string type) {
  const auto start = text.find(value);
  EXPECT_NE(start, std::string_view::npos) << value;
  return Finding{std::move(type), Level::INTERNAL, start, start + value.size(), "test"};
}

TEST(PrivacyInvented, FlagsOnlyValuesNotInTheVault) {
  Vault vault;
  vault.placeholder_for("PERSON", "John Doe");
  vault.placeholder_for("CA_SIN", "046 454 286");
  vault.placeholder_for("EMAIL_ADDRESS", "jd@example.com");
  // The restored answer repeats known values (re-formatted) and invents others.
  const std::string answer =
      "John Doe (SIN 046-454-286, JD@Example.com) should call Mary Major at 416-555-0199 or mary@evil.example. "
      "John agrees.";
  const std::vector<Finding> findings = {
      at(answer, "046-454-286", "CA_SIN"), at(answer, "JD@Example.com", "EMAIL_ADDRESS"),
      at(answer, "416-555-0199", "PHONE_NUMBER"), at(answer, "mary@evil.example", "EMAIL_ADDRESS")};
  const auto persons = detect_persons(answer, findings);
  const auto report = find_invented_pii(answer, findings, persons, vault, config::InventedPiiPolicy::alert);
  EXPECT_EQ(report.types_counted(), (std::vector<std::string>{"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS"}));
  EXPECT_EQ(report.types(), (std::vector<std::string>{"EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER"}));
  EXPECT_FALSE(report.redacted);
  EXPECT_EQ(report.text, answer);  // alert: reported only
  ASSERT_EQ(report.entities.size(), 3u);
  EXPECT_EQ(answer.substr(report.entities[0].start, report.entities[0].end - report.entities[0].start), "Mary Major");
}

TEST(PrivacyInvented, RedactPolicyReplacesInventedValues) {
  Vault vault;
  vault.placeholder_for("PERSON", "John Doe");
  const std::string answer = "John Doe's colleague Mary Major, SIN 130 692 544.";
  const std::vector<Finding> findings = {at(answer, "130 692 544", "CA_SIN")};
  const auto report = find_invented_pii(answer, findings, detect_persons(answer, findings), vault,
                                        config::InventedPiiPolicy::redact);
  EXPECT_TRUE(report.redacted);
  EXPECT_EQ(report.text, "John Doe's colleague [REDACTED_PERSON], SIN [REDACTED_CA_SIN].");
}

TEST(PrivacyInvented, ValuesFromTheRequestTextAreNotInvented) {
  Vault vault;
  const std::string request = "My number is 416-555-0100";
  const std::string answer = "I will call 416-555-0100.";
  const std::vector<Finding> findings = {at(answer, "416-555-0100", "PHONE_NUMBER")};
  EXPECT_TRUE(find_invented_pii(answer, findings, {}, vault, config::InventedPiiPolicy::redact, request).empty());
  EXPECT_FALSE(find_invented_pii(answer, findings, {}, vault, config::InventedPiiPolicy::redact).empty());
}

TEST(PrivacyBlock, RejectsWith422NamingTypesNotValues) {
  config::PiiConfig cfg;
  cfg.block_entities = {"ca_sin"};
  cfg.team_block_entities["hr"] = {"PERSON", "credit-card"};
  const std::string text = "Jane Roe, SIN 046 454 286, card 4111111111111111";
  classify::Classification c;
  c.level = Level::RESTRICTED;
  c.findings = {at(text, "046 454 286", "CA_SIN"), at(text, "4111111111111111", "CREDIT_CARD")};
  const auto persons = detect_persons(text, c.findings);

  auto everyone = check_blocked(c, persons, "sales", cfg);
  ASSERT_FALSE(everyone.ok());
  EXPECT_EQ(everyone.error().code, ErrorCode::pii_blocked);
  EXPECT_EQ(http_status(everyone.error().code), 422);
  EXPECT_NE(everyone.error().message.find("CA_SIN"), std::string::npos);
  EXPECT_EQ(everyone.error().message.find("PERSON"), std::string::npos);

  auto hr = check_blocked(c, persons, "hr", cfg);
  ASSERT_FALSE(hr.ok());
  const std::string& msg = hr.error().message;
  for (const char* type : {"CA_SIN", "CREDIT_CARD", "PERSON"}) EXPECT_NE(msg.find(type), std::string::npos) << msg;
  for (const char* value : {"046", "454", "286", "4111", "Jane", "Roe"}) EXPECT_EQ(msg.find(value), std::string::npos) << msg;
}

TEST(PrivacyBlock, AllowsWhenNothingBlockedIsPresent) {
  config::PiiConfig cfg;
  classify::Classification c;
  c.findings = {Finding{"EMAIL_ADDRESS", Level::INTERNAL, 0, 5, "e"}};
  EXPECT_TRUE(check_blocked(c, {}, "any", cfg).ok());
  cfg.block_entities = {"CA_SIN"};
  cfg.team_block_entities["hr"] = {"EMAIL_ADDRESS"};
  EXPECT_TRUE(check_blocked(c, {}, "sales", cfg).ok());
  EXPECT_FALSE(check_blocked(c, {}, "hr", cfg).ok());
}

}  // namespace
}  // namespace aegis::privacy
