#include "jobs/job_request.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

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
  EXPECT_NE(rejection(R"({"task_type":"t","prompt":"x","max_tokens":1000001})").find("max_tokens"),
            std::string::npos);
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
  EXPECT_NE(rejection(R"({"task_type":"t","prompt":"x","max_tokens":1,"classification":"SECRET"})")
                .find("classification"),
            std::string::npos);
  EXPECT_NE(rejection(R"({"task_type":"t","prompt":"x","max_tokens":1,"model":""})").find("model"),
            std::string::npos);
}

TEST(JobRequest, MetadataIsBounded) {
  std::string many = R"({"task_type":"t","prompt":"x","max_tokens":1,"metadata":{)";
  for (int i = 0; i < 17; ++i) many += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":\"v\"";
  many += "}}";
  EXPECT_NE(rejection(many).find("16"), std::string::npos);
  const std::string long_value(513, 'v');
  EXPECT_NE(rejection(R"({"task_type":"t","prompt":"x","max_tokens":1,"metadata":{"k":")" + long_value + "\"}}")
                .find("512"),
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

TEST(JobRequest, AStoredFormThatIsNotAnObjectIsRefused) {
  for (std::string_view text : {"", "[]", "{\"task_type\":", "\"x\""}) {
    auto r = parse_stored_job_request(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code, ErrorCode::invalid_request);
  }
  EXPECT_FALSE(parse_stored_job_request(R"({"task_type":"t","max_tokens":1})").ok());
}

}  // namespace
}  // namespace aegis::jobs
