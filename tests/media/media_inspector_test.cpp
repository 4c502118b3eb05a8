// The asynchronous reading of a request's attachments
// (media/media_inspector.cpp): off the calling thread, cached by content,
// bounded, and incomplete rather than skipped when over budget.
#include "media/media_inspector.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace aegis::media {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Reads an attachment's bytes as its text; counts the calls and notes the thread.
class EchoExtractor final : public TextExtractor {
 public:
  Extraction extract(const Attachment& attachment, std::chrono::steady_clock::time_point deadline) const override {
    ++calls;
    thread = std::this_thread::get_id();
    Extraction out;
    if (std::chrono::steady_clock::now() > deadline) {
      out.complete = false;
      out.incomplete_reason = "late";
      return out;
    }
    if (attachment.data == "unreadable") {
      out.complete = false;
      out.incomplete_reason = "cannot";
      return out;
    }
    out.text = attachment.data;
    out.pages.push_back(Page{});
    return out;
  }
  Result<Attachment> redact(const Attachment& attachment, const Extraction&, const Ranges&) const override {
    Attachment out = attachment;
    out.data = "[redacted]";
    return out;
  }
  mutable std::atomic<int> calls = 0;
  mutable std::thread::id thread;
};

ChatRequest with_images(std::vector<std::string> contents) {
  ChatRequest request;
  Message message;
  message.text = "what is this?";
  for (auto& content : contents) {
    Attachment a;
    a.kind = Attachment::Kind::image;
    a.media_type = "image/png";
    a.data = std::move(content);
    message.attachments.push_back(std::move(a));
  }
  request.messages.push_back(std::move(message));
  return request;
}

class InspectorTest : public ::testing::Test {
 protected:
  // Result<T> has no default state, which use_future needs: park it in an optional.
  Result<MediaInspection> inspect(MediaInspector& inspector, ChatRequest request) {
    std::optional<Result<MediaInspection>> slot;
    auto task = [&]() -> asio::awaitable<void> { slot.emplace(co_await inspector.inspect(request)); };
    asio::co_spawn(io_, task(), asio::use_future).get();
    return std::move(*slot);
  }
  void SetUp() override {
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    work_.reset();
    thread_.join();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
  telemetry::Registry metrics_;
  std::shared_ptr<EchoExtractor> extractor_ = std::make_shared<EchoExtractor>();
};

TEST_F(InspectorTest, ATextOnlyRequestHasNoAttachments) {
  ChatRequest request;
  request.messages.push_back(Message{});
  EXPECT_FALSE(has_attachments(request));
  EXPECT_TRUE(has_attachments(with_images({"x"})));
}

TEST_F(InspectorTest, ReadsEveryAttachmentInRequestOrderOnAWorkerThread) {
  MediaInspector inspector(InspectorSettings{}, extractor_, metrics_);
  auto read = inspect(inspector, with_images({"first", "second"}));
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->items.size(), 2U);
  EXPECT_EQ(read->items[0].extraction->text, "first");
  EXPECT_EQ(read->items[1].extraction->text, "second");
  EXPECT_EQ(read->items[1].attachment, 1U);
  EXPECT_TRUE(read->complete);
  EXPECT_TRUE(read->images);
  EXPECT_FALSE(read->documents);
  EXPECT_NE(extractor_->thread, thread_.get_id());  // never on the I/O thread
  inspector.finish();
}

TEST_F(InspectorTest, TheSameBytesAreReadOnce) {
  MediaInspector inspector(InspectorSettings{}, extractor_, metrics_);
  ASSERT_TRUE(inspect(inspector, with_images({"same"})).ok());
  ASSERT_TRUE(inspect(inspector, with_images({"same", "other"})).ok());
  EXPECT_EQ(extractor_->calls.load(), 2);
  EXPECT_NE(metrics_.expose().find("aegis_media_extractions_total{kind=\"image\",result=\"cached\"} 1"),
            std::string::npos);
  inspector.finish();
}

TEST_F(InspectorTest, AnIncompleteReadingMakesTheWholeInspectionIncompleteAndIsNotCached) {
  MediaInspector inspector(InspectorSettings{}, extractor_, metrics_);
  auto read = inspect(inspector, with_images({"fine", "unreadable"}));
  ASSERT_TRUE(read.ok());
  EXPECT_FALSE(read->complete);
  EXPECT_EQ(read->incomplete_reason, "cannot");
  ASSERT_TRUE(inspect(inspector, with_images({"unreadable"})).ok());
  EXPECT_EQ(extractor_->calls.load(), 3);  // read again, not cached
  inspector.finish();
}

TEST_F(InspectorTest, OverTheQueueBoundOrTheTimeBudgetIsIncompleteNeverSkipped) {
  InspectorSettings no_room;
  no_room.queue = 0;
  MediaInspector full(no_room, extractor_, metrics_);
  auto refused = inspect(full, with_images({"x"}));
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->complete);
  EXPECT_NE(refused->incomplete_reason.find("media.ocr_queue"), std::string::npos);
  EXPECT_EQ(extractor_->calls.load(), 0);
  full.finish();

  InspectorSettings no_time;
  no_time.timeout = 0ms;
  MediaInspector late(no_time, extractor_, metrics_);
  auto over = inspect(late, with_images({"x"}));
  ASSERT_TRUE(over.ok());
  EXPECT_FALSE(over->complete);
  late.finish();
}

// Answers every URL with fixed bytes, or an error; counts the fetches.
class FixedFetcher final : public Fetcher {
 public:
  explicit FixedFetcher(Result<std::string> answer) : answer_(std::move(answer)) {}
  asio::awaitable<Result<std::string>> fetch(const std::string& url) override {
    urls.push_back(url);
    co_return answer_;
  }
  std::vector<std::string> urls;

 private:
  Result<std::string> answer_;
};

TEST_F(InspectorTest, AFetchedUrlIsReplacedByTheBytesItLedTo) {
  const std::string png = std::string("\x89PNG\r\n\x1a\n") + "pixels";
  auto fetcher = std::make_shared<FixedFetcher>(png);
  MediaInspector inspector(InspectorSettings{}, extractor_, metrics_, fetcher);
  ChatRequest request = with_images({""});
  request.messages[0].attachments[0].url = "https://images.example.net/a.png";
  request.messages[0].attachments[0].media_type.clear();
  auto read = inspect(inspector, request);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(fetcher->urls, std::vector<std::string>{"https://images.example.net/a.png"});
  EXPECT_EQ(read->items[0].extraction->text, png);  // what was read is what was fetched
  inspector.finish();
}

TEST_F(InspectorTest, AFetchThatFailsOrBringsSomethingElseIs400) {
  for (const auto& answer : {Result<std::string>(std::string("<html>not an image</html>")),
                             Result<std::string>(make_error(ErrorCode::upstream_timeout, "timed out"))}) {
    auto fetcher = std::make_shared<FixedFetcher>(answer);
    MediaInspector inspector(InspectorSettings{}, extractor_, metrics_, fetcher);
    ChatRequest request = with_images({""});
    request.messages[0].attachments[0].url = "https://images.example.net/a.png";
    auto read = inspect(inspector, request);
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.error().code, ErrorCode::invalid_request);
    EXPECT_EQ(read.error().message.find("example.net"), std::string::npos);
    EXPECT_EQ(extractor_->calls.load(), 0);
    inspector.finish();
  }
}

TEST_F(InspectorTest, AnAttachmentGivenByUrlIsRefusedUnlessFetched) {
  MediaInspector inspector(InspectorSettings{}, extractor_, metrics_);
  ChatRequest request = with_images({""});
  request.messages[0].attachments[0].url = "https://example.com/cheque.png";
  auto read = inspect(inspector, request);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, ErrorCode::invalid_request);
  EXPECT_EQ(read.error().message.find("example.com"), std::string::npos);  // never echoes the address
  inspector.finish();
}

}  // namespace
}  // namespace aegis::media
