#pragma once
// The budget month a time point falls in.
//
// GAP: the toolchain is GCC 12 / libstdc++ 12, which has no C++20 tzdb
// (std::chrono::locate_zone arrived in libstdc++ 13). Until then a budget zone
// is "UTC" (also "Etc/UTC", "GMT", "Z", or empty) or a fixed UTC offset such as
// "+05:30", "-0800", "+09" or "UTC-05:00". IANA names such as
// "America/Toronto" are rejected by BudgetZone::parse (so config loading can
// fail loudly) rather than silently treated as UTC; DST is therefore not
// modelled. Swap the body of BudgetZone for std::chrono::time_zone once the
// toolchain has it; the interface stays.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace aegis::budget {

class BudgetZone {
 public:
  static BudgetZone utc() { return BudgetZone{}; }
  static std::optional<BudgetZone> parse(std::string_view text);
  static std::optional<BudgetZone> fixed_offset(std::chrono::minutes offset);

  std::chrono::minutes offset() const { return offset_; }
  // "UTC" or "+05:30" style.
  std::string name() const;

  friend bool operator==(const BudgetZone&, const BudgetZone&) = default;

 private:
  std::chrono::minutes offset_{0};
};

// "YYYY-MM" of the calendar month containing `t` in `zone`.
std::string period_key(std::chrono::system_clock::time_point t, const BudgetZone& zone = BudgetZone::utc());

// The first instant of that month and of the next one, as UTC time points.
struct PeriodBounds {
  std::chrono::system_clock::time_point begin;
  std::chrono::system_clock::time_point end;
};
PeriodBounds period_bounds(std::chrono::system_clock::time_point t, const BudgetZone& zone = BudgetZone::utc());

}  // namespace aegis::budget
