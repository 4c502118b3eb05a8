#include "report/overview.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "core/percentile.hpp"

namespace aegis::report {
namespace {

constexpr std::int64_t kNow = 1'765'100'123'456;  // mid-bucket

audit::AuditRecord at(std::int64_t time_ms, int status, std::int64_t latency_ms, Level level = Level::INTERNAL,
                      std::string surface = "openai.chat") {
  audit::AuditRecord r;
  r.time_ms = time_ms;
  r.status = status;
  r.latency_us = latency_ms * 1000;
  r.level = level;
  r.surface = std::move(surface);
  return r;
}

TEST(OverviewWindow, BucketsAreAlignedToTheStepAndEndWithTheOneHoldingNow) {
  auto w = overview_window(kNow, 3600, 60);
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->points, 60);
  EXPECT_EQ(w->until_ms % 60'000, 0);
  EXPECT_LE(w->until_ms - 60'000, kNow);
  EXPECT_GT(w->until_ms, kNow);
  EXPECT_EQ(w->until_ms - w->since_ms, 3600'000);
  // A window that is not a whole number of steps is rounded up to one.
  EXPECT_EQ(overview_window(kNow, 65, 60)->points, 2);
}

TEST(OverviewWindow, OutOfRangeIsInvalidNamingTheParameter) {
  for (auto [window, step, name] :
       {std::tuple{59, 60, "window_s"}, std::tuple{604'801, 3600, "window_s"}, std::tuple{3600, 9, "step_s"},
        std::tuple{3600, 3601, "step_s"}, std::tuple{86'400, 10, "points"}}) {
    auto w = overview_window(kNow, window, step);
    ASSERT_FALSE(w.ok()) << window << " " << step;
    EXPECT_EQ(w.error().code, ErrorCode::invalid_request);
    EXPECT_NE(w.error().message.find(name), std::string::npos) << w.error().message;
  }
  EXPECT_TRUE(overview_window(kNow, 604'800, 3600).ok());
  EXPECT_TRUE(overview_window(kNow, 10'000, 10).ok());  // exactly 1000 points
}

TEST(OverviewBuilder, CountsRequestsErrorsLevelsAndPercentilesPerStep) {
  const auto w = *overview_window(kNow, 600, 60);
  OverviewBuilder builder(w);
  const std::int64_t first = w.since_ms;
  const std::int64_t last = w.until_ms - 60'000;
  for (int ms = 1; ms <= 100; ++ms) builder.add(at(last + ms, ms <= 3 ? 503 : 200, ms));
  builder.add(at(first, 200, 7, Level::RESTRICTED));
  builder.add(at(first + 1, 499, 1, Level::CONFIDENTIAL));
  builder.add(at(first + 2, 0, 1));                                 // outcome_unknown: an error
  builder.add(at(first + 3, 200, 1, Level::PUBLIC, "admin.keys"));  // not a request
  builder.add(at(first - 1, 200, 1));                               // before the window
  builder.add(at(w.until_ms, 200, 1));                              // after it
  const Overview o = builder.finish(audit::ComplianceTotals{1, 2, 3});
  ASSERT_EQ(o.series.size(), 10u);
  EXPECT_EQ(o.series.front().t_ms, first);
  EXPECT_EQ(o.series.front().requests, 3);
  EXPECT_EQ(o.series.front().errors, 2);
  EXPECT_EQ(o.series[1].requests, 0);
  EXPECT_EQ(o.series[1].p99_ms, 0);
  EXPECT_EQ(o.series.back().t_ms, last);
  EXPECT_EQ(o.series.back().requests, 100);
  EXPECT_EQ(o.series.back().errors, 3);
  EXPECT_DOUBLE_EQ(o.series.back().p50_ms, 50);
  EXPECT_DOUBLE_EQ(o.series.back().p95_ms, 95);
  EXPECT_DOUBLE_EQ(o.series.back().p99_ms, 99);
  EXPECT_EQ(o.requests, 103);
  EXPECT_EQ(o.errors, 5);
  EXPECT_EQ(o.levels[static_cast<std::size_t>(Level::RESTRICTED)], 1);
  EXPECT_EQ(o.levels[static_cast<std::size_t>(Level::CONFIDENTIAL)], 1);
  EXPECT_EQ(o.levels[static_cast<std::size_t>(Level::INTERNAL)], 101);

  const auto j = overview_json(o);
  EXPECT_EQ(j.at("window_s").as_int64(), 600);
  EXPECT_EQ(j.at("series").as_array().size(), 10u);
  EXPECT_EQ(j.at("levels").at("RESTRICTED").as_int64(), 1);
  EXPECT_EQ(j.at("levels").at("PUBLIC").as_int64(), 0);
  EXPECT_EQ(j.at("compliance").at("blocked_sends").as_int64(), 3);
  EXPECT_EQ(j.at("totals").at("requests").as_int64(), 103);
  EXPECT_DOUBLE_EQ(j.at("totals").at("error_ratio").as_double(), 5.0 / 103.0);
}

TEST(NearestRank, IsTheSmallestValueWithTheShareAtOrBelowIt) {
  EXPECT_EQ(nearest_rank({}, 0.5), 0);
  EXPECT_EQ(nearest_rank({7}, 0.99), 7);
  EXPECT_EQ(nearest_rank({1, 2, 3, 4}, 0.5), 2);
  EXPECT_EQ(nearest_rank({1, 2, 3, 4}, 0.51), 3);
  EXPECT_EQ(nearest_rank({1, 2, 3, 4}, 1.0), 4);
}

}  // namespace
}  // namespace aegis::report
