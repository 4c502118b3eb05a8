#pragma once
// The admin console's overview (GET /admin/v1/overview): requests, errors and
// latency percentiles per time step over a recent window, the window's mix
// of classification levels, and the trail's all-time compliance counts.
//
// Everything comes from the audit trail, so every replica on one database
// shows the same figures: a row holds the request's status, level and
// latency (audit/record.hpp). Like ReportBuilder, a pure function of the rows
// handed in; api/admin_console.cpp reads them with AuditStore::scan_audit.
#include <boost/json/object.hpp>

#include <array>
#include <cstdint>
#include <vector>

#include "audit/audit_store.hpp"
#include "audit/record.hpp"
#include "core/result.hpp"

namespace aegis::report {

inline constexpr std::int64_t kOverviewMinWindowS = 60;
inline constexpr std::int64_t kOverviewMaxWindowS = std::int64_t{7} * 24 * 3600;
inline constexpr std::int64_t kOverviewMinStepS = 10;
inline constexpr std::int64_t kOverviewMaxStepS = 3600;
inline constexpr std::int64_t kOverviewMaxPoints = 1000;

// The buckets: `points` steps of step_ms, the first starting at since_ms and
// the last holding now (bucket starts are multiples of the step since the
// epoch, so consecutive calls line up).
struct OverviewWindow {
  std::int64_t window_s = 3600;
  std::int64_t step_s = 60;
  std::int64_t since_ms = 0;
  std::int64_t until_ms = 0;  // exclusive: the end of the last bucket
  std::int64_t points = 0;
};

// invalid_request naming the parameter for a window or step out of range, or
// more than kOverviewMaxPoints steps.
Result<OverviewWindow> overview_window(std::int64_t now_ms, std::int64_t window_s, std::int64_t step_s);

struct OverviewPoint {
  std::int64_t t_ms = 0;  // the bucket's start
  std::int64_t requests = 0;
  std::int64_t errors = 0;
  double p50_ms = 0;
  double p95_ms = 0;
  double p99_ms = 0;
};

struct Overview {
  OverviewWindow window;
  std::vector<OverviewPoint> series;     // oldest first, one per step, zeros where nothing happened
  std::array<std::int64_t, 4> levels{};  // requests of the window by Level
  std::int64_t requests = 0;
  std::int64_t errors = 0;
  audit::ComplianceTotals compliance;  // all time, not the window's
};

// What counts: a row is a request unless it records an administrative action
// (surface "admin.*", e.g. a key rotation); an error is a request whose status
// is not 2xx (a 499 client gone and a 0 outcome_unknown included).
class OverviewBuilder {
 public:
  explicit OverviewBuilder(OverviewWindow window);
  // Rows outside the window are ignored.
  void add(const audit::AuditRecord& row);
  Overview finish(const audit::ComplianceTotals& compliance) const;

 private:
  OverviewWindow window_;
  std::vector<std::vector<std::int64_t>> latencies_us_;  // per bucket
  std::vector<std::int64_t> errors_;
  std::array<std::int64_t, 4> levels_{};
};

boost::json::object overview_json(const Overview& overview);

}  // namespace aegis::report
