// The store contract, run against every backend (the embedded SQLite file
// and PostgreSQL): teams and keys, the audit trail with the spend it books,
// the compliance view, append-only enforcement, and intents with their
// recovery. Backend-specific behaviour lives in sqlite_*_test.cpp and
// postgres_store_test.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/system_clock.hpp"
#include "support/audit_rows.hpp"
#include "support/store_backends.hpp"

namespace aegis::store {
namespace {

using namespace std::chrono_literals;
using audit::AuditQuery;
using audit::AuditRecord;

Team make_team(std::string name, std::int64_t dollars = 100, Level clearance = Level::INTERNAL) {
  Team t;
  t.name = std::move(name);
  t.monthly_budget = Money::from_dollars(dollars);
  t.clearance = clearance;
  t.created_at_ms = 1'700'000'000'000;
  return t;
}

ApiKeyRecord make_key(std::string id, std::string team, std::int64_t created_at_ms) {
  ApiKeyRecord k;
  k.id = std::move(id);
  k.team = std::move(team);
  k.prefix = "aeg_" + k.id + "_abcd";
  k.secret_hash = std::string(64, 'f');
  k.created_at_ms = created_at_ms;
  return k;
}

using test_support::full_row;
using test_support::row;

void expect_same(const AuditRecord& a, const AuditRecord& b) {
  EXPECT_EQ(a.time_ms, b.time_ms);
  EXPECT_EQ(a.request_id, b.request_id);
  EXPECT_EQ(a.team, b.team);
  EXPECT_EQ(a.key_id, b.key_id);
  EXPECT_EQ(a.surface, b.surface);
  EXPECT_EQ(a.task, b.task);
  EXPECT_EQ(a.level, b.level);
  EXPECT_EQ(a.entities, b.entities);
  EXPECT_EQ(a.placeholders, b.placeholders);
  EXPECT_EQ(a.tier, b.tier);
  EXPECT_EQ(a.provider, b.provider);
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.locality, b.locality);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.fallback_path, b.fallback_path);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.error_type, b.error_type);
  EXPECT_EQ(a.input_tokens, b.input_tokens);
  EXPECT_EQ(a.output_tokens, b.output_tokens);
  EXPECT_EQ(a.cache_read_tokens, b.cache_read_tokens);
  EXPECT_EQ(a.cache_write_tokens, b.cache_write_tokens);
  EXPECT_EQ(a.cost, b.cost);
  EXPECT_EQ(a.budget_period, b.budget_period);
  EXPECT_EQ(a.latency_us, b.latency_us);
  EXPECT_EQ(a.overhead_us, b.overhead_us);
  EXPECT_EQ(a.invented_pii, b.invented_pii);
  EXPECT_EQ(a.egress_blocked, b.egress_blocked);
  EXPECT_EQ(a.cache_hit, b.cache_hit);
}

std::vector<std::string> ids(const std::vector<AuditRecord>& rows) {
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(r.request_id);
  return out;
}

class StoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = test_support::make_backend_db(GetParam());
    if (db_ == nullptr) GTEST_SKIP() << "no PostgreSQL test server in this run (ctest's postgres.start provides one)";
    first_ = open();
  }
  // Another store on the same database (a restarted process, or a replica).
  Database* open() {
    stores_.push_back(db_->open(clock_));
    return stores_.back().get();
  }
  Database& store() { return *first_; }
  test_support::BackendDb& db() { return *db_; }

  ManualClock clock_{std::chrono::system_clock::time_point(1'700'000'000'000ms)};
  std::unique_ptr<test_support::BackendDb> db_;
  std::vector<std::unique_ptr<Database>> stores_;
  Database* first_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::Values("sqlite", "postgres"), test_support::backend_name);

AuditRecord intent_of(AuditRecord r, std::int64_t seq, std::int64_t reserved_micros) {
  r.intent = true;
  r.intent_seq = seq;
  r.status = 0;
  r.cost = Money::from_micros(reserved_micros);
  r.budget_period = "2026-11";
  return r;
}

TEST_P(StoreContract, TeamsRoundTripAndListInNameOrder) {
  auto& store = *open();
  auto created = store.create_team(make_team("zeta", 250, Level::RESTRICTED));
  ASSERT_TRUE(created.ok()) << created.error().message;
  ASSERT_TRUE(store.create_team(make_team("alpha", 0, Level::PUBLIC)).ok());

  auto got = store.get_team("zeta");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "zeta");
  EXPECT_EQ(got->monthly_budget, Money::from_dollars(250));
  EXPECT_EQ(got->clearance, Level::RESTRICTED);
  EXPECT_EQ(got->created_at_ms, 1'700'000'000'000);

  auto all = store.list_teams();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "alpha");
  EXPECT_EQ((*all)[0].clearance, Level::PUBLIC);
  EXPECT_EQ((*all)[1].name, "zeta");
}

TEST_P(StoreContract, CreatedAtDefaultsToTheClock) {
  auto& store = *open();
  Team t = make_team("t");
  t.created_at_ms = 0;
  auto created = store.create_team(t);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->created_at_ms, 1'700'000'000'000);
  EXPECT_EQ(store.get_team("t")->created_at_ms, 1'700'000'000'000);
}

TEST_P(StoreContract, DuplicateTeamIsAConflict) {
  auto& store = *open();
  ASSERT_TRUE(store.create_team(make_team("payments")).ok());
  auto again = store.create_team(make_team("payments", 5, Level::PUBLIC));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::conflict);
  EXPECT_EQ(again.error().message, "team 'payments' already exists");
  // The original is untouched.
  EXPECT_EQ(store.get_team("payments")->monthly_budget, Money::from_dollars(100));
}

TEST_P(StoreContract, NegativeBudgetIsRejected) {
  auto& store = *open();
  Team t = make_team("t");
  t.monthly_budget = Money::from_micros(-1);
  auto r = store.create_team(t);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::invalid_request);
  EXPECT_FALSE(store.get_team("t").ok());
}

TEST_P(StoreContract, TheResponseCacheSettingIsUnsetUntilPatchedAndKeptByOtherPatches) {
  auto& store = *open();
  ASSERT_TRUE(store.create_team(make_team("t", 100, Level::INTERNAL)).ok());
  EXPECT_FALSE(store.get_team("t")->response_cache_ttl_s.has_value());  // the config decides

  TeamPatch on;
  on.response_cache_ttl_s = 300;
  auto u1 = store.update_team("t", on);
  ASSERT_TRUE(u1.ok()) << u1.error().message;
  EXPECT_EQ(u1->response_cache_ttl_s, std::optional<std::int64_t>(300));

  auto u2 = store.update_team("t", TeamPatch{Money::from_dollars(7), std::nullopt});
  ASSERT_TRUE(u2.ok());
  EXPECT_EQ(u2->response_cache_ttl_s, std::optional<std::int64_t>(300));

  TeamPatch off;
  off.response_cache_ttl_s = 0;
  ASSERT_TRUE(store.update_team("t", off).ok());
  EXPECT_EQ(store.get_team("t")->response_cache_ttl_s, std::optional<std::int64_t>(0));
  auto listed = store.list_teams();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1U);
  EXPECT_EQ(listed->front().response_cache_ttl_s, std::optional<std::int64_t>(0));

  TeamPatch negative;
  negative.response_cache_ttl_s = -1;
  auto bad = store.update_team("t", negative);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::invalid_request);
  EXPECT_EQ(store.get_team("t")->response_cache_ttl_s, std::optional<std::int64_t>(0));
}

TEST_P(StoreContract, MissingTeamIsNotFound) {
  auto& store = *open();
  auto r = store.get_team("ghost");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::not_found);
  auto u = store.update_team("ghost", TeamPatch{Money::from_dollars(1), std::nullopt});
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().code, ErrorCode::not_found);
}

TEST_P(StoreContract, UpdateTeamAppliesOnlyTheGivenFields) {
  auto& store = *open();
  ASSERT_TRUE(store.create_team(make_team("t", 100, Level::INTERNAL)).ok());

  auto u1 = store.update_team("t", TeamPatch{Money::parse_usd("12.5"), std::nullopt});
  ASSERT_TRUE(u1.ok()) << u1.error().message;
  EXPECT_EQ(u1->monthly_budget.micros, 12'500'000);
  EXPECT_EQ(u1->clearance, Level::INTERNAL);

  auto u2 = store.update_team("t", TeamPatch{std::nullopt, Level::CONFIDENTIAL});
  ASSERT_TRUE(u2.ok());
  EXPECT_EQ(u2->monthly_budget.micros, 12'500'000);
  EXPECT_EQ(u2->clearance, Level::CONFIDENTIAL);
  EXPECT_EQ(u2->created_at_ms, 1'700'000'000'000);

  auto u3 = store.update_team("t", TeamPatch{});
  ASSERT_TRUE(u3.ok());
  EXPECT_EQ(u3->clearance, Level::CONFIDENTIAL);

  auto bad = store.update_team("t", TeamPatch{Money::from_micros(-5), std::nullopt});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::invalid_request);

  auto persisted = store.get_team("t");
  EXPECT_EQ(persisted->monthly_budget.micros, 12'500'000);
  EXPECT_EQ(persisted->clearance, Level::CONFIDENTIAL);
}

TEST_P(StoreContract, KeyForMissingTeamIsNotFound) {
  auto& store = *open();
  auto r = store.create_key(make_key("0123456789abcdef", "ghost", 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::not_found);
  EXPECT_EQ(r.error().message, "team 'ghost' not found");
  EXPECT_FALSE(store.get_key("0123456789abcdef").ok());
}

TEST_P(StoreContract, DuplicateKeyIdIsAConflict) {
  auto& store = *open();
  ASSERT_TRUE(store.create_team(make_team("t")).ok());
  ASSERT_TRUE(store.create_key(make_key("0123456789abcdef", "t", 1)).ok());
  auto again = store.create_key(make_key("0123456789abcdef", "t", 2));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::conflict);
}

TEST_P(StoreContract, AKeysOwnClearanceRoundTrips) {
  auto& store = *open();
  ASSERT_TRUE(store.create_team(make_team("t")).ok());
  auto narrowed = make_key("00000000000000c1", "t", 1);
  narrowed.clearance = Level::PUBLIC;
  ASSERT_TRUE(store.create_key(narrowed).ok());
  ASSERT_TRUE(store.create_key(make_key("00000000000000c2", "t", 2)).ok());
  EXPECT_EQ(store.get_key("00000000000000c1")->clearance, std::optional<Level>(Level::PUBLIC));
  EXPECT_EQ(store.get_key("00000000000000c2")->clearance, std::nullopt);
  auto listed = store.list_keys(std::string("t"));
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].clearance, std::optional<Level>(Level::PUBLIC));
  EXPECT_EQ((*listed)[1].clearance, std::nullopt);
}

TEST_P(StoreContract, KeyLifecycle) {
  auto& store = *open();
  ASSERT_TRUE(store.create_team(make_team("a")).ok());
  ASSERT_TRUE(store.create_team(make_team("b")).ok());
  // Inserted out of creation order: listings are oldest first.
  ASSERT_TRUE(store.create_key(make_key("000000000000000c", "a", 300)).ok());
  ASSERT_TRUE(store.create_key(make_key("000000000000000a", "a", 100)).ok());
  ASSERT_TRUE(store.create_key(make_key("000000000000000b", "b", 200)).ok());

  auto got = store.get_key("000000000000000a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->team, "a");
  EXPECT_EQ(got->prefix, "aeg_000000000000000a_abcd");
  EXPECT_EQ(got->secret_hash, std::string(64, 'f'));
  EXPECT_EQ(got->created_at_ms, 100);
  EXPECT_FALSE(got->revoked_at_ms.has_value());

  auto all = store.list_keys(std::nullopt);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, "000000000000000a");
  EXPECT_EQ((*all)[1].id, "000000000000000b");
  EXPECT_EQ((*all)[2].id, "000000000000000c");

  auto of_a = store.list_keys(std::string("a"));
  ASSERT_TRUE(of_a.ok());
  ASSERT_EQ(of_a->size(), 2u);
  EXPECT_EQ((*of_a)[0].id, "000000000000000a");
  EXPECT_EQ((*of_a)[1].id, "000000000000000c");
  EXPECT_TRUE(store.list_keys(std::string("nobody"))->empty());

  ASSERT_TRUE(store.revoke_key("000000000000000a", 5'000).ok());
  EXPECT_EQ(store.get_key("000000000000000a")->revoked_at_ms, std::optional<std::int64_t>(5'000));
  // Revoking twice is fine and keeps the first time.
  ASSERT_TRUE(store.revoke_key("000000000000000a", 9'000).ok());
  EXPECT_EQ(store.get_key("000000000000000a")->revoked_at_ms, std::optional<std::int64_t>(5'000));
  // Other keys are untouched; revoked keys still list.
  EXPECT_FALSE(store.get_key("000000000000000c")->revoked_at_ms.has_value());
  EXPECT_EQ(store.list_keys(std::nullopt)->size(), 3u);

  auto missing = store.revoke_key("ffffffffffffffff", 1);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::not_found);
  auto missing_get = store.get_key("ffffffffffffffff");
  ASSERT_FALSE(missing_get.ok());
  EXPECT_EQ(missing_get.error().code, ErrorCode::not_found);
}

// Key lifecycle (issue 19): the lifecycle fields round-trip, a patch changes
// only what it names (null clears), rotation keeps the replaced secret with
// its grace, last uses never move back, and a key's spend is booked with its
// audit rows.
TEST_P(StoreContract, KeyLifecycleFieldsRoundTripAndPatch) {
  auto& store = *open();
  ASSERT_TRUE(store.create_team(make_team("t")).ok());
  auto key = make_key("00000000000000d1", "t", 1);
  key.models = std::vector<std::string>{"haiku", "azure/gpt-4o"};
  key.monthly_budget = Money::from_micros(2'500'000);
  key.expires_at_ms = 1'800'000'000'000;
  key.description = "ci runner";
  ASSERT_TRUE(store.create_key(key).ok());
  ASSERT_TRUE(store.create_key(make_key("00000000000000d2", "t", 2)).ok());

  auto got = store.get_key("00000000000000d1");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->models, key.models);
  EXPECT_EQ(got->monthly_budget, key.monthly_budget);
  EXPECT_EQ(got->expires_at_ms, key.expires_at_ms);
  EXPECT_EQ(got->description, "ci runner");
  EXPECT_FALSE(got->last_used_at_ms.has_value());
  EXPECT_TRUE(got->previous_secret_hash.empty());
  auto plain = store.get_key("00000000000000d2");
  EXPECT_FALSE(plain->models.has_value());
  EXPECT_FALSE(plain->monthly_budget.has_value());
  EXPECT_FALSE(plain->expires_at_ms.has_value());
  EXPECT_EQ(plain->description, "");

  // Only the description: everything else stays.
  KeyPatch describe;
  describe.description = "nightly";
  auto described = store.update_key("00000000000000d1", describe);
  ASSERT_TRUE(described.ok()) << described.error().message;
  EXPECT_EQ(described->description, "nightly");
  EXPECT_EQ(described->models, key.models);
  EXPECT_EQ(described->monthly_budget, key.monthly_budget);

  // null clears the allow-list and the expiry; a new budget replaces the old.
  KeyPatch clear;
  clear.models.emplace(std::nullopt);
  clear.expires_at_ms.emplace(std::nullopt);
  clear.monthly_budget.emplace(Money::from_micros(7));
  auto cleared = store.update_key("00000000000000d1", clear);
  ASSERT_TRUE(cleared.ok()) << cleared.error().message;
  EXPECT_FALSE(cleared->models.has_value());
  EXPECT_FALSE(cleared->expires_at_ms.has_value());
  EXPECT_EQ(cleared->monthly_budget, std::optional<Money>(Money::from_micros(7)));
  EXPECT_EQ(cleared->description, "nightly");
  EXPECT_EQ(store.get_key("00000000000000d1")->monthly_budget, std::optional<Money>(Money::from_micros(7)));
  // The other key is untouched.
  EXPECT_EQ(store.get_key("00000000000000d2")->description, "");

  auto missing = store.update_key("ffffffffffffffff", describe);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::not_found);
  KeyPatch negative;
  negative.monthly_budget.emplace(Money::from_micros(-1));
  auto refused = store.update_key("00000000000000d1", negative);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::invalid_request);
}

TEST_P(StoreContract, RotationKeepsTheReplacedSecretForItsGrace) {
  auto& store = *open();
  ASSERT_TRUE(store.create_team(make_team("t")).ok());
  ASSERT_TRUE(store.create_key(make_key("00000000000000e1", "t", 1)).ok());
  const std::string first = std::string(64, 'f');
  const std::string second = std::string(64, 'a');
  const std::string third = std::string(64, 'b');

  auto rotated = store.rotate_key("00000000000000e1", KeyRotation{"aeg_00000000000000e1_new1", second, 9'000});
  ASSERT_TRUE(rotated.ok()) << rotated.error().message;
  EXPECT_EQ(rotated->secret_hash, second);
  EXPECT_EQ(rotated->prefix, "aeg_00000000000000e1_new1");
  EXPECT_EQ(rotated->previous_secret_hash, first);
  EXPECT_EQ(rotated->previous_valid_until_ms, std::optional<std::int64_t>(9'000));
  EXPECT_EQ(store.get_key("00000000000000e1")->previous_secret_hash, first);

  // Without a grace the replaced secret is not kept at all.
  auto at_once = store.rotate_key("00000000000000e1", KeyRotation{"aeg_00000000000000e1_new2", third, std::nullopt});
  ASSERT_TRUE(at_once.ok()) << at_once.error().message;
  EXPECT_EQ(at_once->secret_hash, third);
  EXPECT_TRUE(at_once->previous_secret_hash.empty());
  EXPECT_FALSE(at_once->previous_valid_until_ms.has_value());

  auto missing = store.rotate_key("ffffffffffffffff", KeyRotation{"p", second, 1});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::not_found);
  ASSERT_TRUE(store.revoke_key("00000000000000e1", 10).ok());
  auto revoked = store.rotate_key("00000000000000e1", KeyRotation{"p", second, 1});
  ASSERT_FALSE(revoked.ok());
  EXPECT_EQ(revoked.error().code, ErrorCode::conflict);
  EXPECT_EQ(store.get_key("00000000000000e1")->secret_hash, third);  // unchanged by the refused rotation
}

TEST_P(StoreContract, TouchKeysRecordsLastUseInOneBatchAndNeverMovesBack) {
  auto& store = *open();
  ASSERT_TRUE(store.create_team(make_team("t")).ok());
  ASSERT_TRUE(store.create_key(make_key("00000000000000f1", "t", 1)).ok());
  ASSERT_TRUE(store.create_key(make_key("00000000000000f2", "t", 2)).ok());
  ASSERT_TRUE(store.touch_keys({}).ok());
  ASSERT_TRUE(
      store.touch_keys({{"00000000000000f1", 120'000}, {"00000000000000f2", 60'000}, {"ffffffffffffffff", 1}}).ok());
  EXPECT_EQ(store.get_key("00000000000000f1")->last_used_at_ms, std::optional<std::int64_t>(120'000));
  EXPECT_EQ(store.get_key("00000000000000f2")->last_used_at_ms, std::optional<std::int64_t>(60'000));
  // An older flush (another replica's) does not move it back.
  ASSERT_TRUE(store.touch_keys({{"00000000000000f1", 60'000}}).ok());
  EXPECT_EQ(store.get_key("00000000000000f1")->last_used_at_ms, std::optional<std::int64_t>(120'000));
  EXPECT_EQ(store.list_keys(std::string("t"))->at(0).last_used_at_ms, std::optional<std::int64_t>(120'000));
}

TEST_P(StoreContract, KeySpendIsBookedWithTheAuditRows) {
  auto booked = [](std::string id, std::string key_id, std::string period, std::int64_t micros) {
    AuditRecord r = row(std::move(id), "alpha", 1);
    r.key_id = std::move(key_id);
    r.budget_period = std::move(period);
    r.cost = Money::from_micros(micros);
    return r;
  };
  ASSERT_TRUE(
      store()
          .append_audit({booked("1", "00000000000000a1", "2026-11", 1'500),
                         booked("2", "00000000000000a1", "2026-11", 250), booked("3", "00000000000000a2", "2026-11", 7),
                         booked("4", "00000000000000a1", "2026-12", 99),
                         booked("5", "00000000000000a1", "", 1'000'000),  // nothing booked
                         booked("6", "", "2026-11", 5)})                  // no key: the team's only
          .ok());
  auto nov = store().load_key_spend("2026-11");
  ASSERT_TRUE(nov.ok()) << nov.error().message;
  ASSERT_EQ(nov->size(), 2u);
  EXPECT_EQ((*nov)[0].key_id, "00000000000000a1");
  EXPECT_EQ((*nov)[0].spent, Money::from_micros(1'750));
  EXPECT_EQ((*nov)[0].requests, 2);
  EXPECT_EQ((*nov)[1].key_id, "00000000000000a2");
  EXPECT_EQ((*nov)[1].spent, Money::from_micros(7));
  EXPECT_EQ(store().load_key_spend("2026-12")->at(0).spent, Money::from_micros(99));
  EXPECT_TRUE(store().load_key_spend("2027-01")->empty());
  // The team's spend still counts every row, with or without a key.
  EXPECT_EQ(store().load_spend("2026-11")->at(0).spent, Money::from_micros(1'762));
}

TEST_P(StoreContract, DataSurvivesReopen) {
  {
    auto& store = *open();
    ASSERT_TRUE(store.create_team(make_team("t", 7, Level::CONFIDENTIAL)).ok());
    ASSERT_TRUE(store.create_key(make_key("0123456789abcdef", "t", 1)).ok());
  }
  auto& store = *open();
  EXPECT_EQ(store.get_team("t")->clearance, Level::CONFIDENTIAL);
  EXPECT_EQ(store.get_key("0123456789abcdef")->team, "t");
}

TEST_P(StoreContract, IsSafeToUseFromManyThreads) {
  auto& store = *open();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string name = "team-" + std::to_string(t) + "-" + std::to_string(i);
        if (!store.create_team(make_team(name)).ok()) ++failures;
        if (!store.get_team(name).ok()) ++failures;
        if (!store.list_teams().ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store.list_teams()->size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST_P(StoreContract, StorageErrorsAreInternalAndCarryNoDataValues) {
  auto& store = *open();
  ASSERT_TRUE(store.create_team(make_team("t")).ok());
  {
    auto& raw = db();
    raw.exec("DROP TABLE api_keys");
  }
  const std::string probe = "feedfacecafebeef";
  auto r = store.get_key(probe);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::internal);
  EXPECT_EQ(r.error().message.find(probe), std::string::npos) << r.error().message;
  auto c = store.create_key(make_key(probe, "t", 1));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::internal);
  EXPECT_EQ(c.error().message.find(probe), std::string::npos) << c.error().message;
  EXPECT_EQ(c.error().message.find("ffff"), std::string::npos) << c.error().message;
}

TEST_P(StoreContract, EveryFieldRoundTrips) {
  const AuditRecord written = full_row();
  AuditRecord bare = row("req_bare", "search", 5);
  bare.locality = "";
  bare.status = 503;
  bare.error_type = "no_local_provider";
  bare.egress_blocked = true;
  ASSERT_TRUE(store().append_audit({written, bare}).ok());

  auto rows = store().query_audit({});
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);
  expect_same((*rows)[0], written);
  expect_same((*rows)[1], bare);
}

TEST_P(StoreContract, AppendingNothingIsFine) {
  ASSERT_TRUE(store().append_audit({}).ok());
  EXPECT_TRUE(store().query_audit({})->empty());
}

TEST_P(StoreContract, QueryIsNewestFirstAndFiltersByTeamAndSince) {
  ASSERT_TRUE(store()
                  .append_audit({row("a1", "alpha", 1'000), row("b1", "beta", 2'000), row("a2", "alpha", 3'000),
                                 row("a3", "alpha", 3'000), row("b2", "beta", 4'000)})
                  .ok());
  // Equal times: the row appended later comes first.
  EXPECT_EQ(ids(*store().query_audit({})), (std::vector<std::string>{"b2", "a3", "a2", "b1", "a1"}));

  AuditQuery team;
  team.team = "alpha";
  EXPECT_EQ(ids(*store().query_audit(team)), (std::vector<std::string>{"a3", "a2", "a1"}));

  AuditQuery since;
  since.since_ms = 2'000;  // inclusive
  EXPECT_EQ(ids(*store().query_audit(since)), (std::vector<std::string>{"b2", "a3", "a2", "b1"}));

  AuditQuery both;
  both.team = "beta";
  both.since_ms = 2'001;
  EXPECT_EQ(ids(*store().query_audit(both)), (std::vector<std::string>{"b2"}));

  AuditQuery nobody;
  nobody.team = "gamma";
  EXPECT_TRUE(store().query_audit(nobody)->empty());

  AuditQuery limited;
  limited.limit = 2;
  EXPECT_EQ(ids(*store().query_audit(limited)), (std::vector<std::string>{"b2", "a3"}));
}

TEST_P(StoreContract, LimitIsClampedToOneThroughOneThousand) {
  std::vector<AuditRecord> rows;
  rows.reserve(1'005);
  for (int i = 0; i < 1'005; ++i) rows.push_back(row("r" + std::to_string(i), "t", i));
  ASSERT_TRUE(store().append_audit(rows).ok());
  for (const auto& [asked, got] : std::vector<std::pair<int, std::size_t>>{
           {0, 1}, {-7, 1}, {1, 1}, {999, 999}, {1'000, 1'000}, {1'001, 1'000}, {1'000'000, 1'000}}) {
    AuditQuery q;
    q.limit = asked;
    auto result = store().query_audit(q);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result->size(), got) << "limit " << asked;
    EXPECT_EQ(result->front().request_id, "r1004");
  }
}

TEST_P(StoreContract, SpendAccumulatesPerTeamAndPeriod) {
  auto booked = [](std::string id, std::string team, std::string period, std::int64_t micros) {
    AuditRecord r = row(std::move(id), std::move(team), 1);
    r.budget_period = std::move(period);
    r.cost = Money::from_micros(micros);
    return r;
  };
  ASSERT_TRUE(store()
                  .append_audit({booked("1", "alpha", "2026-11", 1'500), booked("2", "alpha", "2026-11", 250),
                                 booked("3", "beta", "2026-11", 7), booked("4", "alpha", "2026-12", 99),
                                 booked("5", "alpha", "", 1'000'000)})  // nothing booked: not counted
                  .ok());
  ASSERT_TRUE(store().append_audit({booked("6", "alpha", "2026-11", 0)}).ok());

  auto nov = store().load_spend("2026-11");
  ASSERT_TRUE(nov.ok()) << nov.error().message;
  ASSERT_EQ(nov->size(), 2u);
  EXPECT_EQ((*nov)[0].team, "alpha");
  EXPECT_EQ((*nov)[0].period, "2026-11");
  EXPECT_EQ((*nov)[0].spent, Money::from_micros(1'750));
  EXPECT_EQ((*nov)[0].requests, 3);
  EXPECT_EQ((*nov)[1].team, "beta");
  EXPECT_EQ((*nov)[1].spent, Money::from_micros(7));
  EXPECT_EQ((*nov)[1].requests, 1);

  auto dec = store().load_spend("2026-12");
  ASSERT_EQ(dec->size(), 1u);
  EXPECT_EQ((*dec)[0].spent, Money::from_micros(99));
  EXPECT_TRUE(store().load_spend("2027-01")->empty());
}

TEST_P(StoreContract, AFailedRowRollsBackTheWholeBatchAndItsSpend) {
  {
    auto& raw = db();
    raw.exec(raw.failing_insert_sql("audit", "request_id", "poison"));
  }
  AuditRecord good = row("good", "alpha", 1);
  good.budget_period = "2026-11";
  good.cost = Money::from_micros(500);
  auto result = store().append_audit({good, row("poison", "alpha", 2)});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::internal);
  EXPECT_TRUE(store().query_audit({})->empty());
  EXPECT_TRUE(store().load_spend("2026-11")->empty());

  // The store is usable afterwards (no transaction left open).
  ASSERT_TRUE(store().append_audit({good}).ok());
  EXPECT_EQ(store().load_spend("2026-11")->at(0).spent, Money::from_micros(500));
}

TEST_P(StoreContract, AFailedSpendUpdateRollsBackTheAuditRows) {
  {
    auto& raw = db();
    raw.exec(raw.failing_insert_sql("budget_spend", "team", "beta"));
  }
  AuditRecord a = row("a", "alpha", 1);
  a.budget_period = "2026-11";
  a.cost = Money::from_micros(10);
  AuditRecord b = row("b", "beta", 2);
  b.budget_period = "2026-11";
  b.cost = Money::from_micros(20);
  ASSERT_FALSE(store().append_audit({a, b}).ok());
  EXPECT_TRUE(store().query_audit({})->empty());
  EXPECT_TRUE(store().load_spend("2026-11")->empty());
}

TEST_P(StoreContract, PipedaViolationsCountsOnlyRestrictedRowsSentOffTheLocalNetwork) {
  EXPECT_EQ(*store().count_pipeda_violations(), 0);
  auto at = [](std::string id, Level level, std::string locality) {
    AuditRecord r = row(std::move(id), "t", 1);
    r.level = level;
    r.locality = std::move(locality);
    return r;
  };
  ASSERT_TRUE(store()
                  .append_audit({at("restricted-local", Level::RESTRICTED, "local"),
                                 at("restricted-unsent", Level::RESTRICTED, ""),
                                 at("confidential-cloud", Level::CONFIDENTIAL, "cloud"),
                                 at("public-cloud", Level::PUBLIC, "cloud")})
                  .ok());
  EXPECT_EQ(*store().count_pipeda_violations(), 0);

  ASSERT_TRUE(store().append_audit({at("restricted-cloud", Level::RESTRICTED, "cloud")}).ok());
  EXPECT_EQ(*store().count_pipeda_violations(), 1);
  auto& raw = db();
  EXPECT_EQ(raw.scalar("SELECT request_id FROM pipeda_violations"), "restricted-cloud");
}

TEST_P(StoreContract, ComplianceTotalsCountViolationsVetoesAndBlockedSends) {
  auto empty = store().compliance_totals();
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_EQ(empty->violations, 0);
  EXPECT_EQ(empty->egress_vetoes, 0);
  EXPECT_EQ(empty->blocked_sends, 0);
  AuditRecord violation = row("violation", "t", 1);
  violation.level = Level::RESTRICTED;
  violation.locality = "cloud";
  AuditRecord vetoed = row("vetoed", "t", 2);
  vetoed.egress_veto = true;
  vetoed.egress_rule = "pan.luhn";
  AuditRecord blocked = row("blocked", "t", 3);
  blocked.egress_blocked = true;
  AuditRecord blocked_too = row("blocked-too", "u", 4);
  blocked_too.egress_blocked = true;
  ASSERT_TRUE(store().append_audit({violation, vetoed, blocked, blocked_too, row("plain", "t", 5)}).ok());
  auto totals = store().compliance_totals();
  ASSERT_TRUE(totals.ok()) << totals.error().message;
  EXPECT_EQ(totals->violations, 1);
  EXPECT_EQ(totals->egress_vetoes, 1);
  EXPECT_EQ(totals->blocked_sends, 2);
}

TEST_P(StoreContract, AuditRowsCannotBeUpdatedOrDeleted) {
  ASSERT_TRUE(store().append_audit({full_row()}).ok());
  auto& raw = db();
  try {
    raw.exec("UPDATE audit SET level = 'PUBLIC'");
    FAIL() << "UPDATE must be rejected";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("append-only"), std::string::npos) << e.what();
  }
  EXPECT_THROW(raw.exec("DELETE FROM audit"), std::runtime_error);
  EXPECT_THROW(raw.exec("DELETE FROM audit WHERE request_id = 'req_0123456789abcdef'"), std::runtime_error);
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM audit"), "1");
  EXPECT_EQ(raw.scalar("SELECT level FROM audit"), "CONFIDENTIAL");
}

TEST_P(StoreContract, StorageErrorsCarryNoRowValues) {
  {
    auto& raw = db();
    raw.exec("DROP VIEW pipeda_violations");
    raw.exec("DROP TABLE audit");
  }
  AuditRecord r = full_row();
  r.request_id = "req_secretish_probe";
  auto appended = store().append_audit({r});
  ASSERT_FALSE(appended.ok());
  EXPECT_EQ(appended.error().code, ErrorCode::internal);
  EXPECT_EQ(appended.error().message.find("probe"), std::string::npos) << appended.error().message;
  EXPECT_FALSE(store().query_audit({}).ok());
  EXPECT_FALSE(store().count_pipeda_violations().ok());
}

TEST_P(StoreContract, ConcurrentAppendsAllLand) {
  constexpr int kThreads = 4;
  constexpr int kBatches = 25;
  constexpr int kRows = 10;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<AuditRecord> batch;
        for (int i = 0; i < kRows; ++i) {
          AuditRecord r = row("t" + std::to_string(t) + "-" + std::to_string(b) + "-" + std::to_string(i), "t", 1);
          r.budget_period = "2026-11";
          r.cost = Money::from_micros(1);
          batch.push_back(std::move(r));
        }
        if (!store().append_audit(batch).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto spend = store().load_spend("2026-11");
  ASSERT_EQ(spend->size(), 1u);
  EXPECT_EQ((*spend)[0].requests, kThreads * kBatches * kRows);
  EXPECT_EQ((*spend)[0].spent, Money::from_micros(static_cast<std::int64_t>(kThreads) * kBatches * kRows));
  auto& raw = db();
  EXPECT_EQ(raw.scalar("SELECT COUNT(DISTINCT request_id) FROM audit"), std::to_string(kThreads * kBatches * kRows));
}

TEST_P(StoreContract, RowsSurviveReopen) {
  ASSERT_TRUE(store().append_audit({full_row()}).ok());
  auto& reopened = *open();
  auto rows = reopened.query_audit({});
  ASSERT_EQ(rows->size(), 1u);
  expect_same(rows->front(), full_row());
}

TEST_P(StoreContract, AnIntentIsNeitherAnAuditRowNorSpendAndItsFinalRowReplacesIt) {
  ASSERT_TRUE(store().append_audit({intent_of(full_row(), 41, 90'000)}).ok());
  auto& raw = db();
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM audit_pending"), "1");
  EXPECT_EQ(raw.scalar("SELECT cost_micros FROM audit_pending WHERE seq = 41"), "90000");
  EXPECT_TRUE(store().query_audit({})->empty());
  EXPECT_TRUE(store().load_spend("2026-11")->empty());

  AuditRecord final_row = full_row();
  final_row.intent_seq = 41;
  ASSERT_TRUE(store().append_audit({final_row}).ok());
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM audit_pending"), "0");
  auto rows = store().query_audit({});
  ASSERT_EQ(rows->size(), 1u);
  expect_same(rows->front(), full_row());
  EXPECT_EQ(store().load_spend("2026-11")->at(0).spent, Money::from_micros(12'345));  // the actual, not the reservation
  EXPECT_EQ(store().recover_pending().value(), 0);
  EXPECT_EQ(store().query_audit({})->size(), 1u);
}

TEST_P(StoreContract, AnIntentAndItsFinalRowInOneBatchLeaveNothingPending) {
  AuditRecord final_row = full_row();
  final_row.intent_seq = 7;
  ASSERT_TRUE(store().append_audit({intent_of(full_row(), 7, 90'000), final_row}).ok());
  auto& raw = db();
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM audit_pending"), "0");
  EXPECT_EQ(store().query_audit({})->size(), 1u);
}

TEST_P(StoreContract, RecoveryBooksOrphanedIntentsAsRowsOfUnknownOutcome) {
  AuditRecord other = row("req_other", "beta", 9);
  other.provider = "ollama";
  ASSERT_TRUE(store().append_audit({intent_of(full_row(), 1, 90'000), intent_of(other, 2, 5)}).ok());
  AuditRecord finished = row("req_done", "beta", 10);
  finished.intent_seq = 3;  // its intent was committed and replaced in an earlier batch
  ASSERT_TRUE(store().append_audit({intent_of(finished, 3, 70), finished}).ok());

  // The process died with two calls in flight; another starts once the first
  // one's heartbeat is stale (a shared store cannot tell a dead writer sooner).
  clock_.advance(std::chrono::minutes(1));
  auto& restarted = *open();
  auto recovered = restarted.recover_pending();
  ASSERT_TRUE(recovered.ok()) << recovered.error().message;
  EXPECT_EQ(*recovered, 2);

  auto rows = restarted.query_audit({});
  ASSERT_EQ(rows->size(), 3u);
  std::map<std::string, AuditRecord> by_id;
  for (const auto& r : *rows) by_id[r.request_id] = r;
  const AuditRecord& orphan = by_id.at("req_0123456789abcdef");
  EXPECT_EQ(orphan.status, 0);
  EXPECT_EQ(orphan.error_type, "outcome_unknown");
  EXPECT_EQ(orphan.cost, Money::from_micros(90'000));  // the reservation is booked
  EXPECT_EQ(orphan.level, Level::CONFIDENTIAL);
  EXPECT_EQ(orphan.locality, "cloud");
  EXPECT_EQ(orphan.fallback_path.back(), "azure:unknown");
  EXPECT_EQ(by_id.at("req_other").team, "beta");
  EXPECT_EQ(by_id.at("req_done").status, 200);

  auto spend = restarted.load_spend("2026-11");
  ASSERT_EQ(spend->size(), 2u);
  EXPECT_EQ((*spend)[0].team, "beta");  // ordered by team
  EXPECT_EQ((*spend)[0].spent, Money::from_micros(5));
  EXPECT_EQ((*spend)[1].team, "payments");
  EXPECT_EQ((*spend)[1].spent, Money::from_micros(90'000));

  auto& raw = db();
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM audit_pending"), "0");
  EXPECT_EQ(restarted.recover_pending().value(), 0);  // idempotent: nothing is booked twice
  EXPECT_EQ(restarted.query_audit({})->size(), 3u);
}

}  // namespace
}  // namespace aegis::store
