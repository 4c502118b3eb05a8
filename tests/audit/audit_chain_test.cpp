// The tamper-evident audit trail on every backend: rows are linked into
// per-writer, per-month chains, checkpoints seal the heads, and the verifier
// names each kind of tampering a database administrator could do: an edited
// value, a deleted row, two rows swapped, a cut tail, a rewritten row with its
// hash recomputed, a forged or foreign checkpoint.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "audit/breach_store.hpp"
#include "audit/chain.hpp"
#include "audit/chain_sealer.hpp"
#include "audit/chain_verifier.hpp"
#include "audit/checkpoint_file.hpp"
#include "audit/signing_key.hpp"
#include "core/system_clock.hpp"
#include "support/audit_rows.hpp"
#include "support/store_backends.hpp"

namespace aegis::audit {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kDecember = 1'796'428'800'000;  // 2026-12-05T00:00:00Z

class AuditChain : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = test_support::make_backend_db(GetParam());
    if (db_ == nullptr) GTEST_SKIP() << "no PostgreSQL test server in this run (ctest's postgres.start provides one)";
    store_ = db_->open(clock_);
  }

  // Rows r1..rN, one a second, written in batches of three as the audit writer would.
  void write_rows(int n, int first = 1) {
    std::vector<AuditRecord> batch;
    for (int i = first; i < first + n; ++i) {
      AuditRecord r = test_support::row("r" + std::to_string(i), "team-a", kDecember + std::int64_t{i} * 1000);
      r.level = i % 2 == 0 ? Level::RESTRICTED : Level::INTERNAL;
      r.locality = "local";
      r.entities = {{"CA_SIN", i % 3}};
      batch.push_back(std::move(r));
      if (batch.size() == 3) {
        ASSERT_TRUE(store_->append_audit(batch).ok());
        batch.clear();
      }
    }
    if (!batch.empty()) {
      ASSERT_TRUE(store_->append_audit(batch).ok());
    }
  }

  std::vector<Checkpoint> seal() {
    ChainSealer sealer(*store_, key_, {store_->chain_writer()}, clock_, "");
    auto sealed = sealer.seal_now();
    EXPECT_TRUE(sealed.ok());
    return sealed.ok() ? *sealed : std::vector<Checkpoint>{};
  }

  VerifyReport verify() {
    VerifyOptions options;
    options.public_keys = {{key_.key_id(), key_.public_key_raw()}};
    auto report = verify_audit_chains(*store_, options);
    EXPECT_TRUE(report.ok()) << (report.ok() ? "" : report.error().message);
    return report.ok() ? *report : VerifyReport{};
  }

  // Raw SQL as a database administrator: the append-only triggers switched off first.
  void tamper(const std::string& sql) {
    if (GetParam() == "sqlite") {
      db_->exec("DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete; " + sql);
    } else {
      db_->exec("SET session_replication_role = replica; " + sql);
    }
  }

  std::vector<StoredAuditRow> chain_rows(const std::string& chain_id) {
    std::vector<StoredAuditRow> rows;
    AuditScan scan;
    scan.chain_id = chain_id;
    EXPECT_TRUE(store_
                    ->scan_audit(scan,
                                 [&](const StoredAuditRow& r) {
                                   rows.push_back(r);
                                   return true;
                                 })
                    .ok());
    return rows;
  }

  std::string only_chain() {
    auto chains = store_->list_chains();
    EXPECT_TRUE(chains.ok() && chains->size() == 1);
    return chains.ok() && !chains->empty() ? chains->front().chain_id : "";
  }

  static const Finding* first_of(const VerifyReport& report, FindingKind kind) {
    auto it = std::find_if(report.findings.begin(), report.findings.end(),
                           [kind](const Finding& f) { return f.kind == kind; });
    return it == report.findings.end() ? nullptr : &*it;
  }

  static std::string kinds(const VerifyReport& report) {
    std::string out;
    for (const auto& f : report.findings) out += std::string(to_string(f.kind)) + ": " + f.message + "\n";
    return out;
  }

  ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::milliseconds(kDecember + 3'600'000))};
  SigningKey key_ = SigningKey::generate();
  std::unique_ptr<test_support::BackendDb> db_;
  std::unique_ptr<store::Database> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, AuditChain, ::testing::Values("sqlite", "postgres"), test_support::backend_name);

TEST_P(AuditChain, RowsAreLinkedInOrderFromTheGenesisHash) {
  write_rows(5);
  auto chains = store_->list_chains();
  ASSERT_TRUE(chains.ok());
  ASSERT_EQ(chains->size(), 1u);
  // The writer's chain of December; on PostgreSQL it carries the replica's owner id.
  if (GetParam() == "sqlite") {
    EXPECT_EQ(chains->front().chain_id, "gateway/2026-12");
  } else {
    EXPECT_TRUE(chains->front().chain_id.ends_with("/gateway/2026-12")) << chains->front().chain_id;
  }
  EXPECT_EQ(chains->front().rows, 5);
  std::vector<StoredAuditRow> rows = chain_rows(chains->front().chain_id);
  ASSERT_EQ(rows.size(), 5u);
  std::string previous(kGenesisHash);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].link.seq, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(rows[i].link.prev_hash, previous);
    EXPECT_EQ(rows[i].link.row_hash,
              link_hash(previous, canonical_row(rows[i].record, rows[i].link.chain_id, rows[i].link.seq)));
    previous = rows[i].link.row_hash;
  }
}

TEST_P(AuditChain, AnUntouchedSealedTrailVerifiesAndANewRowIsAnUnsignedTail) {
  write_rows(7);
  ASSERT_EQ(seal().size(), 1u);
  VerifyReport report = verify();
  EXPECT_TRUE(report.findings.empty()) << kinds(report);
  EXPECT_EQ(report.rows, 7);
  EXPECT_EQ(report.exit_code(), 0);
  ASSERT_EQ(report.checkpoint_ids.size(), 1u);

  write_rows(1, 8);
  report = verify();
  EXPECT_TRUE(report.intact());
  EXPECT_EQ(report.exit_code(), 3);
  const Finding* tail = first_of(report, FindingKind::unsigned_tail);
  ASSERT_NE(tail, nullptr) << kinds(report);
  EXPECT_EQ(tail->seq, 8);
  EXPECT_NE(tail->message.find("row 8 is not sealed"), std::string::npos) << tail->message;
}

TEST_P(AuditChain, ARestartedWriterContinuesItsChainOnTheSqliteFile) {
  if (GetParam() != "sqlite") GTEST_SKIP() << "each PostgreSQL process writes a chain of its own";
  write_rows(3);
  seal();
  store_.reset();
  store_ = db_->open(clock_);
  write_rows(2, 4);
  seal();
  VerifyReport report = verify();
  EXPECT_TRUE(report.findings.empty()) << kinds(report);
  EXPECT_EQ(report.chains, 1);
  EXPECT_EQ(report.rows, 5);
}

TEST_P(AuditChain, AnEditedLevelIsDetected) {
  write_rows(9);
  seal();
  tamper("UPDATE audit SET level = 'PUBLIC' WHERE request_id = 'r4'");
  VerifyReport report = verify();
  EXPECT_EQ(report.exit_code(), 1);
  const Finding* f = first_of(report, FindingKind::edited);
  ASSERT_NE(f, nullptr) << kinds(report);
  EXPECT_EQ(f->seq, 4);
  EXPECT_NE(f->message.find("row 4: its content no longer matches its hash"), std::string::npos) << f->message;
}

TEST_P(AuditChain, AnEditWithItsHashRecomputedBreaksTheNextLink) {
  write_rows(9);
  seal();
  // The administrator knows the algorithm and rewrites row 4's hash to match its new content.
  const std::string chain_id = only_chain();
  std::vector<StoredAuditRow> rows = chain_rows(chain_id);
  ASSERT_EQ(rows.size(), 9u);
  AuditRecord edited = rows[3].record;
  edited.level = Level::PUBLIC;
  const std::string forged = link_hash(rows[3].link.prev_hash, canonical_row(edited, chain_id, 4));
  tamper("UPDATE audit SET level = 'PUBLIC', row_hash = '" + forged + "' WHERE request_id = 'r4'");
  VerifyReport report = verify();
  const Finding* f = first_of(report, FindingKind::broken_link);
  ASSERT_NE(f, nullptr) << kinds(report);
  EXPECT_EQ(f->seq, 5);
  EXPECT_EQ(first_of(report, FindingKind::edited), nullptr) << kinds(report);
  EXPECT_EQ(report.exit_code(), 1);
}

TEST_P(AuditChain, ADeletedRowIsMissing) {
  write_rows(9);
  seal();
  tamper("DELETE FROM audit WHERE request_id = 'r5'");
  VerifyReport report = verify();
  const Finding* f = first_of(report, FindingKind::missing_row);
  ASSERT_NE(f, nullptr) << kinds(report);
  EXPECT_EQ(f->seq, 5);
  EXPECT_NE(f->message.find("row 5 is missing"), std::string::npos) << f->message;
  EXPECT_EQ(first_of(report, FindingKind::broken_link), nullptr) << kinds(report);
  EXPECT_EQ(report.exit_code(), 1);
}

TEST_P(AuditChain, TwoSwappedRowsAreReordered) {
  write_rows(9);
  seal();
  // Exchange the positions of rows 4 and 5 (through a free seq: SQLite's index is unique).
  tamper(
      "UPDATE audit SET chain_seq = -4 WHERE request_id = 'r4'; "
      "UPDATE audit SET chain_seq = 4 WHERE request_id = 'r5'; "
      "UPDATE audit SET chain_seq = 5 WHERE request_id = 'r4'");
  VerifyReport report = verify();
  const Finding* f = first_of(report, FindingKind::reordered);
  ASSERT_NE(f, nullptr) << kinds(report);
  EXPECT_NE(f->message.find("reordered"), std::string::npos) << f->message;
  EXPECT_EQ(report.exit_code(), 1);
}

TEST_P(AuditChain, TwoRowsWithSwappedContentAreReordered) {
  write_rows(9);
  seal();
  // The contents change places, the chain columns stay: the request ids move.
  tamper(
      "UPDATE audit SET request_id = 'tmp' WHERE request_id = 'r4'; "
      "UPDATE audit SET request_id = 'r4' WHERE request_id = 'r5'; "
      "UPDATE audit SET request_id = 'r5' WHERE request_id = 'tmp'");
  // r4 and r5 differ in more than the id (level, time, entities): swap those too.
  const std::string as_json = GetParam() == "postgres" ? "::jsonb" : "";
  tamper(
      "UPDATE audit SET level = CASE level WHEN 'RESTRICTED' THEN 'INTERNAL' ELSE 'RESTRICTED' END, "
      "time_ms = CASE request_id WHEN 'r4' THEN time_ms - 1000 ELSE time_ms + 1000 END, "
      "entities = (CASE request_id WHEN 'r4' THEN '{\"CA_SIN\":1}' ELSE '{\"CA_SIN\":2}' END)" +
      as_json + " WHERE request_id IN ('r4', 'r5')");
  VerifyReport report = verify();
  const Finding* f = first_of(report, FindingKind::reordered);
  ASSERT_NE(f, nullptr) << kinds(report);
  EXPECT_NE(f->message.find("rows 4 and 5 hold each other's content"), std::string::npos) << f->message;
  EXPECT_EQ(first_of(report, FindingKind::edited), nullptr) << kinds(report);
}

TEST_P(AuditChain, ATruncatedTailUnderACheckpointIsDetected) {
  write_rows(9);
  seal();
  tamper("DELETE FROM audit WHERE request_id IN ('r8', 'r9')");
  VerifyReport report = verify();
  const Finding* f = first_of(report, FindingKind::truncated);
  ASSERT_NE(f, nullptr) << kinds(report);
  EXPECT_NE(f->message.find("ends at row 7"), std::string::npos) << f->message;
  EXPECT_NE(f->message.find("rows 8-9 are missing"), std::string::npos) << f->message;
  EXPECT_EQ(report.exit_code(), 1);
}

TEST_P(AuditChain, ATailDeletedWithItsCheckpointShowsAgainstTheOutsideCopy) {
  write_rows(6);
  auto first = seal();
  write_rows(3, 7);
  auto second = seal();
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  std::vector<Checkpoint> outside = {first.front(), second.front()};
  // The administrator removes the newest rows and the checkpoint that sealed them.
  if (GetParam() == "sqlite") {
    tamper(
        "DROP TRIGGER IF EXISTS audit_checkpoints_no_delete; DELETE FROM audit WHERE request_id IN ('r7', 'r8', "
        "'r9'); DELETE FROM audit_checkpoints WHERE id = " +
        std::to_string(second.front().id));
  } else {
    tamper("DELETE FROM audit WHERE request_id IN ('r7', 'r8', 'r9'); DELETE FROM audit_checkpoints WHERE id = " +
           std::to_string(second.front().id));
  }
  // Against the store alone the shortened chain is whole and sealed.
  EXPECT_EQ(verify().exit_code(), 0) << kinds(verify());

  VerifyOptions options;
  options.public_keys = {{key_.key_id(), key_.public_key_raw()}};
  options.outside_checkpoints = outside;
  auto held = verify_audit_chains(*store_, options);
  ASSERT_TRUE(held.ok());
  const Finding* missing = first_of(*held, FindingKind::missing_checkpoint);
  ASSERT_NE(missing, nullptr) << kinds(*held);
  EXPECT_EQ(missing->checkpoint_id, second.front().id);
  EXPECT_NE(missing->message.find("is in the outside copy but not in the store"), std::string::npos)
      << missing->message;
  const Finding* truncated = first_of(*held, FindingKind::truncated);
  ASSERT_NE(truncated, nullptr) << kinds(*held);
  EXPECT_NE(truncated->message.find("rows 7-9 are missing"), std::string::npos) << truncated->message;
  EXPECT_EQ(held->exit_code(), 1);
  // The report names the store's checkpoints only.
  EXPECT_EQ(held->checkpoint_ids, std::vector<std::int64_t>{first.front().id});
}

TEST_P(AuditChain, AnUntouchedTrailAgreesWithItsOutsideCopyAndAForgedLineFails) {
  write_rows(5);
  auto sealed = seal();
  ASSERT_EQ(sealed.size(), 1u);
  VerifyOptions options;
  options.public_keys = {{key_.key_id(), key_.public_key_raw()}};
  options.outside_checkpoints = sealed;
  auto agreed = verify_audit_chains(*store_, options);
  ASSERT_TRUE(agreed.ok());
  EXPECT_TRUE(agreed->findings.empty()) << kinds(*agreed);

  // A line claiming a longer chain, not signed by the gateway's key.
  Checkpoint forged = sealed.front();
  forged.id += 100;
  forged.seq = 8;
  forged.signature = SigningKey::generate().sign(checkpoint_message(forged));
  options.outside_checkpoints.push_back(forged);
  auto failed = verify_audit_chains(*store_, options);
  ASSERT_TRUE(failed.ok());
  EXPECT_NE(first_of(*failed, FindingKind::bad_signature), nullptr) << kinds(*failed);
  EXPECT_EQ(failed->exit_code(), 1);
}

TEST(CheckpointFile, LinesRoundTripAndOnlyACutLastLineIsSkipped) {
  Checkpoint c;
  c.id = 7;
  c.chain_id = "gw-1/2026-12";
  c.seq = 42;
  c.head_hash = std::string(64, 'a');
  c.sealed_at_ms = kDecember;
  c.key_id = "k1";
  c.signature = "c2lnbmF0dXJl";
  const auto path = std::filesystem::temp_directory_path() / ("aegis-checkpoints-" + std::to_string(::getpid()));
  const std::string line = checkpoint_line(c);
  {
    std::ofstream out(path, std::ios::binary);
    out << line << line.substr(0, 20);  // the second write cut short
  }
  auto read = read_checkpoint_file(path.string());
  ASSERT_TRUE(read.ok()) << read.error().message;
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ(read->front().chain_id, c.chain_id);
  EXPECT_EQ(read->front().seq, 42);
  EXPECT_EQ(read->front().head_hash, c.head_hash);
  EXPECT_EQ(read->front().signature, c.signature);
  {
    std::ofstream out(path, std::ios::binary);
    out << "{\"id\":1}\n" << line;
  }
  auto bad = read_checkpoint_file(path.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("line 1 is not a checkpoint"), std::string::npos) << bad.error().message;
  std::filesystem::remove(path);
  auto absent = read_configured_checkpoint_file(path.string());
  ASSERT_TRUE(absent.ok());
  EXPECT_TRUE(absent->empty());
  EXPECT_FALSE(read_checkpoint_file(path.string()).ok());
}

TEST_P(AuditChain, AForgedCheckpointFailsItsSignature) {
  write_rows(6);
  auto sealed = seal();
  ASSERT_EQ(sealed.size(), 1u);
  // A checkpoint claiming our key, signed by another one.
  SigningKey other = SigningKey::generate();
  Checkpoint forged = sealed.front();
  forged.signature = other.sign(checkpoint_message(forged));
  ASSERT_TRUE(store_->append_checkpoint(forged).ok());
  VerifyReport report = verify();
  const Finding* f = first_of(report, FindingKind::bad_signature);
  ASSERT_NE(f, nullptr) << kinds(report);
  EXPECT_NE(f->message.find("signature does not verify"), std::string::npos) << f->message;
  EXPECT_EQ(report.exit_code(), 1);
}

TEST_P(AuditChain, ACheckpointByAnUntrustedKeyIsReported) {
  write_rows(6);
  // Rows rewritten, then sealed with the administrator's own key.
  SigningKey other = SigningKey::generate();
  ChainSealer sealer(*store_, other, {store_->chain_writer()}, clock_, "");
  ASSERT_TRUE(sealer.seal_now().ok());
  VerifyReport report = verify();
  const Finding* f = first_of(report, FindingKind::unknown_key);
  ASSERT_NE(f, nullptr) << kinds(report);
  EXPECT_NE(f->message.find(other.key_id()), std::string::npos) << f->message;
  EXPECT_EQ(report.exit_code(), 1);
}

TEST_P(AuditChain, ACheckpointWhoseHeadTheRowNoLongerHasIsAMismatch) {
  write_rows(6);
  seal();
  // Every row rewritten consistently from row 2 on: only the checkpoint shows it.
  const std::string chain_id = only_chain();
  std::vector<StoredAuditRow> rows = chain_rows(chain_id);
  ASSERT_EQ(rows.size(), 6u);
  std::string previous = rows[0].link.row_hash;
  std::string sql;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    AuditRecord r = rows[i].record;
    r.level = Level::PUBLIC;
    const std::string hash = link_hash(previous, canonical_row(r, chain_id, rows[i].link.seq));
    sql.append("UPDATE audit SET level = 'PUBLIC', prev_hash = '")
        .append(previous)
        .append("', row_hash = '")
        .append(hash)
        .append("' WHERE request_id = '")
        .append(r.request_id)
        .append("'; ");
    previous = hash;
  }
  tamper(sql);
  VerifyReport report = verify();
  const Finding* f = first_of(report, FindingKind::head_mismatch);
  ASSERT_NE(f, nullptr) << kinds(report);
  EXPECT_EQ(f->seq, 6);
  EXPECT_EQ(report.exit_code(), 1);
}

TEST_P(AuditChain, RetentionDropsWholeChainsAndWhatIsKeptStillVerifies) {
  if (GetParam() != "postgres") GTEST_SKIP() << "retention drops PostgreSQL's monthly partitions";
  constexpr std::int64_t kOctober = 1'791'158'400'000;  // 2026-10-05T00:00:00Z
  std::vector<AuditRecord> october;
  october.reserve(4);
  for (int i = 0; i < 4; ++i) october.push_back(test_support::row("oct" + std::to_string(i), "ops", kOctober + i));
  ASSERT_TRUE(store_->append_audit(october).ok());
  write_rows(5);
  seal();
  ASSERT_EQ(verify().chains, 2);
  // What PostgresStore::maintain_partitions does for storage.audit_retention_months: 1 in December.
  db_->exec("ALTER TABLE audit DETACH PARTITION audit_y2026m10; DROP TABLE audit_y2026m10");

  VerifyOptions options;
  options.public_keys = {{key_.key_id(), key_.public_key_raw()}};
  options.retained_from_ms = 1'793'491'200'000;  // 2026-11-01T00:00:00Z
  auto kept = verify_audit_chains(*store_, options);
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->findings.empty()) << kinds(*kept);
  EXPECT_EQ(kept->chains, 1);
  EXPECT_EQ(kept->retired_chains, 1);
  EXPECT_EQ(kept->rows, 5);

  // The gateway's own periodic verification knows the retention too: no
  // breach entry, no tampering reported.
  ChainSealer gateway_sealer(*store_, key_, {store_->chain_writer()}, clock_, "");
  gateway_sealer.verify_every(std::chrono::seconds(3600), /*retention_months=*/1, *store_, nullptr);
  auto periodic = gateway_sealer.verify_now();
  ASSERT_TRUE(periodic.ok());
  EXPECT_TRUE(periodic->findings.empty()) << kinds(*periodic);
  EXPECT_EQ(periodic->retired_chains, 1);
  auto breaches = store_->list_breaches(BreachQuery{});
  ASSERT_TRUE(breaches.ok());
  EXPECT_TRUE(breaches->empty());

  // Without a retention that explains it, a sealed month gone is a truncation.
  VerifyReport unexplained = verify();
  const Finding* f = first_of(unexplained, FindingKind::truncated);
  ASSERT_NE(f, nullptr) << kinds(unexplained);
  EXPECT_NE(f->message.find("/2026-10 ends at row 0"), std::string::npos) << f->message;
}

TEST_P(AuditChain, AStoppedWritersTailIsSealedByAnotherSealerOnlyWhenIntactAndOld) {
  // Rows whose writer never sealed them (its process died); the clock is an
  // hour past them. Another process's sealer owns none of these chains.
  write_rows(4);
  ChainSealer other(*store_, key_, {}, clock_, "");
  auto before = other.verify_now();
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->exit_code(), 3) << kinds(*before);
  VerifyReport after = verify();
  EXPECT_TRUE(after.findings.empty()) << kinds(after);
  EXPECT_EQ(after.exit_code(), 0);

  // A tail younger than ten minutes is left to its own writer.
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall_now().time_since_epoch());
  ASSERT_TRUE(store_->append_audit({test_support::row("fresh", "team-a", now.count() - 60'000)}).ok());
  ASSERT_TRUE(other.verify_now().ok());
  EXPECT_EQ(verify().exit_code(), 3);

  // Nor is a tampered chain sealed, however old.
  clock_.advance(std::chrono::hours(1));
  tamper("UPDATE audit SET team = 'nobody' WHERE request_id = 'r2'");
  ASSERT_TRUE(other.verify_now().ok());
  VerifyReport tampered = verify();
  EXPECT_NE(first_of(tampered, FindingKind::unsigned_tail), nullptr) << kinds(tampered);
  EXPECT_NE(first_of(tampered, FindingKind::edited), nullptr) << kinds(tampered);
}

TEST(AuditChainMessages, ACheckpointSignatureCoversEveryField) {
  SigningKey key = SigningKey::generate();
  Checkpoint c{1, "gateway/2026-12", 7, std::string(64, 'a'), kDecember, key.key_id(), ""};
  c.signature = key.sign(checkpoint_message(c));
  EXPECT_TRUE(verify_signature(key.public_key_raw(), checkpoint_message(c), c.signature));
  for (auto change : std::vector<void (*)(Checkpoint&)>{
           [](Checkpoint& x) { x.seq += 1; }, [](Checkpoint& x) { x.head_hash[0] = 'b'; },
           [](Checkpoint& x) { x.chain_id += "x"; }, [](Checkpoint& x) { x.sealed_at_ms += 1; },
           [](Checkpoint& x) { x.key_id += "0"; }}) {
    Checkpoint altered = c;
    change(altered);
    EXPECT_FALSE(verify_signature(key.public_key_raw(), checkpoint_message(altered), c.signature));
  }
}

TEST(AuditChainMessages, ThePublicKeyRoundTripsThroughPem) {
  SigningKey key = SigningKey::generate();
  auto raw = public_key_from_pem(key.public_key_pem());
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(*raw, key.public_key_raw());
  SigningKey reloaded = SigningKey::from_pem(key.private_key_pem());
  EXPECT_EQ(reloaded.key_id(), key.key_id());
  EXPECT_FALSE(public_key_from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").ok());
}

TEST(AuditChainMessages, AColumnAddedAfterV1EncodesOnlyWhenSetSoOlderRowsVerifyAsBefore) {
  AuditRecord row = test_support::full_row();
  row.cache_hit = false;
  row.cache_read_tokens = 0;  // the other later columns (the test below)
  row.cache_write_tokens = 0;
  const std::string v1 = canonical_row(row, "c/2026-12", 3);
  // v1's last element is egress_rule: nothing follows it for a row that is no cache hit.
  const std::string rule = boost::json::serialize(boost::json::value(row.egress_rule));
  ASSERT_GE(v1.size(), rule.size() + 1);
  EXPECT_EQ(v1.substr(v1.size() - rule.size() - 1), rule + "]");
  EXPECT_EQ(v1.find("cache_hit"), std::string::npos);
  row.cache_hit = true;
  const std::string hit = canonical_row(row, "c/2026-12", 3);
  EXPECT_EQ(hit.substr(0, v1.size() - 1), v1.substr(0, v1.size() - 1));
  EXPECT_NE(link_hash(kGenesisHash, hit), link_hash(kGenesisHash, v1));
}

TEST(AuditChainMessages, TheCanonicalRowChangesWithEveryColumn) {
  AuditRecord base = test_support::full_row();
  const std::string canonical = canonical_row(base, "c/2026-12", 3);
  EXPECT_NE(canonical, canonical_row(base, "c/2026-12", 4));
  EXPECT_NE(canonical, canonical_row(base, "d/2026-12", 3));
  std::vector<void (*)(AuditRecord&)> edits{
      [](AuditRecord& r) { r.time_ms += 1; },
      [](AuditRecord& r) { r.request_id += "x"; },
      [](AuditRecord& r) { r.team += "x"; },
      [](AuditRecord& r) { r.key_id += "x"; },
      [](AuditRecord& r) { r.surface += "x"; },
      [](AuditRecord& r) { r.task += "x"; },
      [](AuditRecord& r) { r.level = r.level == Level::PUBLIC ? Level::RESTRICTED : Level::PUBLIC; },
      [](AuditRecord& r) { r.entities["EMAIL"] += 1; },
      [](AuditRecord& r) { r.placeholders += 1; },
      [](AuditRecord& r) { r.tier += "x"; },
      [](AuditRecord& r) { r.provider += "x"; },
      [](AuditRecord& r) { r.model += "x"; },
      [](AuditRecord& r) { r.locality += "x"; },
      [](AuditRecord& r) { r.reason += "x"; },
      [](AuditRecord& r) { r.fallback_path.push_back("x:ok"); },
      [](AuditRecord& r) { r.status += 1; },
      [](AuditRecord& r) { r.error_type += "x"; },
      [](AuditRecord& r) { r.input_tokens += 1; },
      [](AuditRecord& r) { r.output_tokens += 1; },
      [](AuditRecord& r) { r.cost = Money::from_micros(r.cost.micros + 1); },
      [](AuditRecord& r) { r.budget_period += "x"; },
      [](AuditRecord& r) { r.latency_us += 1; },
      [](AuditRecord& r) { r.overhead_us += 1; },
      [](AuditRecord& r) { r.invented_pii = !r.invented_pii; },
      [](AuditRecord& r) { r.egress_blocked = !r.egress_blocked; },
      [](AuditRecord& r) { r.egress_veto = !r.egress_veto; },
      [](AuditRecord& r) { r.egress_rule += "x"; },
      [](AuditRecord& r) { r.cache_read_tokens += 1; },
      [](AuditRecord& r) { r.cache_write_tokens += 1; },
      [](AuditRecord& r) { r.cache_hit = !r.cache_hit; }};
  for (std::size_t i = 0; i < edits.size(); ++i) {
    AuditRecord edited = base;
    edits[i](edited);
    EXPECT_NE(canonical_row(edited, "c/2026-12", 3), canonical) << "edit " << i;
  }
}

// The prompt-cache columns came after rows were chained: a row without
// cache tokens is encoded exactly as before them (30 values), so rows written
// before the migration still verify; one with cache tokens has both columns,
// and clearing them (back to the old shape) is an edit like any other.
TEST(AuditChainMessages, PromptCacheColumnsAreEncodedOnlyWhenTheyHoldSomething) {
  AuditRecord row = test_support::full_row();
  row.cache_read_tokens = 0;
  row.cache_write_tokens = 0;
  row.cache_hit = false;  // the other later column (the test above)
  const auto before = boost::json::parse(canonical_row(row, "c/2026-12", 3)).as_array();
  EXPECT_EQ(before.size(), 30u);
  EXPECT_EQ(before[0].as_string(), "aegis-audit-v1");
  EXPECT_EQ(before.back().as_string(), row.egress_rule);

  AuditRecord cached = row;
  cached.cache_read_tokens = 2048;
  const auto after = boost::json::parse(canonical_row(cached, "c/2026-12", 3)).as_array();
  ASSERT_EQ(after.size(), 32u);
  EXPECT_EQ(after[30].as_int64(), 2048);
  EXPECT_EQ(after[31].as_int64(), 0);
  const std::string stored = link_hash(kGenesisHash, canonical_row(cached, "c/2026-12", 3));
  cached.cache_read_tokens = 0;  // a DBA zeroes the column
  EXPECT_NE(link_hash(kGenesisHash, canonical_row(cached, "c/2026-12", 3)), stored);
}

// A month of a busy gateway: a million rows through the store's own write
// path (batches of a thousand, as the audit writer commits them), sealed and
// verified untouched. The time is printed for the notes, never asserted.
// SQLite in the suite; AEGIS_AUDIT_SCALE_BACKEND=postgres measures the other
// backend by hand (a few minutes: not in CI).
TEST(AuditChainScale, AMillionRowTrailVerifies) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  constexpr int kRows = 100'000;  // the sanitizers slow hashing ~10x; the walk is the same
#else
  constexpr int kRows = 1'000'000;
#endif
  constexpr int kBatch = 1000;
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read before the test starts a thread
  const char* backend = std::getenv("AEGIS_AUDIT_SCALE_BACKEND");
  auto db = test_support::make_backend_db(backend != nullptr ? backend : "sqlite");
  if (db == nullptr) GTEST_SKIP() << "no PostgreSQL test server";
  ManualClock clock{std::chrono::system_clock::time_point(std::chrono::milliseconds(kDecember + 86'400'000))};
  auto store = db->open(clock);
  const auto write_started = std::chrono::steady_clock::now();
  std::vector<AuditRecord> batch;
  batch.reserve(kBatch);
  for (int i = 0; i < kRows; ++i) {
    AuditRecord r = test_support::full_row();
    r.time_ms = kDecember + i;
    r.request_id = "req_" + std::to_string(i);
    r.level = static_cast<Level>(i % 4);
    batch.push_back(std::move(r));
    if (batch.size() == kBatch) {
      ASSERT_TRUE(store->append_audit(batch).ok());
      batch.clear();
    }
  }
  const double write_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - write_started).count();
  SigningKey key = SigningKey::generate();
  ChainSealer sealer(*store, key, {store->chain_writer()}, clock, "");
  ASSERT_TRUE(sealer.seal_now().ok());
  VerifyOptions options;
  options.public_keys = {{key.key_id(), key.public_key_raw()}};
  auto report = verify_audit_chains(*store, options);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->findings.empty());
  EXPECT_EQ(report->rows, kRows);
  EXPECT_EQ(report->exit_code(), 0);
  std::cout << "[ AUDIT    ] " << (backend != nullptr ? backend : "sqlite") << ": " << kRows
            << " rows written (chained) in " << write_s << " s; verified in " << report->seconds << " s ("
            << report->seconds * 1e6 / kRows << " us/row)\n";
}

}  // namespace
}  // namespace aegis::audit
