#include "media/media_inspector.hpp"

#include "core/digest.hpp"
#include "core/media_type.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::media {

namespace {

using SteadyClock = std::chrono::steady_clock;

std::string_view kind_label(Attachment::Kind kind) { return kind == Attachment::Kind::document ? "document" : "image"; }

// The cache key: what was read (the bytes' SHA-256) and how (kind, languages).
std::string cache_key(const Attachment& attachment, const std::string& languages) {
  const Sha256 digest = sha256(attachment.data);
  std::string key(reinterpret_cast<const char*>(digest.data()), digest.size());
  key += kind_label(attachment.kind);
  key += languages;
  return key;
}

std::shared_ptr<const Extraction> incomplete(std::string reason) {
  auto out = std::make_shared<Extraction>();
  out->complete = false;
  out->incomplete_reason = std::move(reason);
  return out;
}

}  // namespace

bool has_attachments(const ChatRequest& request) noexcept {
  for (const auto& message : request.messages) {
    if (!message.attachments.empty()) return true;
  }
  return false;
}

MediaInspector::MediaInspector(InspectorSettings settings, std::shared_ptr<const TextExtractor> extractor,
                               telemetry::Registry& metrics, std::shared_ptr<Fetcher> fetcher)
    : settings_(std::move(settings)),
      extractor_(std::move(extractor)),
      fetcher_(std::move(fetcher)),
      pool_(std::max<std::size_t>(1, settings_.threads)),
      extractions_(metrics.counter("aegis_media_extractions_total",
                                   "Images and PDFs read before classification, by kind and result (read, cached, "
                                   "incomplete: not read in full, so the request was treated as RESTRICTED)",
                                   {"kind", "result"})),
      seconds_(metrics.histogram("aegis_media_extraction_seconds",
                                 "Time to read one image or PDF (OCR, PDF text), cache hits excluded", {"kind"},
                                 {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})) {}

MediaInspector::~MediaInspector() = default;

std::shared_ptr<const Extraction> MediaInspector::cached(const std::string& key) {
  std::lock_guard lock(cache_mutex_);
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void MediaInspector::remember(const std::string& key, std::shared_ptr<const Extraction> extraction) {
  if (settings_.cache_entries == 0) return;
  std::lock_guard lock(cache_mutex_);
  if (index_.contains(key)) return;
  lru_.emplace_front(key, std::move(extraction));
  index_.emplace(key, lru_.begin());
  while (lru_.size() > settings_.cache_entries) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

// On a worker thread.
std::shared_ptr<const Extraction> MediaInspector::read(const Attachment& attachment, SteadyClock::time_point deadline) {
  const std::string kind(kind_label(attachment.kind));
  const std::string key = cache_key(attachment, settings_.languages);
  if (auto hit = cached(key)) {
    extractions_.with({kind, "cached"}).inc();
    return hit;
  }
  const auto started = SteadyClock::now();
  auto extraction = std::make_shared<const Extraction>(extractor_->extract(attachment, deadline));
  seconds_.with({kind}).observe(std::chrono::duration<double>(SteadyClock::now() - started).count());
  extractions_.with({kind, extraction->complete ? "read" : "incomplete"}).inc();
  // Only a complete reading is reused: an incomplete one may read in full
  // next time, when the machine is less busy.
  if (extraction->complete) remember(key, extraction);
  return extraction;
}

boost::asio::awaitable<Result<MediaInspection>> MediaInspector::inspect(ChatRequest& request) {
  MediaInspection out;
  for (std::size_t m = 0; m < request.messages.size(); ++m) {
    auto& attachments = request.messages[m].attachments;
    for (std::size_t a = 0; a < attachments.size(); ++a) {
      if (attachments[a].data.empty() && !attachments[a].url.empty()) {
        const std::string where = "messages[" + std::to_string(m) + "].attachments[" + std::to_string(a) + "]";
        if (!fetcher_) {
          co_return make_error(ErrorCode::invalid_request,
                               where +
                                   ": an attachment given by URL is not fetched by this gateway "
                                   "(media.fetch_urls); send it inline as a data URL");
        }
        auto fetched = co_await fetcher_->fetch(attachments[a].url);
        if (!fetched.ok()) {
          co_return make_error(ErrorCode::invalid_request,
                               where + ": the attachment's URL could not be fetched: " + fetched.error().message);
        }
        const auto sniffed = sniff_media_type(*fetched);
        const bool fits =
            sniffed && (attachments[a].kind == Attachment::Kind::document ? is_supported_document_type(*sniffed)
                                                                          : is_supported_image_type(*sniffed));
        if (!fits) {
          co_return make_error(ErrorCode::invalid_request, where + ": the attachment's URL did not lead to " +
                                                               (attachments[a].kind == Attachment::Kind::document
                                                                    ? std::string("a PDF document")
                                                                    : std::string("a PNG, JPEG, WebP or GIF image")));
        }
        attachments[a].media_type = std::string(*sniffed);
        attachments[a].data = std::move(fetched).value();
        attachments[a].url.clear();
      }
      (attachments[a].kind == Attachment::Kind::document ? out.documents : out.images) = true;
      out.items.push_back(InspectedAttachment{m, a, nullptr});
    }
  }
  if (out.items.empty()) co_return out;
  const auto deadline = SteadyClock::now() + settings_.timeout;

  // Bounded: a request that would queue behind too many others is over its
  // budget at once, rather than waiting for a deadline it cannot meet.
  if (waiting_.fetch_add(1) >= settings_.queue) {
    waiting_.fetch_sub(1);
    for (auto& item : out.items) {
      item.extraction = incomplete("too many requests are waiting for OCR (media.ocr_queue)");
      extractions_
          .with(
              {std::string(kind_label(request.messages[item.message].attachments[item.attachment].kind)), "incomplete"})
          .inc();
    }
  } else {
    auto work = [this, &out, &request, deadline] {
      for (auto& item : out.items) {
        const Attachment& attachment = request.messages[item.message].attachments[item.attachment];
        item.extraction = SteadyClock::now() < deadline
                              ? read(attachment, deadline)
                              : incomplete("OCR ran past the request's time budget (media.ocr_timeout_ms)");
      }
      return true;
    };
    (void)co_await pool_.run(work);
    waiting_.fetch_sub(1);
  }
  for (const auto& item : out.items) {
    if (!item.extraction->complete && out.complete) {
      out.complete = false;
      out.incomplete_reason = item.extraction->incomplete_reason;
    }
  }
  co_return out;
}

boost::asio::awaitable<Result<Attachment>> MediaInspector::redact(const Attachment& attachment,
                                                                  std::shared_ptr<const Extraction> extraction,
                                                                  Ranges ranges) {
  auto work = [this, &attachment, &extraction, &ranges] { return extractor_->redact(attachment, *extraction, ranges); };
  co_return co_await pool_.run(work);
}

boost::asio::awaitable<Extraction> MediaInspector::reread(const Attachment& attachment) {
  const auto deadline = SteadyClock::now() + settings_.timeout;
  auto work = [this, &attachment, deadline] { return extractor_->extract(attachment, deadline); };
  co_return co_await pool_.run(work);
}

}  // namespace aegis::media
