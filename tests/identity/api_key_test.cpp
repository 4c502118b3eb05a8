#include "identity/api_key.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"
#include "core/system_clock.hpp"
#include "identity/admin_json.hpp"
#include "identity/admin_service.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace aegis::identity {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Written out by hand rather than with std::regex (which trips -Wmaybe-uninitialized under -O2 sanitizers).
bool all_of(std::string_view s, std::string_view alphabet) {
  return s.find_first_not_of(alphabet) == std::string_view::npos;
}
constexpr std::string_view kLowerHex = "0123456789abcdef";
constexpr std::string_view kBase64Url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// aeg_[0-9a-f]{16}_[A-Za-z0-9_-]{43}
bool has_key_shape(std::string_view k) {
  return k.size() == 64 && k.substr(0, 4) == "aeg_" && all_of(k.substr(4, 16), kLowerHex) && k[20] == '_' &&
         all_of(k.substr(21), kBase64Url);
}

TEST(ApiKey, GeneratedKeyHasTheDocumentedShape) {
  const NewKey k = generate_key();
  EXPECT_EQ(k.key.size(), 64u);
  EXPECT_TRUE(has_key_shape(k.key)) << k.key;
  EXPECT_TRUE(k.id.size() == 16 && all_of(k.id, kLowerHex)) << k.id;
  EXPECT_EQ(k.key.substr(4, 16), k.id);
  EXPECT_EQ(k.prefix.size(), 4u + 16u + 1u + 4u);
  EXPECT_EQ(k.prefix, k.key.substr(0, 25));
  EXPECT_TRUE(k.secret_hash.size() == 64 && all_of(k.secret_hash, kLowerHex)) << k.secret_hash;
  EXPECT_EQ(k.secret_hash, hash_key(k.key));
  EXPECT_EQ(key_id_of(k.key), std::optional<std::string>(k.id));
  // 32 random bytes in 43 base64url characters: the last one carries 2 padding bits of zero.
  EXPECT_EQ(kBase64Url.find(k.key.back()) % 4, 0u) << k.key;
}

TEST(ApiKey, ThousandKeysAreUniqueAndWellFormed) {
  std::set<std::string> ids, keys, hashes, secrets;
  for (int i = 0; i < 1000; ++i) {
    const NewKey k = generate_key();
    ASSERT_TRUE(has_key_shape(k.key)) << k.key;
    ASSERT_EQ(key_id_of(k.key), std::optional<std::string>(k.id));
    ids.insert(k.id);
    keys.insert(k.key);
    hashes.insert(k.secret_hash);
    secrets.insert(k.key.substr(21));
  }
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_EQ(keys.size(), 1000u);
  EXPECT_EQ(hashes.size(), 1000u);
  EXPECT_EQ(secrets.size(), 1000u);
}

TEST(ApiKey, SecretsUseTheWholeAlphabet) {
  // A broken encoder (e.g. only the first 16 symbols) would still be unique; this catches it.
  std::set<char> seen;
  for (int i = 0; i < 200; ++i) {
    const NewKey k = generate_key();
    for (char c : k.key.substr(21, 42)) seen.insert(c);
  }
  EXPECT_EQ(seen.size(), 64u);
}

TEST(ApiKey, HashIsLowercaseHexSha256) {
  EXPECT_EQ(hash_key(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hash_key("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ApiKey, KeyIdOfRejectsEverythingButTheExactShape) {
  const NewKey k = generate_key();
  const std::string good = k.key;
  std::vector<std::string> bad = {
      "",
      "aeg_",
      good.substr(0, 63),
      good + "A",
      " " + good.substr(1),
      good.substr(0, 63) + " ",
      "AEG_" + good.substr(4),
      "sk-_" + good.substr(4),
      good.substr(0, 20) + "-" + good.substr(21),                // separator
      good.substr(0, 4) + "0123456789ABCDEF" + good.substr(20),  // uppercase hex id
      good.substr(0, 4) + "0123456789abcdeg" + good.substr(20),  // non-hex id
      good.substr(0, 40) + "+" + good.substr(41),                // base64, not base64url
      good.substr(0, 40) + "/" + good.substr(41),
      good.substr(0, 63) + "=",                                     // padding
      good.substr(0, 30) + std::string(1, '\0') + good.substr(31),  // embedded NUL
  };
  for (const auto& b : bad) EXPECT_FALSE(key_id_of(b).has_value()) << b;
  EXPECT_EQ(key_id_of(good), std::optional<std::string>(k.id));
  EXPECT_EQ(key_id_of("aeg_0123456789abcdef_" + std::string(43, '_')), std::optional<std::string>("0123456789abcdef"));
}

TEST(ApiKey, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "xbc"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_FALSE(constant_time_equal("abcd", "abc"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  const std::string h = hash_key("x");
  EXPECT_TRUE(constant_time_equal(h, hash_key("x")));
  EXPECT_FALSE(constant_time_equal(h, hash_key("y")));
}

// --- admin service -----------------------------------------------------------

class ApiKeyAdminTest : public ::testing::Test {
 protected:
  ApiKeyAdminTest() {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("aegis-admin-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(dir_);
    store_ = std::make_unique<store::SqliteStore>((dir_ / "aegis.db").string(), clock_);
  }
  ~ApiKeyAdminTest() override {
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  static std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  fs::path dir_;
  ManualClock clock_{std::chrono::system_clock::time_point(1'700'000'000'000ms)};
  std::unique_ptr<store::SqliteStore> store_;
};

TEST_F(ApiKeyAdminTest, ValidatesTeamFields) {
  for (const std::string& name : std::vector<std::string>{"a", "Team_1.prod-x", std::string(64, 'n')}) {
    EXPECT_TRUE(validate_team_name(name).ok()) << name;
  }
  for (const std::string& name :
       std::vector<std::string>{"", "a b", "x/y", "../x", "t\xc3\xa9", "a\nb", std::string(65, 'n')}) {
    auto r = validate_team_name(name);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.error().code, ErrorCode::invalid_request);
  }
  EXPECT_EQ(parse_clearance("restricted").value(), Level::RESTRICTED);
  EXPECT_EQ(parse_clearance("PUBLIC").value(), Level::PUBLIC);
  EXPECT_EQ(parse_clearance("SECRET").error().code, ErrorCode::invalid_request);
  EXPECT_EQ(parse_monthly_budget("12.5").value().micros, 12'500'000);
  EXPECT_EQ(parse_monthly_budget("-1").error().code, ErrorCode::invalid_request);
  EXPECT_EQ(parse_monthly_budget(0.25).value().micros, 250'000);
  EXPECT_FALSE(parse_monthly_budget(-0.25).ok());
  EXPECT_FALSE(parse_monthly_budget(1e300).ok());

  auto bad = create_team(*store_, clock_, TeamInput{"bad name", Money::from_dollars(1), Level::PUBLIC});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::invalid_request);
  EXPECT_TRUE(store_->list_teams()->empty());
}

TEST_F(ApiKeyAdminTest, CreateTeamThenConflict) {
  auto t = create_team(*store_, clock_, TeamInput{"payments", Money::from_dollars(50), Level::CONFIDENTIAL});
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->created_at_ms, 1'700'000'000'000);
  EXPECT_EQ(t->clearance, Level::CONFIDENTIAL);
  auto again = create_team(*store_, clock_, TeamInput{"payments", Money::from_dollars(50), Level::PUBLIC});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::conflict);
  EXPECT_EQ(again.error().message, "team 'payments' already exists");
}

TEST_F(ApiKeyAdminTest, KeyIsShownOnceAndNeverStoredOrListed) {
  ASSERT_TRUE(create_team(*store_, clock_, TeamInput{"payments", Money::from_dollars(50), Level::INTERNAL}).ok());
  auto created = create_key(*store_, clock_, "payments");
  ASSERT_TRUE(created.ok()) << created.error().message;
  const NewKey& k = created->key;
  EXPECT_EQ(created->record.id, k.id);
  EXPECT_EQ(created->record.team, "payments");
  EXPECT_EQ(created->record.secret_hash, hash_key(k.key));
  EXPECT_EQ(created->record.created_at_ms, 1'700'000'000'000);

  auto listed = list_keys(*store_, std::string("payments"));
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  const KeyInfo& info = (*listed)[0];
  EXPECT_EQ(info.id, k.id);
  EXPECT_EQ(info.prefix, k.key.substr(0, 25));
  const std::string secret = k.key.substr(21);
  EXPECT_EQ(info.prefix.find(secret), std::string::npos);
  EXPECT_EQ(info.prefix.find(k.secret_hash.substr(0, 8)), std::string::npos);
  EXPECT_LT(info.prefix.size(), k.key.size());

  // Neither the key nor its secret part is anywhere in the database files.
  std::string bytes;
  for (const auto& entry : fs::directory_iterator(dir_)) bytes += slurp(entry.path());
  ASSERT_NE(bytes.find(k.secret_hash), std::string::npos) << "sanity: the hash is stored";
  EXPECT_EQ(bytes.find(secret), std::string::npos);
  EXPECT_EQ(bytes.find(k.key), std::string::npos);
}

TEST_F(ApiKeyAdminTest, CreateKeyForMissingTeamIsNotFound) {
  auto r = create_key(*store_, clock_, "ghost");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::not_found);
  EXPECT_EQ(r.error().message, "team 'ghost' not found");
}

TEST_F(ApiKeyAdminTest, RevokeStampsTheClockAndIsIdempotent) {
  ASSERT_TRUE(create_team(*store_, clock_, TeamInput{"t", Money::from_dollars(1), Level::INTERNAL}).ok());
  auto k = create_key(*store_, clock_, "t");
  ASSERT_TRUE(k.ok());
  clock_.advance(90s);
  ASSERT_TRUE(revoke_key(*store_, clock_, k->key.id).ok());
  clock_.advance(90s);
  ASSERT_TRUE(revoke_key(*store_, clock_, k->key.id).ok());
  auto listed = list_keys(*store_, std::nullopt);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].revoked_at_ms, std::optional<std::int64_t>(1'700'000'090'000));
  EXPECT_EQ(revoke_key(*store_, clock_, "0000000000000000").error().code, ErrorCode::not_found);
}

// The audit row of a key change, as the admin API and `aegis admin` write it:
// who and what, never a value.
TEST_F(ApiKeyAdminTest, AKeyChangeIsOneAuditRowNamingTheFieldsNotTheirValues) {
  store::KeyPatch patch;
  patch.description = "secret plan";
  patch.monthly_budget.emplace(std::nullopt);
  store::RateLimitsPatch limits;
  limits.max_concurrency.emplace(4);
  EXPECT_EQ(key_change_fields(patch, limits), "monthly_budget_usd,description,max_concurrency");
  EXPECT_EQ(key_change_fields({}, {}), "");
  patch.models.emplace(std::vector<std::string>{"haiku"});
  patch.expires_at_ms.emplace(1);
  limits.rpm.emplace(std::nullopt);
  limits.tpm.emplace(5);
  EXPECT_EQ(key_change_fields(patch, limits),
            "models,monthly_budget_usd,expires_at,description,rpm,tpm,max_concurrency");

  store::ApiKeyRecord key;
  key.id = "0123456789abcdef";
  key.team = "payments";
  key.description = "secret plan";
  const audit::AuditRecord row = key_action_row(key, "cli_1", "key_update", "description", 1'700'000'000'000);
  EXPECT_EQ(row.time_ms, 1'700'000'000'000);
  EXPECT_EQ(row.request_id, "cli_1");
  EXPECT_EQ(row.team, "payments");
  EXPECT_EQ(row.key_id, "0123456789abcdef");
  EXPECT_EQ(row.surface, "admin.keys");
  EXPECT_EQ(row.task, "key_update");
  EXPECT_EQ(row.reason, "description");
  EXPECT_EQ(row.status, 200);
  EXPECT_EQ(row.cost.micros, 0);
  EXPECT_TRUE(row.budget_period.empty());  // nothing booked
}

// What GET /admin/v1/keys and `aegis admin keys list --json` show of a key.
TEST_F(ApiKeyAdminTest, AKeysJsonShowsItsLifecycleFieldsAndLimits) {
  KeyInfo key;
  key.id = "0123456789abcdef";
  key.team = "payments";
  key.prefix = "aeg_0123456789abcdef_abc";
  key.created_at_ms = 1'700'000'000'000;
  key.models = std::vector<std::string>{"haiku", "gpt-4o"};
  key.monthly_budget = Money::from_micros(2'500'000);
  key.expires_at_ms = 1'700'000'060'000;
  key.description = "CI";
  key.last_used_at_ms = 1'699'999'980'000;
  key.previous_valid_until_ms = 1'700'000'030'000;
  store::RateLimits limits;
  limits.rpm = 60;
  EXPECT_EQ(to_json(key_json(key, 1'700'000'000'000, limits)),
            R"({"id":"0123456789abcdef","team":"payments","prefix":"aeg_0123456789abcdef_abc",)"
            R"("created_at":"2023-11-14T22:13:20.000Z","revoked":false,"revoked_at":null,"clearance":null,)"
            R"("models":["haiku","gpt-4o"],"monthly_budget_usd":2.5,"expires_at":"2023-11-14T22:14:20.000Z",)"
            R"("expired":false,"description":"CI","last_used_at":"2023-11-14T22:13:00.000Z",)"
            R"("previous_valid_until":"2023-11-14T22:13:50.000Z","rpm":60,"tpm":null,"max_concurrency":null})");
  // Past its expiry and its rotation's grace; no fields set.
  const auto later = key_json(key, 1'700'000'060'000);
  EXPECT_TRUE(later.at("expired").as_bool());
  EXPECT_TRUE(later.at("previous_valid_until").is_null());
  const auto plain = key_json(KeyInfo{}, 0);
  for (const char* field : {"models", "monthly_budget_usd", "expires_at", "last_used_at", "rpm"}) {
    EXPECT_TRUE(plain.at(field).is_null()) << field;
  }
}

}  // namespace
}  // namespace aegis::identity
