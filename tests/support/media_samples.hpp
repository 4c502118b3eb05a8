#pragma once
// Tiny files for the image and document tests: each format's magic bytes and
// a little tail. The gateway and the simulator only sniff, never decode, so
// these pass for real files.
#include <string>

namespace aegis::test {

using namespace std::string_literals;

inline const std::string kPng = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR"s;
inline const std::string kJpeg = "\xff\xd8\xff\xe0\0\x10JFIF"s;
inline const std::string kWebp = "RIFF\x24\0\0\0WEBPVP8 "s;
inline const std::string kGif = "GIF89a\x01\0\x01\0"s;
inline const std::string kGif87 = "GIF87a\x01\0\x01\0"s;
inline const std::string kPdf = "%PDF-1.4\n1 0 obj\n"s;

}  // namespace aegis::test
