#pragma once
// Time is injected so that breakers, budgets, leases and key caches are tested
// without sleeping.
#include <chrono>
#include <cstdint>

namespace aegis {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall time, for records people read (audit rows, created_at, budget months).
  virtual std::chrono::system_clock::time_point wall_now() const = 0;
  // wall_now() as Unix milliseconds, the form records store.
  std::int64_t wall_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(wall_now().time_since_epoch()).count();
  }
  // Monotonic time, for durations and expiries.
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;
};

}  // namespace aegis
