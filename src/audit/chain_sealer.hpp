#pragma once
// Seals the heads of the audit chains (audit/chain.hpp) in signed
// checkpoints: every audit.checkpoint_interval_s on a thread of its own, and
// once more at shutdown after the last rows are written. Each checkpoint is
// stored with the audit data and, when configured, appended to a file the
// database's administrators cannot rewrite.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_store.hpp"
#include "audit/chain_verifier.hpp"
#include "audit/chain_writer.hpp"
#include "audit/signing_key.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"

namespace aegis::audit {

class ChainSealer {
 public:
  // `writers` (non-null) and the others outlive the sealer. `checkpoint_file`:
  // empty for none.
  ChainSealer(AuditStore& store, const SigningKey& key, std::vector<ChainWriter*> writers, const Clock& clock,
              std::string checkpoint_file);
  ~ChainSealer();
  ChainSealer(const ChainSealer&) = delete;
  ChainSealer& operator=(const ChainSealer&) = delete;

  // Seals every head written since the last seal; returns the checkpoints
  // stored. A failing store leaves the heads for the next pass.
  Result<std::vector<Checkpoint>> seal_now();

  // Also verify every chain (with this sealer's key) every `interval` on the
  // same thread, recording tampering in `breaches` (audit/chain_verifier.hpp)
  // and reporting each result to `on_verified`. `retention_months`
  // (storage.audit_retention_months, 0 for none) tells a month that retention
  // dropped from one that was deleted. Call before start().
  void verify_every(std::chrono::seconds interval, int retention_months, BreachStore& breaches,
                    std::function<void(const VerifyReport&)> on_verified);
  // Verifies now and records what it finds (see verify_every). Then seals
  // the tails of other writers' chains that are intact and whose last row is
  // older than kStoppedWriterAfter: a process that died (or a month that
  // ended) before its own last seal. The returned report is from before.
  Result<VerifyReport> verify_now();

  // An unsealed tail this old belongs to a writer that stopped: a live one
  // seals its own every checkpoint interval.
  static constexpr std::chrono::minutes kStoppedWriterAfter{10};

  void start(std::chrono::seconds interval);
  // Stops the thread and seals what is left: call after the last row is written.
  void stop();

 private:
  void append_to_file(const Checkpoint& checkpoint);
  Result<Checkpoint> seal_head(const ChainLink& head);
  Result<std::int64_t> seal_stopped_writers(const VerifyReport& report);
  bool owns(const std::string& chain_id) const;

  AuditStore& store_;
  const SigningKey& key_;
  std::vector<ChainWriter*> writers_;
  const Clock& clock_;
  std::string checkpoint_file_;
  std::chrono::seconds verify_interval_{0};
  int retention_months_ = 0;
  BreachStore* breaches_ = nullptr;
  std::function<void(const VerifyReport&)> on_verified_;
  std::mutex seal_mu_;  // one pass at a time
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace aegis::audit
