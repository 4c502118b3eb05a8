// Console sign-outs (store/console_session_store.hpp) on every backend: a
// sign-out recorded through one process is seen by another on the same
// database, recorded once however often, and dropped once the session would
// have expired anyway.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/system_clock.hpp"
#include "support/store_backends.hpp"

namespace aegis::store {
namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;

using ConsoleSessionStoreContract = test_support::BackendContractTest<kNow>;

INSTANTIATE_TEST_SUITE_P(Backends, ConsoleSessionStoreContract, ::testing::Values("sqlite", "postgres"),
                         test_support::backend_name);

bool revoked(Database& store, const std::string& digest) {
  auto found = store.console_session_revoked(digest);
  EXPECT_TRUE(found.ok()) << (found.ok() ? "" : found.error().message);
  return found.ok() && *found;
}

TEST_P(ConsoleSessionStoreContract, ASignOutThroughOneProcessIsSeenByAnother) {
  auto& one = open();
  auto& other = open();
  const std::string digest(64, 'a');
  EXPECT_FALSE(revoked(other, digest));
  ASSERT_TRUE(one.revoke_console_session(digest, kNow + 60'000, kNow).ok());
  ASSERT_TRUE(one.revoke_console_session(digest, kNow + 60'000, kNow).ok());  // again: no change, no error
  EXPECT_TRUE(revoked(other, digest));
  EXPECT_FALSE(revoked(other, std::string(64, 'b')));
}

TEST_P(ConsoleSessionStoreContract, ASignOutIsForgottenOnceTheSessionWouldHaveExpired) {
  auto& store = open();
  const std::string early(64, 'c');
  const std::string late(64, 'd');
  ASSERT_TRUE(store.revoke_console_session(early, kNow + 1'000, kNow).ok());
  // A later sign-out deletes what expired by then; its own record stays.
  ASSERT_TRUE(store.revoke_console_session(late, kNow + 60'000, kNow + 1'000).ok());
  EXPECT_FALSE(revoked(store, early));
  EXPECT_TRUE(revoked(store, late));
}

}  // namespace
}  // namespace aegis::store
