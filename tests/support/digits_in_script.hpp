#pragma once
// Test helper: ASCII digits spelled in another script's decimal digits
// (Arabic-Indic U+0660, Devanagari U+0966, full-width U+FF10, ...), UTF-8
// encoded; every other byte is kept.
#include <utf8proc.h>

#include <string>

namespace aegis::test_support {

inline std::string in_script(const std::string& ascii, char32_t zero) {
  std::string out;
  for (char c : ascii) {
    if (c < '0' || c > '9') {
      out += c;
      continue;
    }
    utf8proc_uint8_t bytes[4];
    const auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(zero + static_cast<char32_t>(c - '0')), bytes);
    out.append(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace aegis::test_support
