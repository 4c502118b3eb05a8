#include "identity/authenticator.hpp"

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
};

}  // namespace

Authenticator::Authenticator(store::KeyStore& keys, store::TeamStore& teams, store::DbExecutor& db, const Clock& clock,
                             std::chrono::seconds cache_ttl, std::size_t max_cache_entries)
    : keys_(keys), teams_(teams), db_(db), clock_(clock), ttl_(cache_ttl), max_entries_(max_cache_entries) {}

boost::asio::awaitable<Result<Principal>> Authenticator::authenticate(std::string_view presented_key) {
  // Not a coroutine itself: the key is copied into the coroutine frame now.
  return authenticate_owned(std::string(presented_key));
}

boost::asio::awaitable<Result<Principal>> Authenticator::authenticate_owned(std::string presented_key) {
  const auto key_id = key_id_of(presented_key);
  if (!key_id) co_return invalid_key();
  const std::string presented_hash = hash_key(presented_key);

  std::uint64_t generation = 0;
  std::optional<Result<Principal>> cached;
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(*key_id); it != cache_.end()) {
      if (clock_.steady_now() < it->second.expires_at) {
        // Ids never change owner, so a cached hash is authoritative for its id.
        if (constant_time_equal(presented_hash, it->second.secret_hash)) {
          cached.emplace(it->second.principal);
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
    out.key = std::move(key).value();
    return out;
  };
  Lookup found = co_await db_.run(load);

  if (found.error) co_return std::move(*found.error);
  if (!found.key || !constant_time_equal(presented_hash, found.key->secret_hash)) co_return invalid_key();
  if (found.key->revoked_at_ms) co_return revoked_key();
  if (!found.team) co_return invalid_key();  // a key without a team cannot act for anyone

  // A key's own clearance narrows its team's, never widens it (also after the team's is lowered).
  const Level clearance = std::min(found.team->clearance, found.key->clearance.value_or(found.team->clearance));
  Principal principal{found.team->name, found.key->id, clearance, found.team->monthly_budget,
                      found.team->response_cache_ttl_s};
  remember(*key_id, Entry{std::move(found.key->secret_hash), principal, clock_.steady_now() + ttl_}, generation);
  co_return principal;
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
  ++generation_;
}

std::size_t Authenticator::cache_size() const {
  std::lock_guard lock(mu_);
  return cache_.size();
}

}  // namespace aegis::identity
