// Images and PDF documents in the simulator's protocols: accepted where the
// real APIs accept them, refused with their errors where they do not, and
// counted as input tokens at a flat rate each.
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <string>

#include "core/encoding.hpp"
#include "sim/sim_core.hpp"

namespace aegis::sim::detail {
namespace {

namespace json = boost::json;
using namespace std::string_literals;

const std::string kPng = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR"s;
const std::string kJpeg = "\xff\xd8\xff\xe0\0\x10JFIF"s;
const std::string kWebp = "RIFF\x24\0\0\0WEBPVP8 "s;
const std::string kPdf = "%PDF-1.4\n1 0 obj\n"s;

http::HttpRequest post(const std::string& path, std::string body, std::vector<http::Header> headers) {
  http::HttpRequest r;
  r.method = "POST";
  const auto q = path.find('?');
  r.target = path;
  r.path = path.substr(0, q);
  if (q != std::string::npos) r.query = path.substr(q + 1);
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

const Context kContext{7, 1'700'000'000'000, nullptr};

Reply anthropic(const std::string& content) {
  return handle_provider_request(
      post("/v1/messages",
           R"({"model":"claude-x","max_tokens":100,"messages":[{"role":"user","content":)" + content + "}]}",
           {{"x-api-key", "k"}, {"anthropic-version", "2023-06-01"}}),
      kContext);
}

Reply openai(const std::string& content) {
  return handle_provider_request(
      post("/v1/chat/completions", R"({"model":"gpt","messages":[{"role":"user","content":)" + content + "}]}",
           {{"Authorization", "Bearer k"}}),
      kContext);
}

Reply ollama(const std::string& images) {
  return handle_provider_request(
      post("/api/chat",
           R"({"model":"llava","stream":false,"messages":[{"role":"user","content":"what","images":)" + images + "}]}",
           {}),
      kContext);
}

std::string error_message(const Reply& reply) {
  const auto body = json::parse(reply.body);
  const auto& error = body.at("error");
  return error.is_string() ? std::string(error.as_string()) : std::string(error.at("message").as_string());
}

std::string image(const std::string& media_type, const std::string& bytes) {
  return R"({"type":"image","source":{"type":"base64","media_type":")" + media_type + R"(","data":")" +
         base64_encode(bytes) + R"("}})";
}

TEST(SimMedia, FileSignatures) {
  EXPECT_EQ(file_signature(kPng), "image/png");
  EXPECT_EQ(file_signature(kJpeg), "image/jpeg");
  EXPECT_EQ(file_signature(kWebp), "image/webp");
  EXPECT_EQ(file_signature("GIF87a.."), "image/gif");
  EXPECT_EQ(file_signature(kPdf), "application/pdf");
  EXPECT_EQ(file_signature("RIFF\x24\0\0\0WAVE"s), "");
  EXPECT_EQ(file_signature("hello"), "");
}

TEST(SimMedia, AnthropicCountsImagesAndDocuments) {
  auto reply = anthropic("[" + image("image/png", kPng) +
                         R"(,{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":")" +
                         base64_encode(kPdf) +
                         R"("},"title":"t"},{"type":"image","source":{"type":"url","url":"https://x/a.png"}},)"
                         R"({"type":"text","text":"hi"}])");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto body = json::parse(reply.body);
  EXPECT_EQ(body.at("content").at(0).at("text"), "Echo: hi");
  EXPECT_EQ(body.at("usage").at("input_tokens").as_int64(), estimate_tokens(2) + 2 * kImageTokens + kDocumentTokens);
}

TEST(SimMedia, AnthropicValidatesLikeTheRealApi) {
  const std::pair<std::string, std::string> cases[] = {
      {"[" + image("image/bmp", kPng) + "]",
       "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' "
       "or 'image/webp'"},
      {"[" + image("image/jpeg", kPng) + "]",
       "messages.0.content.0.image.source.base64.data: The image was specified using the image/jpeg media type, but "
       "the image appears to be a image/png image"},
      {"[" + image("image/png", "not an image") + "]",
       "messages.0.content.0.image.source.base64.data: Could not process image"},
      {R"([{"type":"image","source":{"type":"base64","media_type":"image/png","data":"@@"}}])",
       "messages.0.content.0.image.source.base64.data: invalid base64 data"},
      {R"([{"type":"image"}])", "messages.0.content.0.image.source: Field required"},
      {R"([{"type":"image","source":{"type":"svg"}}])",
       "messages.0.content.0.image.source: Input tag 'svg' found using 'type' does not match any of the expected "
       "tags: 'base64', 'url', 'file'"},
      {R"([{"type":"document","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}])",
       "messages.0.content.0.document.source.base64.media_type: Input should be 'application/pdf'"},
      {R"([{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":")" +
           base64_encode(kPng) + R"("}}])",
       "messages.0.content.0.document.source.base64.data: The PDF specified was not valid."},
  };
  for (const auto& [content, expected] : cases) {
    auto reply = anthropic(content);
    EXPECT_EQ(reply.status, 400) << content;
    EXPECT_EQ(error_message(reply), expected) << content;
  }
  auto in_system = handle_provider_request(post("/v1/messages",
                                                R"({"model":"c","max_tokens":5,"system":[)" + image("image/png", kPng) +
                                                    R"(],"messages":[{"role":"user","content":"x"}]})",
                                                {{"x-api-key", "k"}, {"anthropic-version", "2023-06-01"}}),
                                           kContext);
  EXPECT_EQ(in_system.status, 400);
  EXPECT_EQ(error_message(in_system), "system.0.type: Input should be 'text'");
}

TEST(SimMedia, OpenAiCountsImagePartsByDetailAndFiles) {
  const std::string png = "data:image/png;base64," + base64_encode(kPng);
  auto reply = openai(R"([{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":")" + png +
                      R"(","detail":"low"}},{"type":"image_url","image_url":{"url":"https://x/a.jpg"}},)"
                      R"({"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,)" +
                      base64_encode(kPdf) + R"("}}])");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto body = json::parse(reply.body);
  EXPECT_EQ(body.at("usage").at("prompt_tokens").as_int64(),
            estimate_tokens(2) + kLowDetailImageTokens + kImageTokens + kDocumentTokens);
  EXPECT_EQ(body.at("choices").at(0).at("message").at("content"), "Echo: hi");

  // Azure reads the same parts.
  auto azure = handle_provider_request(
      post("/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21",
           R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":")" + png + R"("}}]}]})",
           {{"api-key", "k"}}),
      kContext);
  ASSERT_EQ(azure.status, 200) << azure.body;
  EXPECT_EQ(json::parse(azure.body).at("usage").at("prompt_tokens").as_int64(), kImageTokens);
}

TEST(SimMedia, OpenAiRefusesBadImagesAndFiles) {
  const std::pair<std::string, std::string> cases[] = {
      {R"([{"type":"image_url","image_url":{"url":"data:image/png;base64,)" + base64_encode("text") + R"("}}])",
       "You uploaded an unsupported image. Please make sure your image has of one the following formats: ['png', "
       "'jpeg', 'gif', 'webp']."},
      {R"([{"type":"image_url","image_url":{"url":"nonsense"}}])",
       "Invalid 'image_url'. Expected a base64-encoded data URL with an image MIME type (e.g. "
       "'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got an invalid value."},
      {R"([{"type":"image_url","image_url":{"url":"https://x/a.png","detail":"max"}}])",
       "Invalid value: 'max'. Supported values are: 'auto', 'low', and 'high'."},
      {R"([{"type":"image_url"}])", "Missing required parameter: 'messages[0].content[0].image_url.url'."},
      {R"([{"type":"file","file":{"file_data":"data:application/pdf;base64,)" + base64_encode(kPdf) + R"("}}])",
       "Missing required parameter: 'messages[0].content[0].file.file_id'."},
      {R"([{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,)" + base64_encode(kPng) +
           R"("}}])",
       "Invalid file data: 'messages[0].content[0].file.file_data'. Expected a base64-encoded PDF."},
  };
  for (const auto& [content, expected] : cases) {
    auto reply = openai(content);
    EXPECT_EQ(reply.status, 400) << content;
    EXPECT_EQ(error_message(reply), expected) << content;
  }
}

TEST(SimMedia, OllamaCountsImagesAndRefusesOthers) {
  auto reply = ollama(R"([")" + base64_encode(kJpeg) + R"(",")" + base64_encode(kWebp) + R"("])");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(json::parse(reply.body).at("prompt_eval_count").as_int64(), estimate_tokens(4) + 2 * kImageTokens);

  auto pdf = ollama(R"([")" + base64_encode(kPdf) + R"("])");
  EXPECT_EQ(pdf.status, 400);
  EXPECT_EQ(error_message(pdf), "image: unknown format");
  auto bad = ollama(R"(["%%"])");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(error_message(bad), "illegal base64 data in Message.messages.images");
}

}  // namespace
}  // namespace aegis::sim::detail
