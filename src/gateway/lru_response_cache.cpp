#include "gateway/lru_response_cache.hpp"

#include <cstring>
#include <iterator>
#include <vector>

namespace aegis::gateway {

namespace {
// The list node, the map node and the CachedAnswer object around the strings.
constexpr std::size_t kEntryOverhead = 256;

telemetry::CounterFamily& evictions(telemetry::Registry& metrics) {
  return metrics.counter("aegis_cache_evictions_total",
                         "Response cache entries dropped: capacity (the least recently used, to make room) or expired "
                         "(found past its team's TTL)",
                         {"reason"});
}
}  // namespace

LruResponseCache::LruResponseCache(Limits limits, telemetry::Registry& metrics)
    : limits_(limits),
      evicted_capacity_(evictions(metrics).with({"capacity"})),
      evicted_expired_(evictions(metrics).with({"expired"})),
      entries_gauge_(metrics.gauge("aegis_cache_entries", "Answers held by the response cache").with({})),
      bytes_gauge_(metrics.gauge("aegis_cache_bytes", "Bytes charged to the response cache's max_bytes").with({})) {}

LruResponseCache::Limits LruResponseCache::limits_of(const config::ResponseCacheConfig& config) {
  return Limits{static_cast<std::size_t>(config.max_entries), static_cast<std::size_t>(config.max_bytes)};
}

std::size_t LruResponseCache::KeyHash::operator()(const CacheKey& key) const noexcept {
  std::size_t h = 0;
  std::memcpy(&h, key.digest.data(), sizeof h);  // already a uniform hash
  return h;
}

std::size_t LruResponseCache::footprint(std::string_view team, const CachedAnswer& answer) {
  const auto& c = answer.completion;
  std::size_t n = kEntryOverhead + team.size() + c.id.size() + c.model.size() + c.provider.size() + c.text.size() +
                  (c.stop_sequence ? c.stop_sequence->size() : 0) + answer.route.provider.size() +
                  answer.route.model.size() + answer.route.reason.size();
  for (const auto& call : c.tool_calls)
    n += sizeof(ToolCall) + call.id.size() + call.name.size() + call.arguments_json.size();
  return n;
}

void LruResponseCache::erase_locked(List::iterator it, std::vector<std::shared_ptr<const CachedAnswer>>& graveyard) {
  bytes_ -= it->bytes;
  graveyard.push_back(std::move(it->answer));
  index_.erase(it->key);
  lru_.erase(it);
}

void LruResponseCache::publish_locked() {
  entries_gauge_.set(static_cast<double>(lru_.size()));
  bytes_gauge_.set(static_cast<double>(bytes_));
}

std::shared_ptr<const CachedAnswer> LruResponseCache::lookup(const CacheKey& key, std::string_view team,
                                                             std::chrono::steady_clock::time_point now,
                                                             std::chrono::seconds ttl) {
  std::vector<std::shared_ptr<const CachedAnswer>> graveyard;  // freed after the lock
  std::lock_guard lock(mu_);
  auto found = index_.find(key);
  if (found == index_.end()) return nullptr;
  auto it = found->second;
  if (it->team != team) return nullptr;  // the key holds the team; this is a second fence
  if (now - it->stored_at >= ttl) {
    erase_locked(it, graveyard);
    evicted_expired_.inc();
    publish_locked();
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it);
  return it->answer;
}

void LruResponseCache::store(const CacheKey& key, std::string_view team, std::shared_ptr<const CachedAnswer> answer,
                             std::chrono::steady_clock::time_point now) {
  if (!answer || limits_.max_entries == 0) return;
  const std::size_t size = footprint(team, *answer);
  if (size > limits_.max_bytes) return;
  std::vector<std::shared_ptr<const CachedAnswer>> graveyard;
  std::lock_guard lock(mu_);
  if (auto found = index_.find(key); found != index_.end()) erase_locked(found->second, graveyard);
  while (!lru_.empty() && (lru_.size() >= limits_.max_entries || bytes_ + size > limits_.max_bytes)) {
    erase_locked(std::prev(lru_.end()), graveyard);
    evicted_capacity_.inc();
  }
  lru_.push_front(Entry{key, std::string(team), std::move(answer), now, size});
  index_.emplace(key, lru_.begin());
  bytes_ += size;
  publish_locked();
}

std::size_t LruResponseCache::entries() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

std::size_t LruResponseCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace aegis::gateway
