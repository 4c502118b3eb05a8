#include "audit/record_json.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace aegis::audit {

namespace json = boost::json;

std::string entities_to_json(const std::map<std::string, int>& entities) {
  json::object out;
  for (const auto& [type, count] : entities) out[type] = count;
  return json::serialize(out);
}

std::optional<std::map<std::string, int>> entities_from_json(std::string_view text) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(text, ec);
  if (ec || !parsed.is_object()) return std::nullopt;
  std::map<std::string, int> out;
  for (const auto& [type, count] : parsed.get_object()) {
    if (!count.is_int64()) return std::nullopt;
    out[std::string(type)] = static_cast<int>(count.get_int64());
  }
  return out;
}

std::string fallback_path_to_json(const std::vector<std::string>& path) {
  json::array out;
  for (const auto& step : path) out.emplace_back(step);
  return json::serialize(out);
}

std::optional<std::vector<std::string>> fallback_path_from_json(std::string_view text) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(text, ec);
  if (ec || !parsed.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& step : parsed.get_array()) {
    if (!step.is_string()) return std::nullopt;
    out.emplace_back(step.get_string());
  }
  return out;
}

}  // namespace aegis::audit
