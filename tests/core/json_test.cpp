#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "core/json.hpp"
#include "core/time_format.hpp"

namespace aegis {
namespace {

TEST(Json, DoublesAreWrittenInShortestDecimalForm) {
  EXPECT_EQ(to_json(boost::json::value(12.5)), "12.5");
  EXPECT_EQ(to_json(boost::json::value(250.0)), "250.0");
  EXPECT_EQ(to_json(boost::json::value(0.1)), "0.1");
  EXPECT_EQ(to_json(boost::json::object{{"a", 1.5}, {"b", {1, 2.25, "x\"y"}}}), R"({"a":1.5,"b":[1,2.25,"x\"y"]})");
}

TEST(Json, RoundTripsThroughBoostParser) {
  boost::json::value v = boost::json::parse(R"({"n":1e-7,"big":12345678901234567,"s":"é\n","t":true,"z":null})");
  EXPECT_EQ(boost::json::parse(to_json(v)), v);
}

TEST(TimeFormat, Rfc3339WithMilliseconds) {
  EXPECT_EQ(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_ms(1795790752123), "2026-11-27T14:45:52.123Z");
}

}  // namespace
}  // namespace aegis
