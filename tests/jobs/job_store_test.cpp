#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/system_clock.hpp"
#include "jobs/sqlite/sqlite_job_store.hpp"
#include "store/sqlite/migrations.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "support/sqlite_files.hpp"
#include "support/store_backends.hpp"

namespace aegis::jobs {
namespace {

namespace fs = std::filesystem;
using aegis::test_support::TempDir;
using namespace std::chrono_literals;

constexpr std::int64_t T0 = 1'700'000'000'000;
constexpr std::int64_t kLease = 60'000;

std::int64_t scalar(const fs::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(db_path.c_str(), &db);
  sqlite3_stmt* st = nullptr;
  std::int64_t out = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    out = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

Job make_job(std::string team, std::int64_t created_at_ms, std::optional<std::string> idem = std::nullopt) {
  Job j;
  j.id = new_job_id(created_at_ms);
  j.team = std::move(team);
  j.key_id = "0123456789abcdef";
  j.task_type = "summarize";
  j.request_json = R"({"prompt":"Summarise: John Smith, 4111 1111 1111 1111","max_tokens":64})";
  j.vault_json = R"({"PERSON_1":"John Smith"})";
  j.classification = Level::CONFIDENTIAL;
  j.idempotency_key = std::move(idem);
  j.max_attempts = 3;
  j.created_at_ms = created_at_ms;
  j.reservation_id = 0xFEDCBA9876543210ULL;  // above INT64_MAX: must survive the signed column
  return j;
}

ContentKey test_key(std::string id, std::uint8_t fill) {
  ContentKey key{std::move(id), {}};
  key.bytes.fill(fill);
  return key;
}

std::shared_ptr<const PayloadCipher> test_cipher() {
  static const auto cipher = std::make_shared<const PayloadCipher>(std::vector{test_key("k1", 0x11)}, "k1");
  return cipher;
}

Completion make_completion(std::int64_t at, std::string text = "a summary") {
  Completion c;
  c.route = JobRoute{"standard", "azure", "gpt-4o-mini", "task summarize"};
  c.result = JobResult{std::move(text), 120, 30, 1'024, 256, Money::from_micros(4'321)};
  c.finished_at_ms = at;
  return c;
}

// The job store contract, run against the embedded SQLite file and PostgreSQL
// (tests/support/store_backends.hpp).
class JobStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = test_support::make_backend_db(GetParam());
    if (db_ == nullptr) GTEST_SKIP() << "no PostgreSQL test server in this run (ctest's postgres.start provides one)";
  }
  std::unique_ptr<JobStore> open(SqliteJobStoreOptions options = {}) {
    options.sync_every_commit = false;  // the tests are about semantics, not fsync
    if (!options.cipher) options.cipher = test_cipher();
    return db_->open_jobs(options);
  }
  // The gateway's store on the same database, to read the audit rows a job run wrote.
  std::unique_ptr<store::Database> open_audit_store() { return db_->open(SystemClock::instance()); }
  Job submit(JobStore& store, const Job& job) {
    auto r = store.submit(job);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r->job : job;
  }
  test_support::BackendDb& db() { return *db_; }
  std::unique_ptr<test_support::BackendDb> db_;
};

INSTANTIATE_TEST_SUITE_P(Backends, JobStoreTest, ::testing::Values("sqlite", "postgres"), test_support::backend_name);

// What only the embedded queue does.
class SqliteJobStoreTest : public ::testing::Test {
 protected:
  fs::path db_path() const { return dir_.path() / "data" / "aegis.db"; }
  std::unique_ptr<SqliteJobStore> open() {
    SqliteJobStoreOptions options;
    options.sync_every_commit = false;
    options.cipher = test_cipher();
    return std::make_unique<SqliteJobStore>(db_path().string(), options);
  }
  TempDir dir_{"aegis-jobs-test"};
};

// --- value types -------------------------------------------------------------

TEST(JobTypes, StatusNamesRoundTrip) {
  for (std::size_t i = 0; i < kJobStatusCount; ++i) {
    const auto s = static_cast<JobStatus>(i);
    EXPECT_EQ(parse_job_status(to_string(s)), s);
  }
  EXPECT_EQ(to_string(JobStatus::cancelled), "cancelled");
  EXPECT_FALSE(parse_job_status("QUEUED"));
  EXPECT_FALSE(parse_job_status(""));
  EXPECT_FALSE(is_finished(JobStatus::running));
  EXPECT_TRUE(is_finished(JobStatus::expired));
}

TEST(JobTypes, IdsAreATimePrefixAnd128RandomBitsInHex) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto id = new_job_id(T0);
    ASSERT_EQ(id.size(), 4u + 12u + 32u);
    EXPECT_EQ(id.rfind("job_", 0), 0u);
    EXPECT_TRUE(std::all_of(id.begin() + 4, id.end(), [](char c) { return std::isxdigit(c) && !std::isupper(c); }));
    EXPECT_EQ(id.substr(4, 12), "018bcfe56800");  // T0 = 0x18bcfe56800 ms
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  // Later ids sort after earlier ones, which keeps the id index append-only.
  EXPECT_LT(new_job_id(T0), new_job_id(T0 + 1));
  EXPECT_LT(new_job_id(T0 + 0xfff), new_job_id(T0 + 0x1000));
  EXPECT_EQ(new_job_id(-5).substr(4, 12), "000000000000");
}

// --- submit / get ------------------------------------------------------------

TEST_P(JobStoreTest, SubmitStoresEveryFieldAndGetReturnsIt) {
  auto store = open();
  Job in = make_job("alpha", T0, "idem-1");
  in.status = JobStatus::succeeded;  // run-time fields from the caller are ignored
  in.attempts = 7;
  in.result.text = "forged";
  auto r = store->submit(in);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->existing);
  EXPECT_EQ(r->job.status, JobStatus::queued);
  EXPECT_EQ(r->job.attempts, 0);

  auto got = store->get("alpha", in.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->id, in.id);
  EXPECT_EQ(got->team, "alpha");
  EXPECT_EQ(got->key_id, in.key_id);
  EXPECT_EQ(got->status, JobStatus::queued);
  EXPECT_EQ(got->task_type, "summarize");
  EXPECT_EQ(got->request_json, in.request_json);
  EXPECT_EQ(got->vault_json, in.vault_json);
  EXPECT_EQ(got->classification, Level::CONFIDENTIAL);
  EXPECT_EQ(got->idempotency_key, std::optional<std::string>("idem-1"));
  EXPECT_EQ(got->result.text, "");
  EXPECT_EQ(got->attempts, 0);
  EXPECT_EQ(got->max_attempts, 3);
  EXPECT_EQ(got->lease_owner, "");
  EXPECT_EQ(got->created_at_ms, T0);
  EXPECT_EQ(got->started_at_ms, 0);
  EXPECT_EQ(got->finished_at_ms, 0);
  EXPECT_EQ(got->reservation_id, 0xFEDCBA9876543210ULL);
}

TEST_P(JobStoreTest, SubmitRejectsIncompleteJobs) {
  auto store = open();
  Job no_id = make_job("alpha", T0);
  no_id.id.clear();
  Job no_time = make_job("alpha", 0);
  Job no_attempts = make_job("alpha", T0);
  no_attempts.max_attempts = 0;
  Job empty_key = make_job("alpha", T0, "");
  for (const Job& bad : {no_id, no_time, no_attempts, empty_key}) {
    auto r = store->submit(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::invalid_request);
  }
  Job dup = submit(*store, make_job("alpha", T0));
  auto again = store->submit(dup);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::conflict);
  EXPECT_EQ((*store->counts())[0], 1);
}

TEST_P(JobStoreTest, IdempotencyKeyReturnsTheFirstJobPerTeam) {
  auto store = open();
  Job first = submit(*store, make_job("alpha", T0, "k1"));
  Job second_try = make_job("alpha", T0 + 5, "k1");
  second_try.request_json = R"({"prompt":"different"})";
  auto r = store->submit(second_try);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->existing);
  EXPECT_EQ(r->job.id, first.id);
  EXPECT_EQ(r->job.request_json, first.request_json);
  EXPECT_EQ(r->job.created_at_ms, T0);

  // Another team's identical key is a different job.
  auto other = store->submit(make_job("beta", T0, "k1"));
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->existing);
  EXPECT_NE(other->job.id, first.id);
  // No key: never deduplicated.
  EXPECT_FALSE(store->submit(make_job("alpha", T0))->existing);
  EXPECT_FALSE(store->submit(make_job("alpha", T0))->existing);
  EXPECT_EQ((*store->counts())[static_cast<std::size_t>(JobStatus::queued)], 4);

  // Still the first job after it has finished.
  auto claimed = store->claim("w", T0, kLease, 10);
  ASSERT_TRUE(claimed.ok());
  ASSERT_TRUE(store->complete(first.id, "w", make_completion(T0 + 10)).ok());
  auto after = store->submit(make_job("alpha", T0 + 20, "k1"));
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->existing);
  EXPECT_EQ(after->job.id, first.id);
  EXPECT_EQ(after->job.status, JobStatus::succeeded);
}

TEST_P(JobStoreTest, TeamsSeeOnlyTheirOwnJobs) {
  auto store = open();
  Job a = submit(*store, make_job("alpha", T0));
  Job b = submit(*store, make_job("beta", T0));

  auto wrong = store->get("beta", a.id);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::not_found);
  auto absent = store->get("beta", "job_doesnotexist");
  ASSERT_FALSE(absent.ok());
  // Same answer for "someone else's" and "nobody's", apart from the id echoed back.
  EXPECT_EQ(wrong.error().message, "job '" + a.id + "' not found");
  EXPECT_EQ(absent.error().message, "job 'job_doesnotexist' not found");

  auto cancel = store->cancel("beta", a.id, T0 + 1);
  ASSERT_FALSE(cancel.ok());
  EXPECT_EQ(cancel.error().code, ErrorCode::not_found);
  EXPECT_EQ(store->get("alpha", a.id)->status, JobStatus::queued);

  auto page = store->list("beta", {});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->jobs.size(), 1u);
  EXPECT_EQ(page->jobs[0].id, b.id);
}

// --- queue depth ---------------------------------------------------------------

TEST_P(JobStoreTest, FullQueueRefusesSubmitsWithRetryAfter) {
  SqliteJobStoreOptions options;
  options.max_queue_depth = 3;
  auto store = open(options);
  Job first = submit(*store, make_job("alpha", T0, "k1"));
  submit(*store, make_job("alpha", T0 + 1));
  submit(*store, make_job("beta", T0 + 2));

  auto full = store->submit(make_job("alpha", T0 + 3));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::rate_limited);
  EXPECT_GT(full.error().retry_after_seconds, 0);

  // A retry of an accepted job is answered even when the queue is full.
  auto retry = store->submit(make_job("alpha", T0 + 4, "k1"));
  ASSERT_TRUE(retry.ok());
  EXPECT_TRUE(retry->existing);
  EXPECT_EQ(retry->job.id, first.id);

  // Running jobs do not count against the queue.
  ASSERT_EQ(store->claim("w", T0 + 5, kLease, 1)->size(), 1u);
  EXPECT_TRUE(store->submit(make_job("alpha", T0 + 6)).ok());
  EXPECT_FALSE(store->submit(make_job("alpha", T0 + 7)).ok());
}

TEST_P(JobStoreTest, BatchAnswersEachJobInOneTransaction) {
  SqliteJobStoreOptions options;
  options.max_queue_depth = 4;
  auto store = open(options);
  submit(*store, make_job("alpha", T0));

  std::vector<Job> batch;
  batch.push_back(make_job("alpha", T0 + 1, "dup"));
  batch.push_back(make_job("alpha", T0 + 2, "dup"));  // same key in the same batch: the first one
  Job invalid = make_job("alpha", T0 + 3);
  invalid.max_attempts = 0;
  batch.push_back(invalid);
  batch.push_back(make_job("alpha", T0 + 4));
  batch.push_back(make_job("alpha", T0 + 5));
  batch.push_back(make_job("alpha", T0 + 6));  // the queue (4) fills part-way through the batch
  auto r = store->submit_batch(batch);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), batch.size());
  ASSERT_TRUE((*r)[0].ok());
  EXPECT_FALSE((*r)[0]->existing);
  ASSERT_TRUE((*r)[1].ok());
  EXPECT_TRUE((*r)[1]->existing);
  EXPECT_EQ((*r)[1]->job.id, batch[0].id);
  ASSERT_FALSE((*r)[2].ok());
  EXPECT_EQ((*r)[2].error().code, ErrorCode::invalid_request);
  EXPECT_TRUE((*r)[3].ok());
  EXPECT_TRUE((*r)[4].ok());
  ASSERT_FALSE((*r)[5].ok());
  EXPECT_EQ((*r)[5].error().code, ErrorCode::rate_limited);

  EXPECT_EQ((*store->counts())[0], 4);
  EXPECT_TRUE(store->get("alpha", batch[4].id).ok());
  EXPECT_FALSE(store->get("alpha", batch[5].id).ok());
  EXPECT_TRUE(store->submit_batch({})->empty());
}

// --- list --------------------------------------------------------------------

TEST_P(JobStoreTest, ListPagesInCreatedOrderWithACursor) {
  auto store = open();
  std::vector<Job> all;
  all.reserve(5);
  for (int i = 0; i < 5; ++i) all.push_back(submit(*store, make_job("alpha", T0 + i / 2)));  // ties on created_at
  submit(*store, make_job("beta", T0 + 100));
  std::sort(all.begin(), all.end(), [](const Job& a, const Job& b) {
    return a.created_at_ms != b.created_at_ms ? a.created_at_ms < b.created_at_ms : a.id < b.id;
  });

  std::vector<std::string> seen;
  ListQuery q;
  q.limit = 2;
  for (int page_no = 0; page_no < 10; ++page_no) {
    auto page = store->list("alpha", q);
    ASSERT_TRUE(page.ok()) << page.error().message;
    for (const auto& j : page->jobs) seen.push_back(j.id);
    if (!page->next_cursor) break;
    EXPECT_EQ(page->jobs.size(), 2u);
    q.cursor = *page->next_cursor;
  }
  ASSERT_EQ(seen.size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(seen[i], all[i].id) << i;

  // Exactly a full last page has no next cursor.
  ListQuery five;
  five.limit = 5;
  EXPECT_FALSE(store->list("alpha", five)->next_cursor);

  // Status filter.
  ASSERT_EQ(store->claim("w", T0 + 10, kLease, 2)->size(), 2u);
  ListQuery running;
  running.status = JobStatus::running;
  auto r = store->list("alpha", running);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->jobs.size(), 2u);
  EXPECT_EQ(r->jobs[0].id, all[0].id);
  EXPECT_EQ(r->jobs[1].id, all[1].id);

  for (const char* bad : {"nonsense", ":job_x", "12:", "-5:job_x", "1x:job"}) {
    ListQuery q2;
    q2.cursor = bad;
    auto e = store->list("alpha", q2);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.error().code, ErrorCode::invalid_request);
  }
}

// --- claim / renew / complete / fail ----------------------------------------------

TEST_P(JobStoreTest, ClaimTakesTheOldestQueuedJobsWithALease) {
  auto store = open();
  Job late = submit(*store, make_job("alpha", T0 + 50));
  Job early = submit(*store, make_job("beta", T0));
  Job middle = submit(*store, make_job("alpha", T0 + 10));

  auto first = store->claim("worker-1", T0 + 100, kLease, 2);
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].id, early.id);
  EXPECT_EQ((*first)[1].id, middle.id);
  for (const auto& j : *first) {
    EXPECT_EQ(j.status, JobStatus::running);
    EXPECT_EQ(j.attempts, 1);
    EXPECT_EQ(j.lease_owner, "worker-1");
    EXPECT_EQ(j.lease_expires_ms, T0 + 100 + kLease);
    EXPECT_EQ(j.started_at_ms, T0 + 100);
    EXPECT_EQ(j.request_json, late.request_json);  // the worker gets what it needs to run
  }
  auto second = store->claim("worker-2", T0 + 200, kLease, 5);
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].id, late.id);
  EXPECT_TRUE(store->claim("worker-3", T0 + 300, kLease, 5)->empty());
  EXPECT_TRUE(store->claim("worker-3", T0 + 300, kLease, 0)->empty());
  EXPECT_FALSE(store->claim("", T0, kLease, 1).ok());
  EXPECT_FALSE(store->claim("w", T0, 0, 1).ok());

  const auto counts = *store->counts();
  EXPECT_EQ(counts[static_cast<std::size_t>(JobStatus::queued)], 0);
  EXPECT_EQ(counts[static_cast<std::size_t>(JobStatus::running)], 3);
}

TEST_P(JobStoreTest, AClaimNeverStartsAJobBeforeItWasCreated) {
  // The claimer reads its clock before the claim runs; a submit can commit in between.
  auto store = open();
  Job job = submit(*store, make_job("alpha", T0 + 3));
  auto claimed = store->claim("w", T0, kLease, 1);
  ASSERT_TRUE(claimed.ok()) << claimed.error().message;
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].id, job.id);
  EXPECT_EQ((*claimed)[0].started_at_ms, T0 + 3);
}

TEST_P(JobStoreTest, RenewExtendsOnlyTheOwnersLease) {
  auto store = open();
  Job j = submit(*store, make_job("alpha", T0));
  ASSERT_EQ(store->claim("w1", T0, kLease, 1)->size(), 1u);

  ASSERT_TRUE(store->renew(j.id, "w1", T0 + 30'000, kLease).ok());
  EXPECT_EQ(store->get("alpha", j.id)->lease_expires_ms, T0 + 30'000 + kLease);

  auto other = store->renew(j.id, "w2", T0 + 30'000, kLease);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::conflict);
  auto absent = store->renew("job_nope", "w1", T0, kLease);
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.error().code, ErrorCode::not_found);

  // Lost to requeue: renew fails, and the next claimer owns it.
  ASSERT_EQ(store->requeue_expired(T0 + 30'000 + kLease)->requeued.size(), 1u);
  auto lost = store->renew(j.id, "w1", T0 + 100'000, kLease);
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.error().code, ErrorCode::conflict);
  ASSERT_EQ(store->claim("w2", T0 + 100'000, kLease, 1)->size(), 1u);
  EXPECT_FALSE(store->renew(j.id, "w1", T0 + 100'001, kLease).ok());
  EXPECT_TRUE(store->renew(j.id, "w2", T0 + 100'001, kLease).ok());
}

TEST_P(JobStoreTest, ARunThatRanAsRestrictedRaisesTheJobsClassificationNeverLowersIt) {
  auto store = open();
  Job vetoed = submit(*store, make_job("alpha", T0));
  Job plain = submit(*store, make_job("alpha", T0 + 1));
  Job failed = submit(*store, make_job("alpha", T0 + 2));
  ASSERT_EQ(store->claim("w1", T0 + 3, kLease, 3)->size(), 3u);
  ASSERT_NE(vetoed.classification, Level::RESTRICTED);

  // The egress detector vetoed the cloud send: the run's row says RESTRICTED.
  Completion ran_restricted = make_completion(T0 + 4);
  ran_restricted.audit.emplace();
  ran_restricted.audit->team = "alpha";
  ran_restricted.audit->level = Level::RESTRICTED;
  ran_restricted.audit->egress_veto = true;
  auto done = store->complete(vetoed.id, "w1", ran_restricted);
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->classification, Level::RESTRICTED);

  // A run at a lower level than admitted leaves the admitted one.
  Completion ran_public = make_completion(T0 + 4);
  ran_public.audit.emplace();
  ran_public.audit->team = "alpha";
  ran_public.audit->level = Level::PUBLIC;
  auto kept = store->complete(plain.id, "w1", ran_public);
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  EXPECT_EQ(kept->classification, plain.classification);

  Failure f;
  f.error = JobError{"no_local_provider", "no healthy local provider"};
  f.finished_at_ms = T0 + 5;
  f.audit.emplace();
  f.audit->team = "alpha";
  f.audit->level = Level::RESTRICTED;
  auto failed_done = store->fail(failed.id, "w1", f);
  ASSERT_TRUE(failed_done.ok()) << failed_done.error().message;
  EXPECT_EQ(failed_done->classification, Level::RESTRICTED);
  EXPECT_EQ(store->get("alpha", failed.id)->classification, Level::RESTRICTED);
}

TEST_P(JobStoreTest, TheResultIsRecordedExactlyOnce) {
  auto store = open();
  Job j = submit(*store, make_job("alpha", T0));
  ASSERT_EQ(store->claim("w1", T0 + 1, kLease, 1)->size(), 1u);

  auto stranger = store->complete(j.id, "w2", make_completion(T0 + 2, "not mine"));
  ASSERT_FALSE(stranger.ok());
  EXPECT_EQ(stranger.error().code, ErrorCode::conflict);

  auto done = store->complete(j.id, "w1", make_completion(T0 + 3));
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->status, JobStatus::succeeded);
  EXPECT_EQ(done->result.text, "a summary");
  EXPECT_EQ(done->result.input_tokens, 120);
  EXPECT_EQ(done->result.output_tokens, 30);
  EXPECT_EQ(done->result.cache_read_tokens, 1'024);
  EXPECT_EQ(done->result.cache_write_tokens, 256);
  EXPECT_EQ(done->result.cost.micros, 4'321);
  EXPECT_EQ(store->get("alpha", j.id)->result.cache_read_tokens, 1'024);  // read back from the store
  EXPECT_EQ(done->route.provider, "azure");
  EXPECT_EQ(done->route.reason, "task summarize");
  EXPECT_EQ(done->finished_at_ms, T0 + 3);
  EXPECT_EQ(done->started_at_ms, T0 + 1);
  EXPECT_EQ(done->lease_owner, "");

  auto twice = store->complete(j.id, "w1", make_completion(T0 + 4, "second answer"));
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, ErrorCode::conflict);
  Failure f;
  f.error = JobError{"upstream_error", "late failure"};
  f.finished_at_ms = T0 + 5;
  auto late_fail = store->fail(j.id, "w1", f);
  ASSERT_FALSE(late_fail.ok());
  EXPECT_EQ(late_fail.error().code, ErrorCode::conflict);

  auto stored = store->get("alpha", j.id);
  EXPECT_EQ(stored->status, JobStatus::succeeded);
  EXPECT_EQ(stored->result.text, "a summary");
  EXPECT_EQ(stored->finished_at_ms, T0 + 3);
  EXPECT_EQ(stored->error.type, "");
  EXPECT_EQ(store->complete("job_nope", "w1", make_completion(T0)).error().code, ErrorCode::not_found);
}

TEST_P(JobStoreTest, FailRecordsTheErrorAndRoute) {
  auto store = open();
  Job j = submit(*store, make_job("alpha", T0));
  ASSERT_EQ(store->claim("w1", T0 + 1, kLease, 1)->size(), 1u);
  Failure f;
  f.route = JobRoute{"local", "ollama", "llama3", "restricted"};
  f.error = JobError{"upstream_timeout", "the provider did not answer in time"};
  f.finished_at_ms = T0 + 9;
  auto failed = store->fail(j.id, "w1", f);
  ASSERT_TRUE(failed.ok()) << failed.error().message;
  EXPECT_EQ(failed->status, JobStatus::failed);
  EXPECT_EQ(failed->error.type, "upstream_timeout");
  EXPECT_EQ(failed->error.message, "the provider did not answer in time");
  EXPECT_EQ(failed->route.provider, "ollama");
  EXPECT_EQ(failed->finished_at_ms, T0 + 9);
  EXPECT_FALSE(store->complete(j.id, "w1", make_completion(T0 + 10)).ok());
  EXPECT_EQ(store->get("alpha", j.id)->status, JobStatus::failed);
}

// --- the run's audit row commits with the outcome -------------------------------

audit::AuditRecord job_row(const std::string& id, int status, std::int64_t cost_micros) {
  audit::AuditRecord r;
  r.time_ms = T0;
  r.request_id = id;
  r.team = "alpha";
  r.surface = "jobs";
  r.task = "summarize";
  r.level = Level::CONFIDENTIAL;
  r.provider = "azure";
  r.status = status;
  r.cost = Money::from_micros(cost_micros);
  r.budget_period = cost_micros > 0 ? "2023-11" : "";
  return r;
}

TEST_P(JobStoreTest, CompleteCommitsTheAuditRowAndSpendWithTheResult) {
  auto store = open();
  auto audit_owner = open_audit_store();
  auto& audit_store = *audit_owner;
  Job j = submit(*store, make_job("alpha", T0));
  ASSERT_EQ(store->claim("w1", T0 + 1, kLease, 1)->size(), 1u);

  auto done = make_completion(T0 + 2);
  done.audit = job_row(j.id, 200, 4'321);
  ASSERT_TRUE(store->complete(j.id, "w1", done).ok());

  auto rows = audit_store.query_audit({});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].request_id, j.id);
  EXPECT_EQ((*rows)[0].status, 200);
  EXPECT_EQ((*rows)[0].cost.micros, 4'321);
  auto spend = audit_store.load_spend("2023-11");
  ASSERT_TRUE(spend.ok());
  ASSERT_EQ(spend->size(), 1u);
  EXPECT_EQ((*spend)[0].team, "alpha");
  EXPECT_EQ((*spend)[0].spent.micros, 4'321);
  EXPECT_EQ((*spend)[0].requests, 1);

  // A refused completion (already recorded) writes no second row: the caller still owns it.
  auto again = make_completion(T0 + 3);
  again.audit = job_row(j.id, 200, 1'000);
  EXPECT_EQ(store->complete(j.id, "w1", again).error().code, ErrorCode::conflict);
  EXPECT_EQ(audit_store.query_audit({})->size(), 1u);
  EXPECT_EQ(audit_store.load_spend("2023-11")->at(0).spent.micros, 4'321);
}

TEST_P(JobStoreTest, FailCommitsTheAuditRowWithTheFailure) {
  auto store = open();
  auto audit_owner = open_audit_store();
  auto& audit_store = *audit_owner;
  Job j = submit(*store, make_job("alpha", T0));
  ASSERT_EQ(store->claim("w1", T0 + 1, kLease, 1)->size(), 1u);
  Failure f;
  f.error = JobError{"upstream_timeout", "the provider did not answer in time"};
  f.finished_at_ms = T0 + 9;
  f.audit = job_row(j.id, 504, 0);
  ASSERT_TRUE(store->fail(j.id, "w1", f).ok());
  auto rows = audit_store.query_audit({});
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].status, 504);
  EXPECT_TRUE(audit_store.load_spend("2023-11")->empty());  // nothing was booked
}

TEST_P(JobStoreTest, CancelledJobsCompletionWritesNoAuditRow) {
  auto store = open();
  auto audit_owner = open_audit_store();
  auto& audit_store = *audit_owner;
  Job j = submit(*store, make_job("alpha", T0));
  ASSERT_EQ(store->claim("w1", T0 + 1, kLease, 1)->size(), 1u);
  ASSERT_TRUE(store->cancel("alpha", j.id, T0 + 2).ok());
  auto done = make_completion(T0 + 3);
  done.audit = job_row(j.id, 200, 4'321);
  EXPECT_EQ(store->complete(j.id, "w1", done).error().code, ErrorCode::conflict);
  EXPECT_TRUE(audit_store.query_audit({})->empty());
  EXPECT_TRUE(audit_store.load_spend("2023-11")->empty());
}

TEST_P(JobStoreTest, OutcomeAndAuditRowCommitOrFailTogether) {
  auto store = open();
  auto audit_owner = open_audit_store();
  auto& audit_store = *audit_owner;
  Job j = submit(*store, make_job("alpha", T0));
  ASSERT_EQ(store->claim("w1", T0 + 1, kLease, 1)->size(), 1u);
  // The audit insert fails inside the job store's transaction...
  db().exec(db().failing_insert_sql("audit", "request_id", j.id));
  auto done = make_completion(T0 + 2);
  done.audit = job_row(j.id, 200, 4'321);
  EXPECT_FALSE(store->complete(j.id, "w1", done).ok());
  // ...so the job is not recorded as finished either, and no spend was booked.
  EXPECT_EQ(store->get("alpha", j.id)->status, JobStatus::running);
  EXPECT_TRUE(audit_store.load_spend("2023-11")->empty());
  db().exec(db().drop_failing_insert_sql("audit"));
  ASSERT_TRUE(store->complete(j.id, "w1", done).ok());
  EXPECT_EQ(store->get("alpha", j.id)->status, JobStatus::succeeded);
  EXPECT_EQ(audit_store.query_audit({})->size(), 1u);
  EXPECT_EQ(audit_store.load_spend("2023-11")->at(0).spent.micros, 4'321);
}

// --- leases lost -----------------------------------------------------------------

TEST_P(JobStoreTest, ExpiredLeasesRequeueUntilMaxAttemptsThenFail) {
  auto store = open();
  Job in = make_job("alpha", T0);
  in.max_attempts = 2;
  Job j = submit(*store, in);
  Job other = submit(*store, make_job("alpha", T0 + 1));

  ASSERT_EQ(store->claim("w1", T0 + 10, kLease, 1)->size(), 1u);
  // Not yet expired: nothing moves.
  auto early = store->requeue_expired(T0 + 10 + kLease - 1);
  ASSERT_TRUE(early.ok());
  EXPECT_TRUE(early->requeued.empty());
  EXPECT_TRUE(early->failed.empty());

  auto first = store->requeue_expired(T0 + 10 + kLease);
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->requeued.size(), 1u);
  EXPECT_TRUE(first->failed.empty());
  EXPECT_EQ(first->requeued[0].id, j.id);
  EXPECT_EQ(first->requeued[0].status, JobStatus::queued);
  EXPECT_EQ(first->requeued[0].attempts, 1);
  EXPECT_EQ(first->requeued[0].lease_owner, "");

  // The dead worker's late result is refused.
  EXPECT_EQ(store->complete(j.id, "w1", make_completion(T0 + 70'000)).error().code, ErrorCode::conflict);

  // Second attempt: still the oldest; started_at keeps the first claim.
  auto again = store->claim("w2", T0 + 100'000, kLease, 1);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].id, j.id);
  EXPECT_EQ((*again)[0].attempts, 2);
  EXPECT_EQ((*again)[0].started_at_ms, T0 + 10);

  auto last = store->requeue_expired(T0 + 100'000 + kLease);
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last->requeued.empty());
  ASSERT_EQ(last->failed.size(), 1u);
  EXPECT_EQ(last->failed[0].id, j.id);
  EXPECT_EQ(last->failed[0].status, JobStatus::failed);
  EXPECT_EQ(last->failed[0].error.type, "worker_lost");
  EXPECT_EQ(last->failed[0].error.message, "worker lost; max attempts reached");
  EXPECT_EQ(last->failed[0].finished_at_ms, T0 + 100'000 + kLease);
  EXPECT_EQ(store->get("alpha", other.id)->status, JobStatus::queued);  // never claimed: untouched
}

TEST_P(JobStoreTest, RequeueAllRunningIgnoresLeases) {
  auto store = open();
  Job once = submit(*store, make_job("alpha", T0));
  Job in = make_job("alpha", T0 + 1);
  in.max_attempts = 1;
  Job single = submit(*store, in);
  ASSERT_EQ(store->claim("old-process", T0 + 5, kLease, 2)->size(), 2u);

  auto report = store->requeue_all_running(T0 + 6);  // leases still far in the future
  ASSERT_TRUE(report.ok()) << report.error().message;
  if (GetParam() == "postgres") {
    // A shared queue cannot tell a dead process's lease from a live replica's:
    // only expired leases move, and these two are not.
    EXPECT_TRUE(report->requeued.empty());
    EXPECT_TRUE(report->failed.empty());
    EXPECT_EQ((*store->counts())[static_cast<std::size_t>(JobStatus::running)], 2);
    report = store->requeue_all_running(T0 + 5 + kLease);
    ASSERT_TRUE(report.ok()) << report.error().message;
  }
  ASSERT_EQ(report->requeued.size(), 1u);
  EXPECT_EQ(report->requeued[0].id, once.id);
  ASSERT_EQ(report->failed.size(), 1u);
  EXPECT_EQ(report->failed[0].id, single.id);
  EXPECT_EQ(report->failed[0].error.type, "worker_lost");
  const auto counts = *store->counts();
  EXPECT_EQ(counts[static_cast<std::size_t>(JobStatus::running)], 0);
  EXPECT_EQ(counts[static_cast<std::size_t>(JobStatus::queued)], 1);
  EXPECT_EQ(counts[static_cast<std::size_t>(JobStatus::failed)], 1);
}

TEST_P(JobStoreTest, ReleaseOwnedHandsBackOnlyThatOwnersJobsWithoutSpendingAnAttempt) {
  auto store = open();
  Job in = make_job("alpha", T0);
  in.max_attempts = 1;
  Job mine = submit(*store, in);
  Job theirs = submit(*store, make_job("alpha", T0 + 1));
  ASSERT_EQ(store->claim("me", T0 + 5, kLease, 1)->size(), 1u);
  ASSERT_EQ(store->claim("other", T0 + 5, kLease, 1)->size(), 1u);

  auto released = store->release_owned("me");
  ASSERT_TRUE(released.ok()) << released.error().message;
  ASSERT_EQ(released->size(), 1u);
  EXPECT_EQ((*released)[0].id, mine.id);
  EXPECT_EQ((*released)[0].status, JobStatus::queued);
  EXPECT_EQ((*released)[0].attempts, 0);
  EXPECT_EQ(store->get("alpha", theirs.id)->status, JobStatus::running);
  // With max_attempts 1 the job can still run: the graceful stop did not use its only attempt.
  auto again = store->claim("next-process", T0 + 10, kLease, 1);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].id, mine.id);
  EXPECT_EQ((*again)[0].attempts, 1);
  EXPECT_EQ(store->release_owned("nobody")->size(), 0u);
}

// --- cancel / expire / purge ------------------------------------------------------

TEST_P(JobStoreTest, CancelReportsThePreviousStatus) {
  auto store = open();
  Job queued = submit(*store, make_job("alpha", T0));
  Job running = submit(*store, make_job("alpha", T0 + 1));
  Job finished = submit(*store, make_job("alpha", T0 + 2));

  auto c1 = store->cancel("alpha", queued.id, T0 + 3);
  ASSERT_TRUE(c1.ok()) << c1.error().message;
  EXPECT_EQ(c1->previous, JobStatus::queued);
  EXPECT_EQ(c1->job.status, JobStatus::cancelled);
  EXPECT_EQ(c1->job.finished_at_ms, T0 + 3);
  EXPECT_EQ(c1->job.reservation_id, queued.reservation_id);  // for releasing the hold

  // A cancelled queued job is never claimed.
  auto claimed = store->claim("w", T0 + 4, kLease, 10);
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_EQ((*claimed)[0].id, running.id);
  ASSERT_TRUE(store->complete(finished.id, "w", make_completion(T0 + 5)).ok());

  auto c2 = store->cancel("alpha", running.id, T0 + 6);
  ASSERT_TRUE(c2.ok());
  EXPECT_EQ(c2->previous, JobStatus::running);
  EXPECT_EQ(c2->job.lease_owner, "");
  // The worker's result after the cancel is refused; the job stays cancelled.
  EXPECT_EQ(store->complete(running.id, "w", make_completion(T0 + 7)).error().code, ErrorCode::conflict);
  EXPECT_EQ(store->renew(running.id, "w", T0 + 7, kLease).error().code, ErrorCode::conflict);
  EXPECT_EQ(store->get("alpha", running.id)->status, JobStatus::cancelled);

  for (const Job& done : {queued, finished}) {
    auto again = store->cancel("alpha", done.id, T0 + 8);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, ErrorCode::conflict);
  }
  EXPECT_EQ(store->get("alpha", finished.id)->status, JobStatus::succeeded);
  EXPECT_EQ(store->cancel("alpha", "job_nope", T0).error().code, ErrorCode::not_found);
  // Requeue after cancel leaves cancelled jobs alone.
  EXPECT_TRUE(store->requeue_all_running(T0 + 9)->requeued.empty());
}

TEST_P(JobStoreTest, ExpireQueuedMovesOnlyOldQueuedJobs) {
  auto store = open();
  Job old_queued = submit(*store, make_job("alpha", T0));
  Job old_running = submit(*store, make_job("alpha", T0 + 1));
  ASSERT_EQ(store->claim("w", T0 + 2, kLease, 2)->size(), 2u);
  ASSERT_EQ(store->requeue_expired(T0 + 2 + kLease)->requeued.size(), 2u);  // both queued again
  ASSERT_EQ(store->claim("w", T0 + 3 + kLease, kLease, 1)->size(), 1u);     // old_queued runs again
  Job young = submit(*store, make_job("alpha", T0 + 1000));

  auto expired = store->expire_queued(T0 + 500, T0 + 2000);
  ASSERT_TRUE(expired.ok()) << expired.error().message;
  ASSERT_EQ(expired->size(), 1u);
  EXPECT_EQ((*expired)[0].id, old_running.id);
  EXPECT_EQ((*expired)[0].status, JobStatus::expired);
  EXPECT_EQ((*expired)[0].error.type, "expired");
  EXPECT_EQ((*expired)[0].finished_at_ms, T0 + 2000);
  EXPECT_EQ(store->get("alpha", old_queued.id)->status, JobStatus::running);
  EXPECT_EQ(store->get("alpha", young.id)->status, JobStatus::queued);
}

TEST_P(JobStoreTest, PurgeDeletesFinishedJobsAndTheirContent) {
  auto store = open();
  Job old_done = submit(*store, make_job("alpha", T0));
  Job old_cancelled = submit(*store, make_job("alpha", T0 + 1));
  Job recent_done = submit(*store, make_job("alpha", T0 + 2));
  Job still_queued = submit(*store, make_job("alpha", T0 - 1'000'000));  // old, but not finished
  Job still_running = submit(*store, make_job("alpha", T0 + 3));
  ASSERT_EQ(store->claim("w", T0 + 10, kLease, 2)->size(), 2u);  // still_queued and old_done
  ASSERT_TRUE(store->cancel("alpha", still_queued.id, T0 + 10).ok());
  still_queued = submit(*store, make_job("alpha", T0 - 1'000'000));
  ASSERT_TRUE(store->complete(old_done.id, "w", make_completion(T0 + 20)).ok());
  ASSERT_TRUE(store->cancel("alpha", old_cancelled.id, T0 + 30).ok());
  ASSERT_EQ(store->claim("w", T0 + 40, kLease, 3)->size(), 3u);
  ASSERT_TRUE(store->complete(recent_done.id, "w", make_completion(T0 + 90'000)).ok());

  auto purged = store->purge(T0 + 60'000);
  ASSERT_TRUE(purged.ok()) << purged.error().message;
  EXPECT_EQ(*purged, 3);  // old_done, old_cancelled, the first still_queued (cancelled at T0+10)
  EXPECT_EQ(store->get("alpha", old_done.id).error().code, ErrorCode::not_found);
  EXPECT_EQ(store->get("alpha", old_cancelled.id).error().code, ErrorCode::not_found);
  EXPECT_TRUE(store->get("alpha", recent_done.id).ok());
  EXPECT_TRUE(store->get("alpha", still_queued.id).ok());
  EXPECT_TRUE(store->get("alpha", still_running.id).ok());
  EXPECT_EQ(*store->purge(T0 + 60'000), 0);

  const auto counts = *store->counts();
  EXPECT_EQ(counts[static_cast<std::size_t>(JobStatus::succeeded)], 1);
  EXPECT_EQ(counts[static_cast<std::size_t>(JobStatus::cancelled)], 0);
  EXPECT_EQ(counts[static_cast<std::size_t>(JobStatus::running)], 2);
  store.reset();
  // The prompts and vaults went with the rows.
  EXPECT_EQ(db().scalar("SELECT COUNT(*) FROM jobs"), "3");
  EXPECT_EQ(db().scalar("SELECT COUNT(*) FROM jobs WHERE id = '" + old_done.id + "'"), "0");
}

TEST_P(JobStoreTest, CountsFollowEveryTransition) {
  auto store = open();
  for (int i = 0; i < 6; ++i) submit(*store, make_job("alpha", T0 + i));
  auto claimed = *store->claim("w", T0 + 10, kLease, 4);
  ASSERT_TRUE(store->complete(claimed[0].id, "w", make_completion(T0 + 11)).ok());
  Failure f;
  f.error = JobError{"upstream_error", "x"};
  ASSERT_TRUE(store->fail(claimed[1].id, "w", f).ok());
  ASSERT_TRUE(store->cancel("alpha", claimed[2].id, T0 + 12).ok());
  ASSERT_EQ(store->expire_queued(T0 + 100, T0 + 100)->size(), 2u);
  const JobCounts want{0, 1, 1, 1, 1, 2};
  EXPECT_EQ(*store->counts(), want);
}

TEST_P(JobStoreTest, SummaryNamesTheOldestQueuedJobAndTheNewestFailures) {
  auto store = open();
  auto empty = store->summary(20);
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_FALSE(empty->oldest_queued_created_ms);
  EXPECT_TRUE(empty->recent_failures.empty());

  for (int i = 0; i < 5; ++i) submit(*store, make_job(i % 2 == 0 ? "alpha" : "beta", T0 + i));
  auto claimed = *store->claim("w", T0 + 10, kLease, 3);  // the three oldest
  ASSERT_EQ(claimed.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    Failure f;
    f.error = JobError{i == 0 ? "upstream_timeout" : "unavailable", "never shown"};
    f.finished_at_ms = T0 + 20 + i;
    ASSERT_TRUE(store->fail(claimed[static_cast<std::size_t>(i)].id, "w", f).ok());
  }
  auto summary = store->summary(2);
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(summary->oldest_queued_created_ms, T0 + 3);
  ASSERT_EQ(summary->recent_failures.size(), 2u);  // the limit, newest first
  EXPECT_EQ(summary->recent_failures[0].id, claimed[2].id);
  EXPECT_EQ(summary->recent_failures[0].error_type, "unavailable");
  EXPECT_EQ(summary->recent_failures[0].finished_at_ms, T0 + 22);
  EXPECT_EQ(summary->recent_failures[0].team, claimed[2].team);
  EXPECT_EQ(summary->recent_failures[0].task_type, claimed[2].task_type);
  EXPECT_EQ(summary->recent_failures[1].id, claimed[1].id);
}

// --- durability and concurrency ---------------------------------------------------

TEST_P(JobStoreTest, ReopeningKeepsQueuedAndRunningJobs) {
  std::string queued_id, running_id;
  {
    auto store = open();
    queued_id = submit(*store, make_job("alpha", T0 + 1)).id;
    running_id = submit(*store, make_job("alpha", T0)).id;
    ASSERT_EQ(store->claim("dead-process", T0 + 5, kLease, 1)->size(), 1u);
  }  // the "process" ends without completing anything
  auto reopened = open();
  JobStore& store = *reopened;
  EXPECT_EQ(store.get("alpha", queued_id)->status, JobStatus::queued);
  auto running = store.get("alpha", running_id);
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running->status, JobStatus::running);
  EXPECT_EQ(running->lease_owner, "dead-process");

  auto report = store.requeue_expired(T0 + 5 + kLease);  // its lease ran out
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->requeued.size(), 1u);
  EXPECT_EQ(report->requeued[0].id, running_id);
  auto next = store.claim("new-process", T0 + 6 + kLease, kLease, 5);
  ASSERT_EQ(next->size(), 2u);
  EXPECT_EQ((*next)[0].id, running_id);  // still the oldest
  EXPECT_EQ((*next)[0].attempts, 2);
}

// A job finished through one replica is reported to the others (LISTEN/NOTIFY),
// which wake their long-polls and drop their submit-time reservation for it.
TEST(PostgresJobQueue, AFinishOnOneReplicaIsReportedToTheOthers) {
  const std::string dsn = test_support::postgres_test_dsn();
  if (dsn.empty()) GTEST_SKIP() << "no PostgreSQL test server in this run (ctest's postgres.start provides one)";
  test_support::PostgresDb db(dsn);
  SqliteJobStoreOptions options;
  options.cipher = test_cipher();
  auto watcher = db.open_jobs(options);
  auto worker = db.open_jobs(options);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> finished;
  watcher->watch_finished([&](const std::string& id) {
    std::lock_guard lock(mu);
    finished.push_back(id);
    cv.notify_all();
  });
  std::this_thread::sleep_for(300ms);  // the listener connects (a finish before that is not reported)
  const Job done = worker->submit(make_job("alpha", T0))->job;
  const Job cancelled = worker->submit(make_job("alpha", T0 + 1))->job;
  ASSERT_TRUE(worker->submit(make_job("alpha", T0 + 2)).ok());  // stays queued
  ASSERT_EQ(worker->claim("w", T0 + 5, kLease, 1)->size(), 1u);
  ASSERT_TRUE(worker->complete(done.id, "w", make_completion(T0 + 6)).ok());
  ASSERT_TRUE(worker->cancel("alpha", cancelled.id, T0 + 7).ok());
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return finished.size() >= 2; }));
  EXPECT_EQ(finished, (std::vector<std::string>{done.id, cancelled.id}));  // not the one still queued
  lock.unlock();
  watcher->stop_watching();
}

TEST_F(SqliteJobStoreTest, SharesTheFileWithTheMainStoreAndItsMigrations) {
  {
    store::SqliteStore main_store(db_path().string());
    EXPECT_EQ(main_store.schema_version(), store::sqlite::latest_schema_version());
  }
  auto jobs = open();
  store::SqliteStore main_store(db_path().string());
  ASSERT_TRUE(jobs->submit(make_job("alpha", T0)).ok());
  EXPECT_TRUE(main_store.ping().ok());
  EXPECT_EQ(scalar(db_path(), "SELECT COUNT(*) FROM schema_migrations"),
            static_cast<std::int64_t>(store::sqlite::migrations().size()));
  EXPECT_EQ(scalar(db_path(), "SELECT n FROM job_counts WHERE status = 'queued'"), 1);
}

TEST_P(JobStoreTest, ConcurrentClaimersNeverShareAJob) {
  constexpr int kJobs = 400;
  auto first = open();
  {
    std::vector<Job> batch;
    batch.reserve(kJobs);
    for (int i = 0; i < kJobs; ++i) batch.push_back(make_job(i % 2 ? "alpha" : "beta", T0 + i));
    auto r = first->submit_batch(batch);
    ASSERT_TRUE(r.ok());
  }
  // Two connections to one file stand in for two processes; two threads on
  // each share a connection like DbExecutor threads would.
  auto second = open();
  std::vector<std::vector<std::string>> got(4);
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      JobStore& store = t % 2 ? *second : *first;
      const std::string owner = "worker-" + std::to_string(t);
      for (;;) {
        auto claimed = store.claim(owner, T0 + 1'000, kLease, 3);
        if (!claimed.ok()) {
          ++errors;
          return;
        }
        if (claimed->empty()) return;
        for (const auto& j : *claimed) {
          got[static_cast<std::size_t>(t)].push_back(j.id);
          if (!store.complete(j.id, owner, make_completion(T0 + 2'000)).ok()) ++errors;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  std::set<std::string> unique;
  std::size_t total = 0;
  for (const auto& ids : got) {
    total += ids.size();
    unique.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kJobs));
  EXPECT_EQ(unique.size(), static_cast<std::size_t>(kJobs));
  EXPECT_EQ((*first->counts())[static_cast<std::size_t>(JobStatus::succeeded)], kJobs);
}

}  // namespace
}  // namespace aegis::jobs
