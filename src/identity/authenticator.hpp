#pragma once
// Resolves a presented virtual key to a Principal.
//
// The key's id finds the record (through the DbExecutor, never on the caller's
// thread); SHA-256 of the presented key is compared with the stored hash in
// constant time. Successful lookups are cached for a short TTL so the hot path
// does not touch the database; a revoked key stops working immediately when
// invalidate() is called, and after at most cache_ttl otherwise (another
// replica or the CLI revoked it).
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "identity/principal.hpp"
#include "store/db_executor.hpp"
#include "store/rate_limits.hpp"
#include "store/store.hpp"

namespace aegis::identity {

class Authenticator {
 public:
  static constexpr std::size_t kDefaultMaxCacheEntries = 10'000;

  Authenticator(store::KeyStore& keys, store::TeamStore& teams, store::DbExecutor& db, const Clock& clock,
                std::chrono::seconds cache_ttl = std::chrono::seconds(5),
                std::size_t max_cache_entries = kDefaultMaxCacheEntries, store::RateLimitStore* limits = nullptr);
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // unauthorized "invalid API key" for a malformed key, an unknown id or a wrong
  // secret (one message, so ids cannot be probed); unauthorized "API key revoked"
  // for a revoked key whose secret is right; store errors pass through.
  // The key is copied before the first suspension, so the caller's buffer need
  // not outlive the returned awaitable.
  boost::asio::awaitable<Result<Principal>> authenticate(std::string_view presented_key);

  // Drops a key from the cache (call after revoking it). Lookups already in
  // flight when this is called do not re-insert it.
  void invalidate(const std::string& key_id);
  // Drops every cached key (e.g. after a team's clearance changes).
  void invalidate_all();

  std::size_t cache_size() const;

 private:
  struct Entry {
    std::string secret_hash;
    Principal principal;
    std::chrono::steady_clock::time_point expires_at;
  };

  boost::asio::awaitable<Result<Principal>> authenticate_owned(std::string presented_key);
  void remember(const std::string& key_id, Entry entry, std::uint64_t generation);

  store::KeyStore& keys_;
  store::TeamStore& teams_;
  store::DbExecutor& db_;
  store::RateLimitStore* limits_;  // null: principals carry no rate limits
  const Clock& clock_;
  const std::chrono::steady_clock::duration ttl_;
  const std::size_t max_entries_;

  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> cache_;
  std::uint64_t generation_ = 0;  // bumped by every invalidation
};

}  // namespace aegis::identity
