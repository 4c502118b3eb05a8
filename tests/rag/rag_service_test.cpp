// RagService (rag/rag_service.hpp) over the in-process pipeline of the
// gateway tests (tests/gateway/pipeline_fixture.hpp: real adapters and
// simulators, two cloud providers and a local one) and the SQLite store in
// memory: a streamed answer and a complete one share retrieval and prompt,
// the stream goes through every stage (a RESTRICTED chunk keeps it local,
// placeholders are restored in it), an ingest reports its progress after
// each embedding call, and the checks an async job makes at submit.
#include "rag/rag_service.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "gateway/pipeline_fixture.hpp"
#include "rag/sqlite/sqlite_rag_store.hpp"
#include "store/db_executor.hpp"

namespace aegis::rag {
namespace {

using gateway::test::kSinDigits;
namespace asio = boost::asio;

// What a client of a streamed answer is handed, in order.
class RecordingSink final : public AnswerSink {
 public:
  void on_retrieved(const std::vector<std::string>& ids) override {
    retrieved_before_events = events.empty();
    ++retrieved_calls;
    chunk_ids = ids;
  }
  asio::awaitable<bool> on_event(const StreamEvent& event) override {
    events.push_back(event.kind);
    if (event.kind == StreamEvent::Kind::text) text += event.text;
    co_return true;
  }
  std::vector<std::string> chunk_ids;
  std::vector<StreamEvent::Kind> events;
  std::string text;
  int retrieved_calls = 0;
  bool retrieved_before_events = false;
};

class RagServiceTest : public gateway::test::PipelineTest {
 protected:
  void SetUp() override {
    PipelineTest::SetUp();
    make_service();
  }

  // After the test changed config_.rag.
  void make_service() {
    service_.reset();
    store_ = std::make_unique<SqliteRagStore>(":memory:");
    service_ = std::make_unique<RagService>(
        RagServiceDeps{config_.rag, *gateway_, *classifier_, *store_, db_, audit_, metrics_, clock_});
  }

  RagCaller caller() { return RagCaller{&principal_, "req_rag_test"}; }

  DocumentRecord ingest(std::vector<std::string> chunks, std::optional<Level> declared = std::nullopt,
                        IngestProgressFn progress = {}) {
    IngestRequest request;
    request.collection = "kb";
    request.chunks = std::move(chunks);
    request.declared = declared;
    auto doc = run(service_->ingest(caller(), std::move(request), std::move(progress)));
    EXPECT_TRUE(doc.ok()) << doc.error().message;
    return doc.ok() ? *doc : DocumentRecord{};
  }

  static AnswerRequest ask(std::string question, std::size_t top_k = 2) {
    return AnswerRequest{"kb", std::move(question), top_k, 400};
  }

  store::DbExecutor db_;
  std::unique_ptr<SqliteRagStore> store_;
  std::unique_ptr<RagService> service_;
};

TEST_F(RagServiceTest, AStreamedAnswerHasTheCompleteAnswersChunksTextAndRoute) {
  ingest({"The cafeteria serves lunch at noon on the third floor."});
  ingest({"The roadmap moves the billing service to the new cluster next quarter."});
  ingest({"The parking garage closes at ten in the evening."});

  gateway::CallContext complete_context;
  auto complete = run(service_->answer(caller(), ask("What does the roadmap move?"), complete_context));
  ASSERT_TRUE(complete.ok()) << complete.error().message;

  gateway::CallContext stream_context;
  RecordingSink sink;
  auto streamed = run(service_->stream_answer(caller(), ask("What does the roadmap move?"), stream_context, sink));
  ASSERT_TRUE(streamed.ok()) << streamed.error().message;

  ASSERT_EQ(complete->chunk_ids.size(), 2u);
  EXPECT_EQ(sink.chunk_ids, complete->chunk_ids);
  EXPECT_EQ(sink.retrieved_calls, 1);
  EXPECT_TRUE(sink.retrieved_before_events) << "the chunk ids come before the model's first event";
  ASSERT_FALSE(sink.events.empty());
  EXPECT_EQ(sink.events.front(), StreamEvent::Kind::start);
  EXPECT_EQ(sink.events.back(), StreamEvent::Kind::finish);
  // The simulator echoes the prompt: the same retrieval made the same prompt.
  EXPECT_EQ(sink.text, complete->completion.text);
  EXPECT_NE(sink.text.find("[" + complete->chunk_ids[0] + "]"), std::string::npos) << sink.text;
  EXPECT_EQ(stream_context.route.provider, complete_context.route.provider);
  EXPECT_EQ(stream_context.level, complete_context.level);
  EXPECT_EQ(stream_context.surface, "rag.answer");
  EXPECT_EQ(stream_context.task, "rag");
  EXPECT_EQ(stream_context.request_id, "req_rag_test");
}

TEST_F(RagServiceTest, ARestrictedChunkInTheContextKeepsTheStreamOnTheLocalProvider) {
  principal_.clearance = Level::RESTRICTED;
  ingest({"Payroll record: employee SIN 046 454 286 is paid on the fifteenth."});
  ingest({"The cafeteria serves lunch at noon on the third floor."});

  gateway::CallContext context;
  RecordingSink sink;
  auto streamed = run(service_->stream_answer(caller(), ask("When is the payroll SIN paid?"), context, sink));
  ASSERT_TRUE(streamed.ok()) << streamed.error().message;
  EXPECT_EQ(context.level, Level::RESTRICTED);
  EXPECT_EQ(context.route.provider, "ollama");
  EXPECT_EQ(context.route.locality, config::Locality::local);
  EXPECT_NE(sink.text.find("046 454 286"), std::string::npos) << "the local model saw the chunk: " << sink.text;
  EXPECT_FALSE(contains_digits(cloud_traffic(), kSinDigits));
}

TEST_F(RagServiceTest, PlaceholdersACloudModelWasSentAreRestoredInTheStream) {
  ingest({"Send the roadmap draft to jane.doe@example.com before Friday."});
  gateway::CallContext context;
  RecordingSink sink;
  auto streamed = run(service_->stream_answer(caller(), ask("Who gets the roadmap draft?", 1), context, sink));
  ASSERT_TRUE(streamed.ok()) << streamed.error().message;
  EXPECT_EQ(context.route.locality, config::Locality::cloud);
  EXPECT_GE(context.masked, 1);
  EXPECT_EQ(cloud_traffic().find("jane.doe@example.com"), std::string::npos) << "the cloud saw the address";
  EXPECT_NE(sink.text.find("jane.doe@example.com"), std::string::npos) << sink.text;
  EXPECT_EQ(sink.text.find("EMAIL_"), std::string::npos) << sink.text;
}

TEST_F(RagServiceTest, AFailureBeforeTheModelIsAskedReachesTheSinkAsNothing) {
  gateway::CallContext context;
  RecordingSink sink;
  auto streamed = run(service_->stream_answer(caller(), ask("Anything?", 0), context, sink));
  ASSERT_FALSE(streamed.ok());
  EXPECT_EQ(streamed.error().code, ErrorCode::invalid_request);
  EXPECT_EQ(sink.retrieved_calls, 0);
  EXPECT_TRUE(sink.events.empty());
}

TEST_F(RagServiceTest, AnIngestReportsItsProgressAfterEachEmbeddingCall) {
  std::vector<std::string> chunks;
  chunks.reserve(70);
  for (int i = 0; i < 70; ++i) chunks.push_back("Paragraph " + std::to_string(i) + " of the handbook about parking.");
  std::vector<IngestProgress> reports;
  const auto doc = ingest(chunks, std::nullopt, [&reports](const IngestProgress& p) { reports.push_back(p); });
  ASSERT_EQ(doc.chunks.size(), 70u);
  std::vector<std::size_t> done;
  for (const auto& r : reports) {
    EXPECT_EQ(r.chunks, 70u);
    EXPECT_EQ(r.embeddings_total, 70u);
    done.push_back(r.embeddings_done);
  }
  EXPECT_EQ(done, (std::vector<std::size_t>{0, 32, 64, 70}));
  // One embedding call per report after the first.
  std::size_t embed_calls = 0;
  for (const auto& r : sim("ollama").requests()) embed_calls += r.path.find("embed") != std::string::npos ? 1 : 0;
  EXPECT_EQ(embed_calls, 3u);
}

TEST_F(RagServiceTest, WithACloudEmbedderTheProgressCountsItsVectorsToo) {
  config_.rag.cloud_embedding_model = "azure/text-embedding-3-small";
  make_service();
  std::vector<IngestProgress> reports;
  const auto doc =
      ingest({"Lunch is at noon.", "Payroll record: employee SIN 046 454 286.", "The garage closes at ten."},
             std::nullopt, [&reports](const IngestProgress& p) { reports.push_back(p); });
  ASSERT_EQ(doc.chunks.size(), 3u);
  ASSERT_EQ(reports.size(), 3u);  // chunked, local call, cloud call
  EXPECT_EQ(reports.back().embeddings_total, 5u) << "three local vectors and two cloud ones";
  EXPECT_EQ(reports[0].embeddings_done, 0u);
  EXPECT_EQ(reports[1].embeddings_done, 3u);
  EXPECT_EQ(reports[2].embeddings_done, 5u);
  EXPECT_GE(reports[2].cost, reports[1].cost);
  EXPECT_FALSE(contains_digits(cloud_traffic(), kSinDigits));
}

TEST_F(RagServiceTest, TheChecksAnAsyncJobMakesAtSubmitAreTheIngestsAndTheAnswers) {
  IngestRequest ingest_request;
  ingest_request.collection = "kb";
  ingest_request.text = "Payroll record: employee SIN 046 454 286 is paid on the fifteenth.";
  auto level = service_->check_ingest(ingest_request);
  ASSERT_TRUE(level.ok()) << level.error().message;
  EXPECT_EQ(*level, Level::RESTRICTED);
  ingest_request.text = "Lunch is at noon.";
  ingest_request.declared = Level::CONFIDENTIAL;
  EXPECT_EQ(service_->check_ingest(ingest_request).value(), Level::CONFIDENTIAL);
  ingest_request.collection = "bad name!";
  EXPECT_EQ(service_->check_ingest(ingest_request).error().code, ErrorCode::invalid_request);
  ingest_request.collection = "kb";
  ingest_request.text = std::string(static_cast<std::size_t>(config_.rag.max_document_bytes) + 1, 'a');
  EXPECT_EQ(service_->check_ingest(ingest_request).error().code, ErrorCode::payload_too_large);
  ingest_request.text.reset();
  EXPECT_EQ(service_->check_ingest(ingest_request).error().code, ErrorCode::invalid_request) << "no text";
  EXPECT_EQ(store_->chunk_count().value(), 0) << "a check stores nothing";

  EXPECT_TRUE(service_->check_answer(ask("When?", 5)).ok());
  EXPECT_EQ(service_->check_answer(ask("", 5)).error().code, ErrorCode::invalid_request);
  EXPECT_EQ(service_->check_answer(ask("When?", 0)).error().code, ErrorCode::invalid_request);
  EXPECT_EQ(service_->check_answer(ask("When?", static_cast<std::size_t>(config_.rag.max_top_k) + 1)).error().code,
            ErrorCode::invalid_request);
}

TEST_F(RagServiceTest, AnAdmissionRequestCoversTopKFullChunksOnTopOfTheAnswer) {
  config_.rag.chunk_tokens = 100;
  make_service();
  // A passage: a 31-byte tag, 100 tokens of 4 bytes and a newline, at 3 bytes a token.
  const std::int64_t per_passage = (32 + 400 + 2) / 3;
  auto chat = service_->admission_request(ask("When is lunch?", 3));
  EXPECT_EQ(chat.max_tokens, 400 + 3 * per_passage);
  ASSERT_EQ(chat.messages.size(), 1u);
  EXPECT_NE(chat.messages[0].text.find("Question: When is lunch?"), std::string::npos);
  EXPECT_FALSE(chat.system.empty());
  AnswerRequest unbounded = ask("When is lunch?", 1);
  unbounded.max_tokens.reset();
  EXPECT_EQ(service_->admission_request(unbounded).max_tokens, 4096 + per_passage);

  // The tag really is that long: an answer's prompt holds "[chk_<24 hex>] ".
  const auto doc = ingest({"Lunch is at noon."});
  ASSERT_EQ(doc.chunks.size(), 1u);
  EXPECT_EQ(("[" + doc.chunks[0].id + "] ").size(), 31u);
}

TEST(RetrievalUnavailable, IsThe503TheRoutesAndJobsAnswer) {
  const Error e = retrieval_unavailable();
  EXPECT_EQ(e.code, ErrorCode::unavailable);
  EXPECT_EQ(http_status(e.code), 503);
}

}  // namespace
}  // namespace aegis::rag
