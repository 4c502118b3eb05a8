#include "rag/chunker.hpp"

#include <algorithm>

namespace aegis::rag {

namespace {

constexpr std::size_t kBytesPerToken = 4;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// A sentence, and whether a paragraph ends with it.
struct Unit {
  std::string text;
  bool ends_paragraph = false;
};

std::vector<std::string_view> paragraphs(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '\n') {
      ++i;
      continue;
    }
    // A line holding only whitespace after this newline ends the paragraph.
    std::size_t j = i + 1;
    while (j < text.size() && is_space(text[j]) && text[j] != '\n') ++j;
    if (j < text.size() && text[j] == '\n') {
      if (auto p = trim(text.substr(start, i - start)); !p.empty()) out.push_back(p);
      while (j < text.size() && is_space(text[j])) ++j;
      start = i = j;
      continue;
    }
    i = j;
  }
  if (auto p = trim(text.substr(start)); !p.empty()) out.push_back(p);
  return out;
}

std::vector<std::string_view> sentences(std::string_view paragraph) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i < paragraph.size(); ++i) {
    const char c = paragraph[i];
    if (c != '.' && c != '!' && c != '?') continue;
    std::size_t end = i + 1;
    while (end < paragraph.size() && (paragraph[end] == '"' || paragraph[end] == '\'' || paragraph[end] == ')')) ++end;
    if (end < paragraph.size() && !is_space(paragraph[end])) continue;  // 3.14, e.g.x, a URL
    if (auto s = trim(paragraph.substr(start, end - start)); !s.empty()) out.push_back(s);
    start = end;
    i = end > 0 ? end - 1 : 0;
  }
  if (auto s = trim(paragraph.substr(start)); !s.empty()) out.push_back(s);
  return out;
}

// Pieces of `s` of at most `limit` bytes, cut at the last space that fits, else
// at the last UTF-8 character boundary.
std::vector<std::string> cut(std::string_view s, std::size_t limit) {
  std::vector<std::string> out;
  while (s.size() > limit) {
    std::size_t at = s.rfind(' ', limit);
    if (at == std::string_view::npos || at == 0) {
      at = limit;
      while (at > 0 && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) --at;
      if (at == 0) at = limit;  // not UTF-8 at all: bytes
    }
    out.emplace_back(trim(s.substr(0, at)));
    s = trim(s.substr(at));
  }
  if (!s.empty()) out.emplace_back(s);
  return out;
}

std::string join(const std::vector<Unit>& units, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < units.size(); ++i) {
    if (i > from) out += units[i - 1].ends_paragraph ? "\n\n" : " ";
    out += units[i].text;
  }
  return out;
}

}  // namespace

std::size_t estimate_tokens(std::string_view text) noexcept {
  return (text.size() + kBytesPerToken - 1) / kBytesPerToken;
}

std::vector<std::string> chunk_text(std::string_view text, const ChunkingOptions& options) {
  const std::size_t max_tokens = std::max<std::size_t>(options.max_tokens, 1);
  const std::size_t overlap = std::min(options.overlap_tokens, max_tokens / 2);
  const std::size_t max_bytes = max_tokens * kBytesPerToken;

  std::vector<Unit> units;
  for (auto paragraph : paragraphs(text)) {
    for (auto sentence : sentences(paragraph)) {
      for (auto& piece : cut(sentence, max_bytes)) units.push_back(Unit{std::move(piece), false});
    }
    if (!units.empty()) units.back().ends_paragraph = true;
  }

  std::vector<std::string> chunks;
  std::vector<Unit> current;
  std::size_t fresh = 0;  // units in `current` not already in the previous chunk
  auto emit = [&] {
    if (fresh == 0) return;
    chunks.push_back(join(current, 0));
    // The overlap: trailing sentences of this chunk, within the overlap budget.
    std::size_t keep = current.size();
    std::size_t tokens = 0;
    while (keep > 0 && tokens + estimate_tokens(current[keep - 1].text) <= overlap) {
      tokens += estimate_tokens(current[keep - 1].text);
      --keep;
    }
    if (keep == 0) keep = current.size();  // never repeat a whole chunk
    current.erase(current.begin(), current.begin() + static_cast<std::ptrdiff_t>(keep));
    fresh = 0;
  };
  for (auto& unit : units) {
    current.push_back(unit);
    if (estimate_tokens(join(current, 0)) > max_tokens) {
      current.pop_back();
      emit();
      current.push_back(unit);
      // The overlap and the new sentence together may not fit: drop the overlap.
      while (current.size() > 1 && estimate_tokens(join(current, 0)) > max_tokens) current.erase(current.begin());
    }
    ++fresh;
    // A paragraph that ends past half the budget ends the chunk with it.
    if (unit.ends_paragraph && estimate_tokens(join(current, 0)) * 2 >= max_tokens) emit();
  }
  emit();
  return chunks;
}

}  // namespace aegis::rag
