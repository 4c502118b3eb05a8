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
  // Large caps stay exact where a double would not (10^12 dollars is the largest parse_usd takes).
  EXPECT_EQ(usd_text(1'000'000'000'000'000'000), "1000000000000.0");
  EXPECT_EQ(usd_text(999'999'999'999'999'999), "999999999999.999999");
  EXPECT_EQ(usd_text(-2'500'000), "-2.5");
}

TEST(MoneyJson, NeverInExponentFormWhereADoubleWouldBe) {
  // What the writers produced before: the shortest double form.
  EXPECT_EQ(to_json(json::value(Money::from_micros(54).to_usd_double())), "5.4e-05");
  EXPECT_EQ(to_json(json::value(Money::from_micros(100'000'000'000).to_usd_double())), "1e+05");
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

TEST(MoneyJson, OrdinaryStringsAreNeverWrittenAsNumbers) {
  EXPECT_EQ(to_json(json::value("0.000054")), R"("0.000054")");
  EXPECT_EQ(to_json(json::value("aegis-decimal:1.5")), R"("aegis-decimal:1.5")");
  // Even a string that carries the marker is a number only when what follows is a plain decimal.
  const json::value forged = usd_json(Money::from_micros(1));
  std::string marker(forged.as_string().c_str(), forged.as_string().size() - std::string("0.000001").size());
  for (const char* tail : {"1e5", "\",\"x\":1", "", "01", "1.", "-", "NaN"}) {
    const std::string text = to_json(json::value(marker + tail));
    EXPECT_EQ(text, json::serialize(json::value(marker + tail))) << tail;  // a quoted, escaped string
  }
}

}  // namespace
}  // namespace aegis
