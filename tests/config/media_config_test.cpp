// The `media:` section and providers[].capabilities: defaults, values, errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/loader.hpp"
#include "support/config_issues.hpp"

namespace aegis::config {
namespace {

using ::testing::HasSubstr;

const char* no_env(const char*) { return nullptr; }

std::string one_issue(const std::string& yaml) { return test_support::one_config_issue(yaml, &no_env); }

std::string provider(const std::string& type, const std::string& capabilities) {
  return "providers:\n  - name: p\n    type: " + type +
         "\n    base_url: http://127.0.0.1:9\n    models: {haiku: m1}\n" + "    capabilities: " + capabilities + "\n";
}

TEST(ConfigMedia, DefaultsAreTheDocumentedOnes) {
  const Config c = parse_config("", "m.yaml", &no_env);
  EXPECT_FALSE(c.media.fetch_urls);
  EXPECT_FALSE(c.media.fetch_local);
  EXPECT_EQ(c.media.fetch_max_bytes, 10'485'760);
  EXPECT_EQ(c.media.max_attachment_bytes, 20'971'520);
  EXPECT_EQ(c.media.max_pixels, 40'000'000);
  EXPECT_EQ(c.media.max_pdf_pages, 20);
  EXPECT_EQ(c.media.ocr_timeout, std::chrono::milliseconds(10'000));
  EXPECT_EQ(c.media.ocr_threads, 0);
  EXPECT_EQ(c.media.ocr_queue, 64);
  EXPECT_EQ(c.media.languages, "eng+fra");
  EXPECT_EQ(c.media.cache_entries, 1024);
}

TEST(ConfigMedia, EveryKeyIsRead) {
  const Config c = parse_config(
      "media:\n  fetch_urls: true\n  fetch_local: true\n  fetch_max_bytes: 1000\n  max_attachment_bytes: 2000\n"
      "  max_pixels: 3000\n"
      "  max_pdf_pages: 4\n  ocr_timeout_ms: 5000\n  ocr_threads: 6\n  ocr_queue: 7\n  languages: deu+chi_sim\n"
      "  cache_entries: 8\n",
      "m.yaml", &no_env);
  EXPECT_TRUE(c.media.fetch_urls);
  EXPECT_TRUE(c.media.fetch_local);
  EXPECT_EQ(c.media.fetch_max_bytes, 1000);
  EXPECT_EQ(c.media.max_attachment_bytes, 2000);
  EXPECT_EQ(c.media.max_pixels, 3000);
  EXPECT_EQ(c.media.max_pdf_pages, 4);
  EXPECT_EQ(c.media.ocr_timeout, std::chrono::milliseconds(5000));
  EXPECT_EQ(c.media.ocr_threads, 6);
  EXPECT_EQ(c.media.ocr_queue, 7);
  EXPECT_EQ(c.media.languages, "deu+chi_sim");
  EXPECT_EQ(c.media.cache_entries, 8);
}

TEST(ConfigMedia, BoundsArePositiveAndPositioned) {
  EXPECT_EQ(one_issue("media:\n  max_pdf_pages: 0\n"),
            "t.yaml:2:18: media.max_pdf_pages: expected an integer in 1..10000, got \"0\"");
  EXPECT_EQ(one_issue("media:\n  cache_entries: -1\n"),
            "t.yaml:2:18: media.cache_entries: expected an integer in 1..10000000, got \"-1\"");
  EXPECT_EQ(one_issue("media:\n  ocr_timeout_ms: 0\n"),
            "t.yaml:2:19: media.ocr_timeout_ms: expected an integer in 1..86400000, got \"0\"");
  EXPECT_EQ(one_issue("media:\n  ocr_threads: -2\n"),
            "t.yaml:2:16: media.ocr_threads: expected an integer in 0..256, got \"-2\"");
  EXPECT_EQ(one_issue("media:\n  fetch_urls: sometimes\n"),
            "t.yaml:2:15: media.fetch_urls: expected true or false, got \"sometimes\"");
  EXPECT_EQ(one_issue("media:\n  ocr_langs: eng\n"),
            "t.yaml:2:3: media.ocr_langs: unknown key; expected one of: fetch_urls, fetch_max_bytes, fetch_local, "
            "max_attachment_bytes, max_pixels, max_pdf_pages, ocr_timeout_ms, ocr_threads, ocr_queue, languages, "
            "cache_entries");
}

TEST(ConfigMedia, LanguagesAreATesseractLanguageString) {
  for (const char* bad : {"\"\"", "ENG", "eng fra", "eng+", "+eng", "eng++fra", "../eng", "eng,fra"}) {
    EXPECT_THAT(one_issue(std::string("media:\n  languages: ") + bad + "\n"),
                HasSubstr("t.yaml:2:14: media.languages: expected a Tesseract language string"))
        << bad;
  }
}

TEST(ConfigCapabilities, TextOnlyUnlessDeclared) {
  const Config c = parse_config(
      provider("openai_compat", "[vision, documents]") + "  - name: q\n    type: ollama\n    models: {haiku: m2}\n",
      "m.yaml", &no_env);
  EXPECT_TRUE(c.providers[0].vision);
  EXPECT_TRUE(c.providers[0].documents);
  EXPECT_FALSE(c.providers[1].vision);
  EXPECT_FALSE(c.providers[1].documents);

  const Config v = parse_config(provider("ollama", "[vision]"), "m.yaml", &no_env);
  EXPECT_TRUE(v.providers[0].vision);
  EXPECT_FALSE(v.providers[0].documents);
  const Config e = parse_config(provider("openai_compat", "[]"), "m.yaml", &no_env);
  EXPECT_FALSE(e.providers[0].vision);
}

TEST(ConfigCapabilities, UnknownRepeatedAndMisplacedNamesArePositionedIssues) {
  EXPECT_EQ(one_issue(provider("openai_compat", "[vision, audio]")),
            "t.yaml:6:28: providers[0].capabilities[1]: expected one of vision, documents, got \"audio\"");
  EXPECT_EQ(one_issue(provider("openai_compat", "[visoin]")),
            "t.yaml:6:20: providers[0].capabilities[0]: expected one of vision, documents, got \"visoin\"; did you "
            "mean \"vision\"?");
  EXPECT_EQ(one_issue(provider("openai_compat", "[vision, vision]")),
            "t.yaml:6:28: providers[0].capabilities[1]: capability \"vision\" appears twice");
  EXPECT_EQ(one_issue(provider("openai_compat", "vision")),
            "t.yaml:6:19: providers[0].capabilities: expected a list of capabilities (vision, documents), got "
            "\"vision\"");
  // Ollama's API has no document part.
  EXPECT_EQ(one_issue(provider("ollama", "[vision, documents]")),
            "t.yaml:6:28: providers[0].capabilities[1]: type ollama cannot take documents (Ollama's API takes "
            "images only); declare only vision");
}

}  // namespace
}  // namespace aegis::config
