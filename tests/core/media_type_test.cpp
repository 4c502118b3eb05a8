#include "core/media_type.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <string>

#include "core/attachment_json.hpp"
#include "core/data_url.hpp"
#include "core/encoding.hpp"
#include "core/json.hpp"
#include "support/media_samples.hpp"

namespace aegis {
namespace {

using namespace std::string_literals;

using test::kGif87, test::kJpeg, test::kPdf, test::kPng, test::kWebp;
constexpr auto kGif89 = test::kGif;

TEST(CoreMediaType, SniffsEachSupportedFormat) {
  EXPECT_EQ(sniff_media_type(kPng), "image/png");
  EXPECT_EQ(sniff_media_type(kJpeg), "image/jpeg");
  EXPECT_EQ(sniff_media_type(kWebp), "image/webp");
  EXPECT_EQ(sniff_media_type(kGif87), "image/gif");
  EXPECT_EQ(sniff_media_type(kGif89), "image/gif");
  EXPECT_EQ(sniff_media_type(kPdf), "application/pdf");
}

TEST(CoreMediaType, RecognisesNothingElse) {
  EXPECT_FALSE(sniff_media_type(""));
  EXPECT_FALSE(sniff_media_type("hello world"));
  EXPECT_FALSE(sniff_media_type("\x89PNG"));              // cut short
  EXPECT_FALSE(sniff_media_type("RIFF\x24\0\0\0WAVE"s));  // a RIFF that is not WebP
  EXPECT_FALSE(sniff_media_type("RIFFWEBP"));             // WEBP not at byte 8
  EXPECT_FALSE(sniff_media_type("GIF88a"));
  EXPECT_FALSE(sniff_media_type("%PDF"));
  EXPECT_FALSE(sniff_media_type("BM\x36\0\0\0"s));  // BMP
}

TEST(CoreMediaType, SupportedTypes) {
  for (const char* t : {"image/png", "image/jpeg", "image/webp", "image/gif"}) EXPECT_TRUE(is_supported_image_type(t));
  for (const char* t : {"image/jpg", "image/bmp", "image/svg+xml", "IMAGE/PNG", "application/pdf", ""})
    EXPECT_FALSE(is_supported_image_type(t)) << t;
  EXPECT_TRUE(is_supported_document_type("application/pdf"));
  EXPECT_FALSE(is_supported_document_type("text/plain"));
}

TEST(CoreMediaType, ChecksDeclaredTypeAgainstTheBytes) {
  EXPECT_FALSE(check_attachment_data(Attachment::Kind::image, "image/png", kPng));
  EXPECT_FALSE(check_attachment_data(Attachment::Kind::document, "application/pdf", kPdf));

  auto mismatch = check_attachment_data(Attachment::Kind::image, "image/jpeg", kPng);
  ASSERT_TRUE(mismatch);
  EXPECT_FALSE(mismatch->in_data);
  EXPECT_EQ(mismatch->message, "declared as image/jpeg but the data is image/png");

  auto unknown = check_attachment_data(Attachment::Kind::image, "image/png", "not an image");
  ASSERT_TRUE(unknown);
  EXPECT_TRUE(unknown->in_data);
  EXPECT_EQ(unknown->message, "the data is not a PNG, JPEG, WebP or GIF image");

  auto pdf_as_image = check_attachment_data(Attachment::Kind::image, "image/png", kPdf);
  ASSERT_TRUE(pdf_as_image);
  EXPECT_TRUE(pdf_as_image->in_data);

  auto bmp = check_attachment_data(Attachment::Kind::image, "image/bmp", kPng);
  ASSERT_TRUE(bmp);
  EXPECT_FALSE(bmp->in_data);
  EXPECT_EQ(bmp->message,
            "unsupported image media type 'image/bmp' (supported: image/png, image/jpeg, image/webp, image/gif)");

  auto text_doc = check_attachment_data(Attachment::Kind::document, "text/plain", "hello");
  ASSERT_TRUE(text_doc);
  EXPECT_EQ(text_doc->message, "unsupported document media type 'text/plain' (only application/pdf is supported)");

  auto png_as_pdf = check_attachment_data(Attachment::Kind::document, "application/pdf", kPng);
  ASSERT_TRUE(png_as_pdf);
  EXPECT_TRUE(png_as_pdf->in_data);
  EXPECT_EQ(png_as_pdf->message, "the data is not a PDF document");
}

TEST(CoreDataUrl, ParsesBase64DataUrls) {
  auto url = parse_data_url("data:image/png;base64," + base64_encode(kPng));
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_EQ(url->media_type, "image/png");
  EXPECT_EQ(url->data, kPng);

  // Parameters before the base64 marker; scheme and type in any case.
  auto params = parse_data_url("DATA:Application/PDF;name=a.pdf;BASE64," + base64_encode(kPdf));
  ASSERT_TRUE(params.ok()) << params.error().message;
  EXPECT_EQ(params->media_type, "application/pdf");
  EXPECT_EQ(params->data, kPdf);
}

TEST(CoreDataUrl, RefusesMalformedUrls) {
  auto message = [](std::string_view url) {
    auto r = parse_data_url(url);
    EXPECT_FALSE(r.ok()) << url;
    if (r.ok()) return std::string();
    EXPECT_EQ(r.error().code, ErrorCode::invalid_request);
    return r.error().message;
  };
  EXPECT_EQ(message("https://example.com/a.png"), "is not a data URL (data:<media type>;base64,<data>)");
  EXPECT_EQ(message("data:image/png;base64"), "is not a data URL (data:<media type>;base64,<data>)");
  EXPECT_EQ(message("data:image/png,rawbytes"),
            "only base64 data URLs are supported (data:<media type>;base64,<data>)");
  EXPECT_EQ(message("data:image/png;base64x,AAAA"),
            "only base64 data URLs are supported (data:<media type>;base64,<data>)");
  EXPECT_EQ(message("data:;base64,AAAA"), "the data URL has no media type (data:<media type>;base64,<data>)");
  EXPECT_EQ(message("data:image;base64,AAAA"), "the data URL has no media type (data:<media type>;base64,<data>)");
  EXPECT_EQ(message("data:image/png;base64,"), "the data URL has no data");
  EXPECT_EQ(message("data:image/png;base64,not base64!"), "the data URL's payload is not valid base64");
  EXPECT_EQ(message("data:image/png;base64,AAA"), "the data URL's payload is not valid base64");
}

TEST(CoreDataUrl, WritesWhatItReads) {
  const std::string url = to_data_url("image/gif", kGif89);
  EXPECT_EQ(url, "data:image/gif;base64," + base64_encode(kGif89));
  auto back = parse_data_url(url);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->media_type, "image/gif");
  EXPECT_EQ(back->data, kGif89);
}

TEST(CoreDataUrl, TellsHttpUrls) {
  EXPECT_TRUE(is_http_url("https://example.com/a.png"));
  EXPECT_TRUE(is_http_url("HTTP://example.com/a.png"));
  EXPECT_FALSE(is_http_url("data:image/png;base64,AAAA"));
  EXPECT_FALSE(is_http_url("ftp://example.com/a.png"));
  EXPECT_FALSE(is_http_url("file:///etc/passwd"));
}

TEST(CoreAttachmentJson, RoundTripsEveryField) {
  Attachment image;
  image.kind = Attachment::Kind::image;
  image.media_type = "image/webp";
  image.data = kWebp;
  image.detail = "low";
  image.cache_control = boost::json::object{{"type", "ephemeral"}};
  Attachment doc;
  doc.kind = Attachment::Kind::document;
  doc.media_type = "application/pdf";
  doc.data = kPdf;
  doc.filename = "report.pdf";
  Attachment link;
  link.url = "https://example.com/cat.png";

  for (const Attachment& a : {image, doc, link}) {
    const std::string text = to_json(attachment_json(a));
    auto back = parse_attachment_json(boost::json::parse(text), "a");
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->kind, a.kind);
    EXPECT_EQ(back->media_type, a.media_type);
    EXPECT_EQ(back->data, a.data);
    EXPECT_EQ(back->url, a.url);
    EXPECT_EQ(back->filename, a.filename);
    EXPECT_EQ(back->detail, a.detail);
    EXPECT_EQ(back->cache_control, a.cache_control);
    EXPECT_EQ(to_json(attachment_json(*back)), text);
  }
  EXPECT_EQ(to_json(attachment_json(link)), R"({"type":"image","url":"https://example.com/cat.png"})");
}

TEST(CoreAttachmentJson, RefusesWhatItWouldNotWrite) {
  auto message = [](const std::string& json) {
    auto r = parse_attachment_json(boost::json::parse(json), "m.attachments[0]");
    EXPECT_FALSE(r.ok()) << json;
    return r.ok() ? std::string() : r.error().message;
  };
  const std::string png = base64_encode(kPng);
  EXPECT_EQ(message("[]"), "m.attachments[0] must be an object");
  EXPECT_EQ(message(R"({"media_type":"image/png","data":")" + png + R"("})"), "m.attachments[0].type is required");
  EXPECT_EQ(message(R"({"type":"video","url":"https://x"})"),
            "m.attachments[0].type must be \"image\" or \"document\"");
  EXPECT_EQ(message(R"({"type":"image","size":3,"url":"https://x"})"), "m.attachments[0].size must be a string");
  EXPECT_EQ(message(R"({"type":"image","name":"x","url":"https://x"})"),
            "m.attachments[0].name is not a field of an attachment");
  EXPECT_EQ(message(R"({"type":"image","media_type":"image/png","data":"%%%"})"),
            "m.attachments[0].data must be non-empty standard base64");
  EXPECT_EQ(message(R"({"type":"image"})"), "m.attachments[0] must have either data or url");
  EXPECT_EQ(message(R"({"type":"image","media_type":"image/png","data":")" + png + R"(","url":"https://x"})"),
            "m.attachments[0] must have either data or url");
  EXPECT_EQ(message(R"({"type":"image","url":"file:///etc/passwd"})"), "m.attachments[0].url must be an http(s) URL");
  EXPECT_EQ(message(R"({"type":"image","data":")" + png + R"("})"),
            "m.attachments[0].media_type is required with data");
  EXPECT_EQ(message(R"({"type":"image","media_type":"image/jpeg","data":")" + png + R"("})"),
            "m.attachments[0].media_type: declared as image/jpeg but the data is image/png");
  EXPECT_EQ(message(R"({"type":"document","media_type":"application/pdf","data":")" + png + R"("})"),
            "m.attachments[0].data: the data is not a PDF document");
  EXPECT_EQ(message(R"({"type":"image","url":"https://x","cache_control":"ephemeral"})"),
            "m.attachments[0].cache_control must be an object");
  EXPECT_EQ(message(R"({"type":"image","url":"https://x","media_type":"image/tiff"})"),
            "m.attachments[0].media_type is not a supported image type");
}

}  // namespace
}  // namespace aegis
