#include "core/time_format.hpp"

#include <gtest/gtest.h>

#include <string>

namespace aegis {
namespace {

TEST(FormatRfc3339, WritesUtcWithMilliseconds) {
  EXPECT_EQ(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_ms(1795790752123), "2026-11-27T14:45:52.123Z");
  EXPECT_EQ(format_rfc3339_ms(1709164800000), "2024-02-29T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_ms(253402300799999), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");  // before the epoch: floored, not negative
  EXPECT_EQ(format_rfc3339_ms(951782400005), "2000-02-29T00:00:00.005Z");
}

TEST(ParseRfc3339, ReadsUtcTimestamps) {
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-27T14:45:52.123Z"), 1795790752123);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-27t14:45:52.123z"), 1795790752123);
  EXPECT_EQ(parse_rfc3339_ms("2024-02-29T00:00:00Z"), 1709164800000);  // leap day
}

TEST(ParseRfc3339, FractionsArePaddedOrTruncatedToMilliseconds) {
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:01.5Z"), 1500);
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:01.05Z"), 1050);
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:01.123999999Z"), 1123);
}

TEST(ParseRfc3339, AppliesTheOffset) {
  EXPECT_EQ(parse_rfc3339_ms("2026-11-27T15:45:52.123+01:00"), 1795790752123);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-27T09:15:52.123-05:30"), 1795790752123);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-27T14:45:52.123-00:00"), 1795790752123);
}

TEST(ParseRfc3339, RoundTripsWithTheFormatter) {
  for (std::int64_t ms : {0LL, 1LL, 999LL, 951782400000LL, 1795790752123LL, 253402300799999LL}) {
    EXPECT_EQ(parse_rfc3339_ms(format_rfc3339_ms(ms)), ms) << ms;
  }
}

TEST(ParseRfc3339, RejectsMalformedOrOutOfRangeText) {
  for (const char* bad : {"",
                          "2026-11-27",
                          "2026-11-27T10:00:00",
                          "2026-11-27 10:00:00Z",
                          "2026-11-27T10:00Z",
                          "2026-13-01T00:00:00Z",
                          "2026-02-29T00:00:00Z",
                          "2026-04-31T00:00:00Z",
                          "2026-11-27T24:00:00Z",
                          "2026-11-27T10:60:00Z",
                          "2026-11-27T10:00:60Z",
                          "2026-11-27T10:00:00.Z",
                          "2026-11-27T10:00:00+0100",
                          "2026-11-27T10:00:00+24:00",
                          "2026-11-27T10:00:00Zjunk",
                          "26-11-27T10:00:00Z",
                          "2026-1-27T10:00:00Z",
                          "+2026-11-27T10:00:00Z",
                          "2026-11-27T10:00:00 Z",
                          "1795790752123"}) {
    EXPECT_FALSE(parse_rfc3339_ms(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace aegis
