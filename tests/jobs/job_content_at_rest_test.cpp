// Job content at rest (issue 11 item 7): what the SQLite file itself holds,
// read with a raw connection under the store's interface.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "jobs/content_keys.hpp"
#include "jobs/payload_cipher.hpp"
#include "jobs/sqlite/sqlite_job_store.hpp"
#include "store/sqlite/migrations.hpp"
#include "support/sqlite_files.hpp"

namespace aegis::jobs {
namespace {

namespace fs = std::filesystem;
using aegis::test_support::RawDb;
using aegis::test_support::TempDir;

constexpr std::int64_t T0 = 1'700'000'000'000;
constexpr std::int64_t kLease = 60'000;
const std::string kSin = "046 454 286";                     // NOLINT(cert-err58-cpp): a test constant
const std::string kEmail = "jennifer.walsh@acme-mail.com";  // NOLINT(cert-err58-cpp): a test constant
const std::string kName = "Jennifer Walsh";                 // NOLINT(cert-err58-cpp): a test constant
const std::string kTicket = "TICKET-SECRET-77";             // NOLINT(cert-err58-cpp): a test constant

ContentKey key(std::string id, std::uint8_t fill) {
  ContentKey k{std::move(id), {}};
  k.bytes.fill(fill);
  return k;
}

std::shared_ptr<const PayloadCipher> ring(std::vector<ContentKey> keys, std::string active) {
  return std::make_shared<const PayloadCipher>(std::move(keys), std::move(active));
}

Job pii_job(std::string team, std::int64_t at) {
  Job j;
  j.id = new_job_id(at);
  j.team = std::move(team);
  j.key_id = "0123456789abcdef";
  j.task_type = "extraction";
  j.request_json = R"({"messages":[{"role":"user","content":"SIN )" + kSin + ", mail " + kEmail +
                   R"("}],"max_tokens":64,"metadata":{"ticket":")" + kTicket + R"("}})";
  j.vault_json = R"({"<PERSON_1>":")" + kName + R"(","<EMAIL_1>":")" + kEmail + R"("})";
  j.metadata_json = R"({"ticket":")" + kTicket + R"("})";
  j.classification = Level::CONFIDENTIAL;
  j.max_attempts = 1;
  j.created_at_ms = at;
  return j;
}

Completion done_at(std::int64_t at) {
  Completion c;
  c.route = JobRoute{"haiku", "anthropic", "claude-haiku-4-5", "task extraction"};
  c.result = JobResult{"Extracted: " + kName + " <" + kEmail + ">", 10, 5, 0, 0, Money::from_micros(12)};
  c.finished_at_ms = at;
  return c;
}

// Every byte of the database and its WAL.
std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct RawRow {
  std::string request_type, vault_type, metadata_type, result_type;
  std::string request, vault, metadata, result;  // raw bytes whatever the type
};

class ContentAtRestTest : public ::testing::Test {
 protected:
  fs::path db_path() const { return dir_.path() / "data" / "aegis.db"; }
  std::unique_ptr<SqliteJobStore> open(std::shared_ptr<const PayloadCipher> cipher = nullptr,
                                       SqliteJobStoreOptions options = {}) {
    options.sync_every_commit = false;
    options.cipher = cipher ? std::move(cipher) : ring({key("k1", 0x11)}, "k1");
    return std::make_unique<SqliteJobStore>(db_path().string(), options);
  }
  RawRow raw(const std::string& id) {
    RawDb db(db_path());
    sqlite3_stmt* st = nullptr;
    const char* sql =
        "SELECT typeof(request_json), typeof(vault_json), typeof(metadata_json), typeof(result_text), "
        "request_json, vault_json, metadata_json, result_text FROM jobs WHERE id = ?1";
    EXPECT_EQ(sqlite3_prepare_v2(db.get(), sql, -1, &st, nullptr), SQLITE_OK);
    sqlite3_bind_text(st, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    RawRow r;
    if (sqlite3_step(st) == SQLITE_ROW) {
      auto col = [st](int i) {
        const void* p = sqlite3_column_blob(st, i);
        return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(st, i)))
                 : std::string();
      };
      auto type = [st](int i) { return std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, i))); };
      r = RawRow{type(0), type(1), type(2), type(3), col(4), col(5), col(6), col(7)};
    } else {
      ADD_FAILURE() << "no row " << id;
    }
    sqlite3_finalize(st);
    return r;
  }
  void expect_no_plaintext_in_files() {
    for (const auto& suffix : {"", "-wal"}) {
      const std::string bytes = file_bytes(db_path().string() + suffix);
      for (const auto& secret : {kSin, kEmail, kName, kTicket}) {
        EXPECT_EQ(bytes.find(secret), std::string::npos) << secret << " found in aegis.db" << suffix;
      }
    }
  }
  TempDir dir_{"aegis-content-test"};
};

TEST_F(ContentAtRestTest, StoredColumnsAndTheFilesHoldNoPlaintext) {
  auto store = open();
  const Job in = pii_job("alpha", T0);
  ASSERT_TRUE(store->submit(in).ok());
  RawRow queued = raw(in.id);
  EXPECT_EQ(queued.request_type, "blob");
  EXPECT_EQ(queued.vault_type, "blob");
  EXPECT_EQ(queued.metadata_type, "blob");
  EXPECT_EQ(queued.result_type, "text");  // '' until there is a result
  for (const auto* column : {&queued.request, &queued.vault, &queued.metadata}) {
    for (const auto& secret : {kSin, kEmail, kName, kTicket}) EXPECT_EQ(column->find(secret), std::string::npos);
    EXPECT_EQ(PayloadCipher::key_id_of(*column), std::optional<std::string>("k1"));
  }
  // Through the interface everything reads back as submitted.
  auto got = store->get("alpha", in.id);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->content_error);
  EXPECT_EQ(got->request_json, in.request_json);
  EXPECT_EQ(got->vault_json, in.vault_json);
  EXPECT_EQ(got->metadata_json, in.metadata_json);

  auto claimed = store->claim("w", T0 + 1, kLease, 1);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].request_json, in.request_json);  // the worker gets what it needs to run
  EXPECT_EQ((*claimed)[0].vault_json, in.vault_json);
  auto finished = store->complete(in.id, "w", done_at(T0 + 2));
  ASSERT_TRUE(finished.ok()) << finished.error().message;
  EXPECT_EQ(finished->request_json, "");
  EXPECT_EQ(finished->vault_json, "");

  RawRow after = raw(in.id);
  EXPECT_EQ(after.request_type, "null");
  EXPECT_EQ(after.vault_type, "null");
  EXPECT_EQ(after.result_type, "blob");
  EXPECT_EQ(after.metadata_type, "blob");
  EXPECT_EQ(after.result.find(kEmail), std::string::npos);
  auto read = store->get("alpha", in.id);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->result.text, done_at(0).result.text);
  EXPECT_EQ(read->metadata_json, in.metadata_json);  // GET still returns the metadata
  EXPECT_EQ(read->request_json, "");

  store.reset();
  RawDb(db_path()).exec("PRAGMA wal_checkpoint(TRUNCATE)");
  expect_no_plaintext_in_files();
}

TEST_F(ContentAtRestTest, EveryWayAJobFinishesDropsItsRequestAndVault) {
  auto store = open();
  const Job succeeded = pii_job("alpha", T0);
  const Job failed = pii_job("alpha", T0 + 1);
  const Job cancelled_running = pii_job("alpha", T0 + 2);
  const Job lost = pii_job("alpha", T0 + 3);  // max_attempts 1: a lost lease fails it
  const Job cancelled_queued = pii_job("alpha", T0 + 10);
  const Job expired = pii_job("alpha", T0 + 11);
  const Job still_queued = pii_job("alpha", T0 + 500);
  for (const auto& j : {succeeded, failed, cancelled_running, lost, cancelled_queued, expired, still_queued}) {
    ASSERT_TRUE(store->submit(j).ok());
  }
  ASSERT_EQ(store->claim("w", T0 + 20, kLease, 4)->size(), 4u);
  ASSERT_TRUE(store->complete(succeeded.id, "w", done_at(T0 + 30)).ok());
  Failure failure;
  failure.error = JobError{"upstream_error", "provider said no"};
  failure.finished_at_ms = T0 + 31;
  ASSERT_TRUE(store->fail(failed.id, "w", failure).ok());
  auto c1 = store->cancel("alpha", cancelled_running.id, T0 + 32);
  ASSERT_TRUE(c1.ok());
  EXPECT_EQ(c1->job.request_json, "");
  ASSERT_TRUE(store->cancel("alpha", cancelled_queued.id, T0 + 33).ok());
  auto gone = store->requeue_expired(T0 + 20 + kLease);
  ASSERT_TRUE(gone.ok());
  ASSERT_EQ(gone->failed.size(), 1u);
  EXPECT_EQ(gone->failed[0].request_json, "");
  auto exp = store->expire_queued(T0 + 100, T0 + 200);
  ASSERT_TRUE(exp.ok());
  ASSERT_EQ(exp->size(), 1u);
  EXPECT_EQ((*exp)[0].id, expired.id);
  EXPECT_EQ((*exp)[0].vault_json, "");

  for (const auto& j : {succeeded, failed, cancelled_running, lost, cancelled_queued, expired}) {
    RawRow r = raw(j.id);
    EXPECT_EQ(r.request_type, "null") << j.id;
    EXPECT_EQ(r.vault_type, "null") << j.id;
    EXPECT_EQ(r.metadata_type, "blob") << j.id;  // returned by GET until retention
  }
  RawRow waiting = raw(still_queued.id);
  EXPECT_EQ(waiting.request_type, "blob");  // not finished: still needed to run
  EXPECT_EQ(waiting.vault_type, "blob");
  EXPECT_EQ(store->get("alpha", still_queued.id)->request_json, still_queued.request_json);
}

TEST_F(ContentAtRestTest, KeepRequestsKeepsThemUntilPurgeWithPerTeamOverrides) {
  SqliteJobStoreOptions options;
  options.keep_requests = true;
  options.keep_requests_teams = {{"lean", false}};
  auto store = open(nullptr, options);
  const Job kept = pii_job("research", T0);
  const Job dropped = pii_job("lean", T0 + 1);
  ASSERT_TRUE(store->submit(kept).ok());
  ASSERT_TRUE(store->submit(dropped).ok());
  ASSERT_EQ(store->claim("w", T0 + 5, kLease, 2)->size(), 2u);
  ASSERT_TRUE(store->complete(kept.id, "w", done_at(T0 + 6)).ok());
  ASSERT_TRUE(store->complete(dropped.id, "w", done_at(T0 + 7)).ok());
  EXPECT_EQ(raw(kept.id).request_type, "blob");
  EXPECT_EQ(raw(kept.id).vault_type, "blob");
  EXPECT_EQ(store->get("research", kept.id)->request_json, kept.request_json);
  EXPECT_EQ(raw(dropped.id).request_type, "null");

  SqliteJobStoreOptions by_team;
  by_team.keep_requests_teams = {{"research", true}};
  store = open(nullptr, by_team);
  const Job kept2 = pii_job("research", T0 + 10);
  const Job dropped2 = pii_job("other", T0 + 11);
  ASSERT_TRUE(store->submit(kept2).ok());
  ASSERT_TRUE(store->submit(dropped2).ok());
  ASSERT_TRUE(store->cancel("research", kept2.id, T0 + 12).ok());
  ASSERT_TRUE(store->cancel("other", dropped2.id, T0 + 12).ok());
  EXPECT_EQ(raw(kept2.id).request_type, "blob");
  EXPECT_EQ(raw(dropped2.id).request_type, "null");
  // Purge deletes the kept ones with the row.
  EXPECT_EQ(*store->purge(T0 + 1'000), 4);
}

TEST_F(ContentAtRestTest, TurningKeepRequestsOffDropsKeptRequestsAtTheNextStart) {
  SqliteJobStoreOptions keep;
  keep.keep_requests = true;
  const Job j = pii_job("alpha", T0);
  const Job queued = pii_job("alpha", T0 + 1);
  {
    auto store = open(nullptr, keep);
    ASSERT_TRUE(store->submit(j).ok());
    ASSERT_TRUE(store->submit(queued).ok());
    ASSERT_TRUE(store->cancel("alpha", j.id, T0 + 1).ok());
  }
  EXPECT_EQ(raw(j.id).request_type, "blob");
  auto store = open();
  EXPECT_EQ(raw(j.id).request_type, "null");
  EXPECT_EQ(raw(j.id).vault_type, "null");
  EXPECT_EQ(raw(queued.id).request_type, "blob");  // not finished: kept
}

TEST_F(ContentAtRestTest, RowsWrittenWithAnOlderKeyStayReadableAfterRotation) {
  const Job old_job = pii_job("alpha", T0);
  {
    auto store = open(ring({key("k1", 0x11)}, "k1"));
    ASSERT_TRUE(store->submit(old_job).ok());
  }
  auto store = open(ring({key("k2", 0x22), key("k1", 0x11)}, "k2"));
  auto got = store->get("alpha", old_job.id);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->content_error);
  EXPECT_EQ(got->request_json, old_job.request_json);
  EXPECT_EQ(got->vault_json, old_job.vault_json);
  // The job runs to completion; its result is written with the active key.
  ASSERT_EQ(store->claim("w", T0 + 1, kLease, 1)->size(), 1u);
  ASSERT_TRUE(store->complete(old_job.id, "w", done_at(T0 + 2)).ok());
  RawRow r = raw(old_job.id);
  EXPECT_EQ(PayloadCipher::key_id_of(r.result), std::optional<std::string>("k2"));
  EXPECT_EQ(PayloadCipher::key_id_of(r.metadata), std::optional<std::string>("k1"));
  EXPECT_EQ(store->get("alpha", old_job.id)->metadata_json, old_job.metadata_json);
  const Job new_job = pii_job("alpha", T0 + 5);
  ASSERT_TRUE(store->submit(new_job).ok());
  EXPECT_EQ(PayloadCipher::key_id_of(raw(new_job.id).request), std::optional<std::string>("k2"));
}

TEST_F(ContentAtRestTest, AMissingOrWrongKeyMarksTheJobInsteadOfFailingTheRead) {
  const Job a = pii_job("alpha", T0);
  const Job b = pii_job("alpha", T0 + 1);
  {
    auto store = open(ring({key("k1", 0x11)}, "k1"));
    ASSERT_TRUE(store->submit(a).ok());
    ASSERT_TRUE(store->submit(b).ok());
  }
  for (const auto& cipher :
       {ring({key("k2", 0x22)}, "k2"), ring({key("k1", 0x33)}, "k1")}) {  // unknown id; wrong bytes
    auto store = open(cipher);
    auto got = store->get("alpha", a.id);
    ASSERT_TRUE(got.ok()) << got.error().message;
    ASSERT_TRUE(got->content_error);
    EXPECT_EQ(got->request_json, "");
    EXPECT_EQ(got->vault_json, "");
    EXPECT_EQ(got->metadata_json, "");
    EXPECT_EQ(got->content_error->find(kSin), std::string::npos);
    auto page = store->list("alpha", {});
    ASSERT_TRUE(page.ok());
    EXPECT_EQ(page->jobs.size(), 2u);
  }
  // A claim still hands the jobs out (marked), so the worker can fail them.
  auto store = open(ring({key("k2", 0x22)}, "k2"));
  auto claimed = store->claim("w", T0 + 5, kLease, 10);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_TRUE((*claimed)[0].content_error);
  Failure failure;
  failure.error = JobError{"internal", *(*claimed)[0].content_error};
  failure.finished_at_ms = T0 + 6;
  ASSERT_TRUE(store->fail(a.id, "w", failure).ok());
  EXPECT_EQ(raw(a.id).request_type, "null");
}

TEST_F(ContentAtRestTest, ACiphertextMovedToAnotherRowOrColumnDoesNotDecrypt) {
  auto store = open();
  const Job a = pii_job("alpha", T0);
  const Job b = pii_job("alpha", T0 + 1);
  ASSERT_TRUE(store->submit(a).ok());
  ASSERT_TRUE(store->submit(b).ok());
  {
    RawDb db(db_path());
    db.exec("UPDATE jobs SET request_json = (SELECT request_json FROM jobs WHERE id = '" + a.id + "') WHERE id = '" +
            b.id + "'");
    db.exec("UPDATE jobs SET metadata_json = vault_json WHERE id = '" + a.id + "'");
  }
  auto moved = store->get("alpha", b.id);
  ASSERT_TRUE(moved.ok());
  EXPECT_TRUE(moved->content_error);
  EXPECT_EQ(moved->request_json, "");
  EXPECT_EQ(moved->vault_json, b.vault_json);  // untouched columns still read
  auto swapped = store->get("alpha", a.id);
  ASSERT_TRUE(swapped.ok());
  EXPECT_TRUE(swapped->content_error);
  EXPECT_EQ(swapped->request_json, a.request_json);
  EXPECT_EQ(swapped->metadata_json, "");
}

TEST_F(ContentAtRestTest, PlaintextRowsFromBeforeMigration4AreReadAndMigrated) {
  fs::create_directories(db_path().parent_path());
  const std::string legacy_request =
      R"({"task_type":"t","messages":[{"role":"user","content":"SIN 046 454 286"}],"max_tokens":5,"metadata":{"ticket":"T-9"}})";
  {
    RawDb db(db_path());
    store::sqlite::apply_migrations(db.get(), store::sqlite::migrations().first(3), T0);
    db.exec(
        "INSERT INTO jobs(id, team, key_id, status, task_type, request_json, vault_json, classification, "
        "max_attempts, created_at_ms) VALUES ('job_legacy_queued', 'alpha', 'k', 'queued', 't', '" +
        legacy_request + "', '{\"<PERSON_1>\":\"Jennifer Walsh\"}', 'INTERNAL', 3, " + std::to_string(T0) + ")");
    db.exec(
        "INSERT INTO jobs(id, team, key_id, status, task_type, request_json, vault_json, classification, "
        "max_attempts, created_at_ms, result_text, finished_at_ms) VALUES ('job_legacy_done', 'alpha', 'k', "
        "'succeeded', 't', '{\"max_tokens\":5}', '', 'INTERNAL', 3, " +
        std::to_string(T0 - 1) + ", 'an old result', " + std::to_string(T0) + ")");
  }
  auto store = open();
  EXPECT_EQ(RawDb(db_path()).scalar("SELECT MAX(version) FROM schema_migrations"),
            std::to_string(store::sqlite::latest_schema_version()));
  EXPECT_EQ((*store->counts())[static_cast<std::size_t>(JobStatus::queued)], 1);
  auto done = store->get("alpha", "job_legacy_done");
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(done->content_error);
  EXPECT_EQ(done->result.text, "an old result");
  EXPECT_EQ(done->metadata_json, "");
  // A job that had finished before the upgrade loses its plaintext request now.
  EXPECT_EQ(raw("job_legacy_done").request_type, "null");
  EXPECT_EQ(raw("job_legacy_done").vault_type, "null");
  EXPECT_EQ(raw("job_legacy_done").result_type, "text");  // kept until retention, as it was
  auto queued = store->get("alpha", "job_legacy_queued");
  ASSERT_TRUE(queued.ok());
  EXPECT_EQ(queued->request_json, legacy_request);
  EXPECT_EQ(queued->vault_json, R"({"<PERSON_1>":"Jennifer Walsh"})");
  EXPECT_EQ(queued->metadata_json, R"({"ticket":"T-9"})");  // taken from the request by the migration
  EXPECT_EQ(raw("job_legacy_queued").request_type, "text");

  ASSERT_EQ(store->claim("w", T0 + 1, kLease, 5)->size(), 1u);
  ASSERT_TRUE(store->complete("job_legacy_queued", "w", done_at(T0 + 2)).ok());
  RawRow r = raw("job_legacy_queued");
  EXPECT_EQ(r.request_type, "null");
  EXPECT_EQ(r.vault_type, "null");
  EXPECT_EQ(r.result_type, "blob");
  EXPECT_EQ(store->get("alpha", "job_legacy_queued")->metadata_json, R"({"ticket":"T-9"})");
}

TEST_F(ContentAtRestTest, StoreRefusesToOpenWithoutACipher) {
  SqliteJobStoreOptions options;
  EXPECT_THROW(SqliteJobStore(db_path().string(), options), std::invalid_argument);
}

// --- where the keys come from -------------------------------------------------

TEST_F(ContentAtRestTest, WithoutConfiguredKeysAKeyFileIsGeneratedBesideTheDatabaseOnce) {
  fs::create_directories(db_path().parent_path());
  const std::string path = generated_key_path(db_path().string());
  EXPECT_EQ(path, db_path().string() + ".jobs-key");
  ASSERT_FALSE(fs::exists(path));
  config::JobsConfig jobs;
  auto first = load_content_cipher(jobs, db_path().string());
  EXPECT_EQ(first->active_key_id(), "generated");
  ASSERT_TRUE(fs::exists(path));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(parse_key256(file_bytes(path)).has_value());

  // The next start reads the same key: rows sealed before open after.
  const std::string sealed = *first->seal("job_x", "request_json", "hello");
  auto second = load_content_cipher(jobs, db_path().string());
  EXPECT_EQ(*second->open("job_x", "request_json", sealed), "hello");

  // Configured keys take over for writing; the generated one is still read.
  jobs.encryption.active = "k9";
  jobs.encryption.keys.push_back(config::JobsContentKey{"k9", "env TEST", key("k9", 0x99).bytes});
  auto configured = load_content_cipher(jobs, db_path().string());
  EXPECT_EQ(configured->active_key_id(), "k9");
  EXPECT_TRUE(configured->has_key("generated"));
  EXPECT_EQ(*configured->open("job_x", "request_json", sealed), "hello");
}

TEST_F(ContentAtRestTest, AnInMemoryDatabaseGetsAProcessKeyAndNoFile) {
  config::JobsConfig jobs;
  auto cipher = load_content_cipher(jobs, ":memory:");
  EXPECT_EQ(cipher->active_key_id(), "ephemeral");
  EXPECT_EQ(generated_key_path(":memory:"), "");
}

TEST_F(ContentAtRestTest, AnUnreadableGeneratedKeyFileStopsTheStart) {
  fs::create_directories(db_path().parent_path());
  std::ofstream(generated_key_path(db_path().string())) << "not a key\n";
  config::JobsConfig jobs;
  EXPECT_THROW(load_content_cipher(jobs, db_path().string()), std::runtime_error);
}

}  // namespace
}  // namespace aegis::jobs
