#include "identity/authenticator.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "identity/api_key.hpp"

namespace aegis::identity {

namespace {

Error invalid_key() { return make_error(ErrorCode::unauthorized, "invalid API key"); }
Error revoked_key() { return make_error(ErrorCode::unauthorized, "API key revoked"); }

struct Lookup {
  std::optional<Error> error;  // set when the lookup itself failed
  std::optional<store::ApiKeyRecord> key;
  std::optional<store::Team> team;
  store::RateLimits team_limits;
  store::RateLimits key_limits;
};

}  // namespace

Authenticator::Authenticator(store::KeyStore& keys, store::TeamStore& teams, store::DbExecutor& db, const Clock& clock,
                             std::chrono::seconds cache_ttl, std::size_t max_cache_entries,
                             store::RateLimitStore* limits)
    : keys_(keys),
      teams_(teams),
      db_(db),
      limits_(limits),
      clock_(clock),
      ttl_(cache_ttl),
      max_entries_(max_cache_entries) {}

boost::asio::awaitable<Result<Principal>> Authenticator::authenticate(std::string_view presented_key) {
  // Not a coroutine itself: the key is copied into the coroutine frame now.
  return authenticate_owned(std::string(presented_key));
}

std::int64_t Authenticator::now_ms() const { return clock_.wall_ms(); }

bool Authenticator::secret_matches(const std::string& presented_hash, const std::string& secret_hash,
                                   const std::string& previous_hash, const std::optional<std::int64_t>& previous_until,
                                   std::int64_t now_ms) {
  // Both comparisons run whenever a previous secret is stored, whichever matches.
  const bool current = constant_time_equal(presented_hash, secret_hash);
  const bool previous = !previous_hash.empty() && constant_time_equal(presented_hash, previous_hash);
  return current || (previous && previous_until && now_ms < *previous_until);
}

void Authenticator::note_use_locked(const std::string& key_id, std::int64_t now_ms) {
  const std::int64_t minute = now_ms - (now_ms % kUseGranularityMs);
  auto [it, added] = noted_minute_.try_emplace(key_id, minute);
  if (!added) {
    if (it->second >= minute) return;  // already noted this minute: the common case costs one lookup
    it->second = minute;
  }
  pending_uses_.insert_or_assign(key_id, minute);
  // Bounded like the cache: a key seen once long ago need not be remembered.
  if (noted_minute_.size() > 4 * std::max<std::size_t>(max_entries_, 1)) {
    std::erase_if(noted_minute_, [minute](const auto& kv) { return kv.second < minute; });
  }
}

std::vector<store::KeyUse> Authenticator::take_uses() {
  std::lock_guard lock(mu_);
  std::vector<store::KeyUse> out;
  out.reserve(pending_uses_.size());
  for (const auto& [id, at] : pending_uses_) out.push_back(store::KeyUse{id, at});
  pending_uses_.clear();
  return out;
}

Result<void> Authenticator::flush_uses() {
  auto uses = take_uses();
  if (uses.empty()) return {};
  auto written = keys_.touch_keys(uses);
  if (!written.ok()) {
    std::lock_guard lock(mu_);
    for (const auto& use : uses) {
      auto [it, added] = pending_uses_.try_emplace(use.id, use.used_at_ms);
      if (!added) it->second = std::max(it->second, use.used_at_ms);
    }
  }
  return written;
}

boost::asio::awaitable<Result<Principal>> Authenticator::authenticate_owned(std::string presented_key) {
  const auto key_id = key_id_of(presented_key);
  if (!key_id) co_return invalid_key();
  const std::string presented_hash = hash_key(presented_key);
  const std::int64_t now = now_ms();

  std::uint64_t generation = 0;
  std::optional<Result<Principal>> cached;
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(*key_id); it != cache_.end()) {
      if (clock_.steady_now() < it->second.expires_at) {
        // Ids never change owner, so a cached hash is authoritative for its id.
        const Entry& e = it->second;
        const bool expired = e.key_expires_at_ms && now >= *e.key_expires_at_ms;
        if (secret_matches(presented_hash, e.secret_hash, e.previous_secret_hash, e.previous_valid_until_ms, now) &&
            !expired) {
          cached.emplace(e.principal);
          note_use_locked(*key_id, now);
        } else {
          cached.emplace(invalid_key());
        }
      } else {
        cache_.erase(it);
      }
    }
    generation = generation_;
  }
  if (cached) co_return std::move(*cached);

  // A named function object: GCC 12 destroys temporaries with non-trivial
  // captures twice when they are created inside a co_await expression.
  const std::string* id_ptr = &*key_id;  // key_id lives in this frame until we resume
  auto load = [this, id_ptr]() -> Lookup {
    const std::string& id = *id_ptr;
    Lookup out;
    auto key = keys_.get_key(id);
    if (!key) {
      if (key.error().code != ErrorCode::not_found) out.error = std::move(key).error();
      return out;
    }
    auto team = teams_.get_team(key->team);
    if (!team) {
      if (team.error().code != ErrorCode::not_found) out.error = std::move(team).error();
    } else {
      out.team = std::move(team).value();
    }
    if (limits_ != nullptr && out.team) {
      auto team_limits = limits_->get_rate_limits(store::LimitScope::team, out.team->name);
      auto key_limits = limits_->get_rate_limits(store::LimitScope::key, id);
      if (!team_limits.ok() || !key_limits.ok()) {
        out.error = !team_limits.ok() ? std::move(team_limits).error() : std::move(key_limits).error();
        return out;
      }
      out.team_limits = *team_limits;
      out.key_limits = *key_limits;
    }
    out.key = std::move(key).value();
    return out;
  };
  Lookup found = co_await db_.run(load);

  if (found.error) co_return std::move(*found.error);
  if (!found.key || !secret_matches(presented_hash, found.key->secret_hash, found.key->previous_secret_hash,
                                    found.key->previous_valid_until_ms, now)) {
    co_return invalid_key();
  }
  if (found.key->revoked_at_ms) co_return revoked_key();
  // An expired key reads as an unknown one: nothing about it is told.
  if (found.key->expires_at_ms && now >= *found.key->expires_at_ms) co_return invalid_key();
  if (!found.team) co_return invalid_key();  // a key without a team cannot act for anyone

  // A key's own clearance narrows its team's, never widens it (also after the team's is lowered).
  const Level clearance = std::min(found.team->clearance, found.key->clearance.value_or(found.team->clearance));
  Principal principal{found.team->name,           found.key->id,   clearance,
                      found.team->monthly_budget, nullptr,         found.key->monthly_budget,
                      found.team_limits,          found.key_limits};
  principal.response_cache_ttl_s = found.team->response_cache_ttl_s;
  if (found.key->models) {
    principal.models = std::make_shared<const std::vector<std::string>>(std::move(*found.key->models));
  }
  Entry entry{std::move(found.key->secret_hash),
              std::move(found.key->previous_secret_hash),
              found.key->previous_valid_until_ms,
              found.key->expires_at_ms,
              principal,
              clock_.steady_now() + ttl_};
  remember(*key_id, std::move(entry), generation);
  {
    std::lock_guard lock(mu_);
    note_use_locked(*key_id, now);
  }
  co_return principal;
}

boost::asio::awaitable<Result<std::vector<Principal>>> Authenticator::team_principals(std::vector<std::string> teams,
                                                                                      std::string key_id) {
  std::vector<std::optional<Principal>> found(teams.size());
  std::vector<std::size_t> missing;  // indexes into teams not answered by the cache
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    const auto now = clock_.steady_now();
    for (std::size_t i = 0; i < teams.size(); ++i) {
      const auto it = team_cache_.find(teams[i]);
      if (it != team_cache_.end() && now < it->second.expires_at) {
        found[i] = it->second.principal;
      } else {
        missing.push_back(i);
      }
    }
    generation = generation_;
  }
  if (!missing.empty()) {
    struct TeamLookup {
      std::optional<Error> error;
      std::vector<std::optional<Principal>> principals;
    };
    // A named function object, as in authenticate_owned (GCC 12 and co_await temporaries).
    const auto* names = &teams;
    const auto* which = &missing;
    auto load = [this, names, which]() -> TeamLookup {
      TeamLookup out;
      for (const std::size_t i : *which) {
        auto team = teams_.get_team((*names)[i]);
        if (!team) {
          if (team.error().code != ErrorCode::not_found) {
            out.error = std::move(team).error();
            return out;
          }
          out.principals.emplace_back();
          continue;
        }
        store::RateLimits team_limits;
        if (limits_ != nullptr) {
          auto got = limits_->get_rate_limits(store::LimitScope::team, team->name);
          if (!got.ok()) {
            out.error = std::move(got).error();
            return out;
          }
          team_limits = *got;
        }
        Principal p{team->name, "", team->clearance, team->monthly_budget, nullptr, std::nullopt, team_limits, {}};
        p.response_cache_ttl_s = team->response_cache_ttl_s;
        out.principals.emplace_back(std::move(p));
      }
      return out;
    };
    TeamLookup looked = co_await db_.run(load);
    if (looked.error) co_return std::move(*looked.error);
    std::lock_guard lock(mu_);
    const bool current = generation == generation_ && ttl_ > std::chrono::steady_clock::duration::zero();
    if (current && team_cache_.size() + missing.size() > std::max<std::size_t>(max_entries_, 1)) team_cache_.clear();
    for (std::size_t j = 0; j < missing.size(); ++j) {
      found[missing[j]] = looked.principals[j];
      if (current)
        team_cache_.insert_or_assign(teams[missing[j]], TeamEntry{looked.principals[j], clock_.steady_now() + ttl_});
    }
  }
  std::vector<Principal> out;
  for (auto& p : found) {
    if (!p) continue;
    p->key_id = key_id;
    out.push_back(std::move(*p));
  }
  co_return out;
}

void Authenticator::remember(const std::string& key_id, Entry entry, std::uint64_t generation) {
  if (ttl_ <= std::chrono::steady_clock::duration::zero() || max_entries_ == 0) return;
  std::lock_guard lock(mu_);
  if (generation != generation_) return;  // invalidated while we were looking it up
  if (cache_.size() >= max_entries_ && !cache_.contains(key_id)) {
    const auto now = clock_.steady_now();
    std::erase_if(cache_, [now](const auto& kv) { return kv.second.expires_at <= now; });
    if (cache_.size() >= max_entries_) cache_.erase(cache_.begin());
  }
  cache_.insert_or_assign(key_id, std::move(entry));
}

void Authenticator::invalidate(const std::string& key_id) {
  std::lock_guard lock(mu_);
  cache_.erase(key_id);
  ++generation_;
}

void Authenticator::invalidate_all() {
  std::lock_guard lock(mu_);
  cache_.clear();
  team_cache_.clear();
  ++generation_;
}

std::size_t Authenticator::cache_size() const {
  std::lock_guard lock(mu_);
  return cache_.size();
}

}  // namespace aegis::identity
