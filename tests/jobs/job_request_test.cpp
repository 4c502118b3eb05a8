#include "jobs/job_request.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace aegis::jobs {
namespace {

Result<JobRequest> parse(std::string_view text) { return parse_job_request(boost::json::parse(text).as_object()); }

// The 400 message for a body, or a test failure when it parses.
std::string rejection(std::string_view text) {
  auto r = parse(text);
  if (r.ok()) {
    ADD_FAILURE() << "accepted: " << text;
    return {};
  }
  EXPECT_EQ(r.error().code, ErrorCode::invalid_request) << text;
  return r.error().message;
}

TEST(JobRequest, PromptBecomesOneUserMessageAndModelDefaultsToAuto) {
  auto r = parse(R"({"task_type":"summarize","prompt":"Hello","max_tokens":64})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->task_type, "summarize");
  ASSERT_EQ(r->chat.messages.size(), 1u);
  EXPECT_EQ(r->chat.messages[0].role, Role::user);
  EXPECT_EQ(r->chat.messages[0].text, "Hello");
  EXPECT_EQ(r->chat.max_tokens, 64);
  EXPECT_EQ(r->chat.model, "auto");
  EXPECT_FALSE(r->classification.has_value());
  EXPECT_EQ(r->minimum_level(), Level::PUBLIC);
  EXPECT_FALSE(r->marked_public());
}

TEST(JobRequest, SystemMessagesAreJoinedIntoTheSystemPrompt) {
  auto r = parse(R"({"task_type":"t","max_tokens":1,"messages":[
      {"role":"system","content":"A"},{"role":"user","content":"q"},
      {"role":"assistant","content":"a"},{"role":"system","content":"B"},{"role":"user","content":"q2"}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->chat.system, "A\n\nB");
  ASSERT_EQ(r->chat.messages.size(), 3u);
  EXPECT_EQ(r->chat.messages[1].role, Role::assistant);
  EXPECT_EQ(r->chat.messages[2].text, "q2");
}

TEST(JobRequest, ClassificationIsAFloorAndPublicIsAMarking) {
  auto restricted = parse(R"({"task_type":"t","prompt":"x","max_tokens":1,"classification":"restricted"})");
  ASSERT_TRUE(restricted.ok());
  EXPECT_EQ(restricted->minimum_level(), Level::RESTRICTED);
  EXPECT_FALSE(restricted->marked_public());
  auto pub = parse(R"({"task_type":"t","prompt":"x","max_tokens":1,"classification":"PUBLIC"})");
  ASSERT_TRUE(pub.ok());
  EXPECT_TRUE(pub->marked_public());
  EXPECT_EQ(pub->minimum_level(), Level::PUBLIC);
}

TEST(JobRequest, RejectsEverythingOutsideTheContractNamingTheField) {
  EXPECT_NE(rejection(R"({"task_type":"t","prompt":"x","max_tokens":1,"temperature":1})").find("temperature"),
            std::string::npos);
  EXPECT_NE(rejection(R"({"prompt":"x","max_tokens":1})").find("task_type"), std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"a b","prompt":"x","max_tokens":1})").find("task_type"), std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"t","max_tokens":1})").find("messages or prompt"), std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"t","prompt":"x","messages":[],"max_tokens":1})").find("not both"),
            std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"t","prompt":"","max_tokens":1})").find("prompt"), std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"t","prompt":"x"})").find("max_tokens is required"), std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"t","prompt":"x","max_tokens":0})").find("max_tokens"), std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"t","prompt":"x","max_tokens":"64"})").find("integer"), std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"t","prompt":"x","max_tokens":1.5})").find("integer"), std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"t","prompt":"x","max_tokens":1000001})").find("max_tokens"), std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"t","max_tokens":1,"messages":[{"role":"assistant","content":"a"}]})")
                .find("user message"),
            std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"t","max_tokens":1,"messages":[{"role":"tool","content":"a"}]})")
                .find("messages[0].role"),
            std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"t","max_tokens":1,"messages":[{"role":"user","content":[]}]})")
                .find("messages[0].content"),
            std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"t","max_tokens":1,"messages":[{"role":"user","content":"a","name":"x"}]})")
                .find("name"),
            std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"t","prompt":"x","max_tokens":1,"metadata":{"k":1}})").find("metadata.k"),
            std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"t","prompt":"x","max_tokens":1,"metadata":[]})").find("metadata"),
            std::string::npos);
  EXPECT_NE(
      rejection(R"({"task_type":"t","prompt":"x","max_tokens":1,"classification":"SECRET"})").find("classification"),
      std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"t","prompt":"x","max_tokens":1,"model":""})").find("model"), std::string::npos);
}

TEST(JobRequest, MetadataIsBounded) {
  std::string many = R"({"task_type":"t","prompt":"x","max_tokens":1,"metadata":{)";
  for (int i = 0; i < 17; ++i) many += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":\"v\"";
  many += "}}";
  EXPECT_NE(rejection(many).find("16"), std::string::npos);
  const std::string long_value(513, 'v');
  EXPECT_NE(
      rejection(R"({"task_type":"t","prompt":"x","max_tokens":1,"metadata":{"k":")" + long_value + "\"}}").find("512"),
      std::string::npos);
}

TEST(JobRequest, StoredFormParsesBackToTheSameRequest) {
  auto r = parse(R"({"task_type":"review.code","max_tokens":99,"model":"haiku","classification":"CONFIDENTIAL",
      "metadata":{"ticket":"T-1","who":"ops"},
      "messages":[{"role":"system","content":"S"},{"role":"user","content":"u \"quoted\" é"},
                  {"role":"assistant","content":"a"}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto back = parse_stored_job_request(to_stored_json(*r));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->task_type, "review.code");
  EXPECT_EQ(back->chat.system, "S");
  ASSERT_EQ(back->chat.messages.size(), 2u);
  EXPECT_EQ(back->chat.messages[0].text, "u \"quoted\" é");
  EXPECT_EQ(back->chat.messages[1].role, Role::assistant);
  EXPECT_EQ(back->chat.max_tokens, 99);
  EXPECT_EQ(back->chat.model, "haiku");
  EXPECT_EQ(back->classification, Level::CONFIDENTIAL);
  EXPECT_EQ(back->metadata, r->metadata);
}

// Base64 of a PNG signature and of a PDF header: the checks only sniff.
constexpr std::string_view kPngBase64 = "iVBORw0KGgoAAAANSUhEUg==";
constexpr std::string_view kPdfBase64 = "JVBERi0xLjQK";

TEST(JobRequest, AttachmentsRoundTripThroughTheStoredForm) {
  const std::string body = std::string(R"({"task_type":"describe","max_tokens":50,"messages":[
      {"role":"user","content":"What is this?","attachments":[
        {"type":"image","media_type":"image/png","data":")") +
                           std::string(kPngBase64) + R"(","detail":"high",
         "cache_control":{"type":"ephemeral"}},
        {"type":"document","media_type":"application/pdf","data":")" +
                           std::string(kPdfBase64) + R"(","filename":"a.pdf"},
        {"type":"image","url":"https://example.com/cat.png"}]},
      {"role":"assistant","content":"A cat."},{"role":"user","content":"Sure?"}]})";
  auto r = parse(body);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& a = r->chat.messages.at(0).attachments;
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].data, std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
  EXPECT_EQ(a[0].media_type, "image/png");
  EXPECT_EQ(a[0].detail, "high");
  EXPECT_EQ(a[1].kind, Attachment::Kind::document);
  EXPECT_EQ(a[1].data, "%PDF-1.4\n");
  EXPECT_EQ(a[1].filename, "a.pdf");
  EXPECT_EQ(a[2].url, "https://example.com/cat.png");

  const std::string stored = to_stored_json(*r);
  EXPECT_NE(stored.find(kPngBase64), std::string::npos) << "bytes are stored as base64";
  auto back = parse_stored_job_request(stored);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->chat.messages.size(), 3u);
  const auto& b = back->chat.messages[0].attachments;
  ASSERT_EQ(b.size(), 3u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(b[i].kind, a[i].kind);
    EXPECT_EQ(b[i].media_type, a[i].media_type);
    EXPECT_EQ(b[i].data, a[i].data);
    EXPECT_EQ(b[i].url, a[i].url);
    EXPECT_EQ(b[i].filename, a[i].filename);
    EXPECT_EQ(b[i].detail, a[i].detail);
    EXPECT_EQ(b[i].cache_control, a[i].cache_control);
  }
  EXPECT_TRUE(back->chat.messages[2].attachments.empty());
  EXPECT_EQ(to_stored_json(*back), stored);
}

TEST(JobRequest, AttachmentsOutsideTheContractAreRefused) {
  const auto msg = [](const std::string& message) {
    return R"({"task_type":"t","max_tokens":1,"messages":[)" + message + "]}";
  };
  EXPECT_EQ(rejection(msg(R"({"role":"user","content":"x","attachments":{}})")),
            "messages[0].attachments must be an array");
  EXPECT_EQ(rejection(msg(R"({"role":"user","content":"q"},{"role":"assistant","content":"x","attachments":[]})")),
            "messages[1].attachments: only user messages carry attachments");
  EXPECT_EQ(rejection(msg(R"({"role":"system","content":"x","attachments":[]},{"role":"user","content":"q"})")),
            "messages[0].attachments: only user messages carry attachments");
  EXPECT_EQ(rejection(msg(
                R"({"role":"user","content":"x","attachments":[{"type":"image","media_type":"image/jpeg","data":")" +
                std::string(kPngBase64) + R"("}]})")),
            "messages[0].attachments[0].media_type: declared as image/jpeg but the data is image/png");
  EXPECT_EQ(
      rejection(msg(
          R"({"role":"user","content":"x","attachments":[{"type":"document","media_type":"application/pdf","data":"SGVsbG8="}]})")),
      "messages[0].attachments[0].data: the data is not a PDF document");
  EXPECT_EQ(rejection(msg(R"({"role":"user","content":"x","attachments":[{"type":"image","file_id":"file-1"}]})")),
            "messages[0].attachments[0].file_id is not a field of an attachment");
}

TEST(JobRequest, AStoredFormThatIsNotAnObjectIsRefused) {
  for (std::string_view text : {"", "[]", "{\"task_type\":", "\"x\""}) {
    auto r = parse_stored_job_request(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code, ErrorCode::invalid_request);
  }
  EXPECT_FALSE(parse_stored_job_request(R"({"task_type":"t","max_tokens":1})").ok());
}

TEST(JobRequest, RagIngestCarriesTheDocumentRequestAndItsMetadataIsTheJobs) {
  auto r = parse(R"({"task_type":"rag_ingest","collection":"hr","text":"Lunch is at noon.","source":"a.md",
                     "metadata":{"year":2026,"tags":["x"]},"classification":"confidential"})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, JobKind::rag_ingest);
  EXPECT_EQ(r->task_type, "rag_ingest");
  EXPECT_EQ(r->ingest.collection, "hr");
  EXPECT_EQ(r->ingest.text, std::optional<std::string>("Lunch is at noon."));
  EXPECT_EQ(r->ingest.source, "a.md");
  EXPECT_EQ(r->ingest.declared, Level::CONFIDENTIAL);
  EXPECT_FALSE(r->classification.has_value()) << "the level is the document's, not a chat floor";
  // The document's metadata, any JSON object, is also what the job returns as its own.
  EXPECT_EQ(boost::json::parse(metadata_json(*r)), boost::json::parse(R"({"year":2026,"tags":["x"]})"));

  auto back = parse_stored_job_request(to_stored_json(*r));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->kind, JobKind::rag_ingest);
  EXPECT_EQ(back->ingest.text, r->ingest.text);
  EXPECT_EQ(back->ingest.source, r->ingest.source);
  EXPECT_EQ(back->ingest.declared, r->ingest.declared);
  EXPECT_EQ(boost::json::parse(back->ingest.metadata_json), boost::json::parse(r->ingest.metadata_json));

  auto chunked = parse(R"({"task_type":"rag_ingest","collection":"hr","chunks":["a","b"]})");
  ASSERT_TRUE(chunked.ok()) << chunked.error().message;
  EXPECT_EQ(chunked->ingest.chunks, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(metadata_json(*chunked), "");
  auto chunked_back = parse_stored_job_request(to_stored_json(*chunked));
  ASSERT_TRUE(chunked_back.ok());
  EXPECT_EQ(chunked_back->ingest.chunks, chunked->ingest.chunks);
  EXPECT_FALSE(chunked_back->ingest.text.has_value());
}

TEST(JobRequest, RagWithoutMessagesIsAnAnswerAndWithThemTheChatJobItWas) {
  auto r = parse(R"({"task_type":"rag","collection":"hr","question":"When is lunch?","top_k":3,"max_tokens":64,
                     "metadata":{"ticket":"T-1"}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, JobKind::rag);
  EXPECT_EQ(r->answer.collection, "hr");
  EXPECT_EQ(r->answer.question, "When is lunch?");
  EXPECT_EQ(r->answer.top_k, 3u);
  EXPECT_EQ(r->answer.max_tokens, std::optional<std::int64_t>(64));
  EXPECT_EQ(r->metadata.at("ticket"), "T-1");
  auto back = parse_stored_job_request(to_stored_json(*r));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->kind, JobKind::rag);
  EXPECT_EQ(back->answer.question, r->answer.question);
  EXPECT_EQ(back->answer.top_k, 3u);
  EXPECT_EQ(back->answer.max_tokens, r->answer.max_tokens);
  EXPECT_EQ(back->metadata, r->metadata);

  auto defaults = parse(R"({"task_type":"rag","collection":"hr","question":"q"})");
  ASSERT_TRUE(defaults.ok()) << defaults.error().message;
  EXPECT_EQ(defaults->answer.top_k, 5u);
  EXPECT_FALSE(defaults->answer.max_tokens.has_value());

  auto chat = parse(R"({"task_type":"rag","prompt":"Summarise this.","max_tokens":8})");
  ASSERT_TRUE(chat.ok()) << chat.error().message;
  EXPECT_EQ(chat->kind, JobKind::chat);
  EXPECT_EQ(chat->chat.messages.at(0).text, "Summarise this.");
}

TEST(JobRequest, RetrievalBodiesOutsideTheirContractAreRefused) {
  EXPECT_NE(rejection(R"({"task_type":"rag_ingest","collection":"c","text":"x","prompt":"y"})").find("prompt"),
            std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"rag_ingest","text":"x"})").find("collection"), std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"rag_ingest","collection":"c","chunks":[1]})").find("chunks"), std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"rag_ingest","collection":"c","text":"x","classification":"SECRET"})")
                .find("classification"),
            std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"rag","collection":"c","question":"q","stream":true})").find("stream"),
            std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"rag","question":"q"})").find("collection"), std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"rag","collection":"c"})").find("question"), std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"rag","collection":"c","question":"q","top_k":0})").find("top_k"),
            std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"rag","collection":"c","question":"q","max_tokens":1000001})").find("max_tokens"),
            std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"rag","collection":"c","question":"q","metadata":{"n":1}})").find("metadata"),
            std::string::npos);
  // Both shapes at once: the chat contract does not know the question.
  EXPECT_NE(rejection(R"({"task_type":"rag","collection":"c","question":"q","prompt":"p","max_tokens":1})")
                .find("collection"),
            std::string::npos);
  // The question counts against limits.max_text_bytes like a prompt.
  RequestLimits limits;
  limits.max_text_bytes = 4;
  auto long_question = parse_job_request(
      boost::json::parse(R"({"task_type":"rag","collection":"c","question":"longer"})").as_object(), limits);
  ASSERT_FALSE(long_question.ok());
}

}  // namespace
}  // namespace aegis::jobs
