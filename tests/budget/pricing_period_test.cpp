#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>

#include "budget/period.hpp"
#include "budget/pricing.hpp"

namespace aegis::budget {
namespace {

using namespace std::chrono;

config::ModelPrice price(std::int64_t in_micros_per_mtok, std::int64_t out_micros_per_mtok) {
  config::ModelPrice p;
  p.input_per_mtok = Money::from_micros(in_micros_per_mtok);
  p.output_per_mtok = Money::from_micros(out_micros_per_mtok);
  return p;
}

Usage usage(std::int64_t in, std::int64_t out, std::int64_t cache_read = 0, std::int64_t cache_write = 0,
            std::int64_t cache_write_1h = 0) {
  Usage u;
  u.input_tokens = in;
  u.output_tokens = out;
  u.cache_read_tokens = cache_read;
  u.cache_write_tokens = cache_write;
  u.cache_write_1h_tokens = cache_write_1h;
  return u;
}

system_clock::time_point at(year_month_day d, hours h = hours{0}, minutes m = minutes{0}, seconds s = seconds{0}) {
  return system_clock::time_point{sys_days{d}} + h + m + s;
}

TEST(BudgetPricing, InputTokensRoundUpWithSafetyFactor) {
  EXPECT_EQ(estimate_input_tokens(0), 0);
  EXPECT_EQ(estimate_input_tokens(1), 1);
  EXPECT_EQ(estimate_input_tokens(3), 1);
  EXPECT_EQ(estimate_input_tokens(4), 2);
  EXPECT_EQ(estimate_input_tokens(3000), 1000);
  EXPECT_EQ(estimate_input_tokens(3001), 1001);
  // ~4 bytes per real token: the estimate always exceeds bytes / 4.
  for (std::size_t bytes : {4u, 40u, 4000u, 4'000'001u}) {
    EXPECT_GT(estimate_input_tokens(bytes) * 4, static_cast<std::int64_t>(bytes)) << bytes;
    EXPECT_GE(estimate_input_tokens(bytes) * 3, static_cast<std::int64_t>(bytes)) << bytes;
  }
}

TEST(BudgetPricing, EstimateUsesBytesAndMaxTokens) {
  // $3 / $15 per Mtok.
  const auto p = price(3'000'000, 15'000'000);
  const auto e = estimate_cost(10, 100, p);  // 10 bytes -> 4 tokens
  EXPECT_EQ(e.input_tokens, 4);
  EXPECT_EQ(e.output_tokens, 100);
  EXPECT_EQ(e.cost.micros, 4 * 3 + 100 * 15);
  EXPECT_EQ(estimate_cost(0, -5, p).cost.micros, 0);  // negative max_tokens counts as 0
}

TEST(BudgetPricing, EstimateRoundsUpToNextMicroDollar) {
  // $0.25 per Mtok: one token costs 0.25 micro-dollars -> reserve 1 micro.
  const auto p = price(250'000, 0);
  EXPECT_EQ(estimate_cost(1, 0, p).cost.micros, 1);
  EXPECT_EQ(estimate_cost(12, 0, p).cost.micros, 1);  // 4 tokens = exactly 1.0
  EXPECT_EQ(estimate_cost(13, 0, p).cost.micros, 2);  // 5 tokens = 1.25 -> 2
  EXPECT_EQ(price_tokens(0, 0, p).micros, 0);
}

TEST(BudgetPricing, ActualCostIsExactAndRoundsUp) {
  const auto p = price(3'000'000, 15'000'000);
  EXPECT_EQ(actual_cost(usage(1234, 567), p).micros, 1234 * 3 + 567 * 15);
  // $0.25 in + $1.25 out for one token each = 1.5 micro-dollars -> 2 (one rounding, not two).
  EXPECT_EQ(actual_cost(usage(1, 1), price(250'000, 1'250'000)).micros, 2);
  // $0.000001 per Mtok (1 micro per Mtok): a million tokens cost exactly 1 micro.
  EXPECT_EQ(actual_cost(usage(1'000'000, 0), price(1, 1)).micros, 1);
  EXPECT_EQ(actual_cost(usage(1'000'001, 0), price(1, 1)).micros, 2);
  EXPECT_EQ(actual_cost(usage(-5, -7), p).micros, 0);
}

TEST(BudgetPricing, AbsurdInputsSaturateInsteadOfOverflowing) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  const auto huge = price(kMax, kMax);
  EXPECT_EQ(actual_cost(usage(kMax, kMax), huge).micros, kMax);
  EXPECT_EQ(estimate_cost(std::numeric_limits<std::size_t>::max(), kMax, huge).cost.micros, kMax);
  EXPECT_EQ(estimate_input_tokens(std::numeric_limits<std::size_t>::max()),
            static_cast<std::int64_t>(std::numeric_limits<std::size_t>::max() / 3));  // exact, no wrap
  // Large but representable: 10^12 tokens at $1000/Mtok = $10^9 exactly.
  EXPECT_EQ(actual_cost(usage(1'000'000'000'000, 0), price(1'000'000'000, 0)).micros, 1'000'000'000'000'000);
  EXPECT_EQ(price_tokens(5, 5, price(-1'000'000, -1'000'000)).micros, 0);
}

TEST(BudgetPricing, StreamedUsageCountsOutputBytesLikeTheEstimator) {
  // ceil(bytes / 3) output tokens; the input estimate when the provider reported none.
  auto u = streamed_usage(10, usage(0, 0), 40, std::nullopt);
  EXPECT_EQ(u.output_tokens, 4);
  EXPECT_EQ(u.input_tokens, 40);
  EXPECT_EQ(streamed_usage(9, usage(0, 0), 40, std::nullopt).output_tokens, 3);
  EXPECT_EQ(streamed_usage(0, usage(0, 0), 40, std::nullopt).output_tokens, 0);
  // ~4 bytes per real token: never fewer tokens than the text can hold.
  EXPECT_GE(streamed_usage(400, usage(0, 0), 0, std::nullopt).output_tokens, 100);
}

TEST(BudgetPricing, StreamedUsagePrefersTheReportedInputAndCapsOutputAtMaxTokens) {
  auto u = streamed_usage(3000, usage(25, 0), 40, 100);
  EXPECT_EQ(u.input_tokens, 25);    // the provider's own count (Anthropic's message_start) wins
  EXPECT_EQ(u.output_tokens, 100);  // a provider never generates more than max_tokens
  EXPECT_EQ(streamed_usage(30, usage(25, 0), 40, 100).output_tokens, 10);
  EXPECT_EQ(streamed_usage(30, usage(-1, 0), -5, -3).input_tokens, 0);
  EXPECT_EQ(streamed_usage(30, usage(-1, 0), -5, -3).output_tokens, 0);
  // Priced like any usage: 25 in at $3, 10 out at $15 per Mtok = 75 + 150 micro-dollars.
  EXPECT_EQ(actual_cost(streamed_usage(30, usage(25, 0), 40, 100), price(3'000'000, 15'000'000)).micros, 225);
}

// The providers' prompt-cache tiers (config::with_cache_defaults), on
// Claude Sonnet's $3 / $15 per Mtok and gpt-4o's $2.50 / $10.
TEST(BudgetPricing, CacheRatesDefaultToEachProvidersTiers) {
  const auto anthropic = config::with_cache_defaults(price(3'000'000, 15'000'000), "anthropic");
  EXPECT_EQ(anthropic.cache_read_per_mtok, Money::from_micros(300'000));        // 0.1 x input
  EXPECT_EQ(anthropic.cache_write_per_mtok, Money::from_micros(3'750'000));     // 1.25 x input (5 minutes)
  EXPECT_EQ(anthropic.cache_write_1h_per_mtok, Money::from_micros(6'000'000));  // 2 x input (1 hour)
  for (const char* type : {"azure_openai", "openai_compat", "sim"}) {
    const auto openai = config::with_cache_defaults(price(2'500'000, 10'000'000), type);
    EXPECT_EQ(openai.cache_read_per_mtok, Money::from_micros(1'250'000)) << type;  // 0.5 x input
    EXPECT_EQ(openai.cache_write_per_mtok, Money::from_micros(2'500'000)) << type;
  }
  // A rate the config sets is kept; a fraction of a micro-dollar rounds up.
  auto given = price(3, 0);
  given.cache_read_per_mtok = Money::from_micros(1);
  const auto kept = config::with_cache_defaults(given, "anthropic");
  EXPECT_EQ(kept.cache_read_per_mtok, Money::from_micros(1));
  EXPECT_EQ(kept.cache_write_per_mtok, Money::from_micros(4));  // ceil(3 * 1.25)
}

TEST(BudgetPricing, CacheTokensArePricedAtTheirOwnRatesInOneSum) {
  const auto p = config::with_cache_defaults(price(3'000'000, 15'000'000), "anthropic");
  // 100 plain input at $3, 2000 read at $0.30, 1000 written at $3.75 (5 min), 50 out at $15 per Mtok:
  // 300 + 600 + 3750 + 750 micro-dollars.
  EXPECT_EQ(actual_cost(usage(100, 50, 2000, 1000), p).micros, 300 + 600 + 3750 + 750);
  // 400 of the 1000 written with the 1-hour TTL, at $6: 600 * 3.75 + 400 * 6 = 2250 + 2400.
  EXPECT_EQ(actual_cost(usage(100, 50, 2000, 1000, 400), p).micros, 300 + 600 + 2250 + 2400 + 750);
  // One rounding over the sum: 1 read (0.3) + 1 write (3.75) + 1 in (3) = 7.05 -> 8.
  EXPECT_EQ(actual_cost(usage(1, 0, 1, 1), p).micros, 8);
  // A price without cache rates (built in code) prices cache tokens as plain input.
  EXPECT_EQ(actual_cost(usage(0, 0, 1000, 1000), price(3'000'000, 0)).micros, 6000);
  // Saturates rather than overflow when every bucket is huge.
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  auto huge = price(kMax, kMax);
  huge.cache_read_per_mtok = huge.cache_write_per_mtok = huge.cache_write_1h_per_mtok = Money::from_micros(kMax);
  EXPECT_EQ(actual_cost(usage(kMax, kMax, kMax, kMax, kMax), huge).micros, kMax);
}

TEST(BudgetPricing, TheReservationPricesInputAtTheCacheWriteRateWhenTheRequestAsksForOne) {
  const auto p = config::with_cache_defaults(price(3'000'000, 15'000'000), "anthropic");
  EXPECT_EQ(worst_input_rate(p, CacheWrite::none), Money::from_micros(3'000'000));
  EXPECT_EQ(worst_input_rate(p, CacheWrite::five_minutes), Money::from_micros(3'750'000));
  EXPECT_EQ(worst_input_rate(p, CacheWrite::one_hour), Money::from_micros(6'000'000));
  // OpenAI's cached input is cheaper than input: the input rate stays the worst.
  const auto o = config::with_cache_defaults(price(2'500'000, 10'000'000), "azure_openai");
  EXPECT_EQ(worst_input_rate(o, CacheWrite::five_minutes), Money::from_micros(2'500'000));
}

TEST(BudgetPricing, AStreamCutShortBillsTheReportedCacheTokens) {
  // message_start said 10 plain input, 3000 read, 500 written; 30 bytes streamed -> 10 output tokens.
  const auto u = streamed_usage(30, usage(10, 1, 3000, 500), 40, 100);
  EXPECT_EQ(u.input_tokens, 10);
  EXPECT_EQ(u.cache_read_tokens, 3000);
  EXPECT_EQ(u.cache_write_tokens, 500);
  EXPECT_EQ(u.output_tokens, 10);
  // Only cache reads reported (every input token from the cache): still the provider's counts, not the estimate.
  EXPECT_EQ(streamed_usage(30, usage(0, 0, 3000), 40, 100).input_tokens, 0);
}

TEST(BudgetPeriod, UtcMonthBoundaries) {
  EXPECT_EQ(period_key(at(2026y / October / 31, 23h, 59min, 59s)), "2026-10");
  EXPECT_EQ(period_key(at(2026y / November / 1)), "2026-11");
  EXPECT_EQ(period_key(at(2026y / December / 31, 23h, 59min, 59s)), "2026-12");
  EXPECT_EQ(period_key(at(2027y / January / 1)), "2027-01");
  EXPECT_EQ(period_key(at(2028y / February / 29, 12h)), "2028-02");
  EXPECT_EQ(period_key(at(2026y / October / 31, 23h, 59min, 59s) + 999ms), "2026-10");
}

TEST(BudgetPeriod, FixedOffsetZonesShiftTheBoundary) {
  const auto ist = *BudgetZone::parse("+05:30");
  EXPECT_EQ(period_key(at(2026y / October / 31, 18h, 29min, 59s), ist), "2026-10");
  EXPECT_EQ(period_key(at(2026y / October / 31, 18h, 30min), ist), "2026-11");
  const auto pst = *BudgetZone::parse("-08:00");
  EXPECT_EQ(period_key(at(2026y / November / 1, 7h, 59min, 59s), pst), "2026-10");
  EXPECT_EQ(period_key(at(2026y / November / 1, 8h), pst), "2026-11");
  EXPECT_EQ(period_key(at(2027y / January / 1, 7h), pst), "2026-12");

  const auto b = period_bounds(at(2026y / November / 15), ist);
  EXPECT_EQ(b.begin, at(2026y / October / 31, 18h, 30min));
  EXPECT_EQ(b.end, at(2026y / November / 30, 18h, 30min));
}

TEST(BudgetPeriod, ParsesZoneSpellings) {
  EXPECT_EQ(BudgetZone::parse("UTC")->offset(), minutes{0});
  EXPECT_EQ(BudgetZone::parse("Etc/UTC")->offset(), minutes{0});
  EXPECT_EQ(BudgetZone::parse("")->offset(), minutes{0});
  EXPECT_EQ(BudgetZone::parse("-0800")->offset(), minutes{-480});
  EXPECT_EQ(BudgetZone::parse("+09")->offset(), minutes{540});
  EXPECT_EQ(BudgetZone::parse("UTC+05:45")->offset(), minutes{345});
  EXPECT_EQ(BudgetZone::parse("+14:00")->offset(), minutes{840});
  EXPECT_EQ(BudgetZone::parse("-03:30")->name(), "-03:30");
  EXPECT_EQ(BudgetZone::parse("UTC")->name(), "UTC");
  // Malformed offsets and unknown zone names are rejected, never silently UTC.
  for (const char* bad : {"America/Toronot", "Mars/Olympus_Mons", "toronto", "+15:00", "+5:30", "+05:60", "05:30",
                          "+05:3", "+ab:cd", "UTC+", "UTC+05:30x"}) {
    EXPECT_FALSE(BudgetZone::parse(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace aegis::budget
