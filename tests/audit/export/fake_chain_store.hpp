#pragma once
// An in-memory AuditStore holding chains of rows and checkpoints, for the
// SIEM export tests: rows are appended per chain with consecutive seqs, and
// reads can be made to fail.
#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "audit/audit_store.hpp"

namespace aegis::audit::siem::test {

class FakeChainStore final : public AuditStore {
 public:
  // Appends a row to `chain` (seq = previous + 1) at time_ms; returns its seq.
  std::int64_t add_row(const std::string& chain, std::int64_t time_ms, const std::string& request_id = {}) {
    std::lock_guard lock(mu_);
    auto& rows = chains_[chain];
    StoredAuditRow row;
    row.record.time_ms = time_ms;
    row.record.request_id = request_id.empty() ? chain + "#" + std::to_string(rows.size() + 1) : request_id;
    row.record.team = "team-a";
    row.record.level = Level::RESTRICTED;
    row.record.entities = {{"EMAIL", 2}};
    row.record.cost = Money::from_micros(1234);
    row.link.chain_id = chain;
    row.link.seq = static_cast<std::int64_t>(rows.size()) + 1;
    row.link.prev_hash = rows.empty() ? std::string(kGenesisHash) : rows.back().link.row_hash;
    row.link.row_hash = "hash-" + chain + "-" + std::to_string(row.link.seq);
    rows.push_back(row);
    return row.link.seq;
  }
  void add_checkpoint(const std::string& chain, std::int64_t seq, std::int64_t sealed_at_ms) {
    std::lock_guard lock(mu_);
    Checkpoint checkpoint;
    checkpoint.id = static_cast<std::int64_t>(checkpoints_.size()) + 1;
    checkpoint.chain_id = chain;
    checkpoint.seq = seq;
    checkpoint.head_hash = "hash-" + chain + "-" + std::to_string(seq);
    checkpoint.sealed_at_ms = sealed_at_ms;
    checkpoint.key_id = "key-1";
    checkpoint.signature = "c2lnbmF0dXJl";
    checkpoints_.push_back(checkpoint);
  }
  void fail_reads(bool fail) {
    std::lock_guard lock(mu_);
    fail_reads_ = fail;
  }

  Result<void> append_audit(const std::vector<AuditRecord>&) override { return unused(); }
  Result<std::vector<AuditRecord>> query_audit(const AuditQuery&) override { return unused(); }
  Result<std::int64_t> count_pipeda_violations() override { return unused(); }
  Result<std::vector<TeamSpend>> load_spend(const std::string&) override { return unused(); }
  Result<std::int64_t> recover_pending() override { return unused(); }
  Result<std::optional<ChainLink>> chain_head(const std::string&) override { return unused(); }
  Result<Checkpoint> append_checkpoint(const Checkpoint&) override { return unused(); }

  Result<void> scan_audit(const AuditScan& scan, const std::function<bool(const StoredAuditRow&)>& visit) override {
    std::vector<StoredAuditRow> selected;
    {
      std::lock_guard lock(mu_);
      if (fail_reads_) return make_error(ErrorCode::unavailable, "store down");
      if (!scan.chain_id) return make_error(ErrorCode::internal, "the exporter scans one chain at a time");
      for (const auto& row : chains_[*scan.chain_id]) {
        if (row.link.seq <= scan.after_seq) continue;
        if (scan.limit > 0 && static_cast<std::int64_t>(selected.size()) == scan.limit) break;
        selected.push_back(row);
      }
    }
    for (const auto& row : selected) {
      if (!visit(row)) break;
    }
    return {};
  }
  int list_chains_calls() {
    std::lock_guard lock(mu_);
    return list_chains_calls_;
  }

  Result<std::vector<ChainSummary>> list_chains() override {
    std::lock_guard lock(mu_);
    ++list_chains_calls_;
    if (fail_reads_) return make_error(ErrorCode::unavailable, "store down");
    std::vector<ChainSummary> out;
    for (const auto& [id, rows] : chains_) {
      if (rows.empty()) continue;
      out.push_back(ChainSummary{id, 1, rows.back().link.seq, static_cast<std::int64_t>(rows.size()),
                                 rows.front().record.time_ms, rows.back().record.time_ms});
    }
    return out;
  }
  Result<std::vector<Checkpoint>> list_checkpoints(const std::optional<std::string>& chain_id) override {
    std::lock_guard lock(mu_);
    if (fail_reads_) return make_error(ErrorCode::unavailable, "store down");
    std::vector<Checkpoint> out;
    for (const auto& c : checkpoints_) {
      if (!chain_id || c.chain_id == *chain_id) out.push_back(c);
    }
    return out;
  }

 private:
  static Error unused() { return make_error(ErrorCode::internal, "not used by the exporter"); }

  std::mutex mu_;
  std::map<std::string, std::vector<StoredAuditRow>> chains_;
  std::vector<Checkpoint> checkpoints_;
  bool fail_reads_ = false;
  int list_chains_calls_ = 0;
};

}  // namespace aegis::audit::siem::test
