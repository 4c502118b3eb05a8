// Images and PDF documents (core/chat.hpp Attachment) through every codec:
// each protocol's own wire form in, the same form written back out, and the
// 400s for what the gateway does not take.
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <string>

#include "core/data_url.hpp"
#include "core/encoding.hpp"
#include "core/json.hpp"
#include "support/media_samples.hpp"
#include "wire/anthropic.hpp"
#include "wire/ollama.hpp"
#include "wire/openai.hpp"
#include "wire/responses.hpp"

namespace aegis::wire {
namespace {

namespace json = boost::json;
using namespace std::string_literals;

using test::kGif, test::kJpeg, test::kPdf, test::kPng;

std::string b64(std::string_view bytes) { return base64_encode(bytes); }

// ---- OpenAI Chat Completions ----------------------------------------------------

std::string openai_error(const std::string& body) {
  auto r = openai::parse_chat_request(json::parse(body));
  EXPECT_FALSE(r.ok()) << body;
  if (r.ok()) return {};
  EXPECT_EQ(r.error().code, ErrorCode::invalid_request);
  return r.error().message;
}

std::string openai_user(const std::string& parts) {
  return R"({"model":"m","messages":[{"role":"user","content":)" + parts + "}]}";
}

TEST(WireAttachmentsOpenAI, ParsesImageAndFileParts) {
  const std::string body = openai_user(R"([{"type":"text","text":"What is in these?"},)"
                                       R"({"type":"image_url","image_url":{"url":")" +
                                       to_data_url("image/png", kPng) +
                                       R"(","detail":"high"}},)"
                                       R"({"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}},)"
                                       R"({"type":"file","file":{"file_data":")" +
                                       to_data_url("application/pdf", kPdf) + R"(","filename":"r.pdf"}}])");
  auto r = openai::parse_chat_request(json::parse(body));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->messages.size(), 1u);
  const auto& m = r->messages[0];
  EXPECT_EQ(m.text, "What is in these?");
  ASSERT_EQ(m.attachments.size(), 3u);
  EXPECT_EQ(m.attachments[0].kind, Attachment::Kind::image);
  EXPECT_EQ(m.attachments[0].media_type, "image/png");
  EXPECT_EQ(m.attachments[0].data, kPng);
  EXPECT_EQ(m.attachments[0].detail, "high");
  EXPECT_EQ(m.attachments[1].url, "https://example.com/cat.jpg");
  EXPECT_TRUE(m.attachments[1].data.empty());
  EXPECT_EQ(m.attachments[2].kind, Attachment::Kind::document);
  EXPECT_EQ(m.attachments[2].media_type, "application/pdf");
  EXPECT_EQ(m.attachments[2].data, kPdf);
  EXPECT_EQ(m.attachments[2].filename, "r.pdf");
}

TEST(WireAttachmentsOpenAI, WritesAttachmentsFirstThenTheText) {
  const std::string body = openai_user(R"([{"type":"text","text":"Compare"},)"
                                       R"({"type":"image_url","image_url":{"url":")" +
                                       to_data_url("image/jpeg", kJpeg) +
                                       R"(","detail":"low"}},)"
                                       R"({"type":"file","file":{"file_data":")" +
                                       to_data_url("application/pdf", kPdf) + R"(","filename":"a.pdf"}}])");
  auto r = openai::parse_chat_request(json::parse(body));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const json::object out = openai::write_chat_request(*r, "gpt-4o");
  EXPECT_EQ(to_json(out.at("messages")), R"([{"role":"user","content":[)"
                                         R"({"type":"image_url","image_url":{"url":")" +
                                             to_data_url("image/jpeg", kJpeg) +
                                             R"(","detail":"low"}},)"
                                             R"({"type":"file","file":{"file_data":")" +
                                             to_data_url("application/pdf", kPdf) +
                                             R"(","filename":"a.pdf"}},)"
                                             R"({"type":"text","text":"Compare"}]}])");
  // What it writes it reads back the same.
  auto back = openai::parse_chat_request(json::parse(to_json(out)));
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->messages[0].attachments.size(), 2u);
  EXPECT_EQ(back->messages[0].attachments[0].data, kJpeg);
  EXPECT_EQ(back->messages[0].attachments[0].detail, "low");
  EXPECT_EQ(back->messages[0].attachments[1].data, kPdf);
  EXPECT_EQ(back->messages[0].attachments[1].filename, "a.pdf");
  EXPECT_EQ(back->messages[0].text, "Compare");
}

TEST(WireAttachmentsOpenAI, WritesUrlsAndAMessageWithoutText) {
  ChatRequest request;
  request.model = "m";
  Message m;
  Attachment url_image;
  url_image.url = "https://example.com/a.png";
  Attachment doc;
  doc.kind = Attachment::Kind::document;
  doc.media_type = "application/pdf";
  doc.data = kPdf;
  m.attachments = {url_image, doc};
  request.messages.push_back(m);
  const json::object out = openai::write_chat_request(request, "gpt-4o");
  // OpenAI refuses file_data without a filename, so one is supplied.
  EXPECT_EQ(to_json(out.at("messages")),
            R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}},)"
            R"({"type":"file","file":{"file_data":")" +
                to_data_url("application/pdf", kPdf) + R"(","filename":"document.pdf"}}]}])");
  // Without attachments the content stays a string.
  request.messages[0].attachments.clear();
  request.messages[0].text = "hi";
  EXPECT_EQ(to_json(openai::write_chat_request(request, "gpt-4o").at("messages")),
            R"([{"role":"user","content":"hi"}])");
}

TEST(WireAttachmentsOpenAI, RefusesWhatItCannotGovern) {
  const std::string png = to_data_url("image/png", kPng);
  const std::pair<std::string, std::string> cases[] = {
      {openai_user(R"([{"type":"image_url","image_url":{"url":")" + to_data_url("image/jpeg", kPng) + R"("}}])"),
       "messages[0].content[0].image_url.url: declared as image/jpeg but the data is image/png"},
      {openai_user(R"([{"type":"image_url","image_url":{"url":")" + to_data_url("image/png", "plain text") + R"("}}])"),
       "messages[0].content[0].image_url.url: the data is not a PNG, JPEG, WebP or GIF image"},
      {openai_user(R"([{"type":"image_url","image_url":{"url":")" + to_data_url("image/bmp", kPng) + R"("}}])"),
       "messages[0].content[0].image_url.url: unsupported image media type 'image/bmp' (supported: image/png, "
       "image/jpeg, image/webp, image/gif)"},
      {openai_user(R"([{"type":"image_url","image_url":{"url":"data:image/png;base64,!!!"}}])"),
       "messages[0].content[0].image_url.url: the data URL's payload is not valid base64"},
      {openai_user(R"([{"type":"image_url","image_url":{"url":"ftp://example.com/a.png"}}])"),
       "messages[0].content[0].image_url.url: must be a data URL (data:<media type>;base64,<data>) or an http(s) URL"},
      {openai_user(R"([{"type":"image_url","image_url":{"url":")" + png + R"(","detail":"max"}}])"),
       "messages[0].content[0].image_url.detail: must be auto, low or high"},
      {openai_user(R"([{"type":"image_url"}])"), "messages[0].content[0].image_url: is required"},
      {openai_user(R"([{"type":"file","file":{"file_id":"file-abc"}}])"),
       "messages[0].content[0].file.file_id: file references are not supported; send the file inline as file_data"},
      {openai_user(R"([{"type":"file","file":{"filename":"a.pdf"}}])"),
       "messages[0].content[0].file.file_data: is required and must be a string"},
      {openai_user(R"([{"type":"file","file":{"file_data":")" + png + R"("}}])"),
       "messages[0].content[0].file.file_data: unsupported document media type 'image/png' (only application/pdf is "
       "supported)"},
      {openai_user(R"([{"type":"file","file":{"file_data":")" + to_data_url("application/pdf", kPng) + R"("}}])"),
       "messages[0].content[0].file.file_data: the data is not a PDF document"},
      {openai_user(R"([{"type":"file","file":{"file_data":"https://example.com/a.pdf"}}])"),
       "messages[0].content[0].file.file_data: is not a data URL (data:<media type>;base64,<data>)"},
      {openai_user(R"([{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}])"),
       "messages[0].content[0]: audio content is not supported"},
      {R"({"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":")" + png +
           R"("}}]},{"role":"user","content":"hi"}]})",
       "messages[0].content[0]: image_url parts are only supported in user messages"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"file","file":{}}]}]})",
       "messages[1].content[0]: file parts are only supported in user messages"},
      {R"({"model":"m","messages":[{"role":"tool","tool_call_id":"c","content":[{"type":"image_url","image_url":{"url":")" +
           png + R"("}}]}]})",
       "messages[0].content[0]: image_url parts are only supported in user messages"},
  };
  for (const auto& [body, expected] : cases) EXPECT_EQ(openai_error(body), expected) << body;
}

// ---- Responses API ------------------------------------------------------------------

std::string responses_error(const std::string& body) {
  auto r = responses::parse_request(json::parse(body));
  EXPECT_FALSE(r.ok()) << body;
  if (r.ok()) return {};
  EXPECT_EQ(r.error().code, ErrorCode::invalid_request);
  return r.error().message;
}

std::string responses_user(const std::string& parts) {
  return R"({"model":"m","input":[{"role":"user","content":)" + parts + "}]}";
}

TEST(WireAttachmentsResponses, ParsesInputImageAndInputFile) {
  const std::string body = responses_user(R"([{"type":"input_text","text":"Read this"},)"
                                          R"({"type":"input_image","image_url":")" +
                                          to_data_url("image/gif", kGif) +
                                          R"(","detail":"auto"},)"
                                          R"({"type":"input_image","image_url":"https://example.com/x.png"},)"
                                          R"({"type":"input_file","file_data":")" +
                                          to_data_url("application/pdf", kPdf) + R"(","filename":"x.pdf"}])");
  auto r = responses::parse_request(json::parse(body));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->chat.messages.size(), 1u);
  const auto& m = r->chat.messages[0];
  EXPECT_EQ(m.text, "Read this");
  ASSERT_EQ(m.attachments.size(), 3u);
  EXPECT_EQ(m.attachments[0].media_type, "image/gif");
  EXPECT_EQ(m.attachments[0].data, kGif);
  EXPECT_EQ(m.attachments[0].detail, "auto");
  EXPECT_EQ(m.attachments[1].url, "https://example.com/x.png");
  EXPECT_EQ(m.attachments[2].kind, Attachment::Kind::document);
  EXPECT_EQ(m.attachments[2].data, kPdf);
  EXPECT_EQ(m.attachments[2].filename, "x.pdf");
}

TEST(WireAttachmentsResponses, RefusesFileReferencesAndBadData) {
  const std::pair<std::string, std::string> cases[] = {
      {responses_user(R"([{"type":"input_image","file_id":"file-1"}])"),
       "input[0].content[0].file_id: file references are not supported; send the file inline"},
      {responses_user(R"([{"type":"input_file","file_id":"file-1"}])"),
       "input[0].content[0].file_id: file references are not supported; send the file inline"},
      {responses_user(R"([{"type":"input_file","file_url":"https://example.com/a.pdf"}])"),
       "input[0].content[0].file_url: file references are not supported; send the file inline"},
      {responses_user(R"([{"type":"input_image","image_url":")" + to_data_url("image/gif", kPng) + R"("}])"),
       "input[0].content[0].image_url: declared as image/gif but the data is image/png"},
      {responses_user(R"([{"type":"input_image","image_url":")" + to_data_url("image/png", kPng) +
                      R"(","detail":"ultra"}])"),
       "input[0].content[0].detail: must be auto, low or high"},
      {responses_user(R"([{"type":"input_file","file_data":")" + to_data_url("application/pdf", "hello") + R"("}])"),
       "input[0].content[0].file_data: the data is not a PDF document"},
      {responses_user(R"([{"type":"input_image","image_url":"https://x/a.png","size":1}])"),
       "input[0].content[0].size: unknown field"},
      {responses_user(R"([{"type":"input_audio","input_audio":{}}])"),
       "input[0].content[0]: audio input is not supported"},
      {R"({"model":"m","input":[{"role":"system","content":[{"type":"input_image","image_url":"https://x/a.png"}]},{"role":"user","content":"hi"}]})",
       "input[0].content[0]: input_image parts are only supported in user messages"},
  };
  for (const auto& [body, expected] : cases) EXPECT_EQ(responses_error(body), expected) << body;
}

TEST(WireAttachmentsResponses, StoredTurnsKeepAttachments) {
  Message m;
  m.text = "look";
  Attachment image;
  image.media_type = "image/png";
  image.data = kPng;
  image.detail = "high";
  Attachment doc;
  doc.kind = Attachment::Kind::document;
  doc.media_type = "application/pdf";
  doc.data = kPdf;
  doc.filename = "f.pdf";
  Attachment link;
  link.url = "https://example.com/a.png";
  m.attachments = {image, doc, link};
  Message answer;
  answer.role = Role::assistant;
  answer.text = "a cat";
  const std::string stored = to_json(responses::write_messages({m, answer}));
  auto back = responses::read_messages(json::parse(stored));
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->size(), 2u);
  const auto& a = (*back)[0].attachments;
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].data, kPng);
  EXPECT_EQ(a[0].media_type, "image/png");
  EXPECT_EQ(a[0].detail, "high");
  EXPECT_EQ(a[1].kind, Attachment::Kind::document);
  EXPECT_EQ(a[1].data, kPdf);
  EXPECT_EQ(a[1].filename, "f.pdf");
  EXPECT_EQ(a[2].url, "https://example.com/a.png");
  EXPECT_TRUE((*back)[1].attachments.empty());
  EXPECT_EQ(to_json(responses::write_messages(*back)), stored);
  // The bytes are stored as base64, not raw.
  EXPECT_NE(stored.find(b64(kPng)), std::string::npos);

  auto tampered = responses::read_messages(json::parse(
      R"([{"role":"user","text":"x","attachments":[{"type":"image","media_type":"image/png","data":"SGVsbG8="}]}])"));
  ASSERT_FALSE(tampered.ok());
  EXPECT_EQ(tampered.error().code, ErrorCode::internal);
  EXPECT_EQ(tampered.error().message,
            "stored response: messages[0].attachments[0].data: the data is not a PNG, JPEG, WebP or GIF image");
}

// ---- Anthropic Messages ----------------------------------------------------------------

std::string anthropic_error(const std::string& body) {
  auto r = anthropic::parse_chat_request(json::parse(body));
  EXPECT_FALSE(r.ok()) << body;
  if (r.ok()) return {};
  EXPECT_EQ(r.error().code, ErrorCode::invalid_request);
  return r.error().message;
}

std::string anthropic_user(const std::string& blocks) {
  return R"({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":)" + blocks + "}]}";
}

std::string image_block(const std::string& media_type, std::string_view bytes) {
  return R"({"type":"image","source":{"type":"base64","media_type":")" + media_type + R"(","data":")" + b64(bytes) +
         R"("}})";
}

TEST(WireAttachmentsAnthropic, ParsesImageDocumentAndUrlBlocks) {
  const std::string body =
      anthropic_user("[" + image_block("image/png", kPng) +
                     R"(,{"type":"image","source":{"type":"url","url":"https://example.com/a.jpg"}},)"
                     R"({"type":"document","source":{"type":"base64","media_type":"application/pdf","data":")" +
                     b64(kPdf) +
                     R"("},"title":"Q3 report","cache_control":{"type":"ephemeral"}},)"
                     R"({"type":"text","text":"Summarise"}])");
  auto r = anthropic::parse_chat_request(json::parse(body));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->messages.size(), 1u);
  const auto& m = r->messages[0];
  EXPECT_EQ(m.text, "Summarise");
  ASSERT_EQ(m.attachments.size(), 3u);
  EXPECT_EQ(m.attachments[0].media_type, "image/png");
  EXPECT_EQ(m.attachments[0].data, kPng);
  EXPECT_TRUE(m.attachments[0].cache_control.is_null());
  EXPECT_EQ(m.attachments[1].url, "https://example.com/a.jpg");
  EXPECT_EQ(m.attachments[2].kind, Attachment::Kind::document);
  EXPECT_EQ(m.attachments[2].data, kPdf);
  EXPECT_EQ(m.attachments[2].filename, "Q3 report");
  EXPECT_EQ(to_json(m.attachments[2].cache_control), R"({"type":"ephemeral"})");
}

TEST(WireAttachmentsAnthropic, CacheControlOutlivesTheRequestArena) {
  Attachment kept;
  {
    json::monotonic_resource arena;
    json::parse_options options;
    const json::value body =
        json::parse(anthropic_user(R"([{"type":"image","source":{"type":"base64","media_type":"image/gif","data":")" +
                                   b64(kGif) + R"("},"cache_control":{"type":"ephemeral","ttl":"1h"}}])"),
                    json::storage_ptr(&arena), options);
    auto r = anthropic::parse_chat_request(body);
    ASSERT_TRUE(r.ok()) << r.error().message;
    kept = r->messages[0].attachments.at(0);
  }
  EXPECT_EQ(to_json(kept.cache_control), R"({"type":"ephemeral","ttl":"1h"})");
}

TEST(WireAttachmentsAnthropic, WritesMediaBlocksBeforeTheText) {
  const std::string body = anthropic_user(
      R"([{"type":"text","text":"Which is it?"},)" + image_block("image/jpeg", kJpeg) +
      R"(,{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":")" + b64(kPdf) +
      R"("},"title":"t.pdf","cache_control":{"type":"ephemeral"}},)"
      R"({"type":"image","source":{"type":"url","url":"https://example.com/b.png"}}])");
  auto r = anthropic::parse_chat_request(json::parse(body));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const json::object out = anthropic::write_chat_request(*r, "claude-sonnet");
  EXPECT_EQ(to_json(out.at("messages")),
            R"([{"role":"user","content":[)" + image_block("image/jpeg", kJpeg) +
                R"(,{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":")" + b64(kPdf) +
                R"("},"title":"t.pdf","cache_control":{"type":"ephemeral"}},)"
                R"({"type":"image","source":{"type":"url","url":"https://example.com/b.png"}},)"
                R"({"type":"text","text":"Which is it?"}]}])");
  auto back = anthropic::parse_chat_request(json::parse(to_json(out)));
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->messages.size(), 1u);
  EXPECT_EQ(back->messages[0].attachments.size(), 3u);
  EXPECT_EQ(back->messages[0].text, "Which is it?");
}

TEST(WireAttachmentsAnthropic, MediaAfterToolResultsStaysInTheirTurn) {
  const std::string body =
      R"({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"draw"},)"
      R"({"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"render","input":{}}]},)"
      R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"done"},)" +
      image_block("image/png", kPng) + "]}]}";
  auto r = anthropic::parse_chat_request(json::parse(body));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->messages.size(), 4u);
  EXPECT_EQ(r->messages[2].role, Role::tool);
  EXPECT_EQ(r->messages[3].role, Role::user);
  EXPECT_EQ(r->messages[3].text, "");
  ASSERT_EQ(r->messages[3].attachments.size(), 1u);
  const json::object out = anthropic::write_chat_request(*r, "claude");
  const auto& messages = out.at("messages").as_array();
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(to_json(messages[2].at("content")),
            R"([{"type":"tool_result","tool_use_id":"t1","content":"done"},)" + image_block("image/png", kPng) + "]");
}

TEST(WireAttachmentsAnthropic, RefusesWhatTheApiOrTheGatewayWouldNot) {
  const std::pair<std::string, std::string> cases[] = {
      {anthropic_user("[" + image_block("image/jpeg", kPng) + "]"),
       "messages[0].content[0].source.media_type: declared as image/jpeg but the data is image/png"},
      {anthropic_user("[" + image_block("image/png", "GIF8 almost") + "]"),
       "messages[0].content[0].source.data: the data is not a PNG, JPEG, WebP or GIF image"},
      {anthropic_user("[" + image_block("image/bmp", kPng) + "]"),
       "messages[0].content[0].source.media_type: must be one of image/jpeg, image/png, image/gif, image/webp"},
      {anthropic_user(R"([{"type":"image","source":{"type":"base64","media_type":"image/png","data":"@@"}}])"),
       "messages[0].content[0].source.data: is not valid base64"},
      {anthropic_user(R"([{"type":"image","source":{"type":"base64","media_type":"image/png"}}])"),
       "messages[0].content[0].source.data: is required and must be a string"},
      {anthropic_user(R"([{"type":"image"}])"), "messages[0].content[0].source: is required"},
      {anthropic_user(R"([{"type":"image","source":{"type":"url","url":"file:///etc/passwd"}}])"),
       "messages[0].content[0].source.url: must be an http(s) URL"},
      {anthropic_user(R"([{"type":"image","source":{"type":"file","file_id":"file_1"}}])"),
       "messages[0].content[0].source.type: file sources are not supported; send the file inline as a base64 source"},
      {anthropic_user(R"([{"type":"document","source":{"type":"file","file_id":"file_1"}}])"),
       "messages[0].content[0].source.type: file sources are not supported; send the file inline as a base64 source"},
      {anthropic_user(R"([{"type":"document","source":{"type":"content","content":[]}}])"),
       "messages[0].content[0].source.type: must be base64 or url (PDF documents only)"},
      {anthropic_user(R"([{"type":"document","source":{"type":"text","media_type":"text/plain","data":"hi"}}])"),
       "messages[0].content[0].source.type: must be base64 or url (PDF documents only)"},
      {anthropic_user(R"([{"type":"document","source":{"type":"base64","media_type":"text/plain","data":"aGk="}}])"),
       "messages[0].content[0].source.media_type: must be application/pdf"},
      {anthropic_user(R"([{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":")" +
                      b64(kPng) + R"("}}])"),
       "messages[0].content[0].source.data: the data is not a PDF document"},
      {anthropic_user("[" + image_block("image/png", kPng).insert(1, R"("cache_control":"ephemeral",)") + "]"),
       "messages[0].content[0].cache_control: must be an object"},
      {R"({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[)" +
           image_block("image/png", kPng) + "]}]}",
       "messages[1].content[0]: image blocks are only supported in a user message's content"},
      {R"({"model":"claude","max_tokens":5,"system":[)" + image_block("image/png", kPng) +
           R"(],"messages":[{"role":"user","content":"hi"}]})",
       "system[0]: image blocks are only supported in a user message's content"},
  };
  for (const auto& [body, expected] : cases) EXPECT_EQ(anthropic_error(body), expected) << body;
}

// ---- Ollama ---------------------------------------------------------------------------------

std::string ollama_error(const std::string& body) {
  auto r = ollama::parse_chat_request(json::parse(body));
  EXPECT_FALSE(r.ok()) << body;
  if (r.ok()) return {};
  EXPECT_EQ(r.error().code, ErrorCode::invalid_request);
  return r.error().message;
}

TEST(WireAttachmentsOllama, SniffsImagesAndWritesThemBack) {
  const std::string body = R"({"model":"llava","messages":[{"role":"user","content":"what is this?","images":[")" +
                           b64(kPng) + R"(",")" + b64(kJpeg) + R"("]}]})";
  auto r = ollama::parse_chat_request(json::parse(body));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& a = r->messages.at(0).attachments;
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].media_type, "image/png");
  EXPECT_EQ(a[0].data, kPng);
  EXPECT_EQ(a[1].media_type, "image/jpeg");
  const json::object out = ollama::write_chat_request(*r, "llava");
  EXPECT_EQ(to_json(out.at("messages")),
            R"([{"role":"user","content":"what is this?","images":[")" + b64(kPng) + R"(",")" + b64(kJpeg) + R"("]}])");
}

TEST(WireAttachmentsOllama, WriterLeavesOutDocumentsAndUrls) {
  ChatRequest request;
  request.model = "llava";
  Message m;
  m.text = "hi";
  Attachment image;
  image.media_type = "image/gif";
  image.data = kGif;
  Attachment doc;
  doc.kind = Attachment::Kind::document;
  doc.media_type = "application/pdf";
  doc.data = kPdf;
  Attachment link;
  link.url = "https://example.com/a.png";
  m.attachments = {doc, image, link};
  request.messages.push_back(m);
  EXPECT_EQ(to_json(ollama::write_chat_request(request, "llava").at("messages")),
            R"([{"role":"user","content":"hi","images":[")" + b64(kGif) + R"("]}])");
  request.messages[0].attachments = {doc};
  EXPECT_EQ(to_json(ollama::write_chat_request(request, "llava").at("messages")),
            R"([{"role":"user","content":"hi"}])");
}

TEST(WireAttachmentsOllama, RefusesPdfsAndUnknownBytes) {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"model":"llava","messages":[{"role":"user","content":"x","images":[")" + b64(kPdf) + R"("]}]})",
       "messages[0].images[0]: is a PDF document; Ollama takes only images (PNG, JPEG, WebP, GIF)"},
      {R"({"model":"llava","messages":[{"role":"user","content":"x","images":["SGVsbG8="]}]})",
       "messages[0].images[0]: the data is not a PNG, JPEG, WebP or GIF image"},
      {R"({"model":"llava","messages":[{"role":"user","content":"x","images":["%%%"]}]})",
       "messages[0].images[0]: is not valid base64"},
      {R"({"model":"llava","messages":[{"role":"user","content":"x","images":[7]}]})",
       "messages[0].images[0]: must be a string"},
      {R"({"model":"llava","messages":[{"role":"user","content":"x","images":"abc"}]})",
       "messages[0].images: must be an array"},
      {R"({"model":"llava","messages":[{"role":"system","content":"x","images":[")" + b64(kPng) +
           R"("]},{"role":"user","content":"y"}]})",
       "messages[0].images: images are only supported in user messages"},
  };
  for (const auto& [body, expected] : cases) EXPECT_EQ(ollama_error(body), expected) << body;
}

}  // namespace
}  // namespace aegis::wire
