#include "audit/chain_writer.hpp"

#include <utility>

namespace aegis::audit {

ChainWriter::ChainWriter(std::string writer_id) : writer_id_(std::move(writer_id)) {}

ChainWriter::Batch::Batch(ChainWriter& writer) : writer_(&writer), lock_(writer.mu_) {
  std::lock_guard heads(writer.heads_mu_);
  heads_ = writer.heads_;
}

ChainWriter::Batch ChainWriter::begin() { return Batch(*this); }

Result<ChainLink> ChainWriter::Batch::link(const AuditRecord& row, const HeadLoader& load_head) {
  const std::string chain_id = writer_->writer_id_ + "/" + chain_month(row.time_ms);
  auto head = heads_.find(chain_id);
  if (head == heads_.end()) {
    // First row of this chain in this process: resume where the store says
    // the chain ends (a restart), or start it.
    auto stored = load_head(chain_id);
    if (!stored.ok()) return stored.error();
    ChainLink start{chain_id, 0, "", std::string(kGenesisHash)};
    if (stored->has_value()) start = **stored;
    head = heads_.emplace(chain_id, std::move(start)).first;
  }
  ChainLink next{chain_id, head->second.seq + 1, head->second.row_hash, ""};
  next.row_hash = link_hash(next.prev_hash, canonical_row(row, chain_id, next.seq));
  head->second = next;
  return next;
}

void ChainWriter::Batch::commit() {
  std::lock_guard heads(writer_->heads_mu_);
  writer_->heads_ = heads_;
}

std::vector<ChainLink> ChainWriter::unsealed_heads() const {
  std::lock_guard heads(heads_mu_);
  std::vector<ChainLink> out;
  for (const auto& [chain_id, head] : heads_) {
    const auto sealed = sealed_.find(chain_id);
    if (head.seq > 0 && (sealed == sealed_.end() || sealed->second < head.seq)) out.push_back(head);
  }
  return out;
}

void ChainWriter::sealed(const std::string& chain_id, std::int64_t seq) {
  std::lock_guard heads(heads_mu_);
  auto& sealed = sealed_[chain_id];
  if (seq > sealed) sealed = seq;
}

}  // namespace aegis::audit
