#include "audit/audit_writer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace aegis::audit {
namespace {

using namespace std::chrono_literals;
using telemetry::Registry;

// Records what the writer hands it; can fail a number of calls, fail for
// good, or hold calls at a gate until the test opens it.
class FakeAuditStore final : public AuditStore {
 public:
  Result<void> append_audit(const std::vector<AuditRecord>& rows) override {
    std::unique_lock lock(mu_);
    ++calls_;
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !gated_; });
    if (always_fail_ || failures_left_ > 0) {
      if (failures_left_ > 0) --failures_left_;
      return make_error(ErrorCode::unavailable, "storage is busy (append_audit)");
    }
    batch_sizes_.push_back(rows.size());
    for (const auto& r : rows) rows_.push_back(r.request_id);
    cv_.notify_all();
    return {};
  }
  Result<std::vector<AuditRecord>> query_audit(const AuditQuery&) override { return std::vector<AuditRecord>{}; }
  Result<std::int64_t> count_pipeda_violations() override { return std::int64_t{0}; }
  Result<std::vector<TeamSpend>> load_spend(const std::string&) override { return std::vector<TeamSpend>{}; }
  Result<std::int64_t> recover_pending() override { return std::int64_t{0}; }
  Result<void> scan_audit(const audit::AuditScan&, const std::function<bool(const audit::StoredAuditRow&)>&) override {
    return make_error(ErrorCode::internal, "not used");
  }
  Result<std::vector<audit::ChainSummary>> list_chains() override {
    return make_error(ErrorCode::internal, "not used");
  }
  Result<std::optional<audit::ChainLink>> chain_head(const std::string&) override {
    return make_error(ErrorCode::internal, "not used");
  }
  Result<audit::Checkpoint> append_checkpoint(const audit::Checkpoint&) override {
    return make_error(ErrorCode::internal, "not used");
  }
  Result<std::vector<audit::Checkpoint>> list_checkpoints(const std::optional<std::string>&) override {
    return make_error(ErrorCode::internal, "not used");
  }

  void fail_next(int n) {
    std::lock_guard lock(mu_);
    failures_left_ = n;
  }
  void fail_always() {
    std::lock_guard lock(mu_);
    always_fail_ = true;
  }
  void close_gate() {
    std::lock_guard lock(mu_);
    gated_ = true;
    entered_ = false;
  }
  void open_gate() {
    std::lock_guard lock(mu_);
    gated_ = false;
    cv_.notify_all();
  }
  // Waits (bounded, so a bug fails the test instead of hanging it) until the writer is inside append_audit.
  bool wait_entered() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return entered_; });
  }
  bool wait_rows(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return rows_.size() >= n; });
  }
  std::vector<std::string> rows() const {
    std::lock_guard lock(mu_);
    return rows_;
  }
  std::vector<std::size_t> batch_sizes() const {
    std::lock_guard lock(mu_);
    return batch_sizes_;
  }
  int calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> rows_;
  std::vector<std::size_t> batch_sizes_;
  int calls_ = 0;
  int failures_left_ = 0;
  bool always_fail_ = false;
  bool gated_ = false;
  bool entered_ = false;
};

AuditRecord row(int i) {
  AuditRecord r;
  r.request_id = "req_" + std::to_string(i);
  r.team = "t";
  return r;
}

std::vector<std::string> ids(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back("req_" + std::to_string(i));
  return out;
}

// The value of an unlabelled series in the exposition text, or -1 if absent.
double metric(const Registry& registry, const std::string& name) {
  std::istringstream in(registry.expose());
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

AuditWriterOptions quick(std::size_t max_batch = 1'000) {
  AuditWriterOptions o;
  o.max_batch = max_batch;
  o.max_delay = 1h;  // only a full batch, flush or stop sends rows
  o.initial_backoff = 1ms;
  o.max_backoff = 4ms;
  return o;
}

TEST(AuditWriter, FullBatchesGoOutWithoutWaitingAndFlushSendsTheRest) {
  FakeAuditStore store;
  Registry registry;
  AuditWriter writer(store, registry, quick(10));
  for (int i = 0; i < 25; ++i) writer.record(row(i));
  ASSERT_TRUE(store.wait_rows(20));  // max_delay is an hour: only full batches can explain this
  EXPECT_EQ(store.batch_sizes(), (std::vector<std::size_t>{10, 10}));

  writer.flush();
  EXPECT_EQ(store.batch_sizes(), (std::vector<std::size_t>{10, 10, 5}));
  EXPECT_EQ(store.rows(), ids(0, 25));  // in order
  EXPECT_EQ(writer.rows_written(), 25u);
  EXPECT_EQ(metric(registry, "aegis_audit_rows_written_total"), 25);
  EXPECT_EQ(metric(registry, "aegis_audit_queue_depth"), 0);
}

TEST(AuditWriter, IntentsAreCountedApartFromRows) {
  FakeAuditStore store;
  Registry registry;
  AuditWriter writer(store, registry, quick(10));
  for (int i = 0; i < 4; ++i) {
    AuditRecord intent = row(i);
    intent.intent = true;
    intent.intent_seq = i + 1;
    writer.record(std::move(intent));
    AuditRecord final_row = row(i);
    final_row.intent_seq = i + 1;
    writer.record(std::move(final_row));
  }
  writer.flush();
  EXPECT_EQ(store.rows().size(), 8u);  // both reach the store, in order
  EXPECT_EQ(writer.rows_written(), 4u);
  EXPECT_EQ(metric(registry, "aegis_audit_rows_written_total"), 4);
  EXPECT_EQ(metric(registry, "aegis_audit_intents_written_total"), 4);
}

TEST(AuditWriter, APartialBatchGoesOutAfterTheDelay) {
  FakeAuditStore store;
  Registry registry;
  AuditWriterOptions options = quick();
  options.max_delay = 5ms;
  AuditWriter writer(store, registry, options);
  for (int i = 0; i < 3; ++i) writer.record(row(i));
  ASSERT_TRUE(store.wait_rows(3));  // no flush: the delay alone sends them
  EXPECT_EQ(store.batch_sizes(), (std::vector<std::size_t>{3}));
}

TEST(AuditWriter, FlushWithNothingQueuedReturnsAtOnce) {
  FakeAuditStore store;
  Registry registry;
  AuditWriter writer(store, registry, quick());
  EXPECT_TRUE(writer.flush(0ms));
  writer.flush();
  EXPECT_EQ(store.calls(), 0);
}

TEST(AuditWriter, FlushTimesOutWhileTheStoreIsStuck) {
  FakeAuditStore store;
  Registry registry;
  AuditWriter writer(store, registry, quick(1));
  store.close_gate();
  writer.record(row(0));
  ASSERT_TRUE(store.wait_entered());
  EXPECT_FALSE(writer.flush(1ms));
  store.open_gate();
  EXPECT_TRUE(writer.flush(10s));
  EXPECT_EQ(store.rows(), ids(0, 1));
}

TEST(AuditWriter, StopDrainsEverythingQueuedAndIsIdempotent) {
  FakeAuditStore store;
  Registry registry;
  AuditWriter writer(store, registry, quick(10));
  for (int i = 0; i < 42; ++i) writer.record(row(i));
  writer.stop();
  EXPECT_EQ(store.rows(), ids(0, 42));
  EXPECT_EQ(writer.rows_written(), 42u);
  writer.stop();

  writer.record(row(99));  // after stop: dropped, counted, never written
  EXPECT_EQ(writer.rows_dropped(), 1u);
  EXPECT_EQ(metric(registry, "aegis_audit_rows_dropped_total"), 1);
  EXPECT_TRUE(writer.flush(0ms));
  EXPECT_EQ(store.rows().size(), 42u);
}

TEST(AuditWriter, DestructorDrains) {
  FakeAuditStore store;
  Registry registry;
  {
    AuditWriter writer(store, registry, quick());
    for (int i = 0; i < 7; ++i) writer.record(row(i));
  }
  EXPECT_EQ(store.rows(), ids(0, 7));
}

TEST(AuditWriter, TransientStoreFailuresLoseNothing) {
  FakeAuditStore store;
  Registry registry;
  AuditWriter writer(store, registry, quick(4));
  store.fail_next(3);
  for (int i = 0; i < 10; ++i) writer.record(row(i));
  writer.flush();
  EXPECT_EQ(store.rows(), ids(0, 10));  // each row exactly once, in order
  EXPECT_EQ(store.calls(), 3 + 3);      // three failed attempts + three batches (4, 4, 2)
  EXPECT_EQ(writer.rows_written(), 10u);
  EXPECT_EQ(writer.rows_dropped(), 0u);
  EXPECT_EQ(metric(registry, "aegis_audit_write_errors_total"), 3);
  EXPECT_EQ(metric(registry, "aegis_audit_rows_written_total"), 10);
}

TEST(AuditWriter, AFullQueueDropsNewRowsAndCountsThem) {
  FakeAuditStore store;
  Registry registry;
  AuditWriterOptions options = quick(1);
  options.max_queue = 5;
  AuditWriter writer(store, registry, options);
  store.close_gate();
  writer.record(row(0));
  ASSERT_TRUE(store.wait_entered());                   // the writer holds row 0; the queue is empty again
  for (int i = 1; i <= 8; ++i) writer.record(row(i));  // 5 fit, 3 do not
  EXPECT_EQ(writer.rows_dropped(), 3u);
  EXPECT_EQ(metric(registry, "aegis_audit_rows_dropped_total"), 3);
  EXPECT_EQ(metric(registry, "aegis_audit_queue_depth"), 5);

  store.open_gate();
  writer.flush();
  EXPECT_EQ(store.rows(), ids(0, 6));
  EXPECT_EQ(metric(registry, "aegis_audit_queue_depth"), 0);
}

TEST(AuditWriter, StopGivesUpOnAStoreThatKeepsFailingAndCountsTheLoss) {
  FakeAuditStore store;
  Registry registry;
  AuditWriterOptions options = quick(2);
  options.drain_timeout = 20ms;
  AuditWriter writer(store, registry, options);
  store.fail_always();
  for (int i = 0; i < 5; ++i) writer.record(row(i));
  // Still retrying (1..4 ms backoff): nothing is lost while running. Long
  // enough for several attempts even on a loaded machine.
  EXPECT_FALSE(writer.flush(100ms));
  EXPECT_EQ(writer.rows_dropped(), 0u);
  writer.stop();  // bounded by drain_timeout
  EXPECT_TRUE(store.rows().empty());
  EXPECT_EQ(writer.rows_written(), 0u);
  EXPECT_EQ(writer.rows_dropped(), 5u);
  EXPECT_EQ(metric(registry, "aegis_audit_rows_dropped_total"), 5);
  EXPECT_GE(metric(registry, "aegis_audit_write_errors_total"), 2);
}

TEST(AuditWriter, ManyThreadsRecordingConcurrentlyLoseNothing) {
  FakeAuditStore store;
  Registry registry;
  AuditWriterOptions options = quick(64);
  options.max_delay = 1ms;
  AuditWriter writer(store, registry, options);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2'000;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) writer.record(row(t * kPerThread + i));
    });
  }
  for (auto& th : threads) th.join();
  writer.flush();
  auto rows = store.rows();
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(kThreads * kPerThread));
  std::sort(rows.begin(), rows.end());
  auto want = ids(0, kThreads * kPerThread);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(rows, want);
  for (auto size : store.batch_sizes()) EXPECT_LE(size, 64u);
}

// --- durable records -------------------------------------------------------------

namespace asio = boost::asio;

TEST(AuditWriterDurable, CompletesOnTheCallersExecutorOnceCommittedWithoutTheBatchingDelay) {
  FakeAuditStore store;
  Registry registry;
  AuditWriter writer(store, registry, quick());  // max_delay is an hour
  asio::io_context io;
  auto strand = asio::make_strand(io);
  std::optional<bool> written;
  std::vector<std::string> stored_when_answered;
  bool on_callers_strand = false;
  asio::co_spawn(
      strand,
      [&]() -> asio::awaitable<void> {
        writer.record(row(0));  // queued without a waiter: it goes out in the same commit
        written = co_await writer.async_record(row(1), asio::use_awaitable);
        stored_when_answered = store.rows();
        on_callers_strand = strand.running_in_this_thread();
      },
      asio::detached);
  io.run();  // returns only once the coroutine finished: the wait keeps the io_context busy
  ASSERT_TRUE(written.has_value());
  EXPECT_TRUE(*written);
  EXPECT_EQ(stored_when_answered, ids(0, 2));
  EXPECT_EQ(store.batch_sizes(), (std::vector<std::size_t>{2}));
  EXPECT_TRUE(on_callers_strand);
}

TEST(AuditWriterDurable, WaitersArrivingDuringACommitShareTheNextOne) {
  FakeAuditStore store;
  Registry registry;
  AuditWriter writer(store, registry, quick());
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  std::atomic<int> answered_true{0};
  auto durable = [&](int i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          if (co_await writer.async_record(row(i), asio::use_awaitable)) ++answered_true;
        },
        asio::detached);
  };
  store.close_gate();
  durable(0);
  ASSERT_TRUE(store.wait_entered());  // the writer is committing row 0 alone
  durable(1);
  durable(2);
  for (int i = 0; i < 1000 && metric(registry, "aegis_audit_queue_depth") < 2; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(metric(registry, "aegis_audit_queue_depth"), 2);
  EXPECT_EQ(answered_true.load(), 0);  // nobody is answered before their commit
  store.open_gate();
  work.reset();
  runner.join();
  EXPECT_EQ(answered_true.load(), 3);
  EXPECT_EQ(store.batch_sizes(), (std::vector<std::size_t>{1, 2}));  // one transaction for both late comers
}

TEST(AuditWriterDurable, ADroppedRowIsAnsweredFalseAtOnce) {
  FakeAuditStore store;
  Registry registry;
  AuditWriter writer(store, registry, quick());
  writer.stop();
  asio::io_context io;
  std::optional<bool> written;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { written = co_await writer.async_record(row(0), asio::use_awaitable); },
      asio::detached);
  io.run();
  ASSERT_TRUE(written.has_value());
  EXPECT_FALSE(*written);
  EXPECT_EQ(writer.rows_dropped(), 1u);
}

TEST(AuditWriterDurable, AFailingStoreAnswersFalseAfterTheWaitLimitAndKeepsRetryingTheRow) {
  FakeAuditStore store;
  store.fail_next(1'000'000);
  Registry registry;
  auto options = quick();
  options.durable_wait_limit = 50ms;
  AuditWriter writer(store, registry, options);
  asio::io_context io;
  std::optional<bool> written;
  const auto started = std::chrono::steady_clock::now();
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { written = co_await writer.async_record(row(0), asio::use_awaitable); },
      asio::detached);
  io.run();
  ASSERT_TRUE(written.has_value());
  EXPECT_FALSE(*written);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_EQ(writer.rows_dropped(), 0u);  // still queued, still retried
  store.fail_next(0);
  writer.flush();
  EXPECT_EQ(store.rows(), ids(0, 1));
}

}  // namespace
}  // namespace aegis::audit
