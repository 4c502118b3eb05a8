#include "budget/period.hpp"

#include <cstdio>

namespace aegis::budget {
namespace {

using namespace std::chrono;

// Local wall time expressed as if it were a UTC time point, so the calendar
// arithmetic of <chrono> applies to it directly.
sys_seconds local_seconds_of(system_clock::time_point t, const BudgetZone& zone) {
  return floor<seconds>(t) + zone.offset_at(t);
}

year_month local_month(system_clock::time_point t, const BudgetZone& zone) {
  const year_month_day ymd{floor<days>(local_seconds_of(t, zone))};
  return ymd.year() / ymd.month();
}

}  // namespace

std::string period_key(system_clock::time_point t, const BudgetZone& zone) {
  const auto ym = local_month(t, zone);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u", static_cast<int>(ym.year()), static_cast<unsigned>(ym.month()));
  return buf;
}

PeriodBounds period_bounds(system_clock::time_point t, const BudgetZone& zone) {
  const auto ym = local_month(t, zone);
  return PeriodBounds{zone.start_of_day(ym / day{1}), zone.start_of_day((ym + months{1}) / day{1})};
}

}  // namespace aegis::budget
