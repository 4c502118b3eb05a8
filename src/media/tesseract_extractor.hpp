#pragma once
// TextExtractor (media/extraction.hpp) over Tesseract (OCR, with orientation
// detection), Leptonica (decoding PNG, JPEG, WebP and GIF's first frame;
// drawing boxes; writing PNG and image PDFs) and Poppler (a PDF's text layer
// and the rendering of pages without one).
#include "media/extraction.hpp"

namespace aegis::media {

// Tesseract runs its networks on OpenMP threads of its own; on a gateway
// that already reads images on a worker pool, they only contend: one OCR
// of a 640x159 image took 107 ms with them and 13 ms without, a 1280x477 one
// 1.41 s and 0.27 s (bench/media_bench.cpp, 2 cores). OpenMP reads
// OMP_THREAD_LIMIT only when it is loaded, before main(), so this sets it
// to 1 and re-executes the program once (same process id, same arguments)
// unless the environment already sets it. Call it first thing in main().
void limit_ocr_threads(char** argv);

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
