#pragma once
// TextExtractor (media/extraction.hpp) over Tesseract (OCR, with orientation
// detection), Leptonica (decoding PNG, JPEG, WebP and GIF's first frame;
// drawing boxes; writing PNG and image PDFs) and Poppler (a PDF's text layer
// and the rendering of pages without one).
#include "media/extraction.hpp"

namespace aegis::media {

class TesseractExtractor final : public TextExtractor {
 public:
  explicit TesseractExtractor(Limits limits);

  Extraction extract(const Attachment& attachment, std::chrono::steady_clock::time_point deadline) const override;
  Result<Attachment> redact(const Attachment& attachment, const Extraction& extraction,
                            const Ranges& ranges) const override;

  // Whether the OCR data for `languages` is installed (Tesseract can start).
  static bool available(const std::string& languages);

 private:
  Limits limits_;
};

}  // namespace aegis::media
