#include "budget/period.hpp"

#include <cstdio>

namespace aegis::budget {
namespace {

using namespace std::chrono;

constexpr minutes kMaxOffset{14 * 60};

bool digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int to_int(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

year_month local_month(system_clock::time_point t, const BudgetZone& zone) {
  const auto local = floor<days>(t + zone.offset());
  const year_month_day ymd{local};
  return ymd.year() / ymd.month();
}

}  // namespace

std::optional<BudgetZone> BudgetZone::fixed_offset(minutes offset) {
  if (offset > kMaxOffset || offset < -kMaxOffset) return std::nullopt;
  BudgetZone z;
  z.offset_ = offset;
  return z;
}

std::optional<BudgetZone> BudgetZone::parse(std::string_view text) {
  if (text.empty() || text == "UTC" || text == "Etc/UTC" || text == "GMT" || text == "Etc/GMT" || text == "Z") {
    return utc();
  }
  if (text.starts_with("UTC")) text.remove_prefix(3);
  if (text.size() < 2 || (text[0] != '+' && text[0] != '-')) return std::nullopt;
  const bool negative = text[0] == '-';
  text.remove_prefix(1);
  std::string_view hh, mm = "00";
  if (text.size() == 2) {
    hh = text;
  } else if (text.size() == 4) {
    hh = text.substr(0, 2);
    mm = text.substr(2);
  } else if (text.size() == 5 && text[2] == ':') {
    hh = text.substr(0, 2);
    mm = text.substr(3);
  } else {
    return std::nullopt;
  }
  if (!digits(hh) || !digits(mm) || to_int(mm) >= 60) return std::nullopt;
  const minutes off{to_int(hh) * 60 + to_int(mm)};
  return fixed_offset(negative ? -off : off);
}

std::string BudgetZone::name() const {
  if (offset_ == minutes{0}) return "UTC";
  const auto abs = offset_ < minutes{0} ? -offset_ : offset_;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset_ < minutes{0} ? '-' : '+', static_cast<int>(abs.count() / 60),
                static_cast<int>(abs.count() % 60));
  return buf;
}

std::string period_key(system_clock::time_point t, const BudgetZone& zone) {
  const auto ym = local_month(t, zone);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u", static_cast<int>(ym.year()), static_cast<unsigned>(ym.month()));
  return buf;
}

PeriodBounds period_bounds(system_clock::time_point t, const BudgetZone& zone) {
  const auto ym = local_month(t, zone);
  const sys_days first{ym / day{1}};
  const sys_days next{(ym + months{1}) / day{1}};
  // Local midnight on the 1st, expressed in UTC.
  return PeriodBounds{system_clock::time_point{first} - zone.offset(), system_clock::time_point{next} - zone.offset()};
}

}  // namespace aegis::budget
