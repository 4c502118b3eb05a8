#include "rag/metadata_filter.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace aegis::rag {

namespace {

bool scalar(const boost::json::value& v) { return v.is_string() || v.is_number() || v.is_bool(); }

}  // namespace

bool MetadataFilter::matches(const std::string& metadata_json) const {
  if (any_of.empty()) return true;
  boost::system::error_code ec;
  const auto parsed = boost::json::parse(metadata_json, ec);
  if (ec || !parsed.is_object()) return false;
  const auto& metadata = parsed.get_object();
  for (const auto& [key, values] : any_of) {
    const auto* value = metadata.if_contains(key);
    if (value == nullptr || !scalar(*value)) return false;
    const auto text = boost::json::serialize(*value);
    if (std::find(values.begin(), values.end(), text) == values.end()) return false;
  }
  return true;
}

Result<MetadataFilter> parse_metadata_filter(const boost::json::value& filter) {
  MetadataFilter out;
  if (filter.is_null()) return out;
  if (!filter.is_object()) {
    return make_error(ErrorCode::invalid_request, "filter must be an object of metadata keys and values");
  }
  const auto& object = filter.get_object();
  if (object.size() > kMaxFilterKeys) {
    return make_error(ErrorCode::invalid_request,
                      "filter may name at most " + std::to_string(kMaxFilterKeys) + " metadata keys");
  }
  for (const auto& [key, value] : object) {
    const std::string name(key);
    std::vector<std::string> values;
    if (value.is_array()) {
      const auto& array = value.get_array();
      if (array.empty() || array.size() > kMaxFilterValues) {
        return make_error(ErrorCode::invalid_request,
                          "filter." + name + " must list 1 to " + std::to_string(kMaxFilterValues) + " values");
      }
      for (const auto& item : array) {
        if (!scalar(item)) {
          return make_error(ErrorCode::invalid_request,
                            "filter." + name + " values must be strings, numbers or booleans");
        }
        values.push_back(boost::json::serialize(item));
      }
    } else if (scalar(value)) {
      values.push_back(boost::json::serialize(value));
    } else {
      return make_error(ErrorCode::invalid_request,
                        "filter." + name + " must be a string, number, boolean or an array of them");
    }
    out.any_of.emplace(name, std::move(values));
  }
  return out;
}

}  // namespace aegis::rag
