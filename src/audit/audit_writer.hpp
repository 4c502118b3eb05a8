#pragma once
// Writes audit rows to an AuditStore in batches on a thread of its own, so
// the request path only pays for a short mutex-guarded push.
//
// Delivery: a row accepted by record() is written unless the process stops
// while the store keeps failing (stop() gives up after drain_timeout and
// counts what is left as dropped). A store error keeps the batch and retries
// it with capped exponential backoff, so a transient failure loses nothing.
// When the queue is full the new row is dropped and counted: the request
// path never blocks on the database.
//
// Durable rows: record_durable() (or async_record(), see AuditSink) is for a
// caller about to tell a client that something succeeded. It wakes the writer
// at once, which commits everything queued so far in one transaction (group
// commit: concurrent callers share it), and completes the caller when that
// transaction has committed — or with false when the row was dropped or
// given up on at stop(), or when the store has kept failing for
// durable_wait_limit (the row stays queued and is still retried).
//
// Metrics: aegis_audit_rows_written_total (final rows),
// aegis_audit_intents_written_total (AuditRecord::intent),
// aegis_audit_rows_dropped_total, aegis_audit_write_errors_total (failed
// append_audit calls) and the gauge aegis_audit_queue_depth.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "audit/audit_store.hpp"
#include "audit/record.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::audit {

struct AuditWriterOptions {
  std::size_t max_queue = 100'000;  // rows waiting to be written; beyond it new rows are dropped
  std::size_t max_batch = 1'000;    // rows per append_audit call
  // How long the writer waits for a batch to fill after the first row arrives.
  std::chrono::milliseconds max_delay{20};
  std::chrono::milliseconds initial_backoff{50};
  std::chrono::milliseconds max_backoff{2'000};
  // How long stop() keeps retrying a failing store before giving up.
  std::chrono::milliseconds drain_timeout{5'000};
  // How long a durable record's caller waits while the store keeps failing
  // before it is answered false and goes on (the row stays queued and is
  // still retried): an outage of the database slows answers, never hangs them.
  std::chrono::milliseconds durable_wait_limit{5'000};
};

class AuditWriter final : public AuditSink {
 public:
  using Options = AuditWriterOptions;

  // Starts the writer thread. `store` and `registry` must outlive the writer.
  AuditWriter(AuditStore& store, telemetry::Registry& registry, Options options = {});
  ~AuditWriter() override;  // stop()
  AuditWriter(const AuditWriter&) = delete;
  AuditWriter& operator=(const AuditWriter&) = delete;

  // Never blocks on I/O. After stop() rows are dropped (and counted).
  void record(AuditRecord record) override;
  // `done` is invoked on the writer thread (or at once, with false, for a
  // dropped row); async_record() posts it on to the caller's executor.
  void record_durable(AuditRecord record, DurableHandler done) override;
  // False while the store is failing (from the first failed write until one
  // succeeds) or the queue holds more than three quarters of max_queue: the
  // rest is headroom for the rows of requests already admitted, so none is
  // dropped for a full queue.
  bool accepting() const noexcept override;

  // Blocks until every row accepted before the call has been written (or
  // dropped by stop()). Wakes the writer at once instead of waiting for
  // max_delay. Returns false if `timeout` passed first.
  bool flush(std::chrono::milliseconds timeout);
  void flush();

  // Writes what is queued, then joins the thread. Idempotent, thread-safe.
  void stop();

  std::uint64_t rows_written() const noexcept;
  std::uint64_t rows_dropped() const noexcept;

 private:
  // Queues the row (with `done` as its waiter, when given); false when it was dropped.
  bool enqueue(AuditRecord record, DurableHandler* done);
  // Caller holds mu_: completes the waiters of every row settled so far.
  void complete_waiters(bool written);
  // Caller holds mu_: answers false to waiters past their durable_wait_limit.
  void expire_waiters(std::chrono::steady_clock::time_point now);
  void run();
  // Writes one batch, retrying on error. Returns false when it gave up.
  bool write(const std::vector<AuditRecord>& batch);

  AuditStore& store_;
  Options options_;
  telemetry::Counter& written_metric_;
  telemetry::Counter& intents_metric_;
  telemetry::Counter& dropped_metric_;
  telemetry::Counter& errors_metric_;
  telemetry::Gauge& depth_metric_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // writer waits for rows, flush or stop
  std::condition_variable done_cv_;  // flush() waits for progress
  std::deque<AuditRecord> queue_;
  std::uint64_t accepted_ = 0;  // rows ever accepted by record()
  std::uint64_t settled_ = 0;   // rows written or given up on (settled_ <= accepted_)
  std::uint64_t written_ = 0;   // final rows; intents are counted by intents_metric_ only
  std::uint64_t dropped_ = 0;
  std::size_t flush_waiters_ = 0;
  struct Waiter {
    std::uint64_t row;  // the row's number in accepted_ order
    std::chrono::steady_clock::time_point give_up_at;
    DurableHandler done;
  };
  std::deque<Waiter> waiters_;  // durable rows not yet settled, in row order
  bool dropping_ = false;       // log the first drop of a streak, not every row
  bool stopping_ = false;
  std::chrono::steady_clock::time_point stop_deadline_{};

  // Writer thread only.
  // The last append_audit failed: logged once per failure streak; read by accepting().
  std::atomic<bool> failing_{false};
  std::atomic<std::size_t> depth_{0};  // queue_.size(), for accepting() without the lock
  std::uint64_t lost_at_stop_ = 0;

  std::mutex join_mu_;
  std::thread thread_;
};

}  // namespace aegis::audit
