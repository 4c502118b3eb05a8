#pragma once
#include <boost/json/value.hpp>

#include <string>

#include "core/money.hpp"

namespace aegis {

// Serialises like boost::json::serialize, except that doubles use the
// shortest round-trip decimal in fixed notation ("12.5", "0.000054", not
// "1.25E1" or "5.4e-05") between 1e-9 and 1e17, which is what people and most
// JSON clients expect to read; outside that range, exponent form.
std::string to_json(const boost::json::value& value);
void append_json(std::string& out, const boost::json::value& value);

// Money as a JSON number of US dollars: 100000000000 micros -> 100000.0,
// 54 -> 0.000054, 0 -> 0.0. Written by to_json, it is the exact decimal of the
// integer micro-dollars (Money::to_usd_string) for every amount under 2^33 USD
// (about 8.6 billion, where a double's spacing reaches a micro-dollar) and for
// every whole-dollar amount up to 2^53 USD; beyond that the last of the six
// decimals round. Every JSON writer of money uses this.
//
// An earlier version carried the exact decimal as a marked string that the
// writer printed bare; a fuzzer showed that any string holding the marker
// bytes (a vault value from arbitrary text) was then written as raw JSON.
// Strings are always written as strings now.
boost::json::value usd_json(Money money);

}  // namespace aegis
