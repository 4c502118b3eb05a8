#pragma once
// The paging both store backends run AuditStore::scan_audit with: keyset
// pages (by chain seq, or by time_ms and row id), each fetched under the
// store's own lock or session and visited after it is released, so a scan of
// millions of rows neither holds writers off nor holds the rows in memory.
#include <cstdint>
#include <functional>
#include <vector>

#include "audit/audit_store.hpp"
#include "core/result.hpp"

namespace aegis::audit {

// Where the next page starts: after this seq (a chain scan), or after this
// (time_ms, id) and before until_ms (a time scan).
struct ScanPosition {
  std::int64_t after_seq = 0;
  std::int64_t after_time_ms = 0;
  std::int64_t after_id = 0;
  std::int64_t until_ms = 0;
};

struct ScanPage {
  std::vector<StoredAuditRow> rows;
  std::int64_t last_id = 0;  // the store's row id of the last row
};

// Up to `want` rows from `from`, in the scan's order.
using FetchScanPage = std::function<Result<ScanPage>(const ScanPosition& from, std::int64_t want)>;

Result<void> scan_in_pages(const AuditScan& scan, std::int64_t page_rows, const FetchScanPage& fetch,
                           const std::function<bool(const StoredAuditRow&)>& visit);

}  // namespace aegis::audit
