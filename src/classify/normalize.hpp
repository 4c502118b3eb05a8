#pragma once
// Normalisation before matching, so that obfuscation does not hide data:
// Unicode NFKC (full-width digits become ASCII digits), decimal digits of every
// script (general category Nd: Arabic-Indic, Devanagari, Bengali, Thai, ...)
// become their ASCII digit, default-ignorable
// characters removed (zero-width space/joiners U+200B-U+200D, word joiner
// U+2060, BOM U+FEFF, soft hyphen U+00AD, ...), and dash/space variants
// lumped to '-' and ' ' (utf8proc LUMP). Pure ASCII input is used as is,
// without a copy. Otherwise a map leads every normalised byte back to the
// original code point(s) it came from, so spans found in the normalised text
// map to original byte offsets that lie on UTF-8 boundaries.
//
// NFKC is applied per segment (a starter and the combining marks after it),
// which equals whole-text NFKC except for composition across a removed
// ignorable character and between conjoining Hangul jamo: neither can change
// the ASCII-shaped entities detection looks for.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aegis::classify {

bool is_ascii(std::string_view text) noexcept;

class NormalizedText {
 public:
  // Normalises `original`, which must outlive this object's use of it.
  // Text longer than 4 GiB is rejected with std::length_error.
  void reset(std::string_view original);

  std::string_view text() const noexcept { return text_; }
  std::string_view original() const noexcept { return original_; }
  // True when text() is the original (pure ASCII fast path).
  bool identity() const noexcept { return identity_; }

  // Maps a non-empty normalised span [start, end) to original byte offsets.
  // A span that starts or ends inside a normalised character covers the
  // whole original character(s) it came from.
  std::pair<std::size_t, std::size_t> to_original(std::size_t start, std::size_t end) const noexcept;

 private:
  // The map is a list of pieces in normalised order: a run of characters
  // copied unchanged (one to one), or one segment (a code point and its
  // combining marks) whose normalised bytes all stand for the whole original
  // segment.
  struct Piece {
    std::uint32_t norm;       // first normalised byte
    std::uint32_t orig;       // first original byte
    std::uint32_t norm_len;
    std::uint32_t orig_len;
    bool one_to_one;
  };

  void append_same(std::size_t begin, std::size_t end);
  void append_segment(std::size_t seg_begin, std::size_t seg_end);
  void emit(std::string_view bytes, std::size_t seg_begin, std::size_t seg_end);
  const Piece& piece_at(std::size_t norm_offset) const noexcept;

  std::string_view original_;
  std::string_view text_;
  bool identity_ = true;
  std::string buffer_;
  std::vector<Piece> pieces_;
  std::vector<std::int32_t> codepoints_;
};

}  // namespace aegis::classify
