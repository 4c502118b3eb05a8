#include "jobs/submit_batcher.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/execution/outstanding_work.hpp>

#include <vector>

namespace aegis::jobs {

namespace asio = boost::asio;

namespace {

// Hands the outcome back on the handler's own executor (the submitting
// coroutine's I/O thread), never on the batcher thread.
void complete(asio::any_completion_handler<void(SubmitBatcher::Outcome)> handler, const asio::any_io_executor& home,
              SubmitBatcher::Outcome outcome) {
  asio::post(home, [h = std::move(handler), o = std::move(outcome)]() mutable { std::move(h)(std::move(o)); });
}

SubmitBatcher::Outcome failed(Error error) { return std::make_shared<Result<SubmitResult>>(std::move(error)); }

}  // namespace

SubmitBatcher::SubmitBatcher(JobStore& store, std::size_t max_batch)
    : store_(store), max_batch_(max_batch == 0 ? 1 : max_batch), thread_([this] { run(); }) {}

SubmitBatcher::~SubmitBatcher() { stop(); }

void SubmitBatcher::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

asio::awaitable<SubmitBatcher::Outcome> SubmitBatcher::submit(Job job) {
  auto initiate = [this](auto handler, Job j) {
    asio::any_io_executor home = asio::prefer(asio::get_associated_executor(handler),
                                              asio::execution::outstanding_work.tracked);
    enqueue(Pending{std::move(j), asio::any_completion_handler<void(Outcome)>(std::move(handler)), std::move(home)});
  };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(Outcome)>(initiate, asio::use_awaitable,
                                                                                         std::move(job));
}

void SubmitBatcher::enqueue(Pending pending) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(pending));
      wake_.notify_one();
      return;
    }
  }
  complete(std::move(pending.handler), pending.home,
           failed(make_error(ErrorCode::unavailable, "the gateway is shutting down")));
}

void SubmitBatcher::run() {
  std::vector<Pending> batch;
  std::vector<Job> jobs;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything accepted was written
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    jobs.clear();
    jobs.reserve(batch.size());
    for (auto& pending : batch) jobs.push_back(std::move(pending.job));
    auto written = store_.submit_batch(jobs);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      Outcome outcome = written.ok() ? std::make_shared<Result<SubmitResult>>(std::move((*written)[i]))
                                     : failed(written.error());
      complete(std::move(batch[i].handler), batch[i].home, std::move(outcome));
    }
    batch.clear();
  }
}

}  // namespace aegis::jobs
