#include "classify/normalize.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <limits>
#include <stdexcept>

namespace aegis::classify {

bool is_ascii(std::string_view text) noexcept {
  const char* p = text.data();
  std::size_t n = text.size();
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    if (word & 0x8080808080808080ULL) return false;
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    if (static_cast<unsigned char>(*p) & 0x80) return false;
    ++p;
    --n;
  }
  return true;
}

namespace {

constexpr utf8proc_option_t kOptions =
    static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_IGNORE | UTF8PROC_LUMP);

// Decodes one well-formed UTF-8 sequence (no overlongs, surrogates or values
// above U+10FFFF); returns its length, or -1.
inline int decode(std::string_view s, std::size_t i, std::int32_t& cp) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + i);
  const std::size_t avail = s.size() - i;
  const unsigned c0 = p[0];
  auto cont = [&](std::size_t k) { return k < avail && (p[k] & 0xC0) == 0x80; };
  if (c0 < 0xC2) return -1;
  if (c0 < 0xE0) {
    if (!cont(1)) return -1;
    cp = static_cast<std::int32_t>(((c0 & 0x1F) << 6) | (p[1] & 0x3F));
    return 2;
  }
  if (c0 < 0xF0) {
    if (!cont(1) || !cont(2)) return -1;
    cp = static_cast<std::int32_t>(((c0 & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F));
    if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
    return 3;
  }
  if (c0 < 0xF5) {
    if (!cont(1) || !cont(2) || !cont(3)) return -1;
    cp = static_cast<std::int32_t>(((c0 & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F));
    if (cp < 0x10000 || cp > 0x10FFFF) return -1;
    return 4;
  }
  return -1;
}

// A decimal digit of any script (general category Nd) other than ASCII.
bool non_ascii_digit(std::int32_t cp) noexcept {
  return cp >= 0x80 && utf8proc_category(cp) == UTF8PROC_CATEGORY_ND;
}

// Its value: Unicode encodes Nd digits only in contiguous runs of ten, 0..9
// ascending (some runs are adjacent, e.g. the mathematical digits), so the
// value is the distance from the start of the contiguous Nd block, mod 10.
int digit_value(std::int32_t cp) noexcept {
  std::int32_t first = cp;
  while (first > 0 && cp - first < 100 && utf8proc_category(first - 1) == UTF8PROC_CATEGORY_ND) --first;
  return static_cast<int>((cp - first) % 10);
}

// Does a lone starter come out of NFKC + IGNORE + LUMP (+ digits to ASCII) as itself?
bool normalizes_to_itself(std::int32_t cp) noexcept {
  if (utf8proc_get_property(cp)->combining_class != 0) return false;
  if (non_ascii_digit(cp)) return false;
  std::int32_t buf[32];
  int boundclass = 0;
  auto n = utf8proc_decompose_char(cp, buf, 32, kOptions, &boundclass);
  if (n != 1 || buf[0] != cp) {
    if (n <= 0 || n > 32) return false;
    n = utf8proc_normalize_utf32(buf, n, kOptions);
  }
  return n == 1 && buf[0] == cp;
}

// The answer for every BMP code point, computed once (8 KiB).
class StableBmp {
 public:
  StableBmp() {
    for (std::int32_t cp = 0; cp < 0x10000; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      if (normalizes_to_itself(cp)) bits_[static_cast<std::size_t>(cp) >> 6] |= 1ULL << (cp & 63);
    }
  }
  bool test(std::int32_t cp) const noexcept { return (bits_[static_cast<std::size_t>(cp) >> 6] >> (cp & 63)) & 1U; }

 private:
  std::uint64_t bits_[0x10000 / 64] = {};
};

const StableBmp& stable_bmp() {
  static const StableBmp table;
  return table;
}

bool continuation(char c) noexcept { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

void NormalizedText::reset(std::string_view original) {
  if (original.size() >= std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error("classify: text larger than 4 GiB");
  }
  original_ = original;
  if (is_ascii(original)) {
    identity_ = true;
    text_ = original;
    return;
  }
  identity_ = false;
  buffer_.clear();
  pieces_.clear();
  buffer_.reserve(original.size() + 16);
  const StableBmp& stable = stable_bmp();

  // Characters that normalise to themselves are copied in runs (one to one);
  // any other starter, with the combining marks after it, is one segment that
  // goes through utf8proc. A mark after a copied character turns that
  // character into the start of a segment.
  const std::size_t n = original.size();
  constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
  std::size_t run = 0;      // start of the current one-to-one run
  std::size_t last = kNone; // start of the run's last character
  std::size_t seg = kNone;  // start of the pending segment
  auto close_segment = [&](std::size_t at) {
    if (seg != kNone) {
      append_segment(seg, at);
      seg = kNone;
      run = at;
    }
  };
  std::size_t i = 0;
  while (i < n) {
    if (!(static_cast<unsigned char>(original[i]) & 0x80)) {
      close_segment(i);
      std::size_t j = i + 1;
      while (j < n && !(static_cast<unsigned char>(original[j]) & 0x80)) ++j;
      last = j - 1;
      i = j;
      continue;
    }
    std::int32_t cp = 0;
    const int len = decode(original, i, cp);
    if (len < 0) {
      // Invalid UTF-8: keep the byte as it is (it never matches a pattern).
      if (seg != kNone) close_segment(i);
      else append_same(run, i);
      emit(original.substr(i, 1), i, i + 1);
      run = i + 1;
      last = kNone;
      ++i;
      continue;
    }
    const bool simple = cp < 0x10000 ? stable.test(cp) : normalizes_to_itself(cp);
    if (simple) {
      close_segment(i);
      last = i;
    } else if (utf8proc_get_property(cp)->combining_class != 0) {
      if (seg == kNone) {
        // The mark joins the run's last character, or stands alone.
        const std::size_t base = (last != kNone && last >= run) ? last : i;
        append_same(run, base);
        seg = base;
        last = kNone;
      }
    } else {
      if (seg != kNone) append_segment(seg, i);
      else append_same(run, i);
      seg = i;
      last = kNone;
    }
    i += static_cast<std::size_t>(len);
  }
  if (seg != kNone) append_segment(seg, n);
  else append_same(run, n);
  text_ = buffer_;
}

void NormalizedText::append_same(std::size_t begin, std::size_t end) {
  if (end <= begin) return;
  const auto norm = static_cast<std::uint32_t>(buffer_.size());
  buffer_.append(original_.data() + begin, end - begin);
  if (!pieces_.empty()) {
    Piece& last = pieces_.back();
    if (last.one_to_one && last.norm + last.norm_len == norm && last.orig + last.orig_len == begin) {
      last.norm_len += static_cast<std::uint32_t>(end - begin);
      last.orig_len += static_cast<std::uint32_t>(end - begin);
      return;
    }
  }
  pieces_.push_back(Piece{norm, static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(end - begin),
                          static_cast<std::uint32_t>(end - begin), true});
}

void NormalizedText::emit(std::string_view bytes, std::size_t seg_begin, std::size_t seg_end) {
  if (bytes.empty()) return;
  pieces_.push_back(Piece{static_cast<std::uint32_t>(buffer_.size()), static_cast<std::uint32_t>(seg_begin),
                          static_cast<std::uint32_t>(bytes.size()), static_cast<std::uint32_t>(seg_end - seg_begin),
                          false});
  buffer_.append(bytes);
}

void NormalizedText::append_segment(std::size_t seg_begin, std::size_t seg_end) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(original_.data() + seg_begin);
  const auto len = static_cast<utf8proc_ssize_t>(seg_end - seg_begin);
  if (codepoints_.size() < 64) codepoints_.resize(64);
  utf8proc_ssize_t count = utf8proc_decompose(p, len, codepoints_.data(),
                                              static_cast<utf8proc_ssize_t>(codepoints_.size()), kOptions);
  if (count > static_cast<utf8proc_ssize_t>(codepoints_.size())) {
    codepoints_.resize(static_cast<std::size_t>(count));
    count = utf8proc_decompose(p, len, codepoints_.data(), count, kOptions);
  }
  if (count < 0) {
    emit(original_.substr(seg_begin, seg_end - seg_begin), seg_begin, seg_end);
    return;
  }
  if (count == 0) return;  // ignorable: zero-width characters, soft hyphen, ...
  count = utf8proc_normalize_utf32(codepoints_.data(), count, kOptions);
  if (count < 0) {
    emit(original_.substr(seg_begin, seg_end - seg_begin), seg_begin, seg_end);
    return;
  }
  // Encode behind the current end of the buffer, then record it as one piece.
  // Digits of every script become ASCII digits (NFKC already does so for the
  // full-width and mathematical ones, not for Arabic-Indic, Devanagari, ...).
  const auto norm = static_cast<std::uint32_t>(buffer_.size());
  char utf8[4];
  for (utf8proc_ssize_t k = 0; k < count; ++k) {
    std::int32_t cp = codepoints_[static_cast<std::size_t>(k)];
    if (non_ascii_digit(cp)) cp = '0' + digit_value(cp);
    const auto bytes = utf8proc_encode_char(cp, reinterpret_cast<utf8proc_uint8_t*>(utf8));
    buffer_.append(utf8, static_cast<std::size_t>(bytes));
  }
  pieces_.push_back(Piece{norm, static_cast<std::uint32_t>(seg_begin), static_cast<std::uint32_t>(buffer_.size() - norm),
                          static_cast<std::uint32_t>(seg_end - seg_begin), false});
}

const NormalizedText::Piece& NormalizedText::piece_at(std::size_t norm_offset) const noexcept {
  // The last piece starting at or before norm_offset.
  auto it = std::upper_bound(pieces_.begin(), pieces_.end(), norm_offset,
                             [](std::size_t off, const Piece& p) { return off < p.norm; });
  return *std::prev(it);
}

std::pair<std::size_t, std::size_t> NormalizedText::to_original(std::size_t start, std::size_t end) const noexcept {
  if (identity_) return {start, end};
  const Piece& a = piece_at(start);
  const Piece& b = piece_at(end - 1);
  std::size_t s = a.orig;
  if (a.one_to_one) {
    // Copied bytes are whole characters: widen a span that cuts one.
    s += start - a.norm;
    while (s > a.orig && continuation(original_[s])) --s;
  }
  std::size_t e = b.orig + b.orig_len;
  if (b.one_to_one) {
    e = b.orig + (end - 1 - b.norm) + 1;
    while (e < b.orig + b.orig_len && continuation(original_[e])) ++e;
  }
  return {s, e};
}

}  // namespace aegis::classify
