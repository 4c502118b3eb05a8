#include <gtest/gtest.h>

#include "core/classification.hpp"
#include "core/money.hpp"
#include "core/result.hpp"

namespace aegis {
namespace {

TEST(Money, ParsesDecimalDollarsExactly) {
  EXPECT_EQ(Money::parse_usd("12")->micros, 12'000'000);
  EXPECT_EQ(Money::parse_usd("12.5")->micros, 12'500'000);
  EXPECT_EQ(Money::parse_usd("0.000001")->micros, 1);
  EXPECT_EQ(Money::parse_usd("0.1")->micros, 100'000);
}

TEST(Money, RejectsWhatIsNotAnAmount) {
  for (const char* bad : {"", "-1", "1e3", "1.", ".5", "1.0000001", "abc", "1,5", "99999999999999"}) {
    EXPECT_FALSE(Money::parse_usd(bad).has_value()) << bad;
  }
  EXPECT_FALSE(Money::from_usd_double(-0.5).has_value());
  EXPECT_FALSE(Money::from_usd_double(1.0 / 0.0).has_value());
}

TEST(Money, FormatsWithoutTrailingZeros) {
  EXPECT_EQ(Money::from_micros(12'500'000).to_usd_string(), "12.5");
  EXPECT_EQ(Money::from_micros(0).to_usd_string(), "0.0");
  EXPECT_EQ(Money::from_micros(1).to_usd_string(), "0.000001");
  EXPECT_EQ(Money::from_micros(-2'500'000).to_usd_string(), "-2.5");
  EXPECT_EQ(Money::from_usd_double(0.1)->micros, 100'000);
}

TEST(Level, ParsesAnyCaseAndOrdersByRestrictiveness) {
  EXPECT_EQ(parse_level("restricted"), Level::RESTRICTED);
  EXPECT_EQ(parse_level("Public"), Level::PUBLIC);
  EXPECT_FALSE(parse_level("secret").has_value());
  EXPECT_GT(Level::RESTRICTED, Level::CONFIDENTIAL);
  EXPECT_GT(Level::CONFIDENTIAL, Level::INTERNAL);
  EXPECT_GT(Level::INTERNAL, Level::PUBLIC);
  EXPECT_EQ(to_string(Level::CONFIDENTIAL), "CONFIDENTIAL");
}

TEST(ErrorCode, MapsToTheDocumentedStatus) {
  EXPECT_EQ(http_status(ErrorCode::budget_exceeded), 402);
  EXPECT_EQ(http_status(ErrorCode::headers_too_large), 431);
  EXPECT_EQ(http_status(ErrorCode::no_local_provider), 503);
  EXPECT_EQ(error_type(ErrorCode::budget_exceeded), "budget_exceeded");
  Result<int> r = make_error(ErrorCode::not_found, "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(http_status(r.error().code), 404);
}

}  // namespace
}  // namespace aegis
