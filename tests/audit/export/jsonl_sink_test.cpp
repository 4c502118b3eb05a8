#include "audit/export/jsonl_sink.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/sqlite_files.hpp"

namespace aegis::audit::siem {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> lines_of(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<ExportEvent> events(int first, int count) {
  std::vector<ExportEvent> out;
  for (int i = first; i < first + count; ++i) {
    // 20 bytes a line with its newline.
    char json[32];
    std::snprintf(json, sizeof(json), "{\"seq\":%010d}", i);
    out.push_back(ExportEvent{ExportEvent::Kind::row, "c", i, 0, json});
  }
  return out;
}

TEST(JsonlSink, AppendsOneLineAnEventAcrossBatchesAndRestarts) {
  test_support::TempDir dir("aegis-jsonl");
  const auto path = dir.path() / "audit.jsonl";
  {
    auto sink = make_jsonl_sink({path.string(), 0, 5});
    ASSERT_TRUE(sink->send(events(1, 2)).ok());
    ASSERT_TRUE(sink->send(events(3, 1)).ok());
  }
  auto reopened = make_jsonl_sink({path.string(), 0, 5});
  ASSERT_TRUE(reopened->send(events(4, 1)).ok());
  const auto lines = lines_of(path);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "{\"seq\":0000000001}");
  EXPECT_EQ(lines[3], "{\"seq\":0000000004}");
}

TEST(JsonlSink, RotatesPastRotateBytesKeepingKeepFilesAndNeverSplittingALine) {
  test_support::TempDir dir("aegis-jsonl");
  const auto path = dir.path() / "audit.jsonl";
  // 5 lines of 19 bytes fit in 100; the sixth starts a new file.
  auto sink = make_jsonl_sink({path.string(), 100, 2});
  for (int batch = 0; batch < 5; ++batch) ASSERT_TRUE(sink->send(events(batch * 4 + 1, 4)).ok());
  // 20 lines: files of 5 lines each, the newest in path; two rotated kept.
  EXPECT_TRUE(fs::exists(path.string() + ".1"));
  EXPECT_TRUE(fs::exists(path.string() + ".2"));
  EXPECT_FALSE(fs::exists(path.string() + ".3"));
  const auto current = lines_of(path);
  const auto one = lines_of(path.string() + ".1");
  const auto two = lines_of(path.string() + ".2");
  ASSERT_EQ(current.size(), 5u);
  ASSERT_EQ(one.size(), 5u);
  ASSERT_EQ(two.size(), 5u);
  EXPECT_EQ(two.front(), "{\"seq\":0000000006}");  // lines 1..5 were in the file deleted beyond keep_files
  EXPECT_EQ(one.front(), "{\"seq\":0000000011}");
  EXPECT_EQ(current.back(), "{\"seq\":0000000020}");
  for (const auto& file : {path.string(), path.string() + ".1", path.string() + ".2"}) {
    EXPECT_LE(fs::file_size(file), 100u) << file;
  }
}

TEST(JsonlSink, AnUnwritablePathFailsTheBatch) {
  test_support::TempDir dir("aegis-jsonl");
  auto sink = make_jsonl_sink({(dir.path() / "missing-dir" / "audit.jsonl").string(), 0, 5});
  auto sent = sink->send(events(1, 1));
  ASSERT_FALSE(sent.ok());
  EXPECT_NE(sent.error().message.find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace aegis::audit::siem
