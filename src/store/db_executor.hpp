#pragma once
// Runs blocking database work on threads of its own and resumes the awaiting
// coroutine on the executor it came from, so I/O threads never block.
#include <cstddef>

#include "core/worker_pool.hpp"

namespace aegis::store {

// SQLite has one writer: one thread serialises all calls without locks.
class DbExecutor : public WorkerPool {
 public:
  explicit DbExecutor(std::size_t threads = 1) : WorkerPool(threads) {}
};

}  // namespace aegis::store
