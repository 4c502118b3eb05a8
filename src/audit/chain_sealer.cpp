#include "audit/chain_sealer.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fcntl.h>
#include <unistd.h>

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

Result<std::vector<Checkpoint>> ChainSealer::seal_now() {
  std::lock_guard pass(seal_mu_);
  std::vector<Checkpoint> sealed;
  for (ChainWriter* writer : writers_) {
    for (const ChainLink& head : writer->unsealed_heads()) {
      Checkpoint checkpoint;
      checkpoint.chain_id = head.chain_id;
      checkpoint.seq = head.seq;
      checkpoint.head_hash = head.row_hash;
      checkpoint.sealed_at_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall_now().time_since_epoch()).count();
      checkpoint.key_id = key_.key_id();
      checkpoint.signature = key_.sign(checkpoint_message(checkpoint));
      auto stored = store_.append_checkpoint(checkpoint);
      if (!stored.ok()) return stored.error();
      writer->sealed(head.chain_id, head.seq);
      append_to_file(*stored);
      sealed.push_back(std::move(*stored));
    }
  }
  return sealed;
}

void ChainSealer::append_to_file(const Checkpoint& c) {
  if (checkpoint_file_.empty()) return;
  boost::json::object line{{"id", c.id},
                           {"chain_id", c.chain_id},
                           {"seq", c.seq},
                           {"head_hash", c.head_hash},
                           {"sealed_at_ms", c.sealed_at_ms},
                           {"key_id", c.key_id},
                           {"signature", c.signature}};
  const std::string text = boost::json::serialize(line) + "\n";
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

void ChainSealer::start(std::chrono::seconds interval) {
  thread_ = std::thread([this, interval] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, interval, [this] { return stopping_; })) {
      lock.unlock();
      if (auto sealed = seal_now(); !sealed.ok()) {
        telemetry::log(telemetry::LogLevel::warn, "audit_checkpoint_failed", {{"error", sealed.error().message}});
      }
      lock.lock();
    }
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
