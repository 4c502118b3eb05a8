// The breach register on every backend: entries made in the transaction that
// writes the audit row (a RESTRICTED row sent to a non-local provider, an
// egress block), once however often recorded, moved through its statuses by
// an officer with every change kept, and made for tampering the chain's
// verifier finds.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "audit/breach_store.hpp"
#include "audit/chain_sealer.hpp"
#include "audit/chain_verifier.hpp"
#include "audit/signing_key.hpp"
#include "core/system_clock.hpp"
#include "support/audit_rows.hpp"
#include "support/store_backends.hpp"

namespace aegis::audit {
namespace {

constexpr std::int64_t kDecember = 1'796'428'800'000;  // 2026-12-05T00:00:00Z

class BreachRegister : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = test_support::make_backend_db(GetParam());
    if (db_ == nullptr) GTEST_SKIP() << "no PostgreSQL test server in this run (ctest's postgres.start provides one)";
    store_ = db_->open(clock_);
  }

  static AuditRecord violation(std::string id) {
    AuditRecord r = test_support::row(std::move(id), "payments", kDecember);
    r.level = Level::RESTRICTED;
    r.provider = "anthropic";
    r.locality = "cloud";
    r.entities = {{"CA_SIN", 1}, {"CREDIT_CARD", 2}};
    return r;
  }

  std::vector<Breach> all() {
    auto rows = store_->list_breaches(BreachQuery{});
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? *rows : std::vector<Breach>{};
  }

  ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::milliseconds(kDecember))};
  std::unique_ptr<test_support::BackendDb> db_;
  std::unique_ptr<store::Database> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, BreachRegister, ::testing::Values("sqlite", "postgres"), test_support::backend_name);

TEST_P(BreachRegister, AViolatingRowAndAnEgressBlockAreRecordedWithTheRowAndNothingElse) {
  AuditRecord ok = test_support::row("fine", "payments", kDecember);
  AuditRecord local_restricted = test_support::row("local", "payments", kDecember);
  local_restricted.level = Level::RESTRICTED;
  AuditRecord not_sent = test_support::row("refused", "payments", kDecember);
  not_sent.level = Level::RESTRICTED;
  not_sent.locality = "";
  AuditRecord blocked = test_support::row("blocked", "ops", kDecember + 5);
  blocked.level = Level::RESTRICTED;
  blocked.locality = "";
  blocked.provider = "azure";
  blocked.egress_blocked = true;
  blocked.egress_rule = "pan.luhn";
  ASSERT_TRUE(store_->append_audit({ok, local_restricted, not_sent, violation("leak"), blocked}).ok());

  const auto entries = all();
  ASSERT_EQ(entries.size(), 2u);
  const Breach& block = entries[0];  // newest first
  const Breach& leak = entries[1];
  EXPECT_EQ(leak.kind, "pipeda_violation");
  EXPECT_EQ(leak.request_id, "leak");
  EXPECT_EQ(leak.team, "payments");
  EXPECT_EQ(leak.key_id, "4f9c0a1b2c3d4e5f");
  EXPECT_EQ(leak.provider, "anthropic");
  EXPECT_EQ(leak.entities, (std::map<std::string, int>{{"CA_SIN", 1}, {"CREDIT_CARD", 2}}));
  EXPECT_EQ(leak.status, "open");
  EXPECT_EQ(leak.detected_at_ms, kDecember);
  EXPECT_EQ(block.kind, "egress_block");
  EXPECT_EQ(block.request_id, "blocked");
  EXPECT_NE(block.detail.find("pan.luhn"), std::string::npos) << block.detail;
  // Types and counts only: nothing in an entry is a value.
  EXPECT_EQ(leak.detail.find("046"), std::string::npos);
}

TEST_P(BreachRegister, AnEntryIsRecordedOnceAndARolledBackBatchRecordsNone) {
  ASSERT_TRUE(store_->append_audit({violation("twice")}).ok());
  auto again = breach_for_row(violation("twice"));
  ASSERT_TRUE(again.has_value());
  auto created = store_->record_breach(*again);
  ASSERT_TRUE(created.ok());
  EXPECT_FALSE(*created);
  EXPECT_EQ(all().size(), 1u);

  // The audit row and its entry commit together: a failing row takes its entry with it.
  db_->exec(db_->failing_insert_sql("audit", "request_id", "doomed"));
  EXPECT_FALSE(store_->append_audit({violation("doomed")}).ok());
  db_->exec(db_->drop_failing_insert_sql("audit"));
  EXPECT_EQ(all().size(), 1u);
}

TEST_P(BreachRegister, AnOfficerMovesAnEntryAlongAndEveryChangeIsKept) {
  ASSERT_TRUE(store_->append_audit({violation("leak")}).ok());
  const std::int64_t id = all().front().id;
  auto assessed = store_->update_breach({id, kDecember + 1000, "assessed", "SIN of one customer; contained", "admin"});
  ASSERT_TRUE(assessed.ok());
  EXPECT_EQ(assessed->status, "assessed");
  EXPECT_EQ(assessed->note, "SIN of one customer; contained");
  EXPECT_EQ(assessed->updated_by, "admin");
  auto reported = store_->update_breach({id, kDecember + 2000, "reported", "reported to the OPC", "cli"});
  ASSERT_TRUE(reported.ok());
  auto history = store_->breach_history(id);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].status, "assessed");
  EXPECT_EQ((*history)[0].time_ms, kDecember + 1000);
  EXPECT_EQ((*history)[1].status, "reported");
  EXPECT_EQ((*history)[1].note, "reported to the OPC");
  EXPECT_EQ((*history)[1].actor, "cli");

  auto missing = store_->update_breach({id + 100, kDecember, "closed", "", "admin"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::not_found);
  EXPECT_EQ(store_->get_breach(id + 100).error().code, ErrorCode::not_found);

  BreachQuery open;
  open.status = "open";
  EXPECT_TRUE(store_->list_breaches(open)->empty());
  BreachQuery reported_only;
  reported_only.status = "reported";
  EXPECT_EQ(store_->list_breaches(reported_only)->size(), 1u);
}

TEST_P(BreachRegister, EntriesAndTheirHistoryCannotBeDeletedOrRewritten) {
  ASSERT_TRUE(store_->append_audit({violation("leak")}).ok());
  const std::int64_t id = all().front().id;
  ASSERT_TRUE(store_->update_breach({id, kDecember, "assessed", "first look", "admin"}).ok());
  EXPECT_THROW(db_->exec("DELETE FROM breaches"), std::runtime_error);
  EXPECT_THROW(db_->exec("UPDATE breach_updates SET note = 'nothing happened'"), std::runtime_error);
  EXPECT_THROW(db_->exec("DELETE FROM breach_updates"), std::runtime_error);
  EXPECT_EQ(all().size(), 1u);
}

TEST_P(BreachRegister, TamperingTheVerifierFindsIsRecordedOncePerFinding) {
  std::vector<AuditRecord> rows;
  for (int i = 1; i <= 5; ++i) rows.push_back(test_support::row("r" + std::to_string(i), "ops", kDecember + i));
  ASSERT_TRUE(store_->append_audit(rows).ok());
  SigningKey key = SigningKey::generate();
  ChainSealer sealer(*store_, key, {store_->chain_writer()}, clock_, "");
  sealer.verify_every(std::chrono::seconds(3600), 0, *store_, nullptr);
  ASSERT_TRUE(sealer.seal_now().ok());
  auto clean = sealer.verify_now();
  ASSERT_TRUE(clean.ok());
  EXPECT_TRUE(all().empty());

  if (GetParam() == "sqlite") {
    db_->exec("DROP TRIGGER audit_no_update; UPDATE audit SET team = 'nobody' WHERE request_id = 'r2'");
  } else {
    db_->exec("SET session_replication_role = replica; UPDATE audit SET team = 'nobody' WHERE request_id = 'r2'");
  }
  auto tampered = sealer.verify_now();
  ASSERT_TRUE(tampered.ok());
  EXPECT_FALSE(tampered->intact());
  ASSERT_TRUE(sealer.verify_now().ok());  // found again: still one entry
  const auto entries = all();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].kind, "chain_failure");
  EXPECT_NE(entries[0].detail.find("row 2: its content no longer matches its hash"), std::string::npos)
      << entries[0].detail;
  EXPECT_EQ(entries[0].status, "open");
}

}  // namespace
}  // namespace aegis::audit
