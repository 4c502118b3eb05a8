#include "identity/authenticator.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "core/system_clock.hpp"
#include "identity/admin_service.hpp"
#include "identity/api_key.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace aegis::identity {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace std::chrono_literals;

// Counts calls, remembers which thread made them, can fail or hold a lookup.
class SpyStore final : public store::KeyStore, public store::TeamStore {
 public:
  explicit SpyStore(store::Store& inner) : inner_(inner) {}

  Result<store::ApiKeyRecord> get_key(const std::string& id) override {
    ++get_key_calls;
    note_thread();
    if (hold) {
      std::unique_lock lock(mu_);
      entered_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    }
    if (fail) return make_error(ErrorCode::internal, "storage error in get_key: disk I/O error");
    return inner_.get_key(id);
  }
  Result<store::Team> get_team(const std::string& name) override {
    ++get_team_calls;
    note_thread();
    return inner_.get_team(name);
  }
  Result<store::ApiKeyRecord> create_key(const store::ApiKeyRecord& k) override { return inner_.create_key(k); }
  Result<std::vector<store::ApiKeyRecord>> list_keys(const std::optional<std::string>& t) override {
    return inner_.list_keys(t);
  }
  Result<void> revoke_key(const std::string& id, std::int64_t at) override { return inner_.revoke_key(id, at); }
  Result<store::ApiKeyRecord> update_key(const std::string& id, const store::KeyPatch& p) override {
    return inner_.update_key(id, p);
  }
  Result<store::ApiKeyRecord> rotate_key(const std::string& id, const store::KeyRotation& r) override {
    return inner_.rotate_key(id, r);
  }
  Result<void> touch_keys(const std::vector<store::KeyUse>& uses) override {
    ++touch_calls;
    touched += static_cast<int>(uses.size());
    return inner_.touch_keys(uses);
  }
  Result<std::vector<store::KeySpend>> load_key_spend(const std::string& period) override {
    return inner_.load_key_spend(period);
  }
  Result<store::Team> create_team(const store::Team& t) override { return inner_.create_team(t); }
  Result<std::vector<store::Team>> list_teams() override { return inner_.list_teams(); }
  Result<store::Team> update_team(const std::string& n, const store::TeamPatch& p) override {
    return inner_.update_team(n, p);
  }

  void wait_until_entered() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  std::thread::id last_thread() {
    std::lock_guard lock(mu_);
    return thread_;
  }

  std::atomic<int> get_key_calls{0};
  std::atomic<int> get_team_calls{0};
  std::atomic<int> touch_calls{0};
  std::atomic<int> touched{0};
  std::atomic<bool> fail{false};
  std::atomic<bool> hold{false};

 private:
  void note_thread() {
    std::lock_guard lock(mu_);
    thread_ = std::this_thread::get_id();
  }
  store::Store& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool released_ = false;
  std::thread::id thread_;
};

class AuthenticatorTest : public ::testing::Test {
 protected:
  AuthenticatorTest() {
    static std::atomic<int> counter{0};
    dir_ =
        fs::temp_directory_path() / ("aegis-auth-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(dir_);
    store_ = std::make_unique<store::SqliteStore>((dir_ / "aegis.db").string(), clock_);
    spy_ = std::make_unique<SpyStore>(*store_);
    auth_ = std::make_unique<Authenticator>(*spy_, *spy_, db_, clock_, 5s);
    EXPECT_TRUE(create_team(*store_, clock_, TeamInput{"payments", Money::from_dollars(10), Level::CONFIDENTIAL}).ok());
    key_ = new_key("payments");
  }
  ~AuthenticatorTest() override {
    auth_.reset();
    db_.stop();
    spy_.reset();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string new_key(const std::string& team) {
    auto k = create_key(*store_, clock_, team);
    EXPECT_TRUE(k.ok());
    return k->key.key;
  }

  // Runs one authentication to completion on io_.
  Result<Principal> authenticate(std::string_view key) {
    std::optional<Result<Principal>> out;
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { out.emplace(co_await auth_->authenticate(key)); },
        [](const std::exception_ptr& e) {
          if (e) std::rethrow_exception(e);
        });
    io_.restart();
    io_.run();
    if (!out) return make_error(ErrorCode::internal, "test: coroutine did not finish");
    return std::move(*out);
  }

  static void expect_unauthorized(const Result<Principal>& r, const std::string& message) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::unauthorized);
    EXPECT_EQ(r.error().message, message);
  }

  fs::path dir_;
  ManualClock clock_{std::chrono::system_clock::time_point(1'700'000'000'000ms)};
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<SpyStore> spy_;
  store::DbExecutor db_{1};
  asio::io_context io_;
  std::unique_ptr<Authenticator> auth_;
  std::string key_;
};

TEST_F(AuthenticatorTest, ValidKeyResolvesToTeamAndClearance) {
  auto p = authenticate(key_);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->team, "payments");
  EXPECT_EQ(p->key_id, *key_id_of(key_));
  EXPECT_EQ(p->clearance, Level::CONFIDENTIAL);
}

TEST_F(AuthenticatorTest, StoreIsCalledOffTheCallerThread) {
  ASSERT_TRUE(authenticate(key_).ok());
  EXPECT_EQ(spy_->get_key_calls.load(), 1);
  EXPECT_NE(spy_->last_thread(), std::thread::id());
  EXPECT_NE(spy_->last_thread(), std::this_thread::get_id());  // io_ runs on this thread
}

TEST_F(AuthenticatorTest, WrongSecretForARealIdIsUnauthorized) {
  std::string wrong = key_;
  wrong[30] = wrong[30] == 'A' ? 'B' : 'A';
  ASSERT_TRUE(key_id_of(wrong).has_value());  // well-formed, real id, wrong secret
  expect_unauthorized(authenticate(wrong), "invalid API key");
  EXPECT_EQ(spy_->get_key_calls.load(), 1);
  EXPECT_EQ(auth_->cache_size(), 0u);  // failures are not cached
  expect_unauthorized(authenticate(wrong), "invalid API key");
  EXPECT_EQ(spy_->get_key_calls.load(), 2);
}

TEST_F(AuthenticatorTest, WrongSecretIsRejectedFromTheCacheToo) {
  ASSERT_TRUE(authenticate(key_).ok());
  std::string wrong = key_;
  wrong.back() = wrong.back() == 'A' ? 'Q' : 'A';
  expect_unauthorized(authenticate(wrong), "invalid API key");
  EXPECT_EQ(spy_->get_key_calls.load(), 1);
}

TEST_F(AuthenticatorTest, UnknownIdGetsTheSameAnswerAsAWrongSecret) {
  const NewKey never_stored = generate_key();
  expect_unauthorized(authenticate(never_stored.key), "invalid API key");
  expect_unauthorized(authenticate(never_stored.key), "invalid API key");
  EXPECT_EQ(spy_->get_key_calls.load(), 2);
}

TEST_F(AuthenticatorTest, MalformedKeysAreRejectedWithoutTouchingTheStore) {
  for (const std::string& bad :
       std::vector<std::string>{std::string(), std::string("Bearer ") + key_, key_ + " ", key_.substr(0, 63),
                                std::string("sk-ant-api03-xxxxxxxx"), std::string(64, 'a')}) {
    expect_unauthorized(authenticate(bad), "invalid API key");
  }
  EXPECT_EQ(spy_->get_key_calls.load(), 0);
}

TEST_F(AuthenticatorTest, CacheHitDoesNotTouchTheStore) {
  ASSERT_TRUE(authenticate(key_).ok());
  ASSERT_EQ(spy_->get_key_calls.load(), 1);
  ASSERT_EQ(spy_->get_team_calls.load(), 1);
  for (int i = 0; i < 5; ++i) {
    auto p = authenticate(key_);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->team, "payments");
    EXPECT_EQ(p->clearance, Level::CONFIDENTIAL);
  }
  EXPECT_EQ(spy_->get_key_calls.load(), 1);
  EXPECT_EQ(spy_->get_team_calls.load(), 1);
  EXPECT_EQ(auth_->cache_size(), 1u);
}

TEST_F(AuthenticatorTest, RevokedKeyFailsImmediatelyAfterInvalidate) {
  ASSERT_TRUE(authenticate(key_).ok());
  const std::string id = *key_id_of(key_);
  ASSERT_TRUE(revoke_key(*store_, clock_, id).ok());
  // Without invalidate the cache would still answer (within the TTL)...
  ASSERT_TRUE(authenticate(key_).ok());
  // ...the admin API calls invalidate() after revoking.
  auth_->invalidate(id);
  expect_unauthorized(authenticate(key_), "API key revoked");
  expect_unauthorized(authenticate(key_), "API key revoked");  // and it is not cached as valid
}

TEST_F(AuthenticatorTest, RevokedKeyFailsAfterTheTtlWithoutInvalidate) {
  ASSERT_TRUE(authenticate(key_).ok());
  ASSERT_TRUE(revoke_key(*store_, clock_, *key_id_of(key_)).ok());  // e.g. by the CLI or another replica
  clock_.advance(4s);
  EXPECT_TRUE(authenticate(key_).ok());
  EXPECT_EQ(spy_->get_key_calls.load(), 1);
  clock_.advance(1s);
  expect_unauthorized(authenticate(key_), "API key revoked");
  EXPECT_EQ(spy_->get_key_calls.load(), 2);
}

TEST_F(AuthenticatorTest, RevokedKeyWithAWrongSecretDoesNotRevealTheRevocation) {
  ASSERT_TRUE(revoke_key(*store_, clock_, *key_id_of(key_)).ok());
  std::string wrong = key_;
  wrong[40] = wrong[40] == 'z' ? 'y' : 'z';
  expect_unauthorized(authenticate(wrong), "invalid API key");
}

TEST_F(AuthenticatorTest, ExpiredEntriesAreReloaded) {
  ASSERT_TRUE(authenticate(key_).ok());
  ASSERT_TRUE(store_->update_team("payments", store::TeamPatch{std::nullopt, Level::RESTRICTED}).ok());
  EXPECT_EQ(authenticate(key_)->clearance, Level::CONFIDENTIAL);  // cached
  clock_.advance(6s);
  EXPECT_EQ(authenticate(key_)->clearance, Level::RESTRICTED);
  EXPECT_EQ(spy_->get_key_calls.load(), 2);
}

TEST_F(AuthenticatorTest, CacheIsBounded) {
  Authenticator small(*spy_, *spy_, db_, clock_, 60s, 2);
  std::vector<std::string> keys = {key_, new_key("payments"), new_key("payments"), new_key("payments")};
  for (const auto& k : keys) {
    std::optional<Result<Principal>> out;
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { out.emplace(co_await small.authenticate(k)); },
        [](const std::exception_ptr& e) {
          if (e) std::rethrow_exception(e);
        });
    io_.restart();
    io_.run();
    ASSERT_TRUE(out && out->ok());
    EXPECT_LE(small.cache_size(), 2u);
  }
  EXPECT_EQ(small.cache_size(), 2u);
}

TEST_F(AuthenticatorTest, ZeroTtlDisablesTheCache) {
  Authenticator uncached(*spy_, *spy_, db_, clock_, 0s);
  for (int i = 0; i < 3; ++i) {
    std::optional<Result<Principal>> out;
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { out.emplace(co_await uncached.authenticate(key_)); },
        [](const std::exception_ptr& e) {
          if (e) std::rethrow_exception(e);
        });
    io_.restart();
    io_.run();
    ASSERT_TRUE(out && out->ok());
  }
  EXPECT_EQ(spy_->get_key_calls.load(), 3);
  EXPECT_EQ(uncached.cache_size(), 0u);
}

TEST_F(AuthenticatorTest, StoreErrorsPassThroughAndAreNotCached) {
  spy_->fail = true;
  auto r = authenticate(key_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::internal);
  EXPECT_EQ(auth_->cache_size(), 0u);
  spy_->fail = false;
  EXPECT_TRUE(authenticate(key_).ok());
}

TEST_F(AuthenticatorTest, KeyBufferNeedNotOutliveTheCall) {
  std::optional<Result<Principal>> out;
  {
    auto buffer = std::make_unique<std::string>(key_);
    auto awaitable = auth_->authenticate(*buffer);
    buffer->assign(key_.size(), 'x');
    buffer.reset();
    asio::co_spawn(
        io_, [&, aw = std::move(awaitable)]() mutable -> asio::awaitable<void> { out.emplace(co_await std::move(aw)); },
        [](const std::exception_ptr& e) {
          if (e) std::rethrow_exception(e);
        });
  }
  io_.restart();
  io_.run();
  ASSERT_TRUE(out.has_value());
  ASSERT_TRUE(out->ok()) << out->error().message;
  EXPECT_EQ((*out)->team, "payments");
}

TEST_F(AuthenticatorTest, InvalidateDuringALookupKeepsTheStaleAnswerOutOfTheCache) {
  spy_->hold = true;
  std::promise<Result<Principal>> done;
  asio::co_spawn(
      io_, [&]() -> asio::awaitable<void> { done.set_value(co_await auth_->authenticate(key_)); },
      [](const std::exception_ptr& e) {
        if (e) std::rethrow_exception(e);
      });
  std::thread io_thread([&] { io_.run(); });
  spy_->wait_until_entered();           // the lookup has started with the key still valid
  auth_->invalidate(*key_id_of(key_));  // e.g. revoked through the admin API meanwhile
  spy_->release();
  auto result = done.get_future().get();
  io_thread.join();
  EXPECT_TRUE(result.ok());            // that request was already past the check
  EXPECT_EQ(auth_->cache_size(), 0u);  // but its answer is not remembered
  spy_->hold = false;
}

}  // namespace
}  // namespace aegis::identity

namespace aegis::identity {
namespace {

// Key lifecycle (issue 19).

std::int64_t now_ms(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall_now().time_since_epoch()).count();
}

TEST_F(AuthenticatorTest, AnExpiredKeyReadsAsAnUnknownOneCachedOrNot) {
  const std::string id = *key_id_of(key_);
  store::KeyPatch patch;
  patch.expires_at_ms.emplace(now_ms(clock_) + 4'000);  // within the cache's 5 s TTL
  ASSERT_TRUE(update_key(*store_, *store_, id, patch).ok());
  ASSERT_TRUE(authenticate(key_).ok());  // cached now, with its expiry
  clock_.advance(3s);
  EXPECT_TRUE(authenticate(key_).ok());
  EXPECT_EQ(spy_->get_key_calls.load(), 1);
  clock_.advance(1s);  // the expiry itself: no longer valid, though still cached
  expect_unauthorized(authenticate(key_), "invalid API key");
  EXPECT_EQ(spy_->get_key_calls.load(), 1);
  clock_.advance(5s);  // and from the store, after the cache's TTL
  expect_unauthorized(authenticate(key_), "invalid API key");
  EXPECT_EQ(spy_->get_key_calls.load(), 2);
  // Clearing the expiry brings it back.
  patch.expires_at_ms.emplace(std::nullopt);
  ASSERT_TRUE(update_key(*store_, *store_, id, patch).ok());
  auth_->invalidate(id);
  EXPECT_TRUE(authenticate(key_).ok());
}

TEST_F(AuthenticatorTest, BothSecretsWorkDuringARotationsGraceThenOnlyTheNewOne) {
  const std::string id = *key_id_of(key_);
  ASSERT_TRUE(authenticate(key_).ok());
  auto rotated = rotate_key(*store_, clock_, id, 60);
  ASSERT_TRUE(rotated.ok()) << rotated.error().message;
  EXPECT_EQ(key_id_of(rotated->key), std::optional<std::string>(id));  // the same key id
  EXPECT_NE(rotated->key, key_);
  EXPECT_EQ(rotated->previous_valid_until_ms, std::optional<std::int64_t>(now_ms(clock_) + 60'000));
  auth_->invalidate(id);  // as the admin API does
  auto with_old = authenticate(key_);
  auto with_new = authenticate(rotated->key);
  ASSERT_TRUE(with_old.ok()) << with_old.error().message;
  ASSERT_TRUE(with_new.ok()) << with_new.error().message;
  EXPECT_EQ(with_old->key_id, id);
  EXPECT_EQ(with_new->key_id, id);
  clock_.advance(59s);
  EXPECT_TRUE(authenticate(key_).ok());
  clock_.advance(1s);  // the grace is over, cached entry or not
  expect_unauthorized(authenticate(key_), "invalid API key");
  EXPECT_TRUE(authenticate(rotated->key).ok());
  auth_->invalidate(id);
  expect_unauthorized(authenticate(key_), "invalid API key");
  EXPECT_TRUE(authenticate(rotated->key).ok());
}

TEST_F(AuthenticatorTest, RotationWithoutGraceRevokesTheOldSecretAtOnce) {
  const std::string id = *key_id_of(key_);
  ASSERT_TRUE(authenticate(key_).ok());
  auto rotated = rotate_key(*store_, clock_, id, 0);
  ASSERT_TRUE(rotated.ok()) << rotated.error().message;
  EXPECT_FALSE(rotated->previous_valid_until_ms.has_value());
  auth_->invalidate(id);
  expect_unauthorized(authenticate(key_), "invalid API key");
  EXPECT_TRUE(authenticate(rotated->key).ok());
  // A grace out of range is refused before anything changes.
  for (std::int64_t bad : {std::int64_t{-1}, kMaxRotationGraceS + 1}) {
    auto refused = rotate_key(*store_, clock_, id, bad);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, ErrorCode::invalid_request);
  }
  EXPECT_TRUE(authenticate(rotated->key).ok());
}

TEST_F(AuthenticatorTest, LastUseIsNotedInMemoryToTheMinuteAndFlushedInOneBatch) {
  const std::string id = *key_id_of(key_);
  const std::string other = new_key("payments");
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(authenticate(key_).ok());
  ASSERT_TRUE(authenticate(other).ok());
  EXPECT_EQ(spy_->touch_calls.load(), 0);  // no write per request
  EXPECT_FALSE(store_->get_key(id)->last_used_at_ms.has_value());
  ASSERT_TRUE(auth_->flush_uses().ok());
  EXPECT_EQ(spy_->touch_calls.load(), 1);
  EXPECT_EQ(spy_->touched.load(), 2);  // one entry per key, however many requests
  const std::int64_t minute = now_ms(clock_) - now_ms(clock_) % Authenticator::kUseGranularityMs;
  EXPECT_EQ(store_->get_key(id)->last_used_at_ms, std::optional<std::int64_t>(minute));
  // Nothing new: nothing written. The same minute again: nothing new either.
  ASSERT_TRUE(auth_->flush_uses().ok());
  ASSERT_TRUE(authenticate(key_).ok());
  ASSERT_TRUE(auth_->flush_uses().ok());
  EXPECT_EQ(spy_->touch_calls.load(), 1);
  // The next minute is noted.
  clock_.advance(61s);
  ASSERT_TRUE(authenticate(key_).ok());
  ASSERT_TRUE(auth_->flush_uses().ok());
  EXPECT_EQ(spy_->touch_calls.load(), 2);
  EXPECT_GT(*store_->get_key(id)->last_used_at_ms, minute);
  // A failed authentication is not a use.
  std::string wrong = other;
  wrong.back() = wrong.back() == 'A' ? 'Q' : 'A';
  clock_.advance(61s);
  expect_unauthorized(authenticate(wrong), "invalid API key");
  EXPECT_TRUE(auth_->take_uses().empty());
}

TEST_F(AuthenticatorTest, ThePrincipalCarriesTheKeysModelsAndBudget) {
  const std::string id = *key_id_of(key_);
  auto plain = authenticate(key_);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->models, nullptr);
  EXPECT_FALSE(plain->key_monthly_budget.has_value());
  store::KeyPatch patch;
  patch.models.emplace(std::vector<std::string>{"haiku"});
  patch.monthly_budget.emplace(Money::from_dollars(3));
  ASSERT_TRUE(update_key(*store_, *store_, id, patch).ok());
  auth_->invalidate(id);
  auto limited = authenticate(key_);
  ASSERT_TRUE(limited.ok());
  ASSERT_NE(limited->models, nullptr);
  EXPECT_EQ(*limited->models, std::vector<std::string>{"haiku"});
  EXPECT_EQ(limited->key_monthly_budget, std::optional<Money>(Money::from_dollars(3)));
  EXPECT_EQ(limited->monthly_budget, Money::from_dollars(10));  // the team's cap is still there
}

TEST_F(AuthenticatorTest, AKeysBudgetCannotExceedItsTeamsCap) {
  const std::string id = *key_id_of(key_);
  store::KeyPatch patch;
  patch.monthly_budget.emplace(Money::from_micros(10'000'001));  // the team has $10
  auto refused = update_key(*store_, *store_, id, patch);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::invalid_request);
  EXPECT_FALSE(store_->get_key(id)->monthly_budget.has_value());
  KeyFields fields;
  fields.monthly_budget = Money::from_dollars(11);
  auto created = create_key(*store_, *store_, clock_, "payments", std::nullopt, fields);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::invalid_request);
  fields.monthly_budget = Money::from_dollars(10);
  EXPECT_TRUE(create_key(*store_, *store_, clock_, "payments", std::nullopt, fields).ok());
  KeyFields past;
  past.expires_at_ms = now_ms(clock_) - 1;
  EXPECT_FALSE(create_key(*store_, *store_, clock_, "payments", std::nullopt, past).ok());
}

}  // namespace
}  // namespace aegis::identity

namespace aegis::identity {
namespace {

// Principals for callers without a virtual key (OIDC tokens): the team's record, cached like keys.
TEST_F(AuthenticatorTest, TeamPrincipalsComeFromTheTeamsRecordAndAreCached) {
  auto run = [&](std::vector<std::string> teams) {
    std::optional<Result<std::vector<Principal>>> out;
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { out.emplace(co_await auth_->team_principals(teams, "oidc:0123")); },
        [](const std::exception_ptr& e) {
          if (e) std::rethrow_exception(e);
        });
    io_.restart();
    io_.run();
    return std::move(*out);
  };
  const int before = spy_->get_team_calls.load();
  auto got = run({"nope", "payments"});
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_EQ(got->size(), 1u);  // the team that does not exist is left out
  EXPECT_EQ((*got)[0].team, "payments");
  EXPECT_EQ((*got)[0].key_id, "oidc:0123");
  EXPECT_EQ((*got)[0].clearance, Level::CONFIDENTIAL);
  EXPECT_EQ((*got)[0].models, nullptr);
  EXPECT_FALSE((*got)[0].key_monthly_budget.has_value());
  EXPECT_EQ(spy_->get_team_calls.load(), before + 2);
  ASSERT_EQ(run({"payments", "nope"})->size(), 1u);
  EXPECT_EQ(spy_->get_team_calls.load(), before + 2);  // both answers cached, the missing team's too
  auth_->invalidate_all();
  ASSERT_EQ(run({"payments"})->size(), 1u);
  EXPECT_EQ(spy_->get_team_calls.load(), before + 3);
  clock_.advance(6s);
  ASSERT_EQ(run({"payments"})->size(), 1u);
  EXPECT_EQ(spy_->get_team_calls.load(), before + 4);  // past the TTL
}

}  // namespace
}  // namespace aegis::identity
