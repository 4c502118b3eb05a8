#pragma once
// A time zone as configuration names it: "UTC" (also "Etc/UTC", "GMT", "Z",
// or empty), a fixed UTC offset such as "+05:30", "-0800", "+09" or
// "UTC-05:00", or an IANA name such as "America/Toronto" looked up in the
// operating system's tz database (/usr/share/zoneinfo, Debian package tzdata)
// through Howard Hinnant's date library, because libstdc++ 12 has no
// std::chrono::locate_zone. IANA zones follow daylight saving time. Unknown
// names are rejected by parse(), so config loading fails loudly instead of
// silently using UTC. Budget months follow one (budget/period.hpp).
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace date {
class time_zone;
}

namespace aegis {

class TimeZone {
 public:
  static TimeZone utc() { return TimeZone{}; }
  // Loads the tz database on the first IANA name (a few milliseconds); call at start-up.
  static std::optional<TimeZone> parse(std::string_view text);
  static std::optional<TimeZone> fixed_offset(std::chrono::minutes offset);

  // The UTC offset in force at `t` (local = UTC + offset), DST included.
  std::chrono::seconds offset_at(std::chrono::system_clock::time_point t) const;
  // The UTC instant at which `local_day` begins in this zone: local midnight,
  // or the end of a DST gap that swallows midnight; the first occurrence
  // when midnight happens twice.
  std::chrono::system_clock::time_point start_of_day(std::chrono::year_month_day local_day) const;
  // The fixed offset of a fixed zone; zero for IANA zones, whose offset varies (see offset_at).
  std::chrono::minutes offset() const { return offset_; }
  bool is_fixed() const { return tz_ == nullptr; }
  // "UTC", "+05:30" style, or the IANA name.
  std::string name() const;

  friend bool operator==(const TimeZone&, const TimeZone&) = default;

 private:
  std::chrono::minutes offset_{0};
  // Entries of the process-wide tz database, which lives until exit; null for fixed zones.
  const date::time_zone* tz_ = nullptr;
};

}  // namespace aegis
