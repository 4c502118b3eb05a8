#pragma once
// The budget month a time point falls in.
//
// A budget zone is "UTC" (also "Etc/UTC", "GMT", "Z", or empty), a fixed UTC
// offset such as "+05:30", "-0800", "+09" or "UTC-05:00", or an IANA name such
// as "America/Toronto" looked up in the operating system's tz database
// (/usr/share/zoneinfo, Debian package tzdata) through Howard Hinnant's date
// library, because libstdc++ 12 has no std::chrono::locate_zone. IANA zones
// follow daylight saving time: a month starts at local midnight on the 1st in
// whatever offset is in force then. Unknown names are rejected by parse() so
// config loading fails loudly instead of silently using UTC.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace date {
class time_zone;
}

namespace aegis::budget {

class BudgetZone {
 public:
  static BudgetZone utc() { return BudgetZone{}; }
  // Loads the tz database on the first IANA name (a few milliseconds); call at start-up.
  static std::optional<BudgetZone> parse(std::string_view text);
  static std::optional<BudgetZone> fixed_offset(std::chrono::minutes offset);

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

  friend bool operator==(const BudgetZone&, const BudgetZone&) = default;

 private:
  std::chrono::minutes offset_{0};
  // Entries of the process-wide tz database, which lives until exit; null for fixed zones.
  const date::time_zone* tz_ = nullptr;
};

// "YYYY-MM" of the calendar month containing `t` in `zone`.
std::string period_key(std::chrono::system_clock::time_point t, const BudgetZone& zone = BudgetZone::utc());

// The first instant of that month and of the next one (BudgetZone::start_of_day
// of the 1st), as UTC time points.
struct PeriodBounds {
  std::chrono::system_clock::time_point begin;
  std::chrono::system_clock::time_point end;
};
PeriodBounds period_bounds(std::chrono::system_clock::time_point t, const BudgetZone& zone = BudgetZone::utc());

}  // namespace aegis::budget
