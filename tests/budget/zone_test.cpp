// Budget months in IANA time zones (OS tz database through the date library).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "budget/period.hpp"
#include "config/loader.hpp"

namespace aegis::budget {
namespace {

using namespace std::chrono;

system_clock::time_point at(year_month_day d, hours h = hours{0}, minutes m = minutes{0}, seconds s = seconds{0}) {
  return system_clock::time_point{sys_days{d}} + h + m + s;
}

BudgetZone zone(const char* name) {
  auto z = BudgetZone::parse(name);
  EXPECT_TRUE(z.has_value()) << name;
  return z.value_or(BudgetZone::utc());
}

// The last second of one month and the first of the next, as seen from UTC.
void expect_boundary(const BudgetZone& z, system_clock::time_point first_instant, const std::string& before,
                     const std::string& after) {
  EXPECT_EQ(period_key(first_instant - seconds{1}, z), before) << z.name();
  EXPECT_EQ(period_key(first_instant - milliseconds{1}, z), before) << z.name();
  EXPECT_EQ(period_key(first_instant, z), after) << z.name();
  EXPECT_EQ(period_bounds(first_instant, z).begin, first_instant) << z.name() << " " << after;
  EXPECT_EQ(period_bounds(first_instant - seconds{1}, z).end, first_instant) << z.name() << " " << before;
}

TEST(BudgetZoneIana, ParsesNamesAndKeepsThem) {
  const auto toronto = zone("America/Toronto");
  EXPECT_FALSE(toronto.is_fixed());
  EXPECT_EQ(toronto.name(), "America/Toronto");
  EXPECT_EQ(zone("Europe/Berlin").name(), "Europe/Berlin");
  EXPECT_EQ(toronto, zone("America/Toronto"));
  EXPECT_NE(toronto, zone("Europe/Berlin"));
  EXPECT_NE(toronto, BudgetZone::utc());
  // UTC spellings stay the fixed zero offset and need no tz database.
  EXPECT_TRUE(zone("UTC").is_fixed());
  EXPECT_EQ(zone("UTC"), BudgetZone::utc());
  EXPECT_TRUE(zone("+05:30").is_fixed());
  // Offsets in force, DST included.
  EXPECT_EQ(toronto.offset_at(at(2026y / July / 1)), hours{-4});
  EXPECT_EQ(toronto.offset_at(at(2026y / January / 15)), hours{-5});
  EXPECT_EQ(zone("Asia/Kolkata").offset_at(at(2026y / July / 1)), hours{5} + minutes{30});
}

TEST(BudgetZoneIana, UnknownNamesAreRejected) {
  for (const char* bad : {"America/Toronot", "Europe/Berlín", "Mars/Olympus_Mons", "america/toronto", "Toronto",
                          "/usr/share/zoneinfo/America/Toronto", "../zoneinfo/UTC", "America/", "EST5EDTX"}) {
    EXPECT_FALSE(BudgetZone::parse(bad).has_value()) << bad;
  }
}

TEST(BudgetZoneIana, TorontoMonthsFollowDaylightSavingTime) {
  const auto z = zone("America/Toronto");
  // DST ends at 02:00 local on Sunday 2026-11-01, so local midnight that day
  // is still EDT (UTC-4): November starts at 04:00Z, not 05:00Z.
  expect_boundary(z, at(2026y / November / 1, 4h), "2026-10", "2026-11");
  EXPECT_EQ(period_key(at(2026y / November / 1, 3h, 59min, 59s), z), "2026-10");
  // December starts in EST (UTC-5): November is 30 days and one hour long.
  expect_boundary(z, at(2026y / December / 1, 5h), "2026-11", "2026-12");
  const auto nov = period_bounds(at(2026y / November / 15), z);
  EXPECT_EQ(nov.end - nov.begin, days{30} + hours{1});
  // The hour repeated at the DST change stays inside November.
  for (auto t = at(2026y / November / 1, 5h); t < at(2026y / November / 1, 7h); t += minutes{15}) {
    EXPECT_EQ(period_key(t, z), "2026-11");
  }
  // March starts in EST, April in EDT (DST began 2026-03-08): March is an hour short.
  expect_boundary(z, at(2026y / March / 1, 5h), "2026-02", "2026-03");
  expect_boundary(z, at(2026y / April / 1, 4h), "2026-03", "2026-04");
  const auto mar = period_bounds(at(2026y / March / 20), z);
  EXPECT_EQ(mar.end - mar.begin, days{31} - hours{1});
  // Year rollover.
  expect_boundary(z, at(2027y / January / 1, 5h), "2026-12", "2027-01");
  // UTC would already be in November here; Toronto is not.
  EXPECT_EQ(period_key(at(2026y / November / 1, 1h)), "2026-11");
  EXPECT_EQ(period_key(at(2026y / November / 1, 1h), z), "2026-10");
}

TEST(BudgetZoneIana, SydneyDaylightSavingIsInTheSouthernSummer) {
  const auto z = zone("Australia/Sydney");
  // AEDT (UTC+11) until 2026-04-05, AEST (UTC+10) until 2026-10-04, then AEDT.
  expect_boundary(z, at(2026y / March / 31, 13h), "2026-03", "2026-04");
  expect_boundary(z, at(2026y / April / 30, 14h), "2026-04", "2026-05");
  expect_boundary(z, at(2026y / September / 30, 14h), "2026-09", "2026-10");
  expect_boundary(z, at(2026y / October / 31, 13h), "2026-10", "2026-11");
  expect_boundary(z, at(2026y / December / 31, 13h), "2026-12", "2027-01");
  const auto apr = period_bounds(at(2026y / April / 10), z);
  EXPECT_EQ(apr.end - apr.begin, days{30} + hours{1});
  const auto oct = period_bounds(at(2026y / October / 10), z);
  EXPECT_EQ(oct.end - oct.begin, days{31} - hours{1});
}

TEST(BudgetZoneIana, KolkataIsAHalfHourOffsetWithoutDst) {
  const auto z = zone("Asia/Kolkata");
  expect_boundary(z, at(2026y / October / 31, 18h, 30min), "2026-10", "2026-11");
  expect_boundary(z, at(2026y / March / 31, 18h, 30min), "2026-03", "2026-04");
  const auto fixed = *BudgetZone::parse("+05:30");
  for (auto t = at(2026y / January / 1); t < at(2027y / January / 1); t += hours{7}) {
    ASSERT_EQ(period_key(t, z), period_key(t, fixed));
    ASSERT_EQ(period_bounds(t, z).begin, period_bounds(t, fixed).begin);
  }
}

TEST(BudgetZoneIana, BerlinUsesCetAndCest) {
  const auto z = zone("Europe/Berlin");
  expect_boundary(z, at(2026y / March / 31, 22h), "2026-03", "2026-04");   // CEST
  expect_boundary(z, at(2026y / October / 31, 23h), "2026-10", "2026-11");  // CET
}

TEST(BudgetZoneIana, MidnightInsideADstGapOrRepeatedByIt) {
  // Asuncion jumped from 00:00 to 01:00 on 2023-10-01: local midnight never
  // happened, so October began at the jump (04:00Z).
  const auto asuncion = zone("America/Asuncion");
  expect_boundary(asuncion, at(2023y / October / 1, 4h), "2023-09", "2023-10");
  // Havana went back from 01:00 to 00:00 on 2020-11-01: midnight happened
  // twice (04:00Z and 05:00Z); November began at the first.
  const auto havana = zone("America/Havana");
  expect_boundary(havana, at(2020y / November / 1, 4h), "2020-10", "2020-11");
  EXPECT_EQ(period_key(at(2020y / November / 1, 5h), havana), "2020-11");
}

TEST(BudgetZoneIana, BoundsAndKeysAgreeEverywhere) {
  // Every instant lies in [begin, end) of its own month, the month's first
  // instant has the month's key, and the instant before it the previous key.
  for (const char* name : {"America/Toronto", "Australia/Sydney", "Asia/Kolkata", "Europe/Berlin",
                           "America/St_Johns", "Australia/Lord_Howe", "Pacific/Chatham", "UTC", "-03:30"}) {
    const auto z = zone(name);
    for (auto t = at(2025y / December / 20); t < at(2027y / January / 10); t += minutes{97}) {
      const auto b = period_bounds(t, z);
      ASSERT_LE(b.begin, t) << name;
      ASSERT_LT(t, b.end) << name;
      ASSERT_EQ(period_key(b.begin, z), period_key(t, z)) << name;
      ASSERT_NE(period_key(b.begin - seconds{1}, z), period_key(t, z)) << name;
      ASSERT_NE(period_key(b.end, z), period_key(t, z)) << name;
    }
  }
}

const char* no_env(const char*) { return nullptr; }

std::string config_error(const std::string& yaml) {
  try {
    config::parse_config(yaml, "t.yaml", &no_env);
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(BudgetZoneConfig, UnknownZoneIsAConfigError) {
  const auto message = config_error("budgets:\n  timezone: America/Toronot\n");
  EXPECT_NE(message.find("t.yaml:2:"), std::string::npos) << message;
  EXPECT_NE(message.find("America/Toronto"), std::string::npos) << message;  // the expected part
  EXPECT_NE(message.find("America/Toronot"), std::string::npos) << message;  // the got part
  EXPECT_EQ(config::parse_config("budgets:\n  timezone: Australia/Sydney\n", "t.yaml", &no_env).budgets.timezone,
            "Australia/Sydney");
  EXPECT_EQ(config::parse_config("budgets:\n  timezone: \"+05:30\"\n", "t.yaml", &no_env).budgets.timezone, "+05:30");
  EXPECT_NE(config_error("budgets:\n  timezone: \"\"\n"), "");
}

}  // namespace
}  // namespace aegis::budget
