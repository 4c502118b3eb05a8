#pragma once
#include <boost/json/value.hpp>

#include <string>

namespace aegis {

// Serialises like boost::json::serialize, except that doubles use the
// shortest round-trip decimal form ("12.5", not "1.25E1"), which is what
// people and most JSON clients expect to read.
std::string to_json(const boost::json::value& value);
void append_json(std::string& out, const boost::json::value& value);

}  // namespace aegis
