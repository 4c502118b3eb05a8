#include "media/tesseract_extractor.hpp"

#include <leptonica/allheaders.h>
#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-global.h>
#include <poppler/cpp/poppler-image.h>
#include <poppler/cpp/poppler-page-renderer.h>
#include <poppler/cpp/poppler-page.h>
#include <tesseract/baseapi.h>
#include <tesseract/ocrclass.h>
#include <tesseract/resultiterator.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>

namespace aegis::media {

namespace {

using SteadyClock = std::chrono::steady_clock;

// PDF pages are rendered at this resolution for OCR and for redaction, and
// their text layer's boxes are scaled to it.
constexpr int kPdfDpi = 200;
// Images carry no reliable resolution; Tesseract is told this one.
constexpr int kImageDpi = 300;
// Orientation detection's confidence below which its suggestion is not
// tried. Low: every reading is kept, so a wrong suggestion costs only time.
constexpr float kMinOrientationConfidence = 0.5F;
// Redaction boxes extend this far past a word's box, so no stroke shows.
constexpr int kBoxPadding = 3;

struct PixDeleter {
  void operator()(Pix* pix) const { pixDestroy(&pix); }
};
using PixPtr = std::unique_ptr<Pix, PixDeleter>;

struct PixaDeleter {
  void operator()(Pixa* pixa) const { pixaDestroy(&pixa); }
};

// Leptonica and Poppler print diagnostics to stderr on their own; the
// gateway's log is JSON and never says anything about content.
void quiet_libraries() {
  static std::once_flag once;
  std::call_once(once, [] {
    setMsgSeverity(L_SEVERITY_NONE);
    poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr);
  });
}

// Tesseract engines are not thread-safe: each worker thread keeps its own
// (one for the text, one for orientation detection), started on first use.
struct Engines {
  std::string languages;
  tesseract::TessBaseAPI ocr;
  tesseract::TessBaseAPI osd;
  bool ocr_ready = false;
  bool osd_ready = false;
};

Engines* engines_for(const std::string& languages) {
  thread_local std::unique_ptr<Engines> engines;
  if (!engines || engines->languages != languages) {
    engines = std::make_unique<Engines>();
    engines->languages = languages;
    engines->ocr_ready = engines->ocr.Init(nullptr, languages.c_str(), tesseract::OEM_LSTM_ONLY) == 0;
    engines->ocr.SetVariable("debug_file", "/dev/null");
    engines->osd_ready = engines->osd.Init(nullptr, "osd", tesseract::OEM_TESSERACT_ONLY) == 0;
    engines->osd.SetVariable("debug_file", "/dev/null");
  }
  return engines->ocr_ready ? engines.get() : nullptr;
}

const l_uint8* bytes_of(const std::string& data) { return reinterpret_cast<const l_uint8*>(data.data()); }

void mark_incomplete(Extraction& out, std::string reason) {
  if (out.complete) out.incomplete_reason = std::move(reason);
  out.complete = false;
}

void append_word(Extraction& out, std::string_view text, bool new_line, std::size_t page, Box box) {
  if (text.empty()) return;
  if (!out.text.empty()) out.text += new_line ? '\n' : ' ';
  Word word;
  word.start = out.text.size();
  out.text += text;
  word.end = out.text.size();
  word.page = page;
  word.box = box;
  out.words.push_back(word);
}

std::int32_t milliseconds_left(SteadyClock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
  return static_cast<std::int32_t>(std::clamp<std::int64_t>(left, 0, INT32_MAX));
}

// An 8-bit grey copy of any image Leptonica decoded (alpha dropped), dark
// text on a light ground: light text on a dark card reads upside down to
// orientation detection otherwise.
PixPtr to_gray(Pix* pix) {
  PixPtr opaque(pixRemoveAlpha(pix));
  if (!opaque) return nullptr;
  PixPtr gray(pixConvertTo8(opaque.get(), 0));
  if (!gray) return nullptr;
  l_float32 mean = 255;
  if (pixAverageInRect(gray.get(), nullptr, nullptr, 0, 255, 2, &mean) == 0 && mean < 128) {
    pixInvert(gray.get(), gray.get());
  }
  return gray;
}

// What OCR read on one page image: words with their boxes, and Tesseract's
// mean confidence (0..100).
struct Reading {
  struct Item {
    std::string text;
    Box box;
    bool new_line = false;
  };
  std::vector<Item> words;
  int confidence = 0;
};

std::optional<Reading> recognise(Engines& engines, Pix* image, int dpi, SteadyClock::time_point deadline) {
  const std::int32_t left = milliseconds_left(deadline);
  if (left <= 0) return std::nullopt;
  engines.ocr.SetImage(image);
  engines.ocr.SetSourceResolution(dpi);
  tesseract::ETEXT_DESC monitor;
  monitor.set_deadline_msecs(left);
  if (engines.ocr.Recognize(&monitor) != 0 || monitor.deadline_exceeded()) {
    engines.ocr.Clear();
    return std::nullopt;
  }
  Reading reading;
  reading.confidence = engines.ocr.MeanTextConf();
  std::unique_ptr<tesseract::ResultIterator> it(engines.ocr.GetIterator());
  if (it) {
    do {
      if (it->Empty(tesseract::RIL_WORD)) continue;
      std::unique_ptr<char[]> text(it->GetUTF8Text(tesseract::RIL_WORD));
      if (!text) continue;
      Reading::Item item;
      item.text = text.get();
      it->BoundingBox(tesseract::RIL_WORD, &item.box.left, &item.box.top, &item.box.right, &item.box.bottom);
      item.new_line = reading.words.empty() || it->IsAtBeginningOf(tesseract::RIL_TEXTLINE);
      reading.words.push_back(std::move(item));
    } while (it->Next(tesseract::RIL_WORD));
  }
  engines.ocr.Clear();
  return reading;
}

// A reading below this mean confidence (0..100) is tried in every orientation.
constexpr int kPoorReading = 60;

// Quarter turns that orientation detection suggests for `gray` (0: none).
int suggested_turns(Engines& engines, Pix* gray, int dpi) {
  if (!engines.osd_ready) return 0;
  engines.osd.SetImage(gray);
  engines.osd.SetSourceResolution(dpi);
  int degrees = 0;
  float confidence = 0;
  const char* script = nullptr;
  float script_confidence = 0;
  int turns = 0;
  if (engines.osd.DetectOrientationScript(&degrees, &confidence, &script, &script_confidence) && degrees != 0 &&
      degrees % 90 == 0 && confidence >= kMinOrientationConfidence) {
    turns = ((360 - degrees) / 90) % 4;
  }
  engines.osd.Clear();
  return turns;
}

// OCR of one page image (page `source` of the attachment) into `out`: one
// Page entry per reading kept; false when the deadline passed first.
// The page is read as it is and, when orientation detection suggests a quarter
// turn (a photo taken sideways, a page scanned upside down), turned as well;
// when it has no suggestion (too little text to tell) and the reading is
// poor, in every other quarter turn. Every reading is kept, the most
// confident first: orientation detection is not trusted alone (it turns
// some upright pages: capitals and digits, light on dark), and a reading
// that looks worse may still hold the value that must not pass.
bool read_page(Engines& engines, Pix* gray, const Page& page, SteadyClock::time_point deadline, Extraction& out) {
  auto upright = recognise(engines, gray, page.dpi, deadline);
  if (!upright) return false;
  std::vector<std::pair<int, Reading>> readings;
  readings.emplace_back(0, std::move(*upright));
  std::vector<int> turns;
  if (const int suggested = suggested_turns(engines, gray, page.dpi); suggested != 0) {
    turns.push_back(suggested);
  } else if (readings.front().second.confidence < kPoorReading) {
    turns = {1, 2, 3};
  }
  for (const int turn : turns) {
    PixPtr turned(pixRotateOrth(gray, turn));
    if (!turned) continue;
    auto again = recognise(engines, turned.get(), page.dpi, deadline);
    if (!again) return false;
    if (!again->words.empty()) readings.emplace_back(turn, std::move(*again));
  }
  std::stable_sort(readings.begin(), readings.end(),
                   [](const auto& a, const auto& b) { return a.second.confidence > b.second.confidence; });
  for (auto& [turn, reading] : readings) {
    Page entry = page;
    entry.quarter_turns = turn;
    const std::size_t index = out.pages.size();
    out.pages.push_back(entry);
    bool first = true;
    for (const auto& word : reading.words) {
      append_word(out, word.text, first || word.new_line, index, word.box);
      first = false;
    }
  }
  return true;
}

void extract_image(const Attachment& attachment, const Limits& limits, SteadyClock::time_point deadline,
                   Extraction& out) {
  l_int32 format = 0;
  l_int32 width = 0;
  l_int32 height = 0;
  l_int32 bits = 0;
  l_int32 samples = 0;
  l_int32 colormap = 0;
  if (pixReadHeaderMem(bytes_of(attachment.data), attachment.data.size(), &format, &width, &height, &bits, &samples,
                       &colormap) != 0) {
    return mark_incomplete(out, "the image could not be decoded");
  }
  if (static_cast<std::int64_t>(width) * height > limits.max_pixels) {
    return mark_incomplete(out, "the image has more pixels than media.max_pixels");
  }
  PixPtr pix(pixReadMem(bytes_of(attachment.data), attachment.data.size()));
  PixPtr gray = pix ? to_gray(pix.get()) : nullptr;
  if (!gray) return mark_incomplete(out, "the image could not be decoded");
  Engines* engines = engines_for(limits.languages);
  if (!engines) return mark_incomplete(out, "OCR is not available");
  Page page;
  page.width = width;
  page.height = height;
  page.dpi = kImageDpi;
  page.ocr = true;
  if (!read_page(*engines, gray.get(), page, deadline, out)) {
    mark_incomplete(out, "OCR ran past the request's time budget (media.ocr_timeout_ms)");
  }
}

std::string utf8_of(const poppler::ustring& text) {
  const poppler::byte_array bytes = text.to_utf8();
  return {bytes.begin(), bytes.end()};
}

int to_pixels(double points) { return static_cast<int>(std::lround(points * kPdfDpi / 72.0)); }

// A page rendered at kPdfDpi as a Leptonica image: 8-bit grey for OCR, or
// 32-bit colour for redaction.
PixPtr render_page(const poppler::page& page, bool colour) {
  poppler::page_renderer renderer;
  renderer.set_render_hint(poppler::page_renderer::antialiasing, true);
  renderer.set_render_hint(poppler::page_renderer::text_antialiasing, true);
  renderer.set_image_format(colour ? poppler::image::format_argb32 : poppler::image::format_gray8);
  const poppler::image image = renderer.render_page(&page, kPdfDpi, kPdfDpi);
  if (!image.is_valid()) return nullptr;
  const int width = image.width();
  const int height = image.height();
  PixPtr pix(pixCreate(width, height, colour ? 32 : 8));
  if (!pix) return nullptr;
  const char* rows = image.const_data();
  const int stride = image.bytes_per_row();
  for (int y = 0; y < height; ++y) {
    l_uint32* line = pixGetData(pix.get()) + static_cast<std::ptrdiff_t>(y) * pixGetWpl(pix.get());
    const auto* row = reinterpret_cast<const unsigned char*>(rows + static_cast<std::ptrdiff_t>(y) * stride);
    for (int x = 0; x < width; ++x) {
      if (colour) {
        // Poppler's ARGB32 is a native-endian 0xAARRGGBB word.
        std::uint32_t argb = 0;
        std::memcpy(&argb, row + static_cast<std::ptrdiff_t>(x) * 4, sizeof argb);
        l_uint32 pixel = 0;
        composeRGBPixel(static_cast<l_int32>((argb >> 16U) & 0xFFU), static_cast<l_int32>((argb >> 8U) & 0xFFU),
                        static_cast<l_int32>(argb & 0xFFU), &pixel);
        line[x] = pixel;
      } else {
        SET_DATA_BYTE(line, x, row[x]);
      }
    }
  }
  return pix;
}

bool page_fits(const poppler::page& page, const Limits& limits) {
  const poppler::rectf rect = page.page_rect();
  const double pixels = std::ceil(rect.width() * kPdfDpi / 72.0) * std::ceil(rect.height() * kPdfDpi / 72.0);
  return pixels <= static_cast<double>(limits.max_pixels);
}

void extract_pdf(const Attachment& attachment, const Limits& limits, SteadyClock::time_point deadline,
                 Extraction& out) {
  std::unique_ptr<poppler::document> document(
      poppler::document::load_from_raw_data(attachment.data.data(), static_cast<int>(attachment.data.size())));
  if (!document) return mark_incomplete(out, "the PDF could not be read");
  if (document->is_locked()) return mark_incomplete(out, "the PDF is encrypted");
  int pages = document->pages();
  if (pages > limits.max_pdf_pages) {
    mark_incomplete(out, "the PDF has more pages than media.max_pdf_pages");
    pages = limits.max_pdf_pages;  // still read: what they hold raises the level further
  }
  for (int index = 0; index < pages; ++index) {
    const std::unique_ptr<poppler::page> page(document->create_page(index));
    if (!page) return mark_incomplete(out, "a PDF page could not be read");
    if (!page_fits(*page, limits)) return mark_incomplete(out, "a PDF page has more pixels than media.max_pixels");
    const poppler::rectf rect = page->page_rect();
    Page read;
    read.source = static_cast<std::size_t>(index);
    read.width = to_pixels(rect.width());
    read.height = to_pixels(rect.height());
    read.dpi = kPdfDpi;
    const std::size_t entry = out.pages.size();
    const std::vector<poppler::text_box> boxes = page->text_list();
    bool first_on_page = true;
    double line_top = 0;
    for (const auto& box : boxes) {
      const poppler::rectf r = box.bbox();
      // A new line when the word's top moves by more than half its height.
      const bool new_line = first_on_page || std::abs(r.top() - line_top) > r.height() / 2;
      if (new_line) line_top = r.top();
      append_word(out, utf8_of(box.text()), new_line, entry,
                  Box{to_pixels(r.left()), to_pixels(r.top()), to_pixels(r.right()), to_pixels(r.bottom())});
      first_on_page = false;
    }
    if (boxes.empty()) {
      // No text layer: a scan. Read it as an image.
      read.ocr = true;
      PixPtr rendered = render_page(*page, false);
      PixPtr gray = rendered ? to_gray(rendered.get()) : nullptr;
      Engines* engines = gray ? engines_for(limits.languages) : nullptr;
      if (!engines) return mark_incomplete(out, gray ? "OCR is not available" : "a PDF page could not be rendered");
      if (!read_page(*engines, gray.get(), read, deadline, out)) {
        return mark_incomplete(out, "OCR ran past the request's time budget (media.ocr_timeout_ms)");
      }
    } else {
      out.pages.push_back(read);
    }
    if (SteadyClock::now() > deadline) {
      if (index + 1 < pages) return mark_incomplete(out, "reading the PDF ran past the request's time budget");
    }
  }
}

// The words of `extraction` that overlap a range, by reading (Page entry).
std::vector<std::vector<Box>> boxes_to_hide(const Extraction& extraction, const Ranges& ranges) {
  std::vector<std::vector<Box>> out(extraction.pages.size());
  for (const auto& word : extraction.words) {
    const bool hit = std::any_of(ranges.begin(), ranges.end(), [&](const auto& range) {
      return word.start < range.second && range.first < word.end;
    });
    if (hit && word.page < out.size()) out[word.page].push_back(word.box);
  }
  return out;
}

// Black boxes over `boxes` (in the page as one reading saw it: turned by
// page.quarter_turns) on a 32-bit colour image of the page as it is.
PixPtr draw_boxes(Pix* page_image, const Page& page, const std::vector<Box>& boxes) {
  PixPtr turned(pixRotateOrth(page_image, page.quarter_turns));
  if (!turned) return nullptr;
  const int width = static_cast<int>(pixGetWidth(turned.get()));
  const int height = static_cast<int>(pixGetHeight(turned.get()));
  for (const auto& b : boxes) {
    const int left = std::max(0, b.left - kBoxPadding);
    const int top = std::max(0, b.top - kBoxPadding);
    const int right = std::min(width, b.right + kBoxPadding);
    const int bottom = std::min(height, b.bottom + kBoxPadding);
    if (right <= left || bottom <= top) continue;
    BOX* rect = boxCreate(left, top, right - left, bottom - top);
    pixClearInRect(turned.get(), rect);  // 0 is black in a 32-bit image
    boxDestroy(&rect);
  }
  return PixPtr(pixRotateOrth(turned.get(), (4 - page.quarter_turns) % 4));
}

// Page `source` with the boxes of every reading of it drawn.
PixPtr redact_page(PixPtr image, std::size_t source, const Extraction& extraction,
                   const std::vector<std::vector<Box>>& boxes) {
  for (std::size_t entry = 0; image && entry < extraction.pages.size(); ++entry) {
    if (extraction.pages[entry].source != source || boxes[entry].empty()) continue;
    image = draw_boxes(image.get(), extraction.pages[entry], boxes[entry]);
  }
  return image;
}

Result<std::string> encode(Pix* pix, int format) {
  l_uint8* data = nullptr;
  size_t size = 0;
  if (pixWriteMem(&data, &size, pix, format) != 0 || data == nullptr) {
    return make_error(ErrorCode::internal, "the redacted image could not be encoded");
  }
  std::string out(reinterpret_cast<const char*>(data), size);
  lept_free(data);
  return out;
}

Result<Attachment> redact_image(const Attachment& attachment, const Extraction& extraction, const Ranges& ranges) {
  PixPtr pix(pixReadMem(bytes_of(attachment.data), attachment.data.size()));
  PixPtr colour = pix ? PixPtr(pixConvertTo32(pix.get())) : nullptr;
  if (!colour || extraction.pages.empty()) {
    return make_error(ErrorCode::internal, "the image could not be decoded for redaction");
  }
  const auto boxes = boxes_to_hide(extraction, ranges);
  PixPtr redacted = redact_page(std::move(colour), 0, extraction, boxes);
  if (!redacted) return make_error(ErrorCode::internal, "the image could not be redacted");
  auto png = encode(redacted.get(), IFF_PNG);
  if (!png.ok()) return std::move(png).error();
  Attachment out = attachment;
  out.media_type = "image/png";
  out.data = std::move(png).value();
  return out;
}

Result<Attachment> redact_pdf(const Attachment& attachment, const Extraction& extraction, const Ranges& ranges) {
  std::unique_ptr<poppler::document> document(
      poppler::document::load_from_raw_data(attachment.data.data(), static_cast<int>(attachment.data.size())));
  if (!document || document->is_locked()) {
    return make_error(ErrorCode::internal, "the PDF could not be read for redaction");
  }
  const auto boxes = boxes_to_hide(extraction, ranges);
  const std::size_t count = pages_read(extraction);
  std::unique_ptr<Pixa, PixaDeleter> pages(pixaCreate(static_cast<l_int32>(count)));
  for (std::size_t index = 0; index < count; ++index) {
    const std::unique_ptr<poppler::page> page(document->create_page(static_cast<int>(index)));
    PixPtr image = page ? render_page(*page, true) : nullptr;
    PixPtr redacted = image ? redact_page(std::move(image), index, extraction, boxes) : nullptr;
    if (!redacted) return make_error(ErrorCode::internal, "a PDF page could not be redacted");
    pixaAddPix(pages.get(), redacted.release(), L_INSERT);
  }
  l_uint8* data = nullptr;
  size_t size = 0;
  if (pixaConvertToPdfData(pages.get(), kPdfDpi, 1.0F, L_FLATE_ENCODE, 0, nullptr, &data, &size) != 0 ||
      data == nullptr) {
    return make_error(ErrorCode::internal, "the redacted PDF could not be written");
  }
  Attachment out = attachment;
  out.data.assign(reinterpret_cast<const char*>(data), size);
  lept_free(data);
  out.media_type = "application/pdf";
  return out;
}

}  // namespace

void limit_ocr_threads(char** argv) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): first thing in main(), before any thread
  if (std::getenv("OMP_THREAD_LIMIT") != nullptr) return;
  // NOLINTNEXTLINE(concurrency-mt-unsafe): as above
  if (::setenv("OMP_THREAD_LIMIT", "1", 1) != 0) return;
  ::execv("/proc/self/exe", argv);
  // Still here: exec failed (no /proc). OCR works, only slower.
}

TesseractExtractor::TesseractExtractor(Limits limits) : limits_(std::move(limits)) { quiet_libraries(); }

bool TesseractExtractor::available(const std::string& languages) {
  quiet_libraries();
  return engines_for(languages) != nullptr;
}

Extraction TesseractExtractor::extract(const Attachment& attachment, SteadyClock::time_point deadline) const {
  Extraction out;
  if (attachment.data.empty()) {
    mark_incomplete(out, "the attachment's content was not available to read");
  } else if (attachment.data.size() > limits_.max_attachment_bytes) {
    mark_incomplete(out, "the attachment is larger than media.max_attachment_bytes");
  } else if (attachment.kind == Attachment::Kind::document) {
    extract_pdf(attachment, limits_, deadline, out);
  } else {
    extract_image(attachment, limits_, deadline, out);
  }
  return out;
}

Result<Attachment> TesseractExtractor::redact(const Attachment& attachment, const Extraction& extraction,
                                              const Ranges& ranges) const {
  if (attachment.kind == Attachment::Kind::document) return redact_pdf(attachment, extraction, ranges);
  return redact_image(attachment, extraction, ranges);
}

}  // namespace aegis::media
