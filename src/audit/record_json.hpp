#pragma once
// The JSON forms of an audit row's structured columns, as both store
// backends keep them: entities as {"TYPE": count}, the fallback path as
// ["provider:outcome", ...]. The one place these are written and read.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aegis::audit {

std::string entities_to_json(const std::map<std::string, int>& entities);
// nothing unless an object of integer counts
std::optional<std::map<std::string, int>> entities_from_json(std::string_view text);

std::string fallback_path_to_json(const std::vector<std::string>& path);
// nothing unless an array of strings
std::optional<std::vector<std::string>> fallback_path_from_json(std::string_view text);

}  // namespace aegis::audit
