#pragma once
// The budget month a time point falls in, in the zone budgets follow
// (config budgets.timezone, parsed by core/time_zone.hpp): a month starts at
// local midnight on the 1st in whatever offset is in force then.
#include <chrono>
#include <string>

#include "core/time_zone.hpp"

namespace aegis::budget {

using BudgetZone = TimeZone;

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
