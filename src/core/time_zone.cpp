#include "core/time_zone.hpp"

#include <date/tz.h>

#include <cstdio>
#include <exception>

namespace aegis {
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

bool is_utc_name(std::string_view text) {
  return text.empty() || text == "UTC" || text == "Etc/UTC" || text == "GMT" || text == "Etc/GMT" || text == "Z";
}

}  // namespace

std::optional<TimeZone> TimeZone::fixed_offset(minutes offset) {
  if (offset > kMaxOffset || offset < -kMaxOffset) return std::nullopt;
  TimeZone z;
  z.offset_ = offset;
  return z;
}

std::optional<TimeZone> TimeZone::parse(std::string_view text) {
  if (is_utc_name(text)) return utc();
  if (text[0] != '+' && text[0] != '-' && !text.starts_with("UTC")) {
    // Start-up only: the date library reports unknown names (and a missing
    // tz database) by throwing.
    try {
      TimeZone z;
      z.tz_ = date::locate_zone(text);
      return z;
    } catch (const std::exception&) {
      return std::nullopt;
    }
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

seconds TimeZone::offset_at(system_clock::time_point t) const {
  if (tz_ == nullptr) return offset_;
  return tz_->get_info(floor<seconds>(t)).offset;
}

system_clock::time_point TimeZone::start_of_day(year_month_day local_day) const {
  const sys_days as_utc{local_day};
  if (tz_ == nullptr) return system_clock::time_point{as_utc} - offset_;
  const date::local_seconds local{seconds{as_utc.time_since_epoch()}};
  // earliest: an ambiguous midnight counts from its first occurrence; a
  // nonexistent one resolves to the instant of the jump either way.
  return tz_->to_sys(local, date::choose::earliest);
}

std::string TimeZone::name() const {
  if (tz_ != nullptr) return std::string(tz_->name());
  if (offset_ == minutes{0}) return "UTC";
  const auto abs = offset_ < minutes{0} ? -offset_ : offset_;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset_ < minutes{0} ? '-' : '+', static_cast<int>(abs.count() / 60),
                static_cast<int>(abs.count() % 60));
  return buf;
}

}  // namespace aegis
