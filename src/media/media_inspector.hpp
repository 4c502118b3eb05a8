#pragma once
// Stage 2's reading of a request's images and PDFs (docs/ARCHITECTURE.md,
// "Images and documents"): every attachment is turned into text on a bounded
// pool of worker threads, never on an I/O thread, within a per-request time
// budget, and the results are cached by content hash so a conversation that
// resends an image does not pay again. What cannot be read in full within the
// budget comes back incomplete, and the gateway treats the request as
// RESTRICTED: an attachment is never sent to a cloud provider unexamined.
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/chat.hpp"
#include "core/result.hpp"
#include "core/worker_pool.hpp"
#include "media/extraction.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::media {

// Fetches an attachment a request names by http(s) URL (media.fetch_urls):
// the gateway then reads, classifies and sends those bytes, never the URL.
class Fetcher {
 public:
  virtual ~Fetcher() = default;
  // The bytes at `url`; an error is the client's 400, naming no host or address.
  virtual boost::asio::awaitable<Result<std::string>> fetch(const std::string& url) = 0;
};

struct InspectorSettings {
  std::chrono::milliseconds timeout{10'000};  // per request, queueing included
  std::size_t threads = 1;
  std::size_t queue = 64;  // requests waiting for or in OCR; beyond it a request is over budget
  std::size_t cache_entries = 1024;
  std::string languages = "eng+fra";  // part of the cache key
};

struct InspectedAttachment {
  std::size_t message = 0;     // index in ChatRequest::messages
  std::size_t attachment = 0;  // index in Message::attachments
  std::shared_ptr<const Extraction> extraction;
};

struct MediaInspection {
  std::vector<InspectedAttachment> items;  // in request order
  bool complete = true;                    // every attachment read in full
  std::string incomplete_reason;           // the first reason; never content
  bool images = false;
  bool documents = false;

  // The reading of messages[message].attachments[attachment], or nullptr.
  const InspectedAttachment* find(std::size_t message, std::size_t attachment) const {
    for (const auto& item : items) {
      if (item.message == message && item.attachment == attachment) return &item;
    }
    return nullptr;
  }
};

// Whether any message carries an attachment: a text-only request skips
// everything here.
bool has_attachments(const ChatRequest& request) noexcept;

class MediaInspector {
 public:
  // `extractor` must be thread-safe; `metrics` must outlive the inspector.
  // Without a `fetcher` an attachment given by URL is refused.
  MediaInspector(InspectorSettings settings, std::shared_ptr<const TextExtractor> extractor,
                 telemetry::Registry& metrics, std::shared_ptr<Fetcher> fetcher = nullptr);
  ~MediaInspector();
  MediaInspector(const MediaInspector&) = delete;
  MediaInspector& operator=(const MediaInspector&) = delete;

  // Reads every attachment of `request`. An attachment given by URL is
  // fetched first and its bytes put in the request in place of the URL (the
  // gateway only ever sends bytes it has read); without a fetcher, or when
  // the fetch fails or brings something that is not an image (a PDF for a
  // document), it is 400.
  boost::asio::awaitable<Result<MediaInspection>> inspect(ChatRequest& request);
  bool fetches() const noexcept { return fetcher_ != nullptr; }
  // The extractor's redaction, on the worker threads.
  boost::asio::awaitable<Result<Attachment>> redact(const Attachment& attachment,
                                                    std::shared_ptr<const Extraction> extraction, Ranges ranges);
  // Reads an attachment again, uncached and within a fresh budget: the egress
  // check of what redaction produced.
  boost::asio::awaitable<Extraction> reread(const Attachment& attachment);

  // Blocks until the handed-over work has run; nothing may be submitted afterwards.
  void finish() { pool_.finish(); }

 private:
  std::shared_ptr<const Extraction> read(const Attachment& attachment, std::chrono::steady_clock::time_point deadline);
  std::shared_ptr<const Extraction> cached(const std::string& key);
  void remember(const std::string& key, std::shared_ptr<const Extraction> extraction);

  InspectorSettings settings_;
  std::shared_ptr<const TextExtractor> extractor_;
  std::shared_ptr<Fetcher> fetcher_;
  WorkerPool pool_;
  std::atomic<std::size_t> waiting_{0};
  telemetry::CounterFamily& extractions_;
  telemetry::HistogramFamily& seconds_;

  std::mutex cache_mutex_;
  std::list<std::pair<std::string, std::shared_ptr<const Extraction>>> lru_;  // most recent first
  std::unordered_map<std::string, decltype(lru_)::iterator> index_;
};

}  // namespace aegis::media
