// Money in JSON (core/json.hpp usd_json): exact from the integer micro-dollars,
// a JSON number, never in exponent form.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "core/json.hpp"
#include "core/money.hpp"

namespace aegis {
namespace {

namespace json = boost::json;

std::string usd_text(std::int64_t micros) { return to_json(usd_json(Money::from_micros(micros))); }

TEST(MoneyJson, IsTheExactDecimalOfTheMicroDollars) {
  EXPECT_EQ(usd_text(0), "0.0");
  EXPECT_EQ(usd_text(1), "0.000001");
  EXPECT_EQ(usd_text(54), "0.000054");
  EXPECT_EQ(usd_text(516), "0.000516");
  EXPECT_EQ(usd_text(999'999), "0.999999");
  EXPECT_EQ(usd_text(1'000'000), "1.0");
  EXPECT_EQ(usd_text(250'000'000), "250.0");
  EXPECT_EQ(usd_text(249'999'484), "249.999484");
  EXPECT_EQ(usd_text(100'000'000'000), "100000.0");
  // Whole-dollar caps stay exact up to the largest parse_usd takes (10^12 dollars).
  EXPECT_EQ(usd_text(1'000'000'000'000'000'000), "1000000000000.0");
  EXPECT_EQ(usd_text(-2'500'000), "-2.5");
}

TEST(MoneyJson, EveryAmountUnderTwoToThe33DollarsIsExact) {
  // A deterministic walk over magnitudes and digit patterns, compared with the
  // integer formatter. Below 2^33 USD a double's spacing is under a micro-dollar.
  constexpr std::int64_t kExactLimitMicros = (std::int64_t{1} << 33) * 1'000'000;
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 200'000; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    const int bits = 1 + static_cast<int>(state % 53);  // up to 2^53 - 1 micros, then capped below
    std::int64_t micros = static_cast<std::int64_t>((state >> 11) & ((std::uint64_t{1} << bits) - 1));
    micros %= kExactLimitMicros;
    if (i % 2 == 1) micros = -micros;
    const Money money = Money::from_micros(micros);
    ASSERT_EQ(usd_text(micros), money.to_usd_string()) << micros;
  }
  EXPECT_EQ(usd_text(kExactLimitMicros - 1), "8589934591.999999");
  EXPECT_EQ(usd_text(-(kExactLimitMicros - 1)), "-8589934591.999999");
}

TEST(MoneyJson, NeverInExponentFormWhereADoubleWouldBe) {
  // What Boost.JSON's own writer produces for the same doubles.
  EXPECT_NE(json::serialize(usd_json(Money::from_micros(54))).find_first_of("eE"), std::string::npos);
  EXPECT_NE(json::serialize(usd_json(Money::from_micros(100'000'000'000))).find_first_of("eE"), std::string::npos);
  for (const std::int64_t micros :
       {std::int64_t{54}, std::int64_t{100'000'000'000}, std::int64_t{10}, std::int64_t{1}}) {
    const std::string text = usd_text(micros);
    EXPECT_EQ(text.find_first_of("eE"), std::string::npos) << text;
  }
}

TEST(MoneyJson, IsANumberInsideObjectsAndArraysAndParsesBack) {
  const json::object spend{{"period", "2026-11"},
                           {"cap_usd", usd_json(Money::from_dollars(100'000))},
                           {"spent_usd", usd_json(Money::from_micros(54))},
                           {"list", json::array{usd_json(Money::from_micros(7)), 1.5}}};
  const std::string text = to_json(spend);
  EXPECT_EQ(text, R"({"period":"2026-11","cap_usd":100000.0,"spent_usd":0.000054,"list":[0.000007,1.5]})");
  const json::value back = json::parse(text);
  EXPECT_TRUE(back.at("cap_usd").is_double());
  EXPECT_EQ(Money::from_usd_double(back.at("spent_usd").as_double())->micros, 54);
}

TEST(MoneyJson, StringsAreAlwaysWrittenAsStrings) {
  // Regression: money was once a marked string written bare, so a string that
  // held the marker bytes (found by mask_fuzz in a vault value) became raw JSON.
  for (const std::string& text : {std::string("0.000054"), std::string("\xFF" "aegis-decimal:0"),
                                 std::string("\xFF" "aegis-decimal:1.5"), std::string("aegis-decimal:1.5")}) {
    EXPECT_EQ(to_json(json::value(text)), json::serialize(json::value(text))) << text;
    EXPECT_TRUE(to_json(json::value(text)).starts_with('"')) << text;
  }
}

}  // namespace
}  // namespace aegis
