#pragma once
// Test helper: ASCII digits spelled in another script's decimal digits
// (Arabic-Indic U+0660, Devanagari U+0966, full-width U+FF10, ...), UTF-8
// encoded; every other byte is kept.
#include <string>

namespace aegis::test_support {

inline std::string in_script(const std::string& ascii, char32_t zero) {
  std::string out;
  for (char c : ascii) {
    if (c < '0' || c > '9') {
      out += c;
      continue;
    }
    const char32_t cp = zero + static_cast<char32_t>(c - '0');
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return out;
}

}  // namespace aegis::test_support
