#pragma once
// The writing side of the audit chain (audit/chain.hpp): a store links each
// final row it inserts through its ChainWriter, inside the transaction that
// inserts it, and publishes the new heads once that transaction commits.
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit/chain.hpp"
#include "core/result.hpp"

namespace aegis::audit {

class ChainWriter {
 public:
  // The last committed link of a chain (AuditStore::chain_head), read once
  // per chain and process, inside the writing transaction.
  using HeadLoader = std::function<Result<std::optional<ChainLink>>(const std::string& chain_id)>;

  // writer_id: unique among the processes writing the store now ("gateway"
  // and "jobs" for a database one process owns; prefixed with the replica's
  // owner id on a shared one).
  explicit ChainWriter(std::string writer_id);
  const std::string& writer_id() const noexcept { return writer_id_; }

  // One transaction's links. Holds the writer until it is committed or
  // dropped, so links are handed out in the order their rows commit.
  class Batch {
   public:
    Batch(Batch&&) noexcept = default;
    Batch& operator=(Batch&&) noexcept = delete;
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;
    ~Batch() = default;

    // The next link of the row's month chain.
    Result<ChainLink> link(const AuditRecord& row, const HeadLoader& load_head);
    // The transaction committed: its links become the chains' heads.
    void commit();

   private:
    friend class ChainWriter;
    explicit Batch(ChainWriter& writer);
    ChainWriter* writer_;
    std::unique_lock<std::mutex> lock_;
    std::map<std::string, ChainLink> heads_;  // this batch's view
  };
  Batch begin();

  // Committed heads not yet sealed by a checkpoint.
  std::vector<ChainLink> unsealed_heads() const;
  // A checkpoint of chain_id up to seq was stored.
  void sealed(const std::string& chain_id, std::int64_t seq);

 private:
  std::string writer_id_;
  mutable std::mutex mu_;  // held by a Batch for its transaction
  mutable std::mutex heads_mu_;
  std::map<std::string, ChainLink> heads_;      // committed, by chain id
  std::map<std::string, std::int64_t> sealed_;  // chain id -> sealed seq
};

}  // namespace aegis::audit
