#include "config/reference.hpp"

#include <algorithm>
#include <stdexcept>

namespace aegis::config {
namespace {

constexpr std::string_view kBegin = "<!-- generated: config reference: ";
constexpr std::string_view kBeginEnd = " -->";
constexpr std::string_view kEnd = "<!-- end -->";

// A table cell: '|' would end the cell, a line break the row.
std::string cell(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string reference_table(const SectionDoc& section) {
  std::string out = "| key | type | default | range / values | notes |\n|---|---|---|---|---|\n";
  for (const auto& key : section.keys) {
    out += "| `" + cell(key.key) + "` | " + cell(key.type) + " | " + cell(key.default_value) + " | " +
           cell(key.values) + " | " + cell(key.notes) + " |\n";
  }
  return out;
}

std::string reference_markdown() {
  std::string out;
  for (const auto& section : reference_sections()) {
    if (!out.empty()) out += '\n';
    out += "## `" + section.name + "`\n\n" + reference_table(section);
  }
  return out;
}

std::string update_reference(std::string_view doc) {
  const auto sections = reference_sections();
  std::vector<std::string> seen;
  std::string out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t begin = doc.find(kBegin, pos);
    if (begin == std::string_view::npos) break;
    const std::size_t name_at = begin + kBegin.size();
    const std::size_t name_end = doc.find(kBeginEnd, name_at);
    const std::size_t line_end = doc.find('\n', name_at);
    if (name_end == std::string_view::npos || line_end == std::string_view::npos || name_end > line_end) {
      throw std::runtime_error("a \"" + std::string(kBegin) + "NAME" + std::string(kBeginEnd) + "\" line is malformed");
    }
    const std::string name(doc.substr(name_at, name_end - name_at));
    const auto section = std::ranges::find(sections, name, &SectionDoc::name);
    if (section == sections.end()) throw std::runtime_error("generated block for unknown section \"" + name + "\"");
    if (std::ranges::find(seen, name) != seen.end()) {
      throw std::runtime_error("section \"" + name + "\" has two generated blocks");
    }
    seen.push_back(name);
    const std::size_t end = doc.find(kEnd, line_end);
    if (end == std::string_view::npos || doc.find(kBegin, line_end) < end) {
      throw std::runtime_error("generated block for section \"" + name + "\" has no \"" + std::string(kEnd) + "\"");
    }
    out += doc.substr(pos, line_end + 1 - pos);
    out += reference_table(*section);
    pos = end;
  }
  out += doc.substr(pos);
  for (const auto& section : sections) {
    if (std::ranges::find(seen, section.name) == seen.end()) {
      throw std::runtime_error("section \"" + section.name + "\" has no generated block (\"" + std::string(kBegin) +
                               section.name + std::string(kBeginEnd) + "\" ... \"" + std::string(kEnd) + "\")");
    }
  }
  return out;
}

}  // namespace aegis::config
