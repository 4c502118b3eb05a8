#pragma once
// Money is integer micro-dollars end to end; floating point appears only when
// a value is printed for people or Prometheus.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aegis {

struct Money {
  std::int64_t micros = 0;

  static constexpr std::int64_t kMicrosPerDollar = 1'000'000;
  static constexpr Money from_micros(std::int64_t m) { return Money{m}; }
  static constexpr Money from_dollars(std::int64_t d) { return Money{d * kMicrosPerDollar}; }
  // Exact decimal parse of "12", "12.5", "0.000001"; rejects more than 6
  // decimals, signs, exponents and values above 10^12 dollars.
  static std::optional<Money> parse_usd(std::string_view text);
  // For JSON numbers that arrive as double: rounds to the nearest micro-dollar,
  // rejects non-finite, negative and absurd values.
  static std::optional<Money> from_usd_double(double usd);

  // "12.500000" trimmed to "12.5"; always at least one decimal digit dropped only when zero.
  std::string to_usd_string() const;
  double to_usd_double() const { return static_cast<double>(micros) / kMicrosPerDollar; }

  friend constexpr bool operator==(Money, Money) = default;
  friend constexpr auto operator<=>(Money, Money) = default;
  friend constexpr Money operator+(Money a, Money b) { return Money{a.micros + b.micros}; }
  friend constexpr Money operator-(Money a, Money b) { return Money{a.micros - b.micros}; }
};

}  // namespace aegis
