// docs/CONFIG.md's key reference is generated from the loader's tables
// (config/reference.hpp): the document and the tables must agree.
#include "config/reference.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace aegis::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kRegenerate =
    "docs/CONFIG.md and the loader's key tables disagree; regenerate the reference with:\n"
    "  build/aegis config reference --write docs/CONFIG.md";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ConfigReference, ConfigMdMatchesTheLoadersTables) {
  const std::string doc = read_file(std::string(AEGIS_SOURCE_DIR) + "/docs/CONFIG.md");
  ASSERT_FALSE(doc.empty());
  std::string updated;
  try {
    updated = update_reference(doc);
  } catch (const std::runtime_error& e) {
    FAIL() << e.what() << "\n" << kRegenerate;
  }
  EXPECT_TRUE(updated == doc) << kRegenerate;
}

TEST(ConfigReference, EverySectionHasRowsWithATypeAndNotes) {
  const auto sections = reference_sections();
  ASSERT_EQ(sections.size(), 20u);
  for (const auto& section : sections) {
    ASSERT_FALSE(section.keys.empty()) << section.name;
    for (const auto& key : section.keys) {
      EXPECT_FALSE(key.type.empty()) << section.name << "." << key.key;
      EXPECT_FALSE(key.default_value.empty()) << section.name << "." << key.key;
      EXPECT_FALSE(key.notes.empty()) << section.name << "." << key.key;
    }
  }
}

TEST(ConfigReference, DefaultsComeFromTheConfigStructs) {
  const std::string server = reference_table(reference_sections().at(0));
  EXPECT_THAT(server, HasSubstr("| `threads` | integer | `0` | `0..256` |"));
  EXPECT_THAT(server, HasSubstr("| `read_timeout_ms` | integer ms | `30000` | `1..86400000` |"));
  EXPECT_THAT(server, HasSubstr("| `listen` | string `\"HOST:PORT\"` | `127.0.0.1:8080` |"));
  EXPECT_THAT(reference_markdown(), HasSubstr("| `custom_recognizers[].pattern` | string, non-empty | *required* |"));
  EXPECT_THAT(reference_markdown(), HasSubstr("| `prices.<model>.input_per_mtok_usd` | USD | *required* |"));
}

TEST(ConfigReference, UpdateReplacesOnlyTheGeneratedBlocks) {
  std::string doc = "# Title\n\nprose stays\n";
  for (const auto& section : reference_sections()) {
    doc += "<!-- generated: config reference: " + section.name + " -->\nstale\n<!-- end -->\nmore prose\n";
  }
  const std::string updated = update_reference(doc);
  EXPECT_THAT(updated, HasSubstr("# Title\n\nprose stays\n<!-- generated: config reference: server -->\n| key |"));
  EXPECT_THAT(updated, Not(HasSubstr("stale")));
  EXPECT_EQ(update_reference(updated), updated);
}

TEST(ConfigReference, UpdateRefusesMissingUnknownAndUnclosedBlocks) {
  auto error_of = [](const std::string& doc) {
    try {
      update_reference(doc);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_THAT(error_of("no blocks\n"), HasSubstr("section \"server\" has no generated block"));
  EXPECT_THAT(error_of("<!-- generated: config reference: vectors -->\n<!-- end -->\n"),
              HasSubstr("unknown section \"vectors\""));
  EXPECT_THAT(error_of("<!-- generated: config reference: server -->\n| key |\n"),
              HasSubstr("has no \"<!-- end -->\""));
}

}  // namespace
}  // namespace aegis::config
