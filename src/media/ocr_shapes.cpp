#include "media/ocr_shapes.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace aegis::media {

namespace {

// How far before a number its SIN word may start.
constexpr std::size_t kSinWordReach = 60;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_separator(char c) { return c == ' ' || c == '-' || c == '.'; }

// Whether `text` holds one of the SIN words, as a word, in [from, to).
bool sin_word_in(std::string_view text, std::size_t from, std::size_t to) {
  std::string lower(text.substr(from, to - from));
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::array<std::string_view, 6> kWords = {
      "sin", "nas", "s.i.n", "n.a.s", "social insurance", "assurance sociale"};
  for (const auto word : kWords) {
    for (auto at = lower.find(word); at != std::string::npos; at = lower.find(word, at + 1)) {
      const bool starts = at == 0 || std::isalpha(static_cast<unsigned char>(lower[at - 1])) == 0;
      const std::size_t after = at + word.size();
      const bool ends = after >= lower.size() || std::isalpha(static_cast<unsigned char>(lower[after])) == 0;
      if (starts && ends) return true;
    }
  }
  return false;
}

}  // namespace

std::vector<ShapeHit> restricted_shapes(std::string_view text) {
  std::vector<ShapeHit> hits;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!is_digit(text[i])) {
      ++i;
      continue;
    }
    // A run: digit groups joined by single separators.
    const std::size_t start = i;
    std::vector<std::size_t> groups;
    std::size_t end = i;
    while (i < text.size()) {
      std::size_t group = 0;
      while (i < text.size() && is_digit(text[i])) {
        ++group;
        ++i;
      }
      groups.push_back(group);
      end = i;
      if (i + 1 < text.size() && is_separator(text[i]) && is_digit(text[i + 1])) {
        ++i;
        continue;
      }
      break;
    }
    const bool glued = (start > 0 && std::isalnum(static_cast<unsigned char>(text[start - 1])) != 0) ||
                       (end < text.size() && std::isalnum(static_cast<unsigned char>(text[end])) != 0);
    if (!glued) {
      const std::vector<std::size_t> sin_groups{3, 3, 3};
      const std::vector<std::size_t> card_groups{4, 4, 4, 4};
      if ((groups == sin_groups || groups == std::vector<std::size_t>{9}) &&
          sin_word_in(text, start > kSinWordReach ? start - kSinWordReach : 0, start)) {
        hits.push_back(ShapeHit{"CA_SIN", "ocr.sin_shape", start, end});
      } else if (groups == card_groups) {
        hits.push_back(ShapeHit{"CREDIT_CARD", "ocr.card_shape", start, end});
      }
    }
  }
  return hits;
}

}  // namespace aegis::media
