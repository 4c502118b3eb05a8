#pragma once
// The key reference of docs/CONFIG.md, generated from the loader's tables
// (config/loader.cpp): one markdown table per section, kept in the document
// between "<!-- generated: config reference: NAME -->" and "<!-- end -->".
// `aegis config reference` prints it; `--write docs/CONFIG.md` updates the file.
#include <string>
#include <string_view>
#include <vector>

namespace aegis::config {

// One row: a key (relative to its section) and what the reference says about it.
struct KeyDoc {
  std::string key;
  std::string type;
  std::string default_value;
  std::string values;  // range or allowed values
  std::string notes;
};

struct SectionDoc {
  std::string name;
  std::vector<KeyDoc> keys;
};

// Every top-level section, in the loader's order. Defined in config/loader.cpp.
std::vector<SectionDoc> reference_sections();

// The markdown table of one section, ending in a newline.
std::string reference_table(const SectionDoc& section);

// "## `NAME`" and the table, for every section.
std::string reference_markdown();

// `doc` with the text of every generated block replaced by its section's
// table. Throws std::runtime_error when a block names an unknown section, is
// not closed, repeats a section, or a section has no block.
std::string update_reference(std::string_view doc);

}  // namespace aegis::config
