// The audit trail in the embedded store: append, query, spend, the
// compliance view and append-only enforcement.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/system_clock.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "support/audit_rows.hpp"
#include "support/sqlite_files.hpp"

namespace aegis::store {
namespace {

namespace fs = std::filesystem;
using aegis::test_support::RawDb;
using aegis::test_support::TempDir;
using namespace std::chrono_literals;
using audit::AuditQuery;

using test_support::full_row;
using test_support::row;

class SqliteAuditTest : public ::testing::Test {
 protected:
  fs::path db_path() const { return dir_.path() / "aegis.db"; }
  SqliteStore& store() { return store_; }

  TempDir dir_{"aegis-audit-test"};
  ManualClock clock_{std::chrono::system_clock::time_point(1'700'000'000'000ms)};
  SqliteStore store_{db_path().string(), clock_};
};

TEST_F(SqliteAuditTest, StoresLevelAsTextCostAsMicrosAndListsAsJson) {
  ASSERT_TRUE(store().append_audit({full_row()}).ok());
  RawDb raw(db_path());
  EXPECT_EQ(raw.scalar("SELECT level FROM audit"), "CONFIDENTIAL");
  EXPECT_EQ(raw.scalar("SELECT cost_micros FROM audit"), "12345");
  EXPECT_EQ(raw.scalar("SELECT json_extract(entities, '$.EMAIL') FROM audit"), "2");
  EXPECT_EQ(raw.scalar("SELECT json_extract(fallback_path, '$[1]') FROM audit"), "azure:ok");
  EXPECT_EQ(raw.scalar("SELECT invented_pii || egress_blocked FROM audit"), "10");
}

// `aegis admin` writes its rows to the file a gateway writes too: each process
// reads its chain's head once, so each must link into a chain of its own.
TEST_F(SqliteAuditTest, AProcessWritingBesideTheGatewayLinksItsRowsIntoAChainOfItsOwn) {
  constexpr std::int64_t kAt = 1'700'000'000'000;  // 2023-11
  ASSERT_TRUE(store().append_audit({row("gw_1", "t", kAt)}).ok());
  {
    SqliteStore cli(db_path().string(), clock_, SqliteOptions{.chain_writer = std::string(kCliChainWriter)});
    ASSERT_TRUE(cli.append_audit({row("cli_1", "t", kAt)}).ok());
  }
  ASSERT_TRUE(store().append_audit({row("gw_2", "t", kAt)}).ok());
  RawDb raw(db_path());
  EXPECT_EQ(raw.scalar("SELECT group_concat(request_id || '@' || chain_id || '#' || chain_seq, ' ') FROM "
                       "(SELECT * FROM audit ORDER BY id)"),
            "gw_1@gateway/2023-11#1 cli_1@cli/2023-11#1 gw_2@gateway/2023-11#2");
  // Two writers of one chain would fork it: the second to write after the
  // other is refused (its head is stale), so the gateway's rows would fail.
  {
    SqliteStore other(db_path().string(), clock_);
    ASSERT_TRUE(other.append_audit({row("gw_other", "t", kAt)}).ok());
  }
  EXPECT_FALSE(store().append_audit({row("gw_3", "t", kAt)}).ok());
}

// --- Intents: a request's row as routed, committed while the provider answers. ---

// One commit per row (a durable record each) must not leave the WAL growing
// forever, nor checkpoint inside the commit: a thread of the store's own does it.
TEST_F(SqliteAuditTest, TheWalIsCheckpointedInTheBackground) {
  const auto main_file = fs::file_size(db_path());
  for (int i = 0; i < 1500; ++i) {
    ASSERT_TRUE(store().append_audit({row("req_" + std::to_string(i), "t", 1)}).ok());
  }
  bool grew = false;
  for (int i = 0; i < 500 && !grew; ++i) {
    grew = fs::file_size(db_path()) > main_file;  // pages copied back from the WAL
    if (!grew) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(grew);
  AuditQuery query;
  query.limit = 1000;
  EXPECT_EQ(store().query_audit(query)->size(), 1000u);
}

}  // namespace
}  // namespace aegis::store
