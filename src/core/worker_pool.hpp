#pragma once
// Threads for blocking work (database calls, OCR) that an awaiting coroutine
// hops to and back from, so I/O threads never block.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <type_traits>

namespace aegis {

class WorkerPool {
 public:
  explicit WorkerPool(std::size_t threads) : pool_(threads) {}
  ~WorkerPool() { pool_.join(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs `work` on one of the pool's threads and resumes on the caller's
  // executor. GCC 12 destroys a lambda with non-trivial captures twice when
  // it is created inside the co_await expression: name the lambda first, or
  // capture only references.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F>> run(F work) {
    auto home = co_await boost::asio::this_coro::executor;
    // bind_executor makes the coroutine resume on the pool; a plain
    // post(pool, use_awaitable) would resume it back on the I/O thread.
    co_await boost::asio::post(boost::asio::bind_executor(pool_.get_executor(), boost::asio::use_awaitable));
    auto result = work();
    co_await boost::asio::post(home, boost::asio::use_awaitable);
    co_return result;
  }

  void stop() { pool_.stop(); }
  // Blocks until the work already handed over has run (its coroutines are
  // posted back to their executors). Nothing may be submitted afterwards.
  void finish() { pool_.join(); }

 private:
  boost::asio::thread_pool pool_;
};

}  // namespace aegis
