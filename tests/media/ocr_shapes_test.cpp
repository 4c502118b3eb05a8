// The shapes of RESTRICTED values in OCR text (media/ocr_shapes.cpp): a
// misread digit must not let a SIN or card number through.
#include "media/ocr_shapes.hpp"

#include <gtest/gtest.h>

namespace aegis::media {
namespace {

std::vector<std::string> types(std::string_view text) {
  std::vector<std::string> out;
  for (const auto& hit : restricted_shapes(text)) out.push_back(hit.entity_type);
  return out;
}

TEST(OcrShapes, ASinWithAMisreadDigitIsStillASin) {
  // 046 454 286 is a valid SIN; 046 454 287 fails its check digit.
  EXPECT_EQ(types("Social Insurance Number: 046 454 287"), std::vector<std::string>{"CA_SIN"});
  EXPECT_EQ(types("NAS : 046-454-287"), std::vector<std::string>{"CA_SIN"});
  EXPECT_EQ(types("SIN\n046454287"), std::vector<std::string>{"CA_SIN"});
  const auto hit = restricted_shapes("sin 046 454 287 ok");
  ASSERT_EQ(hit.size(), 1U);
  EXPECT_EQ(hit[0].start, 4U);
  EXPECT_EQ(hit[0].end, 15U);
}

TEST(OcrShapes, NineDigitsWithoutASinWordAreNot) {
  EXPECT_TRUE(types("Reference 046 454 287").empty());
  EXPECT_TRUE(types("basin 046 454 287").empty());  // "sin" inside a word
  EXPECT_TRUE(types("SIN 046 454 2871").empty());   // ten digits
  EXPECT_TRUE(types("SIN 046 454 287x").empty());   // glued to a letter
  EXPECT_TRUE(types("SIN 0464 54 287").empty());    // not grouped 3-3-3
}

TEST(OcrShapes, SixteenDigitsGroupedFourByFourAreACard) {
  EXPECT_EQ(types("4111 1111 1111 1112"), std::vector<std::string>{"CREDIT_CARD"});  // fails Luhn
  EXPECT_EQ(types("card: 4111-1111-1111-1112."), std::vector<std::string>{"CREDIT_CARD"});
  EXPECT_TRUE(types("4111 1111 1111").empty());
  EXPECT_TRUE(types("Order 2026-1111-1111-1111-9").empty());
}

}  // namespace
}  // namespace aegis::media
