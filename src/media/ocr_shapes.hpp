#pragma once
// RESTRICTED shapes in text read by OCR. The classifier (classify/) and the
// egress detector (compliance/) both require a SIN's or a card number's
// check digit, rightly for typed text; OCR misreads a digit now and then
// (bench/media/detection_rate.py saw a skewed "452 083 717" for a valid
// SIN), and one wrong digit fails the checksum. In an image's text a value
// with the shape is RESTRICTED whatever its checksum: a SIN word ("SIN",
// "NAS", "social insurance", "assurance sociale") and nine digits grouped
// 3-3-3 (or unbroken) after it, or sixteen digits grouped 4-4-4-4.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace aegis::media {

struct ShapeHit {
  std::string entity_type;  // "CA_SIN" or "CREDIT_CARD"
  std::string rule;         // "ocr.sin_shape" or "ocr.card_shape"
  std::size_t start = 0;    // [start, end) in the text
  std::size_t end = 0;
};

std::vector<ShapeHit> restricted_shapes(std::string_view text);

}  // namespace aegis::media
