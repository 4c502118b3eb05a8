#include "report/overview.hpp"

#include <algorithm>
#include <string>

#include "core/classification.hpp"
#include "core/percentile.hpp"

namespace aegis::report {

namespace json = boost::json;

Result<OverviewWindow> overview_window(std::int64_t now_ms, std::int64_t window_s, std::int64_t step_s) {
  if (window_s < kOverviewMinWindowS || window_s > kOverviewMaxWindowS) {
    return make_error(ErrorCode::invalid_request, "window_s must be a whole number of seconds from " +
                                                      std::to_string(kOverviewMinWindowS) + " to " +
                                                      std::to_string(kOverviewMaxWindowS));
  }
  if (step_s < kOverviewMinStepS || step_s > kOverviewMaxStepS) {
    return make_error(ErrorCode::invalid_request, "step_s must be a whole number of seconds from " +
                                                      std::to_string(kOverviewMinStepS) + " to " +
                                                      std::to_string(kOverviewMaxStepS));
  }
  const std::int64_t points = (window_s + step_s - 1) / step_s;
  if (points > kOverviewMaxPoints) {
    return make_error(ErrorCode::invalid_request, "window_s / step_s must be at most " +
                                                      std::to_string(kOverviewMaxPoints) +
                                                      " points: raise step_s or lower window_s");
  }
  OverviewWindow w;
  w.window_s = window_s;
  w.step_s = step_s;
  w.points = points;
  const std::int64_t step_ms = step_s * 1000;
  const std::int64_t last_start = now_ms - (((now_ms % step_ms) + step_ms) % step_ms);
  w.since_ms = last_start - (points - 1) * step_ms;
  w.until_ms = last_start + step_ms;
  return w;
}

OverviewBuilder::OverviewBuilder(OverviewWindow window)
    : window_(window),
      latencies_us_(static_cast<std::size_t>(window.points)),
      errors_(static_cast<std::size_t>(window.points), 0) {}

void OverviewBuilder::add(const audit::AuditRecord& row) {
  if (row.time_ms < window_.since_ms || row.time_ms >= window_.until_ms) return;
  if (row.surface.starts_with("admin.")) return;
  const auto bucket = static_cast<std::size_t>((row.time_ms - window_.since_ms) / (window_.step_s * 1000));
  latencies_us_[bucket].push_back(row.latency_us);
  if (row.status < 200 || row.status > 299) ++errors_[bucket];
  ++levels_[static_cast<std::size_t>(row.level)];
}

Overview OverviewBuilder::finish(const audit::ComplianceTotals& compliance) const {
  Overview out;
  out.window = window_;
  out.levels = levels_;
  out.compliance = compliance;
  out.series.reserve(latencies_us_.size());
  auto ms = [](std::int64_t us) { return static_cast<double>(us) / 1000.0; };
  for (std::size_t i = 0; i < latencies_us_.size(); ++i) {
    std::vector<std::int64_t> sorted = latencies_us_[i];
    std::sort(sorted.begin(), sorted.end());
    OverviewPoint point;
    point.t_ms = window_.since_ms + static_cast<std::int64_t>(i) * window_.step_s * 1000;
    point.requests = static_cast<std::int64_t>(sorted.size());
    point.errors = errors_[i];
    point.p50_ms = ms(nearest_rank(sorted, 0.50));
    point.p95_ms = ms(nearest_rank(sorted, 0.95));
    point.p99_ms = ms(nearest_rank(sorted, 0.99));
    out.requests += point.requests;
    out.errors += point.errors;
    out.series.push_back(point);
  }
  return out;
}

json::object overview_json(const Overview& overview) {
  json::array series;
  series.reserve(overview.series.size());
  for (const auto& p : overview.series) {
    series.push_back(json::object{{"t", p.t_ms},
                                  {"requests", p.requests},
                                  {"errors", p.errors},
                                  {"p50_ms", p.p50_ms},
                                  {"p95_ms", p.p95_ms},
                                  {"p99_ms", p.p99_ms}});
  }
  json::object levels;
  for (std::size_t i = 0; i < overview.levels.size(); ++i) {
    levels[to_string(static_cast<Level>(i))] = overview.levels[i];
  }
  const double ratio =
      overview.requests == 0 ? 0.0 : static_cast<double>(overview.errors) / static_cast<double>(overview.requests);
  return json::object{
      {"window_s", overview.window.window_s},
      {"step_s", overview.window.step_s},
      {"series", std::move(series)},
      {"levels", std::move(levels)},
      {"compliance", json::object{{"violations", overview.compliance.violations},
                                  {"egress_vetoes", overview.compliance.egress_vetoes},
                                  {"blocked_sends", overview.compliance.blocked_sends}}},
      {"totals", json::object{{"requests", overview.requests}, {"errors", overview.errors}, {"error_ratio", ratio}}}};
}

}  // namespace aegis::report
