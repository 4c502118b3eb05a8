// The compliance report read from a real store on every backend
// (report/collect.hpp): the month's rows through scan_audit, teams and their
// spend, and the verification of the month's audit chains.
#include "report/collect.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "audit/chain_sealer.hpp"
#include "audit/signing_key.hpp"
#include "core/system_clock.hpp"
#include "support/audit_rows.hpp"
#include "support/store_backends.hpp"

namespace aegis::report {
namespace {

constexpr std::int64_t kNov = 1'793'491'200'000;  // 2026-11-01T00:00:00Z
constexpr std::int64_t kDec = 1'796'083'200'000;  // 2026-12-01T00:00:00Z

class CollectReport : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = test_support::make_backend_db(GetParam());
    if (db_ == nullptr) GTEST_SKIP() << "no PostgreSQL test server in this run (ctest's postgres.start provides one)";
    store_ = db_->open(clock_);
    ASSERT_TRUE(store_->create_team(store::Team{"payments", Money::from_dollars(10), Level::RESTRICTED, kNov}).ok());
    ASSERT_TRUE(store_->create_team(store::Team{"research", Money::from_dollars(2), Level::INTERNAL, kNov}).ok());
  }

  void write(const std::vector<audit::AuditRecord>& rows) { ASSERT_TRUE(store_->append_audit(rows).ok()); }

  // October's last row, November's rows, December's first: only November's count.
  void write_month() {
    auto october = test_support::row("r_oct", "payments", kNov - 1);
    october.level = Level::RESTRICTED;
    october.locality = "cloud";
    write({october});
    std::vector<audit::AuditRecord> rows;
    for (int i = 0; i < 6; ++i) {
      auto r = test_support::row("r_nov_" + std::to_string(i), i % 2 == 0 ? "payments" : "research",
                                 kNov + i * 86'400'000LL);
      r.level = i < 2 ? Level::RESTRICTED : Level::INTERNAL;
      r.provider = i < 2 ? "ollama" : "anthropic";
      r.locality = i < 2 ? "local" : "cloud";
      r.cost = Money::from_micros(250'000);
      r.budget_period = "2026-11";
      rows.push_back(r);
    }
    write(rows);
    auto december = test_support::row("r_dec", "payments", kDec);
    december.level = Level::RESTRICTED;
    december.locality = "cloud";
    write({december});
  }

  ReportSources sources() {
    ReportSources out;
    out.public_keys = {{key_.key_id(), key_.public_key_raw()}};
    return out;
  }

  ComplianceReport collect(std::optional<std::string> team = std::nullopt) {
    ReportRequest request{parse_month("2026-11").value(), std::move(team), kDec};
    auto built = collect_compliance_report(*store_, sources(), request);
    EXPECT_TRUE(built.ok()) << (built.ok() ? "" : built.error().message);
    return built.ok() ? *built : ComplianceReport{};
  }

  void seal() {
    audit::ChainSealer sealer(*store_, key_, {store_->chain_writer()}, clock_, "");
    ASSERT_TRUE(sealer.seal_now().ok());
  }

  ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::milliseconds(kDec + 3'600'000))};
  audit::SigningKey key_ = audit::SigningKey::generate();
  std::unique_ptr<test_support::BackendDb> db_;
  std::unique_ptr<store::Database> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, CollectReport, ::testing::Values("sqlite", "postgres"), test_support::backend_name);

TEST_P(CollectReport, CountsTheMonthsRowsAndTheTeamsSpend) {
  write_month();
  seal();
  const auto report = collect();
  EXPECT_EQ(report.requests, 6);
  EXPECT_EQ(report.restricted.total, 2);
  EXPECT_EQ(report.restricted.local, 2);
  EXPECT_EQ(report.restricted.non_local, 0);  // October's and December's cloud rows are other months'
  ASSERT_EQ(report.spend.size(), 2u);
  EXPECT_EQ(report.spend[0].team, "payments");
  EXPECT_EQ(report.spend[0].cap, Money::from_dollars(10));
  EXPECT_EQ(report.spend[0].spent, Money::from_micros(750'000));
  EXPECT_EQ(report.spend[0].requests, 3);
  EXPECT_EQ(report.spend[1].spent, Money::from_micros(750'000));

  EXPECT_EQ(report.chain.status, "intact") << (report.chain.findings.empty() ? "" : report.chain.findings[0].message);
  EXPECT_GE(report.chain.rows, 6);
  EXPECT_FALSE(report.chain.checkpoint_ids.empty());

  const auto research = collect("research");
  EXPECT_EQ(research.requests, 3);
  ASSERT_EQ(research.spend.size(), 1u);
  EXPECT_EQ(research.spend[0].team, "research");
}

TEST_P(CollectReport, ShowsAnUnsignedTailAndTampering) {
  write_month();
  seal();
  auto late = test_support::row("r_late", "payments", kNov + 20 * 86'400'000LL);
  write({late});
  EXPECT_EQ(collect().chain.status, "unsigned_tail");

  if (GetParam() == "sqlite") {
    db_->exec("DROP TRIGGER IF EXISTS audit_no_update; UPDATE audit SET level = 'PUBLIC' WHERE request_id = 'r_nov_0'");
  } else {
    db_->exec("SET session_replication_role = replica; UPDATE audit SET level = 'PUBLIC' WHERE request_id = 'r_nov_0'");
  }
  const auto report = collect();
  EXPECT_EQ(report.chain.status, "tampered");
  ASSERT_FALSE(report.chain.findings.empty());
  EXPECT_EQ(report.chain.findings[0].kind, "edited");
  // The figures are still the rows as they now read: the chain section is what says they were edited.
  EXPECT_EQ(report.requests_by_level[static_cast<int>(Level::PUBLIC)], 1);
}

}  // namespace
}  // namespace aegis::report
