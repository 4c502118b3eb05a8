#include "core/encoding.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

namespace aegis {
namespace {

std::vector<unsigned char> bytes_of(std::string_view text) { return {text.begin(), text.end()}; }

TEST(Base64, EncodesTheRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("user:pa ss"), "dXNlcjpwYSBzcw==");
}

TEST(Base64, EncodesEveryByteAndLongInputOnOneLine) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const std::string encoded = base64_encode(all);
  EXPECT_EQ(encoded.size(), 344u);
  EXPECT_EQ(encoded.find('\n'), std::string::npos);  // no line breaks, unlike PEM
  EXPECT_EQ(encoded.substr(0, 8), "AAECAwQF");
  EXPECT_EQ(encoded.substr(encoded.size() - 8), "/P3+/w==");
  EXPECT_EQ(base64_decode(encoded), all);
}

TEST(Base64, UrlSafeUsesDashUnderscoreAndNoPadding) {
  EXPECT_EQ(base64url_encode(bytes_of("")), "");
  EXPECT_EQ(base64url_encode(bytes_of("f")), "Zg");
  EXPECT_EQ(base64url_encode(bytes_of("fo")), "Zm8");
  EXPECT_EQ(base64url_encode(bytes_of("foo")), "Zm9v");
  const std::array<unsigned char, 3> high{0xfb, 0xff, 0xbf};
  EXPECT_EQ(base64_encode(high), "+/+/");
  EXPECT_EQ(base64url_encode(high), "-_-_");
  // 32 bytes (an API key secret): 43 characters.
  EXPECT_EQ(base64url_encode(std::array<unsigned char, 32>{}).size(), 43u);
}

TEST(Base64, DecodesWhatItEncodes) {
  for (std::string_view text : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    EXPECT_EQ(base64_decode(base64_encode(text)), std::string(text)) << text;
  }
  EXPECT_EQ(base64_decode("+/+/"), std::string("\xfb\xff\xbf"));
}

TEST(Base64, DecodingRefusesAnythingButPaddedStandardBase64) {
  for (const char* bad : {"Zg", "Zg=", "Zm9", "Z===", "====", "Zg==Zg==", "Z=g=", "Zm9v ", " Zm9v", "Zm9v\n", "Zm\n9v",
                          "-_-_", "Zm9!", "Zm9v=", "Zm9vYg=", "Zm9vYg===", "Zm-v"}) {
    EXPECT_FALSE(base64_decode(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(Base64, FloatsAreLittleEndianFloat32) {
  EXPECT_EQ(base64_floats(std::vector<float>{1.0f}), "AACAPw==");
  EXPECT_EQ(base64_floats(std::vector<float>{0.0f, 1.0f}), "AAAAAAAAgD8=");
  EXPECT_EQ(base64_floats(std::vector<float>{}), "");
}

TEST(Hex, EncodesLowerCaseTwoDigitsAByte) {
  EXPECT_EQ(hex_encode(bytes_of("")), "");
  const std::array<unsigned char, 5> b{0x00, 0x01, 0x7f, 0xab, 0xff};
  EXPECT_EQ(hex_encode(b), "00017fabff");
}

TEST(Hex, DecodesEitherCaseAndRefusesTheRest) {
  EXPECT_EQ(hex_decode(""), std::string());
  EXPECT_EQ(hex_decode("00017fabff"), std::string("\x00\x01\x7f\xab\xff", 5));
  EXPECT_EQ(hex_decode("ABcd"), std::string("\xab\xcd"));
  for (const char* bad : {"0", "abc", "0g", "g0", " 00", "00 ", "0x00", "-1"}) {
    EXPECT_FALSE(hex_decode(bad).has_value()) << "'" << bad << "'";
  }
}

}  // namespace
}  // namespace aegis
