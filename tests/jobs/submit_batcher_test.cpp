#include "jobs/submit_batcher.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <condition_variable>
#include <mutex>
#include <vector>

namespace aegis::jobs {
namespace {

namespace asio = boost::asio;

// A JobStore that records the batches it is given and can hold the first one
// until released, so the test controls what accumulates behind it.
class RecordingStore final : public JobStore {
 public:
  std::vector<std::size_t> batch_sizes;
  bool fail_batches = false;
  bool hold_first = false;

  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  void wait_until_first_batch_started() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return started_; });
  }

  Result<std::vector<Result<SubmitResult>>> submit_batch(const std::vector<Job>& jobs) override {
    {
      std::unique_lock lock(mu_);
      started_ = true;
      cv_.notify_all();
      if (hold_first && batch_sizes.empty()) cv_.wait(lock, [this] { return released_; });
      batch_sizes.push_back(jobs.size());
    }
    if (fail_batches) return make_error(ErrorCode::unavailable, "disk full");
    std::vector<Result<SubmitResult>> out;
    for (const auto& job : jobs) {
      if (job.team == "full") {
        out.emplace_back(make_error(ErrorCode::rate_limited, "queue full"));
      } else {
        out.emplace_back(SubmitResult{job, false});
      }
    }
    return out;
  }

  Result<SubmitResult> submit(const Job&) override { return make_error(ErrorCode::internal, "unused"); }
  Result<Job> get(const std::string&, const std::string&) override { return make_error(ErrorCode::internal, "unused"); }
  Result<std::optional<Job>> find_by_idempotency_key(const std::string&, const std::string&) override {
    return make_error(ErrorCode::internal, "unused");
  }
  Result<JobPage> list(const std::string&, const ListQuery&) override { return make_error(ErrorCode::internal, "unused"); }
  Result<std::vector<Job>> claim(const std::string&, std::int64_t, std::int64_t, int) override {
    return make_error(ErrorCode::internal, "unused");
  }
  Result<void> renew(const std::string&, const std::string&, std::int64_t, std::int64_t) override {
    return make_error(ErrorCode::internal, "unused");
  }
  Result<Job> complete(const std::string&, const std::string&, const Completion&) override {
    return make_error(ErrorCode::internal, "unused");
  }
  Result<Job> fail(const std::string&, const std::string&, const Failure&) override {
    return make_error(ErrorCode::internal, "unused");
  }
  Result<RequeueReport> requeue_expired(std::int64_t) override { return make_error(ErrorCode::internal, "unused"); }
  Result<RequeueReport> requeue_all_running(std::int64_t) override { return make_error(ErrorCode::internal, "unused"); }
  Result<std::vector<Job>> release_owned(const std::string&) override { return make_error(ErrorCode::internal, "unused"); }
  Result<CancelResult> cancel(const std::string&, const std::string&, std::int64_t) override {
    return make_error(ErrorCode::internal, "unused");
  }
  Result<std::vector<Job>> expire_queued(std::int64_t, std::int64_t) override {
    return make_error(ErrorCode::internal, "unused");
  }
  Result<std::int64_t> purge(std::int64_t) override { return make_error(ErrorCode::internal, "unused"); }
  Result<JobCounts> counts() override { return make_error(ErrorCode::internal, "unused"); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  bool released_ = false;
};

Job job_of(std::string id, std::string team = "t") {
  Job j;
  j.id = std::move(id);
  j.team = std::move(team);
  return j;
}

struct Answer {
  std::string id;
  std::optional<ErrorCode> error;
};

asio::awaitable<void> submit_one(SubmitBatcher& batcher, Job job, std::vector<Answer>& answers) {
  const std::string id = job.id;
  auto outcome = co_await batcher.submit(std::move(job));
  if (outcome->ok()) {
    answers.push_back({(*outcome)->job.id, std::nullopt});
  } else {
    answers.push_back({id, outcome->error().code});
  }
}

TEST(SubmitBatcher, SubmitsArrivingDuringACommitShareTheNextTransaction) {
  RecordingStore store;
  store.hold_first = true;
  SubmitBatcher batcher(store, 512);
  asio::io_context io;
  std::vector<Answer> answers;
  asio::co_spawn(io, submit_one(batcher, job_of("a"), answers), asio::detached);
  io.poll();  // "a" is handed to the batcher thread, which blocks inside the store
  store.wait_until_first_batch_started();
  for (int i = 0; i < 10; ++i) {
    asio::co_spawn(io, submit_one(batcher, job_of("b" + std::to_string(i)), answers), asio::detached);
  }
  io.poll();
  store.release();
  io.run();  // the pending submits keep io busy until every answer came back
  ASSERT_EQ(answers.size(), 11u);
  EXPECT_EQ(store.batch_sizes, (std::vector<std::size_t>{1, 10}));
  for (const auto& a : answers) EXPECT_FALSE(a.error) << a.id;
}

TEST(SubmitBatcher, BatchesAreCappedAndEachItemGetsItsOwnAnswer) {
  RecordingStore store;
  store.hold_first = true;
  SubmitBatcher batcher(store, 4);
  asio::io_context io;
  std::vector<Answer> answers;
  asio::co_spawn(io, submit_one(batcher, job_of("first"), answers), asio::detached);
  io.poll();
  store.wait_until_first_batch_started();
  for (int i = 0; i < 9; ++i) {
    asio::co_spawn(io, submit_one(batcher, job_of("j" + std::to_string(i), i == 4 ? "full" : "t"), answers),
                   asio::detached);
  }
  io.poll();
  store.release();
  io.run();
  EXPECT_EQ(store.batch_sizes, (std::vector<std::size_t>{1, 4, 4, 1}));
  ASSERT_EQ(answers.size(), 10u);
  int refused = 0;
  for (const auto& a : answers) {
    if (a.error) {
      ++refused;
      EXPECT_EQ(a.id, "j4");
      EXPECT_EQ(*a.error, ErrorCode::rate_limited);
    }
  }
  EXPECT_EQ(refused, 1);
}

TEST(SubmitBatcher, AFailedTransactionFailsEveryJobInIt) {
  RecordingStore store;
  store.fail_batches = true;
  SubmitBatcher batcher(store);
  asio::io_context io;
  std::vector<Answer> answers;
  for (int i = 0; i < 3; ++i) asio::co_spawn(io, submit_one(batcher, job_of(std::to_string(i)), answers), asio::detached);
  io.run();
  ASSERT_EQ(answers.size(), 3u);
  for (const auto& a : answers) EXPECT_EQ(a.error, ErrorCode::unavailable);
}

TEST(SubmitBatcher, AfterStopSubmitsAreRefusedNotLost) {
  RecordingStore store;
  SubmitBatcher batcher(store);
  batcher.stop();
  asio::io_context io;
  std::vector<Answer> answers;
  asio::co_spawn(io, submit_one(batcher, job_of("late"), answers), asio::detached);
  io.run();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].error, ErrorCode::unavailable);
  EXPECT_TRUE(store.batch_sizes.empty());
}

}  // namespace
}  // namespace aegis::jobs
