// Stored Responses API conversations (store/response_store.hpp), on every
// backend: team-scoped reads and deletes, expiry, the purge at each write,
// duplicate ids, and a second process on the same database reading them.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/system_clock.hpp"
#include "support/store_backends.hpp"

namespace aegis::store {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kNow = 1'700'000'000'000;

StoredResponse stored(std::string id, std::string team, std::int64_t created, std::int64_t expires) {
  StoredResponse r;
  r.id = std::move(id);
  r.team = std::move(team);
  r.created_at_ms = created;
  r.expires_at_ms = expires;
  r.conversation_json = R"([{"role":"user","text":"My SIN is 046 454 286"}])";
  r.response_json = R"({"id":")" + r.id + R"(","object":"response"})";
  return r;
}

using ResponseStoreContract = test_support::BackendContractTest<kNow>;

INSTANTIATE_TEST_SUITE_P(Backends, ResponseStoreContract, ::testing::Values("sqlite", "postgres"),
                         test_support::backend_name);

TEST_P(ResponseStoreContract, ReadBackByItsTeamOnlyUntilItExpires) {
  auto& store = open();
  const StoredResponse row = stored("resp_a", "team-a", kNow, kNow + 60'000);
  ASSERT_TRUE(store.put_response(row).ok());

  auto got = open().get_response("team-a", "resp_a", kNow + 1);  // another process on the same database
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->team, "team-a");
  EXPECT_EQ(got->created_at_ms, kNow);
  EXPECT_EQ(got->expires_at_ms, kNow + 60'000);
  EXPECT_EQ(got->conversation_json, row.conversation_json);
  EXPECT_EQ(got->response_json, row.response_json);

  // Another team's id reads as absent, with the same message as an unknown one.
  auto other = store.get_response("team-b", "resp_a", kNow + 1);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::not_found);
  auto unknown = store.get_response("team-b", "resp_zz", kNow + 1);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(other.error().message.find("resp_a"), unknown.error().message.find("resp_zz"));

  auto expired = store.get_response("team-a", "resp_a", kNow + 60'000);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, ErrorCode::not_found);
}

TEST_P(ResponseStoreContract, DuplicateIdIsAConflict) {
  auto& store = open();
  ASSERT_TRUE(store.put_response(stored("resp_d", "t", kNow, kNow + 1000)).ok());
  auto again = store.put_response(stored("resp_d", "t", kNow, kNow + 1000));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::conflict);
}

TEST_P(ResponseStoreContract, DeleteErasesOnlyTheTeamsOwn) {
  auto& store = open();
  ASSERT_TRUE(store.put_response(stored("resp_x", "team-a", kNow, kNow + 60'000)).ok());
  auto wrong = store.delete_response("team-b", "resp_x");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::not_found);
  ASSERT_TRUE(store.get_response("team-a", "resp_x", kNow).ok());

  ASSERT_TRUE(store.delete_response("team-a", "resp_x").ok());
  EXPECT_EQ(store.get_response("team-a", "resp_x", kNow).error().code, ErrorCode::not_found);
  EXPECT_EQ(store.delete_response("team-a", "resp_x").error().code, ErrorCode::not_found);
}

TEST_P(ResponseStoreContract, ExpiredRowsArePurgedAtTheNextWriteAndOnDemand) {
  auto& store = open();
  ASSERT_TRUE(store.put_response(stored("resp_old", "a", kNow, kNow + 10)).ok());
  ASSERT_TRUE(store.put_response(stored("resp_live", "a", kNow, kNow + 100'000)).ok());
  ASSERT_TRUE(store.put_response(stored("resp_later", "b", kNow, kNow + 20)).ok());
  // A write at kNow + 15 deletes what expired by then (resp_old), whoever's it was.
  ASSERT_TRUE(store.put_response(stored("resp_new", "b", kNow + 15, kNow + 100'000)).ok());
  auto purged = store.purge_responses(kNow + 15);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 0);  // resp_old is already gone
  auto later = store.purge_responses(kNow + 20);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(*later, 1);  // resp_later
  EXPECT_TRUE(store.get_response("a", "resp_live", kNow + 20).ok());
  EXPECT_TRUE(store.get_response("b", "resp_new", kNow + 20).ok());
}

}  // namespace
}  // namespace aegis::store
