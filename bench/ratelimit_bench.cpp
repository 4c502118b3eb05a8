// The rate-limit check on the request path (src/ratelimit/rate_limiter.hpp):
// admission of a request against its key's and team's buckets, the
// correction with the usage and the release of the concurrency slot, as
// stage 5 and stage 9 do it for one call.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "core/system_clock.hpp"
#include "ratelimit/rate_limiter.hpp"

namespace {

using namespace aegis;

identity::Principal limited_principal(int i) {
  identity::Principal p;
  p.team = "team-" + std::to_string(i % 50);
  p.key_id = "key-" + std::to_string(i);
  // Limits high enough never to refuse: the cost measured is the check itself.
  p.team_limits = store::RateLimits{1'000'000'000, 1'000'000'000, 1'000'000};
  p.key_limits = store::RateLimits{1'000'000'000, std::nullopt, std::nullopt};
  return p;
}

// Admission + settle + release, every limit kind set on the team, rpm on the key.
void BM_RateLimitAdmitSettle(benchmark::State& state) {
  telemetry::Registry metrics;
  ratelimit::RateLimiter limiter(SystemClock::instance(), metrics);
  std::vector<identity::Principal> principals;
  principals.reserve(1000);
  for (int i = 0; i < 1000; ++i) principals.push_back(limited_principal(i));
  std::size_t next = 0;
  while (state.KeepRunning()) {
    auto admitted = limiter.admit_now(principals[next], 1200);
    admitted->settle(300);
    benchmark::DoNotOptimize(admitted->active());
    next = next + 1 == principals.size() ? 0 : next + 1;
  }
}
BENCHMARK(BM_RateLimitAdmitSettle)->ThreadRange(1, 2);

// The same call for a caller without limits (the common case when none are set).
void BM_RateLimitNoLimits(benchmark::State& state) {
  telemetry::Registry metrics;
  ratelimit::RateLimiter limiter(SystemClock::instance(), metrics);
  identity::Principal p;
  p.team = "team";
  p.key_id = "key";
  while (state.KeepRunning()) {
    auto admitted = limiter.admit_now(p, 1200);
    admitted->settle(300);
    benchmark::DoNotOptimize(admitted->active());
  }
}
BENCHMARK(BM_RateLimitNoLimits);

}  // namespace
