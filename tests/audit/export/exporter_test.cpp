#include "audit/export/exporter.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "audit/export/fake_chain_store.hpp"
#include "core/system_clock.hpp"
#include "support/sqlite_files.hpp"

namespace aegis::audit::siem {
namespace {

using namespace std::chrono_literals;
using test::FakeChainStore;

// Records what it acknowledges; can refuse a number of batches, or all.
class RecordingSink final : public ExportSink {
 public:
  struct State {
    std::mutex mu;
    std::vector<ExportEvent> events;
    std::vector<std::size_t> batch_sizes;
    int refuse_next = 0;
    bool refuse_all = false;
    int refused = 0;
  };
  explicit RecordingSink(std::shared_ptr<State> state) : state_(std::move(state)) {}
  Result<void> send(const std::vector<ExportEvent>& batch) override {
    std::lock_guard lock(state_->mu);
    if (state_->refuse_all || state_->refuse_next > 0) {
      if (state_->refuse_next > 0) --state_->refuse_next;
      ++state_->refused;
      return make_error(ErrorCode::unavailable, "receiver down");
    }
    state_->batch_sizes.push_back(batch.size());
    state_->events.insert(state_->events.end(), batch.begin(), batch.end());
    return {};
  }

 private:
  std::shared_ptr<State> state_;
};

double metric(const telemetry::Registry& registry, const std::string& name) {
  const std::string text = registry.expose();
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

// (chain, seq) of the row events, in the order received.
std::vector<std::pair<std::string, std::int64_t>> rows_of(const std::vector<ExportEvent>& events) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const auto& e : events) {
    if (e.kind == ExportEvent::Kind::row) out.emplace_back(e.chain_id, e.seq);
  }
  return out;
}

class ExporterTest : public ::testing::Test {
 protected:
  ExporterOptions options(std::int64_t batch_rows = 3) {
    ExporterOptions o;
    o.batch_rows = batch_rows;
    o.initial_backoff = 1ms;
    o.max_backoff = 4ms;
    o.poll_interval = 5ms;
    o.final_pass_limit = 200ms;
    o.cursor_file = (dir_.path() / "aegis.db.export-cursor").string();
    return o;
  }
  std::unique_ptr<AuditExporter> exporter(ExporterOptions o) {
    return std::make_unique<AuditExporter>(store_, std::make_unique<RecordingSink>(sink_), registry_, std::move(o),
                                           clock_);
  }

  test_support::TempDir dir_{"aegis-export"};
  FakeChainStore store_;
  std::shared_ptr<RecordingSink::State> sink_ = std::make_shared<RecordingSink::State>();
  telemetry::Registry registry_;
  ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::milliseconds(1'000'000))};
};

TEST_F(ExporterTest, ExportsEachChainInSeqOrderInBatchesThenTheCheckpointsSealingIt) {
  for (int i = 0; i < 7; ++i) store_.add_row("gw-a/2026-12", 1000 + i);
  for (int i = 0; i < 2; ++i) store_.add_row("gw-b/2026-12", 2000 + i);
  store_.add_checkpoint("gw-a/2026-12", 5, 5000);
  store_.add_checkpoint("gw-a/2026-12", 7, 7000);
  auto exp = exporter(options(3));
  auto pass = exp->export_pending();
  ASSERT_TRUE(pass.ok()) << pass.error().message;
  EXPECT_EQ(pass->rows, 9);
  EXPECT_EQ(pass->checkpoints, 2);
  const std::vector<std::pair<std::string, std::int64_t>> expected{
      {"gw-a/2026-12", 1}, {"gw-a/2026-12", 2}, {"gw-a/2026-12", 3}, {"gw-a/2026-12", 4}, {"gw-a/2026-12", 5},
      {"gw-a/2026-12", 6}, {"gw-a/2026-12", 7}, {"gw-b/2026-12", 1}, {"gw-b/2026-12", 2}};
  EXPECT_EQ(rows_of(sink_->events), expected);
  EXPECT_EQ(sink_->batch_sizes, (std::vector<std::size_t>{3, 3, 1, 2, 2}));
  // The checkpoints come right after their chain's rows, in seq order.
  ASSERT_EQ(sink_->events.size(), 11u);
  EXPECT_EQ(sink_->events[7].kind, ExportEvent::Kind::checkpoint);
  EXPECT_EQ(sink_->events[7].seq, 5);
  EXPECT_EQ(sink_->events[8].seq, 7);
  EXPECT_EQ(metric(registry_, "aegis_audit_export_rows_total"), 9);
  EXPECT_EQ(metric(registry_, "aegis_audit_export_checkpoints_total"), 2);
  EXPECT_EQ(metric(registry_, "aegis_audit_export_lag_seconds"), 0);
  // A second pass has nothing new to send.
  auto again = exp->export_pending();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->rows, 0);
  EXPECT_EQ(sink_->events.size(), 11u);
}

TEST_F(ExporterTest, TheRowEventCarriesEveryColumnAndItsLinkButNoContent) {
  store_.add_row("gw-a/2026-12", 1234, "req-1");
  auto exp = exporter(options());
  ASSERT_TRUE(exp->export_pending().ok());
  ASSERT_EQ(sink_->events.size(), 1u);
  const auto row = boost::json::parse(sink_->events[0].json).as_object();
  EXPECT_EQ(row.at("type").as_string(), "audit_row");
  EXPECT_EQ(row.at("chain_id").as_string(), "gw-a/2026-12");
  EXPECT_EQ(row.at("seq").as_int64(), 1);
  EXPECT_EQ(row.at("prev_hash").as_string(), kGenesisHash);
  EXPECT_EQ(row.at("row_hash").as_string(), "hash-gw-a/2026-12-1");
  EXPECT_EQ(row.at("request_id").as_string(), "req-1");
  EXPECT_EQ(row.at("level").as_string(), "RESTRICTED");
  EXPECT_EQ(row.at("entities").at("EMAIL").as_int64(), 2);
  EXPECT_EQ(row.at("cost_micros").as_int64(), 1234);
  for (const char* column : {"time_ms",
                             "team",
                             "key_id",
                             "surface",
                             "task",
                             "placeholders",
                             "tier",
                             "provider",
                             "model",
                             "locality",
                             "reason",
                             "fallback_path",
                             "status",
                             "error_type",
                             "input_tokens",
                             "output_tokens",
                             "budget_period",
                             "latency_us",
                             "overhead_us",
                             "invented_pii",
                             "egress_blocked",
                             "egress_veto",
                             "egress_rule",
                             "cache_hit",
                             "cache_read_tokens",
                             "cache_write_tokens"}) {
    EXPECT_TRUE(row.contains(column)) << column;
  }
  EXPECT_EQ(row.size(), 35u);
}

TEST_F(ExporterTest, ARefusedBatchLeavesTheCursorAtTheLastAcknowledgedOneAndIsSentAgain) {
  for (int i = 0; i < 8; ++i) store_.add_row("gw-a/2026-12", 1000 + i);
  auto exp = exporter(options(3));
  auto first = exp->export_pending();
  ASSERT_TRUE(first.ok());
  for (int i = 0; i < 4; ++i) store_.add_row("gw-a/2026-12", 2000 + i);
  sink_->refuse_all = true;
  auto failed = exp->export_pending();
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(exp->cursor().position("gw-a/2026-12").row_seq, 8);
  EXPECT_GE(metric(registry_, "aegis_audit_export_errors_total"), 1);
  sink_->refuse_all = false;
  sink_->refuse_next = 1;  // one more refusal, then through
  auto retried = exp->export_pending_retrying(5s);
  ASSERT_TRUE(retried.ok()) << retried.error().message;
  std::vector<std::pair<std::string, std::int64_t>> expected;
  for (int seq = 1; seq <= 12; ++seq) expected.emplace_back("gw-a/2026-12", seq);
  EXPECT_EQ(rows_of(sink_->events), expected);  // nothing lost, nothing sent twice
  EXPECT_EQ(exp->cursor().position("gw-a/2026-12").row_seq, 12);
}

TEST_F(ExporterTest, ARestartResumesFromTheSavedCursor) {
  for (int i = 0; i < 5; ++i) store_.add_row("gw-a/2026-12", 1000 + i);
  store_.add_checkpoint("gw-a/2026-12", 5, 6000);
  {
    auto exp = exporter(options());
    ASSERT_TRUE(exp->export_pending().ok());
  }
  for (int i = 0; i < 2; ++i) store_.add_row("gw-a/2026-12", 3000 + i);
  store_.add_row("gw-b/2026-12", 3500);
  store_.add_checkpoint("gw-a/2026-12", 7, 8000);
  sink_->events.clear();
  auto restarted = exporter(options());
  EXPECT_EQ(restarted->cursor().position("gw-a/2026-12").row_seq, 5);
  EXPECT_EQ(restarted->cursor().position("gw-a/2026-12").checkpoint_seq, 5);
  ASSERT_TRUE(restarted->export_pending().ok());
  const std::vector<std::pair<std::string, std::int64_t>> expected{
      {"gw-a/2026-12", 6}, {"gw-a/2026-12", 7}, {"gw-b/2026-12", 1}};
  EXPECT_EQ(rows_of(sink_->events), expected);
  ASSERT_EQ(sink_->events.size(), 4u);
  EXPECT_EQ(sink_->events[2].kind, ExportEvent::Kind::checkpoint);
  EXPECT_EQ(sink_->events[2].seq, 7);
}

TEST_F(ExporterTest, ACheckpointWaitsForTheRowsItSeals) {
  for (int i = 0; i < 6; ++i) store_.add_row("gw-a/2026-12", 1000 + i);
  store_.add_checkpoint("gw-a/2026-12", 6, 7000);
  auto exp = exporter(options(3));
  auto first = exp->export_pending();
  ASSERT_TRUE(first.ok());
  // Everything went: the checkpoint follows its rows.
  ASSERT_EQ(sink_->events.size(), 7u);
  EXPECT_EQ(sink_->events.back().kind, ExportEvent::Kind::checkpoint);

  // Now a checkpoint sealing rows the sink has not acknowledged yet.
  for (int i = 0; i < 3; ++i) store_.add_row("gw-a/2026-12", 2000 + i);
  store_.add_checkpoint("gw-a/2026-12", 9, 9000);
  sink_->refuse_all = true;
  EXPECT_FALSE(exp->export_pending().ok());
  EXPECT_EQ(exp->cursor().position("gw-a/2026-12").checkpoint_seq, 6);
  sink_->refuse_all = false;
  ASSERT_TRUE(exp->export_pending().ok());
  EXPECT_EQ(exp->cursor().position("gw-a/2026-12").checkpoint_seq, 9);
  EXPECT_EQ(sink_->events.back().kind, ExportEvent::Kind::checkpoint);
  EXPECT_EQ(sink_->events.back().seq, 9);
  EXPECT_EQ(sink_->events[sink_->events.size() - 2].seq, 9);  // row 9 before its seal
}

TEST_F(ExporterTest, LagIsTheAgeOfTheOldestRowNotYetExported) {
  // The clock reads 1'000'000 ms; rows at 990'000 (chain a) and 995'000 (chain b).
  store_.add_row("gw-a/2026-12", 990'000);
  store_.add_row("gw-b/2026-12", 995'000);
  auto exp = exporter(options());
  sink_->refuse_all = true;
  EXPECT_FALSE(exp->export_pending().ok());
  EXPECT_DOUBLE_EQ(metric(registry_, "aegis_audit_export_lag_seconds"), 10.0);
  clock_.advance(5s);
  EXPECT_FALSE(exp->export_pending().ok());
  EXPECT_DOUBLE_EQ(metric(registry_, "aegis_audit_export_lag_seconds"), 15.0);
  sink_->refuse_all = false;
  ASSERT_TRUE(exp->export_pending().ok());
  EXPECT_DOUBLE_EQ(metric(registry_, "aegis_audit_export_lag_seconds"), 0.0);
}

TEST_F(ExporterTest, TheThreadKeepsRetryingAFailingSinkAndTheLastPassExportsRowsAddedBeforeStop) {
  for (int i = 0; i < 4; ++i) store_.add_row("gw-a/2026-12", 1000 + i);
  auto exp = exporter(options(2));
  sink_->refuse_next = 5;
  exp->start();
  for (int i = 0; i < 2000 && exp->exported().rows < 4; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(exp->exported().rows, 4);
  {
    std::lock_guard lock(sink_->mu);
    EXPECT_GE(sink_->refused, 5);
  }
  EXPECT_GE(metric(registry_, "aegis_audit_export_errors_total"), 5);
  // Rows written just before shutdown (the audit writer's last batch) go in the last pass.
  store_.add_row("gw-a/2026-12", 5000);
  store_.add_row("gw-c/2026-12", 5001);
  exp->stop();
  std::vector<std::pair<std::string, std::int64_t>> expected{{"gw-a/2026-12", 1}, {"gw-a/2026-12", 2},
                                                             {"gw-a/2026-12", 3}, {"gw-a/2026-12", 4},
                                                             {"gw-a/2026-12", 5}, {"gw-c/2026-12", 1}};
  EXPECT_EQ(rows_of(sink_->events), expected);
}

TEST_F(ExporterTest, ChainsAreListedNowAndThenWhileKnownChainsAreReadEveryPass) {
  store_.add_row("gw-a/2026-12", 1000);
  auto o = options();
  o.chain_list_interval = std::chrono::hours(1);
  auto exp = exporter(o);
  ASSERT_TRUE(exp->export_pending().ok());
  store_.add_row("gw-a/2026-12", 1001);
  store_.add_row("gw-b/2026-12", 1002);  // a chain that begins after the listing
  ASSERT_TRUE(exp->export_pending().ok());
  EXPECT_EQ(store_.list_chains_calls(), 1);
  EXPECT_EQ(rows_of(sink_->events).size(), 2u);
  // The last pass lists them again: nothing is left behind at shutdown.
  exp->start();
  exp->stop();
  EXPECT_EQ(store_.list_chains_calls(), 2);
  const std::vector<std::pair<std::string, std::int64_t>> expected{
      {"gw-a/2026-12", 1}, {"gw-a/2026-12", 2}, {"gw-b/2026-12", 1}};
  EXPECT_EQ(rows_of(sink_->events), expected);
}

TEST_F(ExporterTest, AFailingStoreIsRetriedLikeAFailingSink) {
  store_.add_row("gw-a/2026-12", 1000);
  auto exp = exporter(options());
  store_.fail_reads(true);
  EXPECT_FALSE(exp->export_pending().ok());
  EXPECT_EQ(metric(registry_, "aegis_audit_export_errors_total"), 1);
  store_.fail_reads(false);
  ASSERT_TRUE(exp->export_pending().ok());
  EXPECT_EQ(rows_of(sink_->events).size(), 1u);
}

TEST_F(ExporterTest, AMalformedCursorFileRefusesToStartRatherThanExportEverythingAgain) {
  const auto o = options();
  std::ofstream(o.cursor_file) << "{not json";
  EXPECT_THROW(exporter(o), std::runtime_error);
}

TEST(FailureLogPolicy, EachReasonIsLoggedTheFirstTimeAndARepeatedOneEveryTenthAttempt) {
  FailureLogPolicy policy;
  std::vector<int> logged;
  // A refused connection, then a certificate that does not verify, over and over.
  for (int attempt = 1; attempt <= 25; ++attempt) {
    const std::string reason = attempt == 1 ? "cannot connect" : "TLS certificate verification failed";
    if (policy.should_log(reason, attempt)) logged.push_back(attempt);
  }
  EXPECT_EQ(logged, (std::vector<int>{1, 2, 10, 20}));
  // A success ends the run: the same reason is news again.
  policy.succeeded();
  EXPECT_TRUE(policy.should_log("cannot connect", 1));
  EXPECT_FALSE(policy.should_log("cannot connect", 2));
}

TEST(FailureLogPolicy, ReasonsWithAChangingDetailStopBeingNewAfterABound) {
  FailureLogPolicy policy;
  int logged = 0;
  for (int attempt = 1; attempt <= 9; ++attempt) {
    if (policy.should_log("timeout after " + std::to_string(attempt) + " ms", attempt)) ++logged;
  }
  EXPECT_EQ(logged, static_cast<int>(FailureLogPolicy::kMaxReasons));
}

TEST(ExportCursor, SavesAtomicallyAndReadsBack) {
  test_support::TempDir dir("aegis-export-cursor");
  const std::string path = (dir.path() / "cursor").string();
  ExportCursor cursor;
  cursor.set("gw-a/2026-12", ChainPosition{42, 40});
  cursor.set("gw \"b\"/2026-12", ChainPosition{7, 0});
  ASSERT_TRUE(cursor.save(path).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  auto loaded = ExportCursor::load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->position("gw-a/2026-12").row_seq, 42);
  EXPECT_EQ(loaded->position("gw-a/2026-12").checkpoint_seq, 40);
  EXPECT_EQ(loaded->position("gw \"b\"/2026-12").row_seq, 7);
  EXPECT_EQ(loaded->position("unknown").row_seq, 0);
  auto missing = ExportCursor::load((dir.path() / "none").string());
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->chains().empty());
}

}  // namespace
}  // namespace aegis::audit::siem
