// An attachment's text in the assembled prompt (gateway/prompt.cpp): it is
// classified with the rest of the request, and masking it means listing the
// words to redact and naming their placeholders in the message's text.
#include <gtest/gtest.h>

#include <memory>

#include "gateway/prompt.hpp"

namespace aegis::gateway {
namespace {

constexpr std::string_view kImageText = "Contact: Jane Tremblay\nE-mail: jane@example.com";

struct Fixture {
  ChatRequest request;
  media::MediaInspection inspection;
};

Fixture image_request(std::string message_text) {
  Fixture f;
  Message m;
  m.text = std::move(message_text);
  Attachment a;
  a.kind = Attachment::Kind::image;
  a.media_type = "image/png";
  a.data = "png bytes";
  m.attachments.push_back(a);
  f.request.messages.push_back(Message{});
  f.request.messages[0].text = "earlier turn";
  f.request.messages.push_back(std::move(m));
  auto extraction = std::make_shared<media::Extraction>();
  extraction->text = std::string(kImageText);
  f.inspection.items.push_back(media::InspectedAttachment{1, 0, extraction});
  f.inspection.images = true;
  return f;
}

// mask_request's results, with the vault that restores them.
struct Masked {
  privacy::Vault vault;
  MaskCounts counts;
  std::vector<AttachmentRedaction> redactions;
  ChatRequest request;
};

void mask(const Fixture& f, const AssembledPrompt& prompt, const std::vector<classify::Finding>& findings,
          const std::vector<classify::Finding>& persons, Masked& out) {
  out.request = mask_request(f.request, prompt, findings, persons, out.vault, out.counts, &out.redactions);
}

classify::Finding email_in(const AssembledPrompt& prompt) {
  const auto at = prompt.text.find("jane@example.com");
  return classify::Finding{"EMAIL_ADDRESS", Level::INTERNAL, at, at + 16, "email"};
}

TEST(AttachmentMasking, TheAttachmentsTextIsAFieldOfThePromptAheadOfItsMessage) {
  auto f = image_request("who is this?");
  const auto prompt = assemble_prompt(f.request, &f.inspection);
  EXPECT_NE(prompt.text.find(kImageText), std::string::npos);
  EXPECT_LT(prompt.text.find(kImageText), prompt.text.find("who is this?"));
  const auto field = std::find_if(prompt.fields.begin(), prompt.fields.end(),
                                  [](const PromptField& p) { return p.kind == PromptField::Kind::attachment_text; });
  ASSERT_NE(field, prompt.fields.end());
  EXPECT_EQ(field->message, 1U);
  EXPECT_EQ(field->call, 0U);
  // Without the inspection the prompt is the text alone.
  EXPECT_EQ(assemble_prompt(f.request).text.find("jane@"), std::string::npos);
}

TEST(AttachmentMasking, FindingsInAnAttachmentBecomeARedactionAndANoteNotText) {
  auto f = image_request("who is this?");
  const auto prompt = assemble_prompt(f.request, &f.inspection);
  const auto at = prompt.text.find("Jane Tremblay");
  const std::vector<classify::Finding> persons{classify::Finding{"PERSON", Level::CONFIDENTIAL, at, at + 13, "person"}};
  Masked m;
  mask(f, prompt, {email_in(prompt)}, persons, m);
  const auto& redactions = m.redactions;
  const auto& masked = m.request;

  ASSERT_EQ(redactions.size(), 1U);
  EXPECT_EQ(redactions[0].message, 1U);
  EXPECT_EQ(redactions[0].attachment, 0U);
  ASSERT_EQ(redactions[0].ranges.size(), 2U);
  // Ranges are offsets in the attachment's own text.
  EXPECT_EQ(std::string(kImageText)
                .substr(redactions[0].ranges[0].first, redactions[0].ranges[0].second - redactions[0].ranges[0].first),
            "Jane Tremblay");
  EXPECT_EQ(redactions[0].placeholders, (std::vector<std::string>{"PERSON_0", "EMAIL_ADDRESS_0"}));
  EXPECT_EQ(m.counts["EMAIL_ADDRESS"], 1);
  EXPECT_EQ(m.counts["PERSON"], 1);
  // The attachment itself is the caller's to redact; the text names the placeholders.
  EXPECT_EQ(masked.messages[1].attachments[0].data, "png bytes");
  EXPECT_EQ(masked.messages[1].text,
            "who is this?\n[attachment 1 (image) was redacted by the gateway: PERSON_0, EMAIL_ADDRESS_0 are hidden "
            "under black boxes]");
  EXPECT_EQ(masked.messages[0].text, "earlier turn");
  // The vault restores what a model says about them.
  EXPECT_NE(m.vault.to_json().find("jane@example.com"), std::string::npos);
}

TEST(AttachmentMasking, TheSameValueInTextAndImageGetsOnePlaceholder) {
  auto f = image_request("write to jane@example.com");
  const auto prompt = assemble_prompt(f.request, &f.inspection);
  std::vector<classify::Finding> findings;
  for (auto at = prompt.text.find("jane@example.com"); at != std::string::npos;
       at = prompt.text.find("jane@example.com", at + 1)) {
    findings.push_back(classify::Finding{"EMAIL_ADDRESS", Level::INTERNAL, at, at + 16, "email"});
  }
  ASSERT_EQ(findings.size(), 2U);
  Masked m;
  mask(f, prompt, findings, {}, m);
  ASSERT_EQ(m.redactions.size(), 1U);
  EXPECT_EQ(m.redactions[0].placeholders, std::vector<std::string>{"EMAIL_ADDRESS_0"});
  EXPECT_EQ(m.request.messages[1].text.rfind("write to EMAIL_ADDRESS_0\n", 0), 0U) << m.request.messages[1].text;
}

TEST(AttachmentMasking, AnAttachmentWithoutFindingsIsLeftAlone) {
  auto f = image_request("hello");
  const auto prompt = assemble_prompt(f.request, &f.inspection);
  Masked m;
  mask(f, prompt, {}, {}, m);
  EXPECT_TRUE(m.redactions.empty());
  EXPECT_EQ(m.request.messages[1].text, "hello");
}

}  // namespace
}  // namespace aegis::gateway
