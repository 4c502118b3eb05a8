#pragma once
#include <boost/json/value.hpp>

#include <string>

#include "core/money.hpp"

namespace aegis {

// Serialises like boost::json::serialize, except that doubles use the
// shortest round-trip decimal form ("12.5", not "1.25E1"), which is what
// people and most JSON clients expect to read, and that usd_json values are
// written as the exact decimal they hold.
std::string to_json(const boost::json::value& value);
void append_json(std::string& out, const boost::json::value& value);

// Money as a JSON number of US dollars, formatted exactly from the integer
// micro-dollars (Money::to_usd_string), never in exponent form and never
// through a double: 100000000000 micros -> 100000.0, 54 -> 0.000054, 0 -> 0.0.
// Every JSON writer of money uses this. Boost.JSON has no raw numbers, so the
// value holds the decimal as a string behind a marker that parsed JSON cannot
// contain (a byte that is invalid UTF-8); to_json/append_json write it as the
// bare number. Serialise such values with to_json, never boost::json::serialize.
boost::json::value usd_json(Money money);

}  // namespace aegis
