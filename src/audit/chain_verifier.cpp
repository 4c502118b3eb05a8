#include "audit/chain_verifier.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <set>

#include "audit/signing_key.hpp"

namespace aegis::audit {

namespace {

// "row 5 is <what>" / "rows 5-7 are <what>".
std::string rows_are(std::int64_t first, std::int64_t last, std::string_view what) {
  const std::string head = first == last ? "row " + std::to_string(first) + " is "
                                         : "rows " + std::to_string(first) + "-" + std::to_string(last) + " are ";
  return head + std::string(what);
}

// [start, end) in epoch ms of a chain id's month ("<writer>/YYYY-MM"); nothing if it has none.
std::optional<std::pair<std::int64_t, std::int64_t>> chain_month_bounds(const std::string& chain_id) {
  const auto slash = chain_id.rfind('/');
  if (slash == std::string::npos) return std::nullopt;
  int year = 0;
  unsigned month = 0;
  char tail = 0;
  if (std::sscanf(chain_id.c_str() + slash + 1, "%4d-%2u%c", &year, &month, &tail) != 2 || month < 1 || month > 12) {
    return std::nullopt;
  }
  using namespace std::chrono;
  const year_month ym{std::chrono::year(year), std::chrono::month(month)};
  const auto start = duration_cast<milliseconds>(sys_days(ym / 1).time_since_epoch()).count();
  const auto end = duration_cast<milliseconds>(sys_days((ym + months(1)) / 1).time_since_epoch()).count();
  return std::make_pair(start, end);
}

class ChainCheck {
 public:
  // `outside_only`: ids of `checkpoints` that only the outside copy holds.
  ChainCheck(std::string chain_id, std::vector<Checkpoint> checkpoints, const std::set<std::int64_t>& outside_only,
             VerifyReport& report)
      : chain_id_(std::move(chain_id)),
        checkpoints_(std::move(checkpoints)),
        outside_only_(outside_only),
        report_(report) {
    for (const auto& c : checkpoints_) {
      if (outside_only.contains(c.id)) {
        add(FindingKind::missing_checkpoint, c.seq,
            "checkpoint #" + std::to_string(c.id < 0 ? -c.id : c.id) + " (" + chain_id_ + ", row " +
                std::to_string(c.seq) +
                ") is in the outside copy but not in the store, or differs there (removed or rewritten with the "
                "rows it sealed)",
            c.id);
      }
    }
    std::sort(checkpoints_.begin(), checkpoints_.end(), [](const Checkpoint& a, const Checkpoint& b) {
      return a.seq < b.seq || (a.seq == b.seq && a.id < b.id);
    });
  }

  void visit(const StoredAuditRow& row) {
    ++report_.rows;
    const ChainLink& link = row.link;
    bool linked = true;  // whether the link check applies (not after a gap or a reported row)
    if (link.seq > expected_) {
      add(FindingKind::missing_row, expected_, chain_id_ + ": " + rows_are(expected_, link.seq - 1, "missing"));
      linked = false;
    } else if (link.seq < expected_) {
      add(FindingKind::reordered, link.seq,
          chain_id_ + " row " + std::to_string(link.seq) + ": appears again after row " +
              std::to_string(expected_ - 1));
      return;
    }
    const bool intact = link_hash(link.prev_hash, canonical_row(row.record, chain_id_, link.seq)) == link.row_hash;
    if (!intact) {
      if (next_may_be_swap_ && swapped_with_previous(row)) {
        add(FindingKind::reordered, link.seq - 1,
            chain_id_ + " rows " + std::to_string(link.seq - 1) + " and " + std::to_string(link.seq) +
                " hold each other's content (rows reordered)");
        next_may_be_swap_ = false;
      } else {
        if (next_may_be_swap_) flush_pending();
        if (holds_other_seq(row)) {
          add(FindingKind::reordered, link.seq,
              chain_id_ + " row " + std::to_string(link.seq) + ": holds a row written at another position (reordered)");
          next_may_be_swap_ = false;
        } else {
          // Edited, or the first of two swapped rows: the next row tells.
          pending_ = row;
          swap_candidate_ = link_hash(link.row_hash, canonical_row(row.record, chain_id_, link.seq + 1));
          next_may_be_swap_ = true;
        }
      }
    } else {
      if (next_may_be_swap_) flush_pending();
      next_may_be_swap_ = false;
      if (linked && link.prev_hash != previous_hash_) {
        add(FindingKind::broken_link, link.seq,
            chain_id_ + " row " + std::to_string(link.seq) + ": does not link to row " + std::to_string(link.seq - 1) +
                " (its predecessor hash differs; a row before it was rewritten)");
      }
    }
    check_checkpoints_at(link);
    previous_hash_ = link.row_hash;
    expected_ = link.seq + 1;
  }

  void finish() {
    if (next_may_be_swap_) flush_pending();
    next_may_be_swap_ = false;
    const std::int64_t last = expected_ - 1;
    std::int64_t sealed = 0;
    for (const auto& c : checkpoints_) {
      if (c.seq > last) {
        add(FindingKind::truncated, last + 1,
            chain_id_ + " ends at row " + std::to_string(last) + " but checkpoint #" + std::to_string(c.id) +
                " sealed rows up to " + std::to_string(c.seq) + ": " + rows_are(last + 1, c.seq, "missing"),
            c.id);
      }
      sealed = std::max(sealed, std::min(c.seq, last));
    }
    if (last > sealed) {
      add(FindingKind::unsigned_tail, sealed + 1,
          chain_id_ + ": " + rows_are(sealed + 1, last, "not sealed by a checkpoint yet"));
    }
  }

  void check_signatures(const std::map<std::string, std::string>& keys) {
    for (const auto& c : checkpoints_) {
      if (!outside_only_.contains(c.id)) report_.checkpoint_ids.push_back(c.id);
      const auto key = keys.find(c.key_id);
      if (key == keys.end()) {
        add(FindingKind::unknown_key, c.seq,
            "checkpoint #" + std::to_string(c.id) + " (" + chain_id_ + ", row " + std::to_string(c.seq) +
                ") is signed by key " + c.key_id + ", which this verifier does not trust",
            c.id);
      } else if (!verify_signature(key->second, checkpoint_message(c), c.signature)) {
        add(FindingKind::bad_signature, c.seq,
            "checkpoint #" + std::to_string(c.id) + " (" + chain_id_ + ", row " + std::to_string(c.seq) +
                "): its signature does not verify (forged or altered)",
            c.id);
      }
    }
  }

 private:
  void add(FindingKind kind, std::int64_t seq, std::string message, std::int64_t checkpoint_id = 0) {
    if (!reported_.insert(kind).second) return;  // the first of each kind per chain
    report_.findings.push_back(Finding{kind, chain_id_, seq, checkpoint_id, std::move(message)});
  }

  bool swapped_with_previous(const StoredAuditRow& row) const {
    if (pending_.link.seq + 1 != row.link.seq) return false;
    // This row's content, hashed as the previous position, gives the previous row's stored hash.
    return row.link.row_hash == swap_candidate_ &&
           link_hash(pending_.link.prev_hash, canonical_row(row.record, chain_id_, pending_.link.seq)) ==
               pending_.link.row_hash;
  }

  bool holds_other_seq(const StoredAuditRow& row) const {
    for (std::int64_t other : {row.link.seq - 1, row.link.seq + 1}) {
      if (other < 1) continue;
      if (link_hash(row.link.prev_hash, canonical_row(row.record, chain_id_, other)) == row.link.row_hash) return true;
    }
    return false;
  }

  void flush_pending() {
    add(FindingKind::edited, pending_.link.seq,
        chain_id_ + " row " + std::to_string(pending_.link.seq) +
            ": its content no longer matches its hash (edited after it was written)");
  }

  void check_checkpoints_at(const ChainLink& link) {
    for (const auto& c : checkpoints_) {
      if (c.seq == link.seq && c.head_hash != link.row_hash) {
        add(FindingKind::head_mismatch, c.seq,
            "checkpoint #" + std::to_string(c.id) + " sealed " + chain_id_ + " at row " + std::to_string(c.seq) +
                " with a hash that row no longer has (rows up to it were rewritten)",
            c.id);
      }
    }
  }

  std::string chain_id_;
  std::vector<Checkpoint> checkpoints_;
  const std::set<std::int64_t>& outside_only_;
  VerifyReport& report_;
  std::set<FindingKind> reported_;
  std::int64_t expected_ = 1;
  std::string previous_hash_{kGenesisHash};
  bool next_may_be_swap_ = false;
  std::string swap_candidate_;
  StoredAuditRow pending_;
};

}  // namespace

std::string_view to_string(FindingKind kind) noexcept {
  switch (kind) {
    case FindingKind::edited: return "edited";
    case FindingKind::broken_link: return "broken_link";
    case FindingKind::missing_row: return "missing_row";
    case FindingKind::reordered: return "reordered";
    case FindingKind::truncated: return "truncated";
    case FindingKind::head_mismatch: return "head_mismatch";
    case FindingKind::bad_signature: return "bad_signature";
    case FindingKind::unknown_key: return "unknown_key";
    case FindingKind::unsigned_tail: return "unsigned_tail";
    case FindingKind::missing_checkpoint: return "missing_checkpoint";
  }
  return "unknown";
}

bool VerifyReport::intact() const noexcept {
  return std::all_of(findings.begin(), findings.end(),
                     [](const Finding& f) { return f.kind == FindingKind::unsigned_tail; });
}

int VerifyReport::exit_code() const noexcept {
  if (!intact()) return 1;
  return findings.empty() ? 0 : 3;
}

Result<VerifyReport> verify_audit_chains(AuditStore& store, const VerifyOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  VerifyReport report;
  auto chains = store.list_chains();
  if (!chains.ok()) return chains.error();
  auto checkpoints = store.list_checkpoints(std::nullopt);
  if (!checkpoints.ok()) return checkpoints.error();
  std::map<std::string, std::vector<Checkpoint>> sealed_by_chain;
  std::map<std::int64_t, const Checkpoint*> stored_by_id;
  for (const auto& c : *checkpoints) stored_by_id.emplace(c.id, &c);
  // An outside checkpoint the store lacks (or holds altered) is checked
  // against the rows as if it were stored: the rows it sealed must be there.
  std::set<std::int64_t> outside_only;
  std::vector<Checkpoint> added;
  for (const auto& c : options.outside_checkpoints) {
    const auto stored = stored_by_id.find(c.id);
    const bool same = stored != stored_by_id.end() && stored->second->chain_id == c.chain_id &&
                      stored->second->seq == c.seq && stored->second->head_hash == c.head_hash &&
                      stored->second->key_id == c.key_id && stored->second->signature == c.signature;
    if (same) continue;
    Checkpoint copy = c;
    if (stored != stored_by_id.end()) copy.id = -c.id;  // beside the altered one, under an id of its own
    outside_only.insert(copy.id);
    added.push_back(std::move(copy));
  }
  for (auto& c : *checkpoints) sealed_by_chain[c.chain_id].push_back(std::move(c));
  for (auto& c : added) sealed_by_chain[c.chain_id].push_back(std::move(c));

  const std::int64_t since = options.since_ms.value_or(std::numeric_limits<std::int64_t>::min());
  const std::int64_t until = options.until_ms.value_or(std::numeric_limits<std::int64_t>::max());
  std::set<std::string> with_rows;
  for (const auto& chain : *chains) {
    with_rows.insert(chain.chain_id);
    if (chain.last_time_ms < since || chain.first_time_ms >= until) continue;
    ++report.chains;
    auto sealed = sealed_by_chain.find(chain.chain_id);
    ChainCheck check(chain.chain_id, sealed == sealed_by_chain.end() ? std::vector<Checkpoint>{} : sealed->second,
                     outside_only, report);
    check.check_signatures(options.public_keys);
    AuditScan scan;
    scan.chain_id = chain.chain_id;
    auto scanned = store.scan_audit(scan, [&](const StoredAuditRow& row) {
      check.visit(row);
      return true;
    });
    if (!scanned.ok()) return scanned.error();
    check.finish();
  }
  // Sealed chains with no row left: dropped by retention, or deleted.
  for (const auto& [chain_id, sealed] : sealed_by_chain) {
    if (with_rows.contains(chain_id)) continue;
    const auto month = chain_month_bounds(chain_id);
    if (month && (month->second <= since || month->first >= until)) continue;
    if (month && options.retained_from_ms && month->second <= *options.retained_from_ms) {
      ++report.retired_chains;
      continue;
    }
    ++report.chains;
    ChainCheck check(chain_id, sealed, outside_only, report);
    check.check_signatures(options.public_keys);
    check.finish();
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

Result<std::int64_t> record_chain_failures(BreachStore& breaches, const VerifyReport& report, std::int64_t now_ms,
                                           bool include_unknown_keys) {
  std::int64_t recorded = 0;
  for (const auto& finding : report.findings) {
    if (finding.kind == FindingKind::unsigned_tail) continue;
    if (finding.kind == FindingKind::unknown_key && !include_unknown_keys) continue;
    Breach breach;
    breach.detected_at_ms = now_ms;
    breach.kind = std::string(kBreachChainFailure);
    breach.ref = finding.chain_id + "#" + std::string(to_string(finding.kind)) + "#" + std::to_string(finding.seq);
    breach.detail = finding.message;
    breach.updated_at_ms = now_ms;
    auto created = breaches.record_breach(breach);
    if (!created.ok()) return created.error();
    if (*created) ++recorded;
  }
  return recorded;
}

std::optional<std::int64_t> retained_from_ms(int retention_months, std::int64_t now_ms) {
  if (retention_months <= 0) return std::nullopt;
  using namespace std::chrono;
  const year_month_day today(floor<days>(sys_time<milliseconds>(milliseconds(now_ms))));
  const year_month oldest = year_month(today.year(), today.month()) - months(retention_months);
  return duration_cast<milliseconds>(sys_days(oldest / 1).time_since_epoch()).count();
}

}  // namespace aegis::audit
