#pragma once
// Group commit for POST /v1/jobs: submits that arrive while one transaction
// is being synced to disk are written together in the next one, so a 202
// still means "on disk" but N concurrent submits cost one fsync instead of N.
// One thread of its own: the store's blocking calls never run on I/O threads.
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "jobs/job_store.hpp"

namespace aegis::jobs {

class SubmitBatcher {
 public:
  using Outcome = std::shared_ptr<Result<SubmitResult>>;

  // At most `max_batch` jobs per transaction.
  SubmitBatcher(JobStore& store, std::size_t max_batch = 512);
  ~SubmitBatcher();  // stops: waiting submits get unavailable
  SubmitBatcher(const SubmitBatcher&) = delete;
  SubmitBatcher& operator=(const SubmitBatcher&) = delete;

  // Resumes on the caller's executor once the job's transaction committed (or failed).
  boost::asio::awaitable<Outcome> submit(Job job);

  // Writes what is queued, then refuses new submits (unavailable).
  void stop();

 private:
  struct Pending {
    Job job;
    boost::asio::any_completion_handler<void(Outcome)> handler;
    boost::asio::any_io_executor home;  // the submitter's executor, tracking work until it is resumed
  };
  void enqueue(Pending pending);
  void run();

  JobStore& store_;
  const std::size_t max_batch_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace aegis::jobs
