#include "audit/audit_writer.hpp"

#include <algorithm>
#include <utility>

#include "telemetry/log.hpp"

namespace aegis::audit {

using telemetry::LogLevel;

namespace {

// Not the injectable Clock: these are condition-variable timeouts (batching
// delay, backoff, drain deadline), which only a real clock can wake.
using SteadyClock = std::chrono::steady_clock;

AuditWriterOptions sanitize(AuditWriterOptions o) {
  o.max_queue = std::max<std::size_t>(o.max_queue, 1);
  o.max_batch = std::max<std::size_t>(o.max_batch, 1);
  o.initial_backoff = std::max(o.initial_backoff, std::chrono::milliseconds(1));
  o.max_backoff = std::max(o.max_backoff, o.initial_backoff);
  return o;
}

}  // namespace

AuditWriter::AuditWriter(AuditStore& store, telemetry::Registry& registry, Options options)
    : store_(store),
      options_(sanitize(options)),
      written_metric_(registry.counter("aegis_audit_rows_written_total", "Audit rows written to the store").with({})),
      intents_metric_(registry
                          .counter("aegis_audit_intents_written_total",
                                   "Audit intents (a request's row as routed, written during its provider call)")
                          .with({})),
      dropped_metric_(
          registry
              .counter("aegis_audit_rows_dropped_total",
                       "Audit rows lost: queue full, recorded after stop, or the store kept failing at stop")
              .with({})),
      errors_metric_(
          registry.counter("aegis_audit_write_errors_total", "Failed audit batch writes (each is retried)").with({})),
      depth_metric_(registry.gauge("aegis_audit_queue_depth", "Audit rows waiting to be written").with({})) {
  thread_ = std::thread([this] { run(); });
}

AuditWriter::~AuditWriter() { stop(); }

void AuditWriter::record(AuditRecord record) { enqueue(std::move(record), nullptr); }

bool AuditWriter::accepting() const noexcept {
  return !failing_.load(std::memory_order_relaxed) &&
         depth_.load(std::memory_order_relaxed) < options_.max_queue - options_.max_queue / 4;
}

void AuditWriter::record_durable(AuditRecord record, DurableHandler done) {
  if (!enqueue(std::move(record), &done)) std::move(done)(false);
}

bool AuditWriter::enqueue(AuditRecord record, DurableHandler* done) {
  std::unique_lock lock(mu_);
  if (stopping_ || queue_.size() >= options_.max_queue) {
    ++dropped_;
    const bool first = !dropping_;
    const char* reason = stopping_ ? "writer stopped" : "queue full";
    dropping_ = true;
    lock.unlock();
    dropped_metric_.inc();
    if (first) log(LogLevel::warn, "audit_rows_dropping", {{"reason", reason}});
    return false;
  }
  dropping_ = false;
  queue_.push_back(std::move(record));
  ++accepted_;
  if (done) waiters_.push_back(Waiter{accepted_, SteadyClock::now() + options_.durable_wait_limit, std::move(*done)});
  const std::size_t depth = queue_.size();
  depth_.store(depth, std::memory_order_relaxed);
  depth_metric_.set(static_cast<double>(depth));
  lock.unlock();
  // The writer waits either for a first row or for a full batch; waking it on
  // every row would cost a context switch per request. A waiting caller wakes
  // it always: its row must not sit out the batching delay.
  if (done || depth == 1 || depth == options_.max_batch) work_cv_.notify_one();
  return true;
}

void AuditWriter::complete_waiters(bool written) {
  // Waiters are in row order and rows settle in order, so the settled ones are at the front.
  while (!waiters_.empty() && waiters_.front().row <= settled_) {
    // Invoked under mu_ (it only posts to the caller's executor), so that a
    // flush() that returns has every completion of the rows it covered posted.
    std::move(waiters_.front().done)(written);
    waiters_.pop_front();
  }
}

void AuditWriter::expire_waiters(SteadyClock::time_point now) {
  // Limits are taken in row order too, so the expired ones are at the front.
  while (!waiters_.empty() && waiters_.front().give_up_at <= now) {
    std::move(waiters_.front().done)(false);
    waiters_.pop_front();
  }
}

bool AuditWriter::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  const std::uint64_t target = accepted_;
  if (settled_ >= target) return true;
  ++flush_waiters_;
  work_cv_.notify_one();
  const bool done = done_cv_.wait_for(lock, timeout, [&] { return settled_ >= target; });
  --flush_waiters_;
  return done;
}

void AuditWriter::flush() {
  std::unique_lock lock(mu_);
  const std::uint64_t target = accepted_;
  if (settled_ >= target) return;
  ++flush_waiters_;
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return settled_ >= target; });
  --flush_waiters_;
}

void AuditWriter::stop() {
  std::lock_guard join_lock(join_mu_);
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      stop_deadline_ = SteadyClock::now() + options_.drain_timeout;
    }
  }
  work_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t AuditWriter::rows_written() const noexcept {
  std::lock_guard lock(mu_);
  return written_;
}

std::uint64_t AuditWriter::rows_dropped() const noexcept {
  std::lock_guard lock(mu_);
  return dropped_;
}

void AuditWriter::run() {
  std::vector<AuditRecord> batch;
  batch.reserve(options_.max_batch);
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping, and everything is written
    // Someone waiting for a row (flush, a durable record) ends the batching delay.
    auto urgent = [&] { return flush_waiters_ > 0 || !waiters_.empty(); };
    if (queue_.size() < options_.max_batch && !stopping_ && !urgent()) {
      work_cv_.wait_until(lock, SteadyClock::now() + options_.max_delay,
                          [&] { return queue_.size() >= options_.max_batch || stopping_ || urgent(); });
    }
    const std::size_t n = std::min(queue_.size(), options_.max_batch);
    batch.clear();
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    depth_.store(queue_.size(), std::memory_order_relaxed);
    depth_metric_.set(static_cast<double>(queue_.size()));
    lock.unlock();
    // Once stop() has given up on a failing store, the rest goes the same way
    // without another attempt each (a locked database costs a busy timeout per call).
    const bool ok = lost_at_stop_ == 0 && write(batch);
    lock.lock();
    if (ok) {
      const auto intents = static_cast<std::size_t>(
          std::count_if(batch.begin(), batch.end(), [](const AuditRecord& r) { return r.intent; }));
      written_ += n - intents;
      written_metric_.inc(static_cast<double>(n - intents));
      if (intents > 0) intents_metric_.inc(static_cast<double>(intents));
    } else {
      dropped_ += n;
      lost_at_stop_ += n;
      dropped_metric_.inc(static_cast<double>(n));
    }
    settled_ += n;
    complete_waiters(ok);
    done_cv_.notify_all();
  }
  if (lost_at_stop_ > 0) {
    log(LogLevel::error, "audit_rows_lost",
        {{"rows", lost_at_stop_}, {"reason", "the store kept failing at shutdown"}});
  }
}

bool AuditWriter::write(const std::vector<AuditRecord>& batch) {
  auto backoff = options_.initial_backoff;
  for (;;) {
    auto result = store_.append_audit(batch);
    if (result.ok()) {
      if (failing_) log(LogLevel::info, "audit_write_recovered", {{"rows", batch.size()}});
      failing_ = false;
      return true;
    }
    errors_metric_.inc();
    if (!failing_) {
      // Store errors name the operation only, never a stored value.
      log(LogLevel::warn, "audit_write_failed", {{"error", result.error().message}, {"action", "retrying"}});
      failing_ = true;
    }
    std::unique_lock lock(mu_);
    const auto now = SteadyClock::now();
    expire_waiters(now);
    if (stopping_ && now >= stop_deadline_) return false;
    auto wake = now + backoff;
    if (stopping_) wake = std::min(wake, stop_deadline_);
    // A stop() during the backoff wakes the writer so the drain deadline is
    // honoured; a waiter reaching its limit is answered on time.
    const bool was_stopping = stopping_;
    for (;;) {
      auto until = wake;
      if (!waiters_.empty()) until = std::min(until, waiters_.front().give_up_at);
      if (work_cv_.wait_until(lock, until, [&] { return stopping_ != was_stopping; })) break;
      const auto woke = SteadyClock::now();
      expire_waiters(woke);
      if (woke >= wake) break;
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace aegis::audit
