#pragma once
// The test images and PDFs of tests/media/media_fixtures.py (ImageMagick and
// hand-written PDFs), generated on first use into the build tree and shared
// by every test process (the script writes each file atomically).
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace aegis::test {

inline std::string media_fixture(const std::string& name) {
  const std::string dir = std::string(AEGIS_BINARY_DIR) + "/test-media";
  const std::string path = dir + "/" + name;
  std::ifstream existing(path, std::ios::binary);
  if (!existing) {
    const std::string command =
        "python3 " + std::string(AEGIS_SOURCE_DIR) + "/tests/media/media_fixtures.py " + dir + " " + name;
    // NOLINTNEXTLINE(concurrency-mt-unsafe): tests only; nothing here changes the environment
    if (std::system(command.c_str()) != 0) throw std::runtime_error("could not generate " + name);
    existing.open(path, std::ios::binary);
  }
  return {std::istreambuf_iterator<char>(existing), std::istreambuf_iterator<char>()};
}

}  // namespace aegis::test
