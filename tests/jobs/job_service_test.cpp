// JobService (jobs/job_service.hpp) in process: the real SQLite job store on a
// temporary file (opened by the application's own factory), the real gateway,
// router, ledger and audit writer, and one local provider (the ollama adapter)
// in front of an in-process simulator whose `hang` fault holds a call in
// flight. The clock is a ManualClock: the lease times the store sees move only
// when a test advances it.
#include "jobs/job_service.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_writer.hpp"
#include "budget/budget_service.hpp"
#include "budget/memory_ledger.hpp"
#include "classify/classifier.hpp"
#include "core/system_clock.hpp"
#include "gateway/gateway.hpp"
#include "http/client.hpp"
#include "jobs/factory.hpp"
#include "jobs/job_result.hpp"
#include "providers/factory.hpp"
#include "rag/sqlite/sqlite_rag_store.hpp"
#include "resilience/provider_health.hpp"
#include "routing/router.hpp"
#include "sim/sim_core.hpp"
#include "sim/simulator.hpp"
#include "store/db_executor.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "support/sqlite_files.hpp"

namespace aegis::jobs {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::int64_t kLeaseMs = 30'000;

// Waits (in real time, bounded) for what the service does on its own threads.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// As in src/app/application.cpp: shutdown() destroys the runs cut off at a
// stop while what they refer to (gateway, ledger, audit writer) still exists.
class IoContext : public asio::io_context {
 public:
  using asio::execution_context::shutdown;
};

JobRequest chat_job(std::string text) {
  JobRequest request;
  request.task_type = "chat";
  request.chat.model = "auto";
  request.chat.max_tokens = 16;
  Message message;
  message.role = Role::user;
  message.text = std::move(text);
  request.chat.messages.push_back(std::move(message));
  return request;
}

class JobServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim::SimOptions options;
    options.name = "local";
    sim_ = std::make_unique<sim::Simulator>(io_, options);
    const std::uint16_t port = sim_->start();
    thread_ = std::thread([this] { io_.run(); });

    config::ProviderConfig local;
    local.name = "local";
    local.type = "ollama";
    local.locality = config::Locality::local;
    local.base_url = "http://127.0.0.1:" + std::to_string(port);
    local.models = {{Tier::haiku, "llama3.2:3b"}, {Tier::sonnet, "qwen2.5:14b"}, {Tier::opus, "llama3.3:70b"}};
    local.embedding_model = "nomic-embed-text";  // for the retrieval jobs
    for (const auto& [tier, model] : local.models) local.prices[model] = config::ModelPrice{};
    config_.providers.push_back(local);
    config_.routing.task_tiers = {{"chat", Tier::sonnet}};
    config_.routing.fallback_chain = {"local"};
    config_.resilience.health_check_interval = 0s;
    config_.storage.sqlite_path = (dir_.path() / "aegis.db").string();
    config_.jobs.sync_every_commit = false;
    config_.jobs.lease = std::chrono::seconds(kLeaseMs / 1000);

    store_ = std::make_unique<store::SqliteStore>(config_.storage.sqlite_path, clock_);
    ASSERT_TRUE(store_->create_team(store::Team{"alpha", Money::from_dollars(100), Level::CONFIDENTIAL, 1}).ok());
    audit_ = std::make_unique<audit::AuditWriter>(*store_, metrics_);
    client_ = http::make_http_client(io_.get_executor(), http::ClientOptions{});
    std::vector<std::unique_ptr<providers::LLMProvider>> built;
    const providers::ProviderDeps provider_deps{*client_, &io_};
    built.push_back(providers::ProviderFactory::builtin().create(local, provider_deps).value());
    providers_ = std::make_unique<providers::ProviderSet>(std::move(built), config_.routing.fallback_chain);
    classifier_ = classify::make_classifier(config_.classification);
    router_ = std::make_unique<routing::Router>(config_, *providers_);
    ledger_ = std::make_unique<budget::MemoryLedger>(clock_);
    budgets_ = std::make_unique<budget::BudgetService>(*ledger_, metrics_, 900s);
    health_ = std::make_unique<resilience::ProviderHealth>(config_.resilience, clock_, metrics_, providers_->ordered());
    const gateway::GatewayDeps gateway_deps{config_,  *providers_, *classifier_, *router_, *budgets_,
                                            *health_, *audit_,     metrics_,     clock_};
    gateway_ = std::make_unique<gateway::Gateway>(gateway_deps);
  }

  void TearDown() override {
    if (down_) return;
    if (service_) {
      shut_down();
      return;
    }
    if (health_) health_->stop();
    sim_->stop();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  // After the test has set config_.jobs.
  void start_service() {
    job_store_ = open_job_store(config_.storage, config_.jobs);
    JobServiceDeps deps{config_.jobs, *job_store_, *gateway_, *budgets_, *store_, team_db_, *audit_, metrics_, clock_};
    deps.rag = rag_.get();
    deps.keys = store_.get();
    // Real time between renewals; the lease they write is measured on clock_.
    deps.lease_renewal = 5ms;
    service_ = std::make_unique<JobService>(deps, io_);
    service_->start();
  }

  // The application's order (Application::shutdown and Application::run in
  // src/app/application.cpp): stop claiming, end the I/O threads, let the job
  // store calls in flight finish, finalise what was cut off while everything
  // it uses still exists, then hand the running jobs back.
  void shut_down() {
    down_ = true;
    service_->stop();
    health_->stop();
    work_.reset();
    io_.stop();
    thread_.join();
    sim_->stop();  // posts only: the I/O threads have ended
    service_->finish_database_work();
    team_db_.finish();
    audit_->flush(5s);
    io_.shutdown();
    service_->hand_back_running();
    audit_->stop();
  }

  // Before start_service: a retrieval store in the test's database and the service the retrieval jobs run on.
  void enable_rag() {
    // A retrieval job reads its key's clearance when it runs.
    ASSERT_TRUE(store_->create_key(key_record(principal_.key_id, std::nullopt)).ok());
    rag_store_ = std::make_unique<rag::SqliteRagStore>(config_.storage.sqlite_path);
    rag_ = std::make_unique<rag::RagService>(
        rag::RagServiceDeps{config_.rag, *gateway_, *classifier_, *rag_store_, team_db_, *audit_, metrics_, clock_});
  }

  static store::ApiKeyRecord key_record(std::string id, std::optional<Level> clearance) {
    store::ApiKeyRecord key;
    key.id = std::move(id);
    key.team = "alpha";
    key.prefix = "aeg_" + key.id;
    key.secret_hash = "hash-of-" + key.id;
    key.created_at_ms = 1;
    key.clearance = clearance;
    return key;
  }

  // Result<T> has no default state, which use_future needs: park it in an optional.
  template <class T>
  T run(asio::awaitable<T> work) {
    auto slot = std::make_shared<std::optional<T>>();
    auto task = [slot](asio::awaitable<T> w) -> asio::awaitable<void> { slot->emplace(co_await std::move(w)); };
    asio::co_spawn(io_, task(std::move(work)), asio::use_future).get();
    return std::move(**slot);
  }

  std::string submit(const std::string& text) {
    auto submitted = run(service_->submit(principal_, chat_job(text), std::nullopt, "req-" + text));
    EXPECT_TRUE(submitted.ok()) << submitted.error().message;
    if (!submitted.ok()) return "";
    EXPECT_FALSE(submitted->replayed);
    return submitted->job.id;
  }

  Job stored(const std::string& id) {
    auto job = job_store_->get("alpha", id);
    EXPECT_TRUE(job.ok()) << id;
    return job.ok() ? *job : Job{};
  }

  bool running_at_provider(const std::string& id, std::size_t calls) {
    return eventually([&] { return stored(id).status == JobStatus::running && sim_->requests().size() >= calls; });
  }

  std::int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall_now().time_since_epoch()).count();
  }

  std::vector<audit::AuditRecord> audit_rows_of(const std::string& id) {
    std::vector<audit::AuditRecord> out;
    audit::AuditQuery query;
    query.team = "alpha";
    auto rows = store_->query_audit(query);
    if (rows.ok()) {
      for (auto& row : *rows) {
        if (row.request_id == id) out.push_back(std::move(row));
      }
    }
    return out;
  }

  bool scraped(const std::string& series_and_value) const {
    return metrics_.expose().find("\n" + series_and_value + "\n") != std::string::npos;
  }

  IoContext io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
  ManualClock clock_{std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 365 * 56)};
  telemetry::Registry metrics_;
  test_support::TempDir dir_{"aegis-job-service-test"};
  config::Config config_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<audit::AuditWriter> audit_;
  std::unique_ptr<http::HttpClient> client_;
  std::unique_ptr<providers::ProviderSet> providers_;
  std::unique_ptr<classify::Classifier> classifier_;
  std::unique_ptr<routing::Router> router_;
  std::unique_ptr<budget::MemoryLedger> ledger_;
  std::unique_ptr<budget::BudgetService> budgets_;
  std::unique_ptr<resilience::ProviderHealth> health_;
  std::unique_ptr<gateway::Gateway> gateway_;
  std::unique_ptr<JobStore> job_store_;
  store::DbExecutor team_db_;
  std::unique_ptr<rag::RagStore> rag_store_;
  std::unique_ptr<rag::RagService> rag_;  // outlives the job service, as in the application
  std::unique_ptr<JobService> service_;
  identity::Principal principal_{"alpha", "key1", Level::CONFIDENTIAL, Money::from_dollars(100)};
  bool down_ = false;
};

TEST_F(JobServiceTest, ASubmittedJobIsClaimedRunAndItsResultStored) {
  start_service();
  const std::string id = submit("dispatch me");
  ASSERT_FALSE(id.empty());

  // The long-poll is woken by the finish.
  auto done = run(service_->get("alpha", id, 10s));
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->status, JobStatus::succeeded) << done->error.type << ": " << done->error.message;
  EXPECT_EQ(done->result.text, "Echo: dispatch me");
  EXPECT_EQ(done->route.provider, "local");
  EXPECT_EQ(done->route.model, "qwen2.5:14b");
  EXPECT_EQ(done->attempts, 1);
  EXPECT_EQ(done->lease_owner, "");

  // What the store holds is what the service answered, and the provider was called once.
  const Job row = stored(id);
  EXPECT_EQ(row.status, JobStatus::succeeded);
  EXPECT_EQ(row.result.text, "Echo: dispatch me");
  EXPECT_EQ(row.finished_at_ms, now_ms());
  ASSERT_EQ(sim_->requests().size(), 1u);
  EXPECT_NE(sim_->requests()[0].body.find("dispatch me"), std::string::npos);

  // Its audit row was committed with the outcome, and the reservation taken at submit is gone.
  const auto rows = audit_rows_of(id);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].surface, "jobs");
  EXPECT_EQ(rows[0].status, 200);
  EXPECT_EQ(rows[0].fallback_path, std::vector<std::string>{"local:ok"});
  EXPECT_EQ(budgets_->remaining("alpha", principal_.monthly_budget), principal_.monthly_budget);
  EXPECT_TRUE(scraped("aegis_job_queue_wait_seconds_count 1"));
  EXPECT_TRUE(scraped("aegis_job_run_seconds_count 1"));
}

TEST_F(JobServiceTest, ARunningJobsLeaseIsRenewedOnTheClockBeforeItExpires) {
  ASSERT_TRUE(sim_->set_fault("hang", 1, std::nullopt).ok());
  start_service();
  const std::string id = submit("hold my lease");
  ASSERT_TRUE(running_at_provider(id, 1));
  const Job claimed = stored(id);
  const std::int64_t claimed_at = now_ms();
  EXPECT_EQ(claimed.lease_expires_ms, claimed_at + kLeaseMs);
  ASSERT_FALSE(claimed.lease_owner.empty());

  // Two-thirds of a lease at a time: each step is renewed before the lease it
  // extends runs out, so after the second step the first lease has long expired
  // and the job is still this worker's.
  for (int step = 1; step <= 3; ++step) {
    clock_.advance(20s);
    const std::int64_t now = now_ms();
    ASSERT_TRUE(eventually([&] { return stored(id).lease_expires_ms == now + kLeaseMs; }))
        << "step " << step << ": lease expires at " << stored(id).lease_expires_ms << ", want " << now + kLeaseMs;
    auto swept = job_store_->requeue_expired(now);
    ASSERT_TRUE(swept.ok());
    EXPECT_TRUE(swept->requeued.empty() && swept->failed.empty()) << "step " << step;
    const Job renewed = stored(id);
    EXPECT_EQ(renewed.status, JobStatus::running);
    EXPECT_EQ(renewed.lease_owner, claimed.lease_owner);
    EXPECT_EQ(renewed.attempts, 1);
  }
  EXPECT_GT(now_ms(), claimed.lease_expires_ms);
  EXPECT_EQ(sim_->requests().size(), 1u) << "a renewal never calls the provider again";
}

TEST_F(JobServiceTest, CancellingARunningJobAbortsItsCallAndItEndsCancelled) {
  ASSERT_TRUE(sim_->set_fault("hang", 1, std::nullopt).ok());
  start_service();
  const std::string id = submit("cancel me");
  ASSERT_TRUE(running_at_provider(id, 1));

  auto cancelled = run(service_->cancel("alpha", id));
  ASSERT_TRUE(cancelled.ok()) << cancelled.error().message;
  EXPECT_EQ(cancelled->status, JobStatus::cancelled);

  // The provider call was aborted: the gateway counts it as cancelled (not a
  // provider failure), and the run's audit row names only that attempt.
  ASSERT_TRUE(eventually([&] { return !audit_rows_of(id).empty(); })) << "no audit row for the aborted call";
  const auto rows = audit_rows_of(id);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].fallback_path, std::vector<std::string>{"local:cancelled"});
  EXPECT_TRUE(scraped("aegis_provider_attempts_total{provider=\"local\",outcome=\"cancelled\"} 1"))
      << metrics_.expose();

  // Nothing the aborted call did afterwards changed the recorded outcome.
  const Job row = stored(id);
  EXPECT_EQ(row.status, JobStatus::cancelled);
  EXPECT_EQ(row.error.type, "cancelled");
  EXPECT_EQ(row.attempts, 1);
  EXPECT_EQ(row.lease_owner, "");
  EXPECT_EQ(budgets_->remaining("alpha", principal_.monthly_budget), principal_.monthly_budget);

  // The worker and the provider's slot are free again: the next job runs.
  const std::string next = submit("after the cancel");
  auto done = run(service_->get("alpha", next, 10s));
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->status, JobStatus::succeeded);
  EXPECT_EQ(stored(id).status, JobStatus::cancelled);
}

TEST_F(JobServiceTest, AtShutdownRunningJobsAreHandedBackWithoutSpendingAnAttempt) {
  config_.jobs.workers = 2;
  config_.jobs.max_attempts = 1;  // a spent attempt would leave none
  ASSERT_TRUE(sim_->set_fault("hang", 2, std::nullopt).ok());
  start_service();
  const std::string first = submit("hand back one");
  const std::string second = submit("hand back two");
  ASSERT_TRUE(running_at_provider(first, 2));
  ASSERT_TRUE(running_at_provider(second, 2));
  EXPECT_EQ(stored(first).attempts, 1);

  shut_down();

  for (const auto& id : {first, second}) {
    const Job row = stored(id);
    EXPECT_EQ(row.status, JobStatus::queued) << id;
    EXPECT_EQ(row.attempts, 0) << id;
    EXPECT_EQ(row.lease_owner, "") << id;
    EXPECT_EQ(row.lease_expires_ms, 0) << id;
    EXPECT_TRUE(row.error.type.empty()) << id;
  }
  // The next process claims them as a first attempt, which max_attempts 1 still allows.
  auto claimed = job_store_->claim("next-process", now_ms(), kLeaseMs, 10);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 2u);
  for (const auto& job : *claimed) EXPECT_EQ(job.attempts, 1) << job.id;
}

// ---------------------------------------------------------------- retrieval jobs

JobRequest parsed_job(std::string_view body) {
  auto request = parse_job_request(boost::json::parse(body).as_object());
  EXPECT_TRUE(request.ok()) << body;
  return request.ok() ? std::move(request).value() : JobRequest{};
}

std::string handbook(int paragraphs) {
  std::string chunks;
  for (int i = 0; i < paragraphs; ++i) {
    chunks += std::string(i ? "," : "") + "\"Paragraph " + std::to_string(i) + " of the parking handbook.\"";
  }
  return R"({"task_type":"rag_ingest","collection":"kb","chunks":[)" + chunks + "]}";
}

// A seed for the simulator's `rate` faults under which its first request goes
// through and its second one gets the fault (the sim's own FaultPlan decides).
std::uint64_t seed_second_request_faults() {
  for (std::uint64_t seed = 1; seed < 10'000; ++seed) {
    sim::detail::FaultPlan plan;
    EXPECT_TRUE(plan.set("hang", std::nullopt, 0.5, seed).ok());
    if (plan.next() == sim::detail::FaultMode::none && plan.next() == sim::detail::FaultMode::hang) return seed;
  }
  ADD_FAILURE() << "no such seed";
  return 0;
}

TEST_F(JobServiceTest, RetrievalJobsAreRefusedAtSubmitWhenThereIsNoRetrievalStore) {
  start_service();
  for (std::string_view body : {std::string_view(R"({"task_type":"rag_ingest","collection":"kb","text":"Lunch."})"),
                                std::string_view(R"({"task_type":"rag","collection":"kb","question":"When?"})")}) {
    auto submitted = run(service_->submit(principal_, parsed_job(body), std::nullopt, "req-rag"));
    ASSERT_FALSE(submitted.ok()) << body;
    EXPECT_EQ(submitted.error().code, ErrorCode::unavailable);
    EXPECT_EQ(submitted.error().message, rag::retrieval_unavailable().message);
  }
  auto listed = job_store_->list("alpha", ListQuery{});
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->jobs.empty()) << "nothing stored";
  // A chat job whose task is "rag" is not a retrieval job.
  auto chat = run(service_->submit(
      principal_, parsed_job(R"({"task_type":"rag","prompt":"Summarise.","max_tokens":8})"), std::nullopt, "req-chat"));
  ASSERT_TRUE(chat.ok()) << chat.error().message;
  auto done = run(service_->get("alpha", chat->job.id, 10s));
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->status, JobStatus::succeeded);
  EXPECT_EQ(done->result.text, "Echo: Summarise.");
}

TEST_F(JobServiceTest, ARetrievalJobsBodyIsCheckedAtSubmitAndNothingBadIsStored) {
  enable_rag();
  start_service();
  auto too_many =
      run(service_->submit(principal_, parsed_job(R"({"task_type":"rag","collection":"kb","question":"q","top_k":51})"),
                           std::nullopt, "r1"));
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code, ErrorCode::invalid_request);
  const std::string big = std::string(static_cast<std::size_t>(config_.rag.max_document_bytes) + 1, 'a');
  auto too_big = run(
      service_->submit(principal_, parsed_job(R"({"task_type":"rag_ingest","collection":"kb","text":")" + big + "\"}"),
                       std::nullopt, "r2"));
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().code, ErrorCode::payload_too_large);
  auto bad_collection = run(service_->submit(
      principal_, parsed_job(R"({"task_type":"rag_ingest","collection":"no spaces","text":"x"})"), std::nullopt, "r3"));
  ASSERT_FALSE(bad_collection.ok());
  EXPECT_EQ(bad_collection.error().code, ErrorCode::invalid_request);
  auto listed = job_store_->list("alpha", ListQuery{});
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->jobs.empty());
  EXPECT_TRUE(sim_->requests().empty()) << "no provider was called";
}

TEST_F(JobServiceTest, ARagIngestJobShowsItsProgressWhileItRunsAndStoresAQueryableDocument) {
  enable_rag();
  // The first embedding call (chunks 0-31) answers, the second hangs: the job is caught half way.
  ASSERT_TRUE(sim_->set_fault("hang", std::nullopt, 0.5, seed_second_request_faults()).ok());
  start_service();
  auto submitted = run(service_->submit(principal_, parsed_job(handbook(40)), std::nullopt, "req-ingest"));
  ASSERT_TRUE(submitted.ok()) << submitted.error().message;
  const std::string id = submitted->job.id;
  EXPECT_EQ(submitted->job.classification, Level::INTERNAL);

  std::optional<JobProgress> seen;
  ASSERT_TRUE(eventually([&] {
    auto job = run(service_->get("alpha", id, 0ms));
    if (job.ok() && job->progress && job->progress->embeddings_done == 32) seen = job->progress;
    return seen.has_value();
  })) << "no progress at 32 of 40";
  EXPECT_EQ(seen->chunks_total, 40);
  EXPECT_EQ(seen->embeddings_total, 40);
  EXPECT_FALSE(stored(id).progress.has_value()) << "progress is the running process's, never stored";
  auto page = run(service_->list("alpha", ListQuery{}));
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->jobs.size(), 1u);
  ASSERT_TRUE(page->jobs[0].progress.has_value()) << "a list shows it too";
  EXPECT_EQ(page->jobs[0].progress->embeddings_done, 32);

  auto cancelled = run(service_->cancel("alpha", id));
  ASSERT_TRUE(cancelled.ok()) << cancelled.error().message;
  EXPECT_EQ(cancelled->status, JobStatus::cancelled);
  EXPECT_EQ(rag_store_->chunk_count().value(), 0) << "a cancelled ingest stores nothing";

  // Without the fault the same job runs through; its result is the document, which a query finds.
  ASSERT_TRUE(sim_->set_fault("none", std::nullopt, std::nullopt).ok());
  auto again = run(service_->submit(principal_, parsed_job(handbook(40)), std::nullopt, "req-ingest-2"));
  ASSERT_TRUE(again.ok()) << again.error().message;
  auto done = run(service_->get("alpha", again->job.id, 10s));
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->status, JobStatus::succeeded) << done->error.type << ": " << done->error.message;
  EXPECT_FALSE(done->progress.has_value()) << "a finished job's result says what was done";
  const auto result = result_json(*done);
  const auto& document = result.at("document").as_object();
  const std::string document_id(document.at("document_id").as_string());
  EXPECT_EQ(document.at("classification"), "INTERNAL");
  ASSERT_EQ(document.at("chunks").as_array().size(), 40u);
  EXPECT_EQ(document.at("chunks").as_array()[39].at("index"), 39);
  EXPECT_FALSE(result.contains("aegis_result"));
  auto got = rag_store_->get_document("alpha", document_id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->chunks.size(), 40u);
  rag::QueryRequest query{"kb", "Paragraph 7 of the parking handbook.", 1, {}};
  auto found = run(rag_->query(rag::RagCaller{&principal_, "req-query"}, std::move(query)));
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_EQ(found->hits.size(), 1u);
  EXPECT_EQ(found->hits[0].document_id, document_id);
  // Its calls are audited under the job's id: the ingest's row, and the embedding calls'.
  ASSERT_TRUE(eventually([&] {
    for (const auto& row : audit_rows_of(again->job.id)) {
      if (row.surface == "rag.ingest" && row.task == "rag_ingest") return true;
    }
    return false;
  }));
}

TEST_F(JobServiceTest, ARagJobAnswersFromTheCollectionAsTheRouteDoes) {
  enable_rag();
  start_service();
  rag::IngestRequest ingest;
  ingest.collection = "kb";
  ingest.text = "The cafeteria serves lunch at noon on the third floor.";
  auto doc = run(rag_->ingest(rag::RagCaller{&principal_, "req-doc"}, std::move(ingest)));
  ASSERT_TRUE(doc.ok()) << doc.error().message;

  auto submitted = run(service_->submit(
      principal_,
      parsed_job(R"({"task_type":"rag","collection":"kb","question":"When is lunch?","top_k":1,"max_tokens":200,
                     "metadata":{"ticket":"T-9"}})"),
      std::nullopt, "req-rag-job"));
  ASSERT_TRUE(submitted.ok()) << submitted.error().message;
  auto done = run(service_->get("alpha", submitted->job.id, 10s));
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->status, JobStatus::succeeded) << done->error.type << ": " << done->error.message;
  EXPECT_EQ(done->route.provider, "local");
  EXPECT_EQ(done->metadata_json, R"({"ticket":"T-9"})");

  const auto result = result_json(*done);
  ASSERT_EQ(result.at("chunk_ids").as_array().size(), 1u);
  EXPECT_EQ(result.at("chunk_ids").as_array()[0].as_string(), doc->chunks.at(0).id);
  EXPECT_EQ(result.at("provider"), "local");
  EXPECT_EQ(result.at("model"), "qwen2.5:14b");
  EXPECT_GT(result.at("usage").at("output_tokens").as_int64(), 0);

  // The route's answer to the same question is the same text (the simulator echoes the prompt).
  gateway::CallContext context;
  rag::AnswerRequest same{"kb", "When is lunch?", 1, 200};
  auto direct = run(rag_->answer(rag::RagCaller{&principal_, "req-direct"}, std::move(same), context));
  ASSERT_TRUE(direct.ok()) << direct.error().message;
  EXPECT_EQ(result.at("text").as_string(), direct->completion.text);
  EXPECT_NE(direct->completion.text.find("lunch at noon"), std::string::npos);

  // The answer's call is audited in the job's own transaction, under its id, with the retrieval's rows beside it.
  const auto rows = audit_rows_of(done->id);
  bool answer_row = false;
  for (const auto& row : rows)
    answer_row = answer_row || (row.surface == "rag.answer" && row.task == "rag" && row.status == 200);
  EXPECT_TRUE(answer_row) << rows.size() << " rows";
  EXPECT_EQ(budgets_->remaining("alpha", principal_.monthly_budget), principal_.monthly_budget)
      << "the reservation held since submit was settled";
}

TEST_F(JobServiceTest, ARagJobRetrievesUnderItsKeysClearanceAsItIsWhenTheJobRuns) {
  enable_rag();
  ASSERT_TRUE(store_->create_key(key_record("key-public", Level::PUBLIC)).ok());
  start_service();
  for (const auto& [text, level] : {std::pair{"The cafeteria serves lunch at noon.", Level::PUBLIC},
                                    std::pair{"The acquisition of Northwind closes in March.", Level::CONFIDENTIAL}}) {
    rag::IngestRequest ingest;
    ingest.collection = "kb";
    ingest.text = text;
    ingest.declared = level;
    ASSERT_TRUE(run(rag_->ingest(rag::RagCaller{&principal_, "req-doc"}, std::move(ingest))).ok());
  }
  const std::string question =
      R"({"task_type":"rag","collection":"kb","question":"When does the acquisition close?","top_k":5,"max_tokens":64})";
  // The team may read CONFIDENTIAL; this key only PUBLIC.
  identity::Principal narrowed{"alpha", "key-public", Level::PUBLIC, principal_.monthly_budget};
  auto submitted = run(service_->submit(narrowed, parsed_job(question), std::nullopt, "req-narrow"));
  ASSERT_TRUE(submitted.ok()) << submitted.error().message;
  auto done = run(service_->get("alpha", submitted->job.id, 10s));
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->status, JobStatus::succeeded) << done->error.message;
  const auto result = result_json(*done);
  ASSERT_EQ(result.at("chunk_ids").as_array().size(), 1u) << "only the PUBLIC chunk";
  EXPECT_EQ(std::string(result.at("text").as_string()).find("Northwind"), std::string::npos);
  for (const auto& request : sim_->requests()) {
    if (request.path.find("chat") == std::string::npos) continue;  // embeddings (the ingest's own)
    EXPECT_EQ(request.body.find("Northwind"), std::string::npos) << "the model never saw the CONFIDENTIAL chunk";
  }

  // The team's own key reads both.
  auto full = run(service_->submit(principal_, parsed_job(question), std::nullopt, "req-full"));
  ASSERT_TRUE(full.ok());
  auto full_done = run(service_->get("alpha", full->job.id, 10s));
  ASSERT_TRUE(full_done.ok());
  ASSERT_EQ(full_done->status, JobStatus::succeeded);
  EXPECT_EQ(result_json(*full_done).at("chunk_ids").as_array().size(), 2u);

  // A key revoked after the job was submitted (here: before it runs) retrieves nothing.
  ASSERT_TRUE(store_->revoke_key("key-public", now_ms()).ok());
  auto late = run(service_->submit(narrowed, parsed_job(question), std::nullopt, "req-late"));
  ASSERT_TRUE(late.ok());
  auto refused = run(service_->get("alpha", late->job.id, 10s));
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, JobStatus::failed);
  EXPECT_EQ(refused->error.type, "permission_denied");
}

}  // namespace
}  // namespace aegis::jobs
