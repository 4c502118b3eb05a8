#pragma once
// Resolves a presented virtual key to a Principal.
//
// The key's id finds the record (through the DbExecutor, never on the caller's
// thread); SHA-256 of the presented key is compared with the stored hash in
// constant time. Successful lookups are cached for a short TTL so the hot path
// does not touch the database; a revoked key stops working immediately when
// invalidate() is called, and after at most cache_ttl otherwise (another
// replica or the CLI revoked it). Changes through the admin API (update,
// rotation) invalidate the same way, and a store shared by replicas tells
// every replica (store::Database::watch_changes).
//
// Key lifecycle (issue 19): an expired key (expires_at_ms passed, checked on
// every call, cached or not) is answered like an unknown key; after a
// rotation the previous secret is accepted until its grace ends. Each
// successful authentication notes the key's last use, to the minute, in
// memory only: flush_uses() writes what was noted in one batch
// (store::KeyStore::touch_keys), from a background thread, before the admin
// listing reads the keys, and at shutdown; never a write per request.
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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

  // The principals of the teams among `teams` that exist, in that order, for
  // a caller that holds no virtual key (an OIDC token, identity/oidc_identity.hpp):
  // each built from the team's record exactly as for one of its keys
  // (clearance, budget, team rate limits, response cache) with `key_id`, no
  // key limits and no key model list. Team records are cached like keys
  // (invalidate_all drops them); store errors pass through.
  boost::asio::awaitable<Result<std::vector<Principal>>> team_principals(std::vector<std::string> teams,
                                                                         std::string key_id);

  // Drops a key from the cache (call after revoking it). Lookups already in
  // flight when this is called do not re-insert it.
  void invalidate(const std::string& key_id);
  // Drops every cached key (e.g. after a team's clearance changes).
  void invalidate_all();

  std::size_t cache_size() const;

  // The last uses noted since the previous call (and drops them).
  std::vector<store::KeyUse> take_uses();
  // Writes the noted last uses in one batch. Blocking: call it off the I/O
  // threads. On a store error the uses are kept for the next call.
  Result<void> flush_uses();

  // Last uses are kept to the minute: 12:34:56 is noted as 12:34:00.
  static constexpr std::int64_t kUseGranularityMs = 60'000;

 private:
  struct Entry {
    std::string secret_hash;
    std::string previous_secret_hash;  // a rotation's replaced secret, "" none
    std::optional<std::int64_t> previous_valid_until_ms;
    std::optional<std::int64_t> key_expires_at_ms;
    Principal principal;
    std::chrono::steady_clock::time_point expires_at;
  };

  // Whether `presented_hash` is the key's secret, or its previous one within the grace.
  static bool secret_matches(const std::string& presented_hash, const std::string& secret_hash,
                             const std::string& previous_hash, const std::optional<std::int64_t>& previous_until,
                             std::int64_t now_ms);
  std::int64_t now_ms() const;
  void note_use_locked(const std::string& key_id, std::int64_t now_ms);

  boost::asio::awaitable<Result<Principal>> authenticate_owned(std::string presented_key);
  void remember(const std::string& key_id, Entry entry, std::uint64_t generation);

  store::KeyStore& keys_;
  store::TeamStore& teams_;
  store::DbExecutor& db_;
  store::RateLimitStore* limits_;  // null: principals carry no rate limits
  const Clock& clock_;
  const std::chrono::steady_clock::duration ttl_;
  const std::size_t max_entries_;

  struct TeamEntry {
    std::optional<Principal> principal;  // nullopt: no such team
    std::chrono::steady_clock::time_point expires_at;
  };

  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> cache_;
  std::unordered_map<std::string, TeamEntry> team_cache_;  // team name -> principal (key_id empty)
  std::uint64_t generation_ = 0;                           // bumped by every invalidation
  // Key id -> last use (to the minute) not yet written, and the last minute
  // noted per key, so a key used many times a minute is noted once.
  std::unordered_map<std::string, std::int64_t> pending_uses_;
  std::unordered_map<std::string, std::int64_t> noted_minute_;
};

}  // namespace aegis::identity
