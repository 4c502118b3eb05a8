// Durable submit throughput of the embedded job store (issue 6 targets
// >= 5,000 durable submits/s). Each benchmark writes to a fresh SQLite file
// in $AEGIS_BENCH_DIR (default: the system temp directory) — put that on the
// disk the gateway will use, since the cost is mostly the sync per commit.
//
// Args: {jobs per transaction, sync_every_commit}. items_per_second is jobs
// durably stored per second; batch 1 is one transaction per submit.
//
// BM_JobSubmitPostgres does the same against the shared job store, in a
// schema of its own on the server named by $AEGIS_BENCH_POSTGRES_DSN (for
// example `bash scripts/postgres start DIR` and DIR/dsn); skipped without it.
#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/process_env.hpp"
#include "jobs/postgres/postgres_job_store.hpp"
#include "jobs/sqlite/sqlite_job_store.hpp"

namespace {

namespace fs = std::filesystem;
using aegis::jobs::Job;
using aegis::jobs::SqliteJobStore;

class BenchDir {
 public:
  BenchDir() {
    static std::atomic<int> counter{0};
    const char* base = aegis::core::env_value("AEGIS_BENCH_DIR");
    path_ = fs::path(base && *base ? base : fs::temp_directory_path().string()) /
            ("aegis-job-bench-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~BenchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string db() const { return (path_ / "aegis.db").string(); }

 private:
  fs::path path_;
};

// A realistic small request: the stored row is ~0.5 KB.
Job make_job(std::int64_t created_at_ms) {
  Job j;
  j.id = aegis::jobs::new_job_id(created_at_ms);
  j.team = "bench-team";
  j.key_id = "0123456789abcdef";
  j.task_type = "summarize";
  j.request_json =
      R"({"messages":[{"role":"user","content":"Summarise the attached meeting notes for the quarterly review: )"
      R"(revenue is up 4%, churn is flat, two hires pending in the platform team, and the migration to the )"
      R"(new billing provider slips to next month."}],"max_tokens":256,"metadata":{"ticket":"OPS-1234"}})";
  j.vault_json = R"({"PERSON_1":"Jane Doe"})";
  j.classification = aegis::Level::INTERNAL;
  j.max_attempts = 3;
  j.created_at_ms = created_at_ms;
  j.reservation_id = 42;
  return j;
}

// Content is sealed with AES-256-GCM as in production (jobs.encryption).
std::shared_ptr<const aegis::jobs::PayloadCipher> bench_cipher() {
  aegis::jobs::ContentKey key{"bench", {}};
  key.bytes.fill(0x5a);
  return std::make_shared<const aegis::jobs::PayloadCipher>(std::vector{key}, "bench");
}

void BM_JobSubmitDurable(benchmark::State& state) {
  const auto batch_size = static_cast<std::size_t>(state.range(0));
  BenchDir dir;
  aegis::jobs::SqliteJobStoreOptions options;
  options.cipher = bench_cipher();
  options.max_queue_depth = 1'000'000'000;  // nothing claims here: the queue only grows
  options.sync_every_commit = state.range(1) != 0;
  SqliteJobStore store(dir.db(), options);
  std::int64_t now = 1'700'000'000'000;
  std::vector<Job> batch;
  batch.reserve(batch_size);
  for ([[maybe_unused]] auto _ : state) {
    if (batch_size == 1) {
      auto r = store.submit(make_job(++now));
      if (!r.ok()) {
        state.SkipWithError(r.error().message.c_str());
        break;
      }
      continue;
    }
    batch.clear();
    for (std::size_t i = 0; i < batch_size; ++i) batch.push_back(make_job(++now));
    auto r = store.submit_batch(batch);
    if (!r.ok()) {
      state.SkipWithError(r.error().message.c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(batch_size));
  state.counters["batch"] = static_cast<double>(batch_size);
}
BENCHMARK(BM_JobSubmitDurable)
    ->ArgNames({"batch", "fsync"})
    ->Args({1, 1})
    ->Args({64, 1})
    ->Args({512, 1})
    ->Args({1, 0})
    ->Args({64, 0})
    ->Args({512, 0})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// A schema of its own on the bench server, dropped afterwards.
class BenchSchema {
 public:
  explicit BenchSchema(std::string base) : base_(std::move(base)) {
    static std::atomic<int> counter{0};
    name_ = "job_bench_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    ok_ = exec("DROP SCHEMA IF EXISTS " + name_ + " CASCADE; CREATE SCHEMA " + name_);
  }
  ~BenchSchema() { (void)exec("DROP SCHEMA IF EXISTS " + name_ + " CASCADE"); }
  bool ok() const { return ok_; }
  std::string dsn() const { return base_ + " options='-c search_path=" + name_ + "'"; }

 private:
  bool exec(const std::string& sql) const {
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(base_.c_str()), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK) return false;
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn.get(), sql.c_str()), &PQclear);
    return r && PQresultStatus(r.get()) == PGRES_COMMAND_OK;
  }
  std::string base_;
  std::string name_;
  bool ok_ = false;
};

void BM_JobSubmitPostgres(benchmark::State& state) {
  const char* base = aegis::core::env_value("AEGIS_BENCH_POSTGRES_DSN");
  if (base == nullptr || *base == '\0') {
    state.SkipWithError("set AEGIS_BENCH_POSTGRES_DSN to a PostgreSQL 15 server");
    return;
  }
  BenchSchema schema(base);
  if (!schema.ok()) {
    state.SkipWithError("cannot create the bench schema");
    return;
  }
  const auto batch_size = static_cast<std::size_t>(state.range(0));
  aegis::jobs::PostgresJobStoreOptions options;
  options.cipher = bench_cipher();
  options.max_queue_depth = 1'000'000'000;
  aegis::jobs::PostgresJobStore store(schema.dsn(), options);
  std::int64_t now = 1'700'000'000'000;
  std::vector<Job> batch;
  batch.reserve(batch_size);
  for ([[maybe_unused]] auto _ : state) {
    batch.clear();
    for (std::size_t i = 0; i < batch_size; ++i) batch.push_back(make_job(++now));
    std::string failed;
    if (batch_size == 1) {
      if (auto r = store.submit(batch.front()); !r.ok()) failed = r.error().message;
    } else if (auto r = store.submit_batch(batch); !r.ok()) {
      failed = r.error().message;
    }
    if (!failed.empty()) {
      state.SkipWithError(failed.c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(batch_size));
  state.counters["batch"] = static_cast<double>(batch_size);
}
BENCHMARK(BM_JobSubmitPostgres)
    ->ArgName("batch")
    ->Arg(1)
    ->Arg(64)
    ->Arg(512)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// Claim + complete, one job at a time: the worker side of a queue of 10,000.
void BM_JobClaimComplete(benchmark::State& state) {
  BenchDir dir;
  aegis::jobs::SqliteJobStoreOptions options;
  options.cipher = bench_cipher();
  options.max_queue_depth = 1'000'000'000;
  SqliteJobStore store(dir.db(), options);
  std::int64_t now = 1'700'000'000'000;
  auto refill = [&] {
    std::vector<Job> jobs;
    jobs.reserve(10'000);
    for (int i = 0; i < 10'000; ++i) jobs.push_back(make_job(++now));
    return store.submit_batch(jobs).ok();
  };
  if (!refill()) {
    state.SkipWithError("submit failed");
    return;
  }
  aegis::jobs::Completion done;
  done.result.text = "a short summary";
  for ([[maybe_unused]] auto _ : state) {
    auto claimed = store.claim("bench-worker", ++now, 60'000, 1);
    if (!claimed.ok()) {
      state.SkipWithError(claimed.error().message.c_str());
      break;
    }
    if (claimed->empty()) {
      state.PauseTiming();
      const bool ok = refill();
      state.ResumeTiming();
      if (!ok) {
        state.SkipWithError("refill failed");
        break;
      }
      continue;
    }
    done.finished_at_ms = now;
    if (!store.complete(claimed->front().id, "bench-worker", done).ok()) {
      state.SkipWithError("complete failed");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_JobClaimComplete)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
