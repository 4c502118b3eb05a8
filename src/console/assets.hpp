#pragma once
// The console's static files, built into the binary (cmake/console_assets.cmake
// generates the definition of assets() from src/console/assets/).
#include <span>
#include <string_view>

namespace aegis::console {

struct Asset {
  std::string_view name;  // file name, e.g. "console.js"
  std::string_view content_type;
  std::string_view etag;  // quoted, from the bytes' SHA-256
  std::string_view body;
};

std::span<const Asset> assets();

}  // namespace aegis::console
