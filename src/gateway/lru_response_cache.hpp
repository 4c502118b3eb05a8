#pragma once
// The response cache in this process's memory (gateway/response_cache.hpp):
// one map and one recency list under one mutex, shared by every I/O thread.
// The lock is held for a hash lookup and a list splice; the answer is a
// shared_ptr, so building the response, and freeing what was evicted, happen
// outside it.
#include <cstddef>
#include <list>
#include <mutex>
#include <unordered_map>

#include "config/config.hpp"
#include "gateway/response_cache.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::gateway {

class LruResponseCache final : public ResponseCache {
 public:
  struct Limits {
    std::size_t max_entries = 10'000;
    std::size_t max_bytes = std::size_t{64} * 1024 * 1024;
  };
  // Metrics: aegis_cache_evictions_total{reason} (capacity: the least recently
  // used made room; expired: found past its team's TTL), aegis_cache_entries,
  // aegis_cache_bytes.
  LruResponseCache(Limits limits, telemetry::Registry& metrics);
  static Limits limits_of(const config::ResponseCacheConfig& config);

  std::shared_ptr<const CachedAnswer> lookup(const CacheKey& key, std::string_view team,
                                             std::chrono::steady_clock::time_point now,
                                             std::chrono::seconds ttl) override;
  void store(const CacheKey& key, std::string_view team, std::shared_ptr<const CachedAnswer> answer,
             std::chrono::steady_clock::time_point now) override;
  std::size_t entries() const override;
  std::size_t bytes() const override;

  // What one answer is charged against max_bytes: its strings plus a fixed
  // allowance for the entry's bookkeeping.
  static std::size_t footprint(std::string_view team, const CachedAnswer& answer);

 private:
  struct KeyHash {
    std::size_t operator()(const CacheKey& key) const noexcept;
  };
  struct Entry {
    CacheKey key;
    std::string team;
    std::shared_ptr<const CachedAnswer> answer;
    std::chrono::steady_clock::time_point stored_at;
    std::size_t bytes = 0;
  };
  using List = std::list<Entry>;  // most recently used first

  // Under mu_: unlinks `it`, moving its answer into `graveyard` to be freed after the lock.
  void erase_locked(List::iterator it, std::vector<std::shared_ptr<const CachedAnswer>>& graveyard);
  void publish_locked();

  const Limits limits_;
  mutable std::mutex mu_;
  List lru_;
  std::unordered_map<CacheKey, List::iterator, KeyHash> index_;
  std::size_t bytes_ = 0;

  telemetry::Counter& evicted_capacity_;
  telemetry::Counter& evicted_expired_;
  telemetry::Gauge& entries_gauge_;
  telemetry::Gauge& bytes_gauge_;
};

}  // namespace aegis::gateway
