#pragma once
// Tiny files for the image and document tests: each format's magic bytes and
// a little tail. The gateway and the simulator only sniff, never decode, so
// these pass for real files.
#include <string_view>

namespace aegis::test {

using namespace std::string_view_literals;

inline constexpr std::string_view kPng = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR"sv;
inline constexpr std::string_view kJpeg = "\xff\xd8\xff\xe0\0\x10JFIF"sv;
inline constexpr std::string_view kWebp = "RIFF\x24\0\0\0WEBPVP8 "sv;
inline constexpr std::string_view kGif = "GIF89a\x01\0\x01\0"sv;
inline constexpr std::string_view kGif87 = "GIF87a\x01\0\x01\0"sv;
inline constexpr std::string_view kPdf = "%PDF-1.4\n1 0 obj\n"sv;

}  // namespace aegis::test
