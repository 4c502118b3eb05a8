#include "core/money.hpp"

#include <cmath>
#include <cstdio>

namespace aegis {

namespace {
constexpr std::int64_t kMaxDollars = 1'000'000'000'000;  // 10^12
}

std::optional<Money> Money::parse_usd(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t whole = 0;
  std::size_t i = 0;
  std::size_t int_digits = 0;
  for (; i < text.size() && text[i] != '.'; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return std::nullopt;
    whole = whole * 10 + (c - '0');
    if (++int_digits > 13 || whole > kMaxDollars) return std::nullopt;
  }
  if (int_digits == 0) return std::nullopt;
  std::int64_t frac = 0;
  int frac_digits = 0;
  if (i < text.size()) {
    ++i;  // '.'
    if (i == text.size()) return std::nullopt;
    for (; i < text.size(); ++i) {
      const char c = text[i];
      if (c < '0' || c > '9') return std::nullopt;
      if (++frac_digits > 6) return std::nullopt;
      frac = frac * 10 + (c - '0');
    }
  }
  for (int d = frac_digits; d < 6; ++d) frac *= 10;
  return Money{whole * kMicrosPerDollar + frac};
}

std::optional<Money> Money::from_usd_double(double usd) {
  if (!std::isfinite(usd) || usd < 0 || usd > static_cast<double>(kMaxDollars)) return std::nullopt;
  return Money{std::llround(usd * kMicrosPerDollar)};
}

std::string Money::to_usd_string() const {
  const bool negative = micros < 0;
  const std::uint64_t abs = negative ? static_cast<std::uint64_t>(-(micros + 1)) + 1 : static_cast<std::uint64_t>(micros);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%llu.%06llu", negative ? "-" : "",
                static_cast<unsigned long long>(abs / kMicrosPerDollar),
                static_cast<unsigned long long>(abs % kMicrosPerDollar));
  std::string out(buf);
  while (out.back() == '0' && out[out.size() - 2] != '.') out.pop_back();
  return out;
}

}  // namespace aegis
