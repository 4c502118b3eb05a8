#pragma once
#include <atomic>

#include "core/clock.hpp"

namespace aegis {

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point wall_now() const override { return std::chrono::system_clock::now(); }
  std::chrono::steady_clock::time_point steady_now() const override { return std::chrono::steady_clock::now(); }
  static const SystemClock& instance() {
    static const SystemClock clock;
    return clock;
  }
};

// A clock tests move by hand.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::chrono::system_clock::time_point start = std::chrono::system_clock::time_point{})
      : wall_(start.time_since_epoch().count()) {}
  std::chrono::system_clock::time_point wall_now() const override {
    return std::chrono::system_clock::time_point(std::chrono::system_clock::duration(wall_.load()));
  }
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(steady_.load()));
  }
  void advance(std::chrono::nanoseconds by) {
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(by).count();
    steady_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(by).count();
  }

 private:
  std::atomic<std::chrono::system_clock::rep> wall_;
  std::atomic<std::chrono::steady_clock::rep> steady_{0};
};

}  // namespace aegis
