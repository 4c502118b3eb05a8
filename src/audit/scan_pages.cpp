#include "audit/scan_pages.hpp"

#include <algorithm>
#include <limits>

namespace aegis::audit {

Result<void> scan_in_pages(const AuditScan& scan, std::int64_t page_rows, const FetchScanPage& fetch,
                           const std::function<bool(const StoredAuditRow&)>& visit) {
  std::int64_t remaining = scan.limit > 0 ? scan.limit : std::numeric_limits<std::int64_t>::max();
  ScanPosition from{scan.after_seq, scan.since_ms.value_or(std::numeric_limits<std::int64_t>::min()),
                    std::numeric_limits<std::int64_t>::min(),
                    scan.until_ms.value_or(std::numeric_limits<std::int64_t>::max())};
  while (remaining > 0) {
    const std::int64_t want = std::min(remaining, page_rows);
    auto page = fetch(from, want);
    if (!page.ok()) return page.error();
    for (const auto& row : page->rows) {
      if (!visit(row)) return {};
    }
    if (static_cast<std::int64_t>(page->rows.size()) < want) return {};
    remaining -= static_cast<std::int64_t>(page->rows.size());
    from.after_seq = page->rows.back().link.seq;
    from.after_time_ms = page->rows.back().record.time_ms;
    from.after_id = page->last_id;
  }
  return {};
}

}  // namespace aegis::audit
