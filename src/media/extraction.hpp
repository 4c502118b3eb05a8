#pragma once
// Multimodal governance: what the gateway reads out of an image or a PDF
// before classification (the text, and where each word sits), and the
// redaction that hides chosen words under opaque boxes. Value types and
// interfaces only; tesseract_extractor.cpp implements both with Tesseract,
// Leptonica and Poppler.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/chat.hpp"
#include "core/result.hpp"

namespace aegis::media {

// A rectangle in pixels of a page as it was read (after any orientation fix).
struct Box {
  int left = 0;
  int top = 0;
  int right = 0;  // exclusive
  int bottom = 0;
};

struct Word {
  std::size_t start = 0;  // [start, end): bytes of Extraction::text
  std::size_t end = 0;
  std::size_t page = 0;  // the reading it belongs to: an index of Extraction::pages
  Box box;
};

// One reading of one page: an image is page 0; a PDF page is rendered at
// `dpi` (its text layer's boxes are scaled to the same pixels). A page read
// by OCR in more than one orientation has one entry per reading kept.
struct Page {
  std::size_t source = 0;  // the attachment's page (0-based)
  int width = 0;
  int height = 0;
  int dpi = 0;
  // Quarter turns clockwise applied before OCR (orientation detection), so
  // that the words' boxes are in the turned page; redaction turns back.
  int quarter_turns = 0;
  bool ocr = false;  // read by OCR (false: a PDF page's text layer)
};

struct Extraction {
  std::string text;
  std::vector<Word> words;
  std::vector<Page> pages;
  // False when the attachment could not be read in full: over the time or
  // size budget, an image or PDF that would not decode or is encrypted, more
  // pages than allowed. Its text may then miss what a provider would see, so
  // the request is treated as RESTRICTED (fail closed).
  bool complete = true;
  std::string incomplete_reason;  // for the log and the route reason; never content
};

// The number of the attachment's pages that were read (readings of one page
// share its `source`).
inline std::size_t pages_read(const Extraction& extraction) noexcept {
  std::size_t count = 0;
  for (const auto& page : extraction.pages) count = std::max(count, page.source + 1);
  return count;
}

// What one attachment may cost.
struct Limits {
  std::size_t max_attachment_bytes = 20U << 20U;
  std::int64_t max_pixels = 40'000'000;  // per image or rendered page
  int max_pdf_pages = 20;
  std::string languages = "eng+fra";
};

// Byte ranges of Extraction::text to hide.
using Ranges = std::vector<std::pair<std::size_t, std::size_t>>;

// Reads text out of attachments and redacts them. Blocking (OCR takes tens
// to hundreds of milliseconds a page): called on worker threads only.
// Implementations are thread-safe.
class TextExtractor {
 public:
  virtual ~TextExtractor() = default;
  // Never fails: what cannot be read is an incomplete Extraction.
  virtual Extraction extract(const Attachment& attachment, std::chrono::steady_clock::time_point deadline) const = 0;
  // A copy of `attachment` with an opaque box over every word of
  // `extraction` (extract()'s result for it) that overlaps a range: an image
  // comes back as PNG, a PDF as a PDF of page images (its text layer gone).
  virtual Result<Attachment> redact(const Attachment& attachment, const Extraction& extraction,
                                    const Ranges& ranges) const = 0;
};

}  // namespace aegis::media
