// Images through the in-process pipeline (gateway/gateway.cpp): what their
// text makes of the level and the route, redaction for a cloud target, the
// egress check of attachments, and failing closed when they cannot be read.
// The extractor is a stand-in that reads an "image"'s bytes after the PNG
// signature as its text, so each test says exactly what OCR would find.
#include <gtest/gtest.h>

#include "core/encoding.hpp"
#include "gateway/pipeline_fixture.hpp"
#include "media/media_inspector.hpp"

namespace aegis::gateway::test {
namespace {

constexpr std::string_view kPngSignature = "\x89PNG\r\n\x1a\n";

// OCR that reads the bytes after the PNG signature as text, one word per
// space-separated token; `leaky` redaction changes nothing.
class TextAsImage final : public media::TextExtractor {
 public:
  explicit TextAsImage(bool leaky = false) : leaky_(leaky) {}
  media::Extraction extract(const Attachment& attachment, std::chrono::steady_clock::time_point) const override {
    media::Extraction out;
    out.text = attachment.data.substr(std::min(attachment.data.size(), kPngSignature.size()));
    out.pages.push_back(media::Page{});
    std::size_t start = 0;
    while (start < out.text.size()) {
      auto end = out.text.find(' ', start);
      if (end == std::string::npos) end = out.text.size();
      out.words.push_back(media::Word{start, end, 0, media::Box{}});
      start = end + 1;
    }
    return out;
  }
  Result<Attachment> redact(const Attachment& attachment, const media::Extraction& extraction,
                            const media::Ranges& ranges) const override {
    Attachment out = attachment;
    if (leaky_) return out;
    std::string text = extraction.text;
    for (const auto& [from, to] : ranges) {
      for (auto i = from; i < to && i < text.size(); ++i) text[i] = '#';
    }
    out.data = std::string(kPngSignature) + text;
    return out;
  }

 private:
  bool leaky_;
};

Attachment png_saying(std::string_view text) {
  Attachment a;
  a.kind = Attachment::Kind::image;
  a.media_type = "image/png";
  a.data = std::string(kPngSignature) + std::string(text);
  return a;
}

class MediaPipelineTest : public PipelineTest {
 protected:
  void use_reader(bool leaky = false, bool vision_everywhere = true) {
    for (auto& p : config_.providers) p.vision = vision_everywhere;
    inspector_ = std::make_unique<media::MediaInspector>(media::InspectorSettings{},
                                                         std::make_shared<TextAsImage>(leaky), metrics_);
    media_ = inspector_.get();
    build(Layers{});
  }
  void TearDown() override {
    if (inspector_) inspector_->finish();
    PipelineTest::TearDown();
  }

  Result<ChatOutcome> ask_about(Attachment image, std::string text = "what does it say?") {
    CallContext context;
    context.principal = &principal_;
    ChatRequest request;
    request.model = "auto";
    request.max_tokens = 64;
    Message m = user_message(std::move(text));
    m.attachments.push_back(std::move(image));
    request.messages.push_back(std::move(m));
    auto outcome = run(gateway_->complete(context, std::move(request)));
    last_context_ = context;
    return outcome;
  }

  std::unique_ptr<media::MediaInspector> inspector_;
};

TEST_F(MediaPipelineTest, AnImageWithASinMakesTheRequestRestrictedAndLocal) {
  use_reader();
  auto outcome = ask_about(png_saying(std::string("SIN ") + std::string(kSin)));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(last_context_.level, Level::RESTRICTED);
  EXPECT_EQ(outcome->route.provider, "ollama");
  EXPECT_FALSE(contains_digits(cloud_traffic(), kSinDigits));
  EXPECT_EQ(audit_.last().entities.at("CA_SIN"), 1);
}

TEST_F(MediaPipelineTest, AnOcrMisreadThatBreaksTheCheckDigitStillKeepsTheRequestLocal) {
  use_reader();
  // 046 454 287: the SIN with its last digit misread; the text classifier
  // rightly lets it pass in typed text, an image's text does not.
  auto outcome = ask_about(png_saying("SIN 046 454 287"));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(last_context_.level, Level::RESTRICTED);
  EXPECT_EQ(outcome->route.provider, "ollama");
  EXPECT_EQ(audit_.last().entities.at("CA_SIN"), 1);
  // The same characters typed are not RESTRICTED: the rule is for OCR text only.
  ASSERT_TRUE(chat("SIN 046 454 287").ok());
  EXPECT_NE(last_context_.level, Level::RESTRICTED);
}

TEST_F(MediaPipelineTest, ACloudTargetGetsTheRedactedImageAndThePlaceholdersInTheText) {
  use_reader();
  auto outcome = ask_about(png_saying("write to jane@example.com"));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->route.provider, "anthropic");
  const std::string sent = cloud_traffic();
  EXPECT_EQ(sent.find("jane@example.com"), std::string::npos);
  EXPECT_NE(sent.find("EMAIL_ADDRESS_0 is hidden under black boxes"), std::string::npos);
  // The image it received is the redacted one (base64 of "write to ####...").
  EXPECT_NE(sent.find(base64_encode(std::string(kPngSignature) + "write to ################")), std::string::npos);
  EXPECT_GE(last_context_.masked, 1);
}

TEST_F(MediaPipelineTest, ARedactionThatStillShowsTheValueIsVetoedAndTheRequestRunsLocally) {
  use_reader(/*leaky=*/true);
  auto outcome = ask_about(png_saying("write to jane@example.com"));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->route.provider, "ollama");
  EXPECT_EQ(last_context_.level, Level::RESTRICTED);
  EXPECT_EQ(cloud_traffic().find("example.com"), std::string::npos);
  EXPECT_TRUE(audit_.last().egress_veto);
  EXPECT_EQ(audit_.last().egress_rule, "media.redaction");
  EXPECT_EQ(scraped(metrics_, "aegis_egress_vetoes_total{rule=\"media.redaction\"}"), 1);
}

TEST_F(MediaPipelineTest, TheIndependentDetectorScansAttachmentsTheClassifierPassed) {
  for (auto& p : config_.providers) p.vision = true;
  inspector_ =
      std::make_unique<media::MediaInspector>(media::InspectorSettings{}, std::make_shared<TextAsImage>(), metrics_);
  media_ = inspector_.get();
  test_support::KeywordEgressDetector keyword{std::string(kVetoWord)};
  Layers layers;
  layers.detector = &keyword;
  build(layers);
  auto outcome = ask_about(png_saying(std::string("code ") + std::string(kVetoWord)));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->route.provider, "ollama");
  EXPECT_EQ(cloud_traffic().find(base64_encode(std::string(kPngSignature) + "code")), std::string::npos);
  EXPECT_TRUE(audit_.last().egress_veto);
}

TEST_F(MediaPipelineTest, WithoutAReaderAnImageIsUnreadAndStaysLocal) {
  for (auto& p : config_.providers) p.vision = true;
  build(Layers{});  // no media reader
  auto outcome = ask_about(png_saying("nothing special"));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(last_context_.level, Level::RESTRICTED);
  EXPECT_EQ(outcome->route.provider, "ollama");
  EXPECT_EQ(audit_.last().entities.at("UNREAD_ATTACHMENT"), 1);
  EXPECT_NE(outcome->route.reason.find("could not be read in full"), std::string::npos);
}

TEST_F(MediaPipelineTest, AnImageGoesOnlyToProvidersThatDeclareVision) {
  use_reader(false, false);
  config_.providers[1].vision = true;  // azure
  build(Layers{});
  auto outcome = ask_about(png_saying("a chart of sales"));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->route.provider, "azure");
  auto restricted = ask_about(png_saying(std::string("SIN ") + std::string(kSin)));
  ASSERT_FALSE(restricted.ok());
  EXPECT_EQ(restricted.error().code, ErrorCode::no_local_provider);
  EXPECT_NE(restricted.error().message.find("vision"), std::string::npos);
}

TEST_F(MediaPipelineTest, TextOnlyRequestsNeverReachTheReader) {
  use_reader();
  ASSERT_TRUE(chat("hello there").ok());
  EXPECT_EQ(metrics_.expose().find("aegis_media_extractions_total{"), std::string::npos);
}

}  // namespace
}  // namespace aegis::gateway::test
