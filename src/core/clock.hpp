#pragma once
// Time is injected so that breakers, budgets, leases and key caches are tested
// without sleeping.
#include <chrono>

namespace aegis {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall time, for records people read (audit rows, created_at, budget months).
  virtual std::chrono::system_clock::time_point wall_now() const = 0;
  // Monotonic time, for durations and expiries.
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;
};

}  // namespace aegis
