#include "audit/chain_sealer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "audit/checkpoint_file.hpp"
#include "telemetry/log.hpp"

namespace aegis::audit {

ChainSealer::ChainSealer(AuditStore& store, const SigningKey& key, std::vector<ChainWriter*> writers,
                         const Clock& clock, std::string checkpoint_file)
    : store_(store),
      key_(key),
      writers_(std::move(writers)),
      clock_(clock),
      checkpoint_file_(std::move(checkpoint_file)) {}

ChainSealer::~ChainSealer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<Checkpoint> ChainSealer::seal_head(const ChainLink& head) {
  Checkpoint checkpoint;
  checkpoint.chain_id = head.chain_id;
  checkpoint.seq = head.seq;
  checkpoint.head_hash = head.row_hash;
  checkpoint.sealed_at_ms = clock_.wall_ms();
  checkpoint.key_id = key_.key_id();
  checkpoint.signature = key_.sign(checkpoint_message(checkpoint));
  auto stored = store_.append_checkpoint(checkpoint);
  if (!stored.ok()) return stored.error();
  append_to_file(*stored);
  return stored;
}

Result<std::vector<Checkpoint>> ChainSealer::seal_now() {
  std::lock_guard pass(seal_mu_);
  std::vector<Checkpoint> sealed;
  for (ChainWriter* writer : writers_) {
    for (const ChainLink& head : writer->unsealed_heads()) {
      auto stored = seal_head(head);
      if (!stored.ok()) return stored.error();
      writer->sealed(head.chain_id, head.seq);
      sealed.push_back(std::move(*stored));
    }
  }
  return sealed;
}

bool ChainSealer::owns(const std::string& chain_id) const {
  return std::any_of(writers_.begin(), writers_.end(),
                     [&](const ChainWriter* writer) { return chain_id.starts_with(writer->writer_id() + "/"); });
}

Result<std::int64_t> ChainSealer::seal_stopped_writers(const VerifyReport& report) {
  // Only chains whose one finding is their unsigned tail: sealing a tampered
  // chain would vouch for the tampering.
  std::map<std::string, bool> tail_only;
  for (const auto& finding : report.findings) {
    auto [it, added] = tail_only.emplace(finding.chain_id, true);
    if (finding.kind != FindingKind::unsigned_tail) it->second = false;
  }
  if (std::none_of(tail_only.begin(), tail_only.end(), [](const auto& entry) { return entry.second; })) return 0;
  auto chains = store_.list_chains();
  if (!chains.ok()) return chains.error();
  const auto now = clock_.wall_ms();
  const auto stopped_before = now - std::chrono::duration_cast<std::chrono::milliseconds>(kStoppedWriterAfter).count();
  std::lock_guard pass(seal_mu_);
  std::int64_t sealed = 0;
  for (const auto& chain : *chains) {
    const auto candidate = tail_only.find(chain.chain_id);
    if (candidate == tail_only.end() || !candidate->second || owns(chain.chain_id)) continue;
    if (chain.last_time_ms >= stopped_before) continue;
    auto head = store_.chain_head(chain.chain_id);
    if (!head.ok()) return head.error();
    if (!head->has_value()) continue;
    auto stored = seal_head(**head);
    if (!stored.ok()) return stored.error();
    telemetry::log(telemetry::LogLevel::info, "audit_chain_sealed_for_stopped_writer",
                   {{"chain_id", chain.chain_id}, {"seq", (*head)->seq}, {"checkpoint", stored->id}});
    ++sealed;
  }
  return sealed;
}

void ChainSealer::append_to_file(const Checkpoint& c) {
  if (checkpoint_file_.empty()) return;
  const std::string text = checkpoint_line(c);
  const int fd = ::open(checkpoint_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  const bool ok =
      fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!ok) {
    // The checkpoint is in the store; only the outside copy is missing.
    telemetry::log(telemetry::LogLevel::warn, "audit_checkpoint_file_failed",
                   {{"path", checkpoint_file_}, {"checkpoint", c.id}});
  }
}

void ChainSealer::verify_every(std::chrono::seconds interval, int retention_months, BreachStore& breaches,
                               std::function<void(const VerifyReport&)> on_verified) {
  verify_interval_ = interval;
  retention_months_ = retention_months;
  breaches_ = &breaches;
  on_verified_ = std::move(on_verified);
}

Result<VerifyReport> ChainSealer::verify_now() {
  const auto now = clock_.wall_ms();
  VerifyOptions options;
  options.public_keys = {{key_.key_id(), key_.public_key_raw()}};
  // A month that retention dropped is not a truncated chain.
  options.retained_from_ms = retained_from_ms(retention_months_, now);
  auto outside = read_configured_checkpoint_file(checkpoint_file_);
  if (!outside.ok()) return outside.error();
  options.outside_checkpoints = std::move(*outside);
  auto report = verify_audit_chains(store_, options);
  if (!report.ok()) return report.error();
  if (breaches_ != nullptr) {
    // Other replicas may sign with keys of their own: only `aegis audit verify`,
    // given every key, judges those.
    auto recorded = record_chain_failures(*breaches_, *report, now, /*include_unknown_keys=*/false);
    if (!recorded.ok()) return recorded.error();
    if (!report->intact()) {
      telemetry::log(telemetry::LogLevel::error, "audit_chain_tampered",
                     {{"findings", report->findings.size()}, {"new_breaches", *recorded}});
    }
  }
  if (on_verified_) on_verified_(*report);
  if (auto sealed = seal_stopped_writers(*report); !sealed.ok()) return sealed.error();
  return report;
}

void ChainSealer::start(std::chrono::seconds interval) {
  thread_ = std::thread([this, interval] {
    auto next_verify = std::chrono::steady_clock::now();  // once at start-up, then every verify_interval_
    std::unique_lock lock(mu_);
    do {
      lock.unlock();
      if (auto sealed = seal_now(); !sealed.ok()) {
        telemetry::log(telemetry::LogLevel::warn, "audit_checkpoint_failed", {{"error", sealed.error().message}});
      }
      if (verify_interval_.count() > 0 && std::chrono::steady_clock::now() >= next_verify) {
        next_verify = std::chrono::steady_clock::now() + verify_interval_;
        if (auto verified = verify_now(); !verified.ok()) {
          telemetry::log(telemetry::LogLevel::warn, "audit_verify_failed", {{"error", verified.error().message}});
        }
      }
      lock.lock();
    } while (!cv_.wait_for(lock, interval, [this] { return stopping_; }));
  });
}

void ChainSealer::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (auto sealed = seal_now(); !sealed.ok()) {
    telemetry::log(telemetry::LogLevel::warn, "audit_checkpoint_failed", {{"error", sealed.error().message}});
  } else if (!sealed->empty()) {
    telemetry::log(telemetry::LogLevel::info, "audit_chains_sealed", {{"checkpoints", sealed->size()}});
  }
}

}  // namespace aegis::audit
