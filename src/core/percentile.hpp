#pragma once
// Nearest-rank percentiles, for the few places that summarise a sample they
// hold (the console's overview series, a provider's recent latencies);
// metrics themselves are histograms (telemetry/metrics.hpp).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace aegis {

// The nearest-rank percentile q (0 < q <= 1) of values sorted ascending: the
// smallest value with at least q of the sample at or below it; 0 when empty.
inline std::int64_t nearest_rank(const std::vector<std::int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace aegis
