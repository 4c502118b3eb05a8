// The reading of images and PDFs (media/tesseract_extractor.cpp) on images the
// tests render themselves (tests/media/media_fixtures.py): what the gateway's
// classifier then sees, where the words are, what is incomplete, and
// redaction that leaves nothing readable where a value was.
#include "media/tesseract_extractor.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "classify/classifier.hpp"
#include "config/config.hpp"
#include "support/media_fixtures.hpp"

namespace aegis::media {
namespace {

using namespace std::chrono_literals;
using test::media_fixture;

Attachment image(const std::string& name) {
  Attachment a;
  a.kind = Attachment::Kind::image;
  a.media_type = "image/png";
  a.data = media_fixture(name);
  return a;
}

Attachment document(const std::string& name) {
  Attachment a;
  a.kind = Attachment::Kind::document;
  a.media_type = "application/pdf";
  a.data = media_fixture(name);
  return a;
}

auto later() { return std::chrono::steady_clock::now() + 60s; }

// Digits only: OCR may read a space more or less.
std::string digits(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c >= '0' && c <= '9') out += c;
  }
  return out;
}

class ExtractorTest : public ::testing::Test {
 protected:
  std::vector<std::string> entity_types(const std::string& text) {
    std::vector<std::string> out;
    for (const auto& f : classifier_->classify(text, classify::Marking{false}).findings) out.push_back(f.entity_type);
    return out;
  }
  static bool has(const std::vector<std::string>& types, const std::string& type) {
    return std::find(types.begin(), types.end(), type) != types.end();
  }

  TesseractExtractor extractor_{Limits{}};
  std::unique_ptr<classify::Classifier> classifier_ = classify::make_classifier(config::ClassificationConfig{});
};

TEST_F(ExtractorTest, ReadsTheSinOfAnImageInEveryFormatAndTheClassifierFindsIt) {
  for (const char* name : {"sin.png", "sin.jpg", "sin.webp", "sin.gif"}) {
    const auto read = extractor_.extract(image(name), later());
    ASSERT_TRUE(read.complete) << name << ": " << read.incomplete_reason;
    EXPECT_NE(digits(read.text).find("046454286"), std::string::npos) << name;
    EXPECT_TRUE(has(entity_types(read.text), "CA_SIN")) << name;
    ASSERT_GE(read.pages.size(), 1U);
    for (const auto& page : read.pages) {
      EXPECT_TRUE(page.ocr);
      EXPECT_EQ(page.source, 0U);  // every reading is of the one image
    }
  }
}

TEST_F(ExtractorTest, TurnedSkewedFaintFrenchAndLightOnDarkImagesAreReadToo) {
  for (const char* name : {"sin_rot90.png", "sin_rot180.png", "sin_skew.png", "sin_low.png", "sin_fr.png"}) {
    const auto read = extractor_.extract(image(name), later());
    ASSERT_TRUE(read.complete) << name;
    EXPECT_TRUE(has(entity_types(read.text), "CA_SIN")) << name << " read as: " << read.words.size() << " words";
  }
  const auto turned = extractor_.extract(image("sin_rot90.png"), later());
  EXPECT_NE(turned.pages[0].quarter_turns, 0);  // the most confident reading is the one turned upright
  const auto card = extractor_.extract(image("card.png"), later());
  EXPECT_TRUE(has(entity_types(card.text), "CREDIT_CARD"));
  EXPECT_EQ(card.pages[0].quarter_turns, 0);  // orientation detection's "upside down" guess read worse
  const auto cheque = extractor_.extract(image("cheque.png"), later());
  EXPECT_TRUE(has(entity_types(cheque.text), "BANK_ACCOUNT"));
}

TEST_F(ExtractorTest, WordsKnowTheirBytesAndBoxes) {
  const auto read = extractor_.extract(image("person_email.png"), later());
  ASSERT_FALSE(read.words.empty());
  for (const auto& word : read.words) {
    ASSERT_LT(word.start, word.end);
    ASSERT_LE(word.end, read.text.size());
    const std::string_view text(read.text.data() + word.start, word.end - word.start);
    EXPECT_EQ(text.find_first_of(" \n"), std::string_view::npos) << text;
    EXPECT_LT(word.box.left, word.box.right);
    EXPECT_LT(word.box.top, word.box.bottom);
  }
  EXPECT_NE(read.text.find("jane.tremblay@example.com"), std::string::npos);
  EXPECT_NE(read.text.find('\n'), std::string::npos);  // two lines
}

TEST_F(ExtractorTest, APdfIsReadFromItsTextLayerAndItsScannedPageByOcr) {
  const auto read = extractor_.extract(document("two_pages.pdf"), later());
  ASSERT_TRUE(read.complete) << read.incomplete_reason;
  ASSERT_GE(read.pages.size(), 2U);
  EXPECT_FALSE(read.pages[0].ocr);
  EXPECT_EQ(read.pages[1].source, 1U);
  EXPECT_TRUE(read.pages[1].ocr);
  EXPECT_NE(read.text.find("Jane Tremblay"), std::string::npos);
  EXPECT_TRUE(has(entity_types(read.text), "CA_SIN"));
  const auto sin_word = std::find_if(read.words.begin(), read.words.end(),
                                     [&](const Word& w) { return read.text.substr(w.start, 3) == "046"; });
  ASSERT_NE(sin_word, read.words.end());
  EXPECT_EQ(read.pages[sin_word->page].source, 1U);
}

TEST_F(ExtractorTest, WhatCannotBeReadInFullIsIncompleteNeverEmptyAndFine) {
  Attachment garbage;
  garbage.kind = Attachment::Kind::image;
  garbage.data = "\x89PNG\r\n\x1a\n this is not an image";
  EXPECT_FALSE(extractor_.extract(garbage, later()).complete);

  Attachment broken_pdf;
  broken_pdf.kind = Attachment::Kind::document;
  broken_pdf.data = "%PDF-1.4 nothing else";
  EXPECT_FALSE(extractor_.extract(broken_pdf, later()).complete);

  EXPECT_FALSE(extractor_.extract(image("sin.png"), std::chrono::steady_clock::now() - 1ms).complete);

  Limits tiny;
  tiny.max_pixels = 1000;
  auto too_big = TesseractExtractor(tiny).extract(image("sin.png"), later());
  EXPECT_FALSE(too_big.complete);
  EXPECT_NE(too_big.incomplete_reason.find("max_pixels"), std::string::npos);

  Limits small;
  small.max_attachment_bytes = 100;
  EXPECT_FALSE(TesseractExtractor(small).extract(image("sin.png"), later()).complete);

  // Over the page limit: incomplete, yet the pages read still count.
  Limits one_page;
  one_page.max_pdf_pages = 1;
  auto first_only = TesseractExtractor(one_page).extract(document("two_pages.pdf"), later());
  EXPECT_FALSE(first_only.complete);
  EXPECT_NE(first_only.text.find("Jane Tremblay"), std::string::npos);
}

TEST_F(ExtractorTest, RedactionLeavesNothingReadableWhereTheValuesWere) {
  const Attachment original = image("person_email.png");
  const auto read = extractor_.extract(original, later());
  const auto email = read.text.find("jane.tremblay@example.com");
  const auto name = read.text.find("Jane Tremblay");
  ASSERT_NE(email, std::string::npos);
  ASSERT_NE(name, std::string::npos);
  auto redacted = extractor_.redact(original, read, {{email, email + 25}, {name, name + 13}});
  ASSERT_TRUE(redacted.ok()) << redacted.error().message;
  EXPECT_EQ(redacted->media_type, "image/png");
  EXPECT_TRUE(redacted->data.starts_with("\x89PNG"));
  const auto again = extractor_.extract(*redacted, later());
  ASSERT_TRUE(again.complete);
  EXPECT_EQ(again.text.find("example"), std::string::npos) << again.text;
  EXPECT_EQ(again.text.find("Tremblay"), std::string::npos) << again.text;
  EXPECT_NE(again.text.find("Contact"), std::string::npos);  // the rest is still there
}

TEST_F(ExtractorTest, RedactionOfATurnedImageHidesTheValueInTheImageAsItWas) {
  const Attachment original = image("sin_rot90.png");
  const auto read = extractor_.extract(original, later());
  const auto at = read.text.find("046");
  ASSERT_NE(at, std::string::npos);
  auto redacted = extractor_.redact(original, read, {{at, at + 11}});
  ASSERT_TRUE(redacted.ok());
  const auto again = extractor_.extract(*redacted, later());
  EXPECT_EQ(digits(again.text).find("454"), std::string::npos) << again.text;
  EXPECT_NE(again.text.find("Insurance"), std::string::npos) << again.text;
}

TEST_F(ExtractorTest, ARedactedPdfIsPageImagesWithoutTheTextLayer) {
  const Attachment original = document("two_pages.pdf");
  const auto read = extractor_.extract(original, later());
  const auto name = read.text.find("Jane Tremblay");
  const auto sin = read.text.find("046");
  ASSERT_NE(name, std::string::npos);
  ASSERT_NE(sin, std::string::npos);
  auto redacted = extractor_.redact(original, read, {{name, name + 13}, {sin, sin + 11}});
  ASSERT_TRUE(redacted.ok()) << redacted.error().message;
  EXPECT_TRUE(redacted->data.starts_with("%PDF-"));
  const auto again = extractor_.extract(*redacted, later());
  ASSERT_TRUE(again.complete);
  EXPECT_EQ(again.pages.back().source, 1U);
  EXPECT_TRUE(again.pages[0].ocr);  // no text layer left: read by OCR
  EXPECT_EQ(again.text.find("Tremblay"), std::string::npos) << again.text;
  EXPECT_EQ(digits(again.text).find("454"), std::string::npos) << again.text;
  EXPECT_NE(again.text.find("Department"), std::string::npos) << again.text;
}

}  // namespace
}  // namespace aegis::media
