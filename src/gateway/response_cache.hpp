#pragma once
// The exact response cache (issue 19; docs/ARCHITECTURE.md, "The response
// cache"): a team that opted in gets the answer of an identical earlier
// request (same team, task, classification, model and canonical request)
// again, without a provider call, for as long as its TTL. Value types and the
// interface; the key is gateway/cache_key.hpp, the in-memory LRU
// gateway/lru_response_cache.hpp. Only the gateway reads and fills it, after
// classification and routing (gateway.cpp), and only for PUBLIC and INTERNAL
// requests: the cached answer is the restored one, kept in this process's
// memory only.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/chat.hpp"
#include "gateway/gateway.hpp"

namespace aegis::gateway {

// SHA-256 of the request's canonical form and what else must match
// (response_cache_key in gateway/cache_key.hpp).
struct CacheKey {
  std::array<unsigned char, 32> digest{};
  bool operator==(const CacheKey&) const = default;
};

// What a hit answers with: the answer as the client first received it
// (placeholders restored) and the route of the call that produced it.
struct CachedAnswer {
  Completion completion;
  Route route;
};

class ResponseCache {
 public:
  virtual ~ResponseCache() = default;

  // The answer `team` stored under `key` less than `ttl` before `now`, which
  // becomes the most recently used; nullptr when there is none (an entry
  // found older than `ttl` is dropped). Another team's entry is never
  // returned, whatever the key.
  virtual std::shared_ptr<const CachedAnswer> lookup(const CacheKey& key, std::string_view team,
                                                     std::chrono::steady_clock::time_point now,
                                                     std::chrono::seconds ttl) = 0;

  // Stores (or replaces) `team`'s answer under `key` as of `now`, evicting the
  // least recently used entries until the bounds hold again. An answer larger
  // than the byte bound by itself is not stored.
  virtual void store(const CacheKey& key, std::string_view team, std::shared_ptr<const CachedAnswer> answer,
                     std::chrono::steady_clock::time_point now) = 0;

  virtual std::size_t entries() const = 0;
  virtual std::size_t bytes() const = 0;
};

}  // namespace aegis::gateway
