#include "core/time_format.hpp"

#include <date/date.h>

#include <chrono>
#include <optional>

namespace aegis {

std::string format_rfc3339_ms(std::int64_t unix_ms) {
  // %T of a millisecond time point is "14:45:52.123".
  return date::format("%FT%TZ", date::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(unix_ms)));
}

namespace {

// Reads exactly `width` digits at `pos`; advances pos.
std::optional<int> digits(std::string_view text, std::size_t& pos, std::size_t width) {
  if (pos + width > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += width;
  return value;
}

bool expect(std::string_view text, std::size_t& pos, std::string_view options) {
  if (pos >= text.size() || options.find(text[pos]) == std::string_view::npos) return false;
  ++pos;
  return true;
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text) {
  using namespace std::chrono;
  std::size_t pos = 0;
  const auto y = digits(text, pos, 4);
  if (!y || !expect(text, pos, "-")) return std::nullopt;
  const auto mo = digits(text, pos, 2);
  if (!mo || !expect(text, pos, "-")) return std::nullopt;
  const auto d = digits(text, pos, 2);
  if (!d || !expect(text, pos, "Tt")) return std::nullopt;
  const auto h = digits(text, pos, 2);
  if (!h || !expect(text, pos, ":")) return std::nullopt;
  const auto mi = digits(text, pos, 2);
  if (!mi || !expect(text, pos, ":")) return std::nullopt;
  const auto s = digits(text, pos, 2);
  if (!s) return std::nullopt;

  int millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t count = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (count < 3) millis = millis * 10 + (text[pos] - '0');
      ++count;
      ++pos;
    }
    if (count == 0) return std::nullopt;
    for (std::size_t i = count; i < 3; ++i) millis *= 10;
  }

  int offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    const auto oh = digits(text, pos, 2);
    if (!oh || !expect(text, pos, ":")) return std::nullopt;
    const auto om = digits(text, pos, 2);
    if (!om || *oh > 23 || *om > 59) return std::nullopt;
    offset_minutes = sign * (*oh * 60 + *om);
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;

  const year_month_day ymd{year(*y), month(static_cast<unsigned>(*mo)), day(static_cast<unsigned>(*d))};
  if (!ymd.ok() || *h > 23 || *mi > 59 || *s > 59) return std::nullopt;
  const auto local = sys_days(ymd) + hours(*h) + minutes(*mi) + seconds(*s) + milliseconds(millis);
  // "+01:00" means local time is one hour ahead of UTC.
  return (local - minutes(offset_minutes)).time_since_epoch().count();
}

}  // namespace aegis
