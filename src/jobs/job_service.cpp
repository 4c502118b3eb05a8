#include "jobs/job_service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include "jobs/job_result.hpp"
#include "jobs/submit_batcher.hpp"
#include "telemetry/log.hpp"

namespace aegis::jobs {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

// A reservation taken at submit also has to last while the job waits and runs.
constexpr std::chrono::hours kRunAllowance{1};
constexpr int kMaxClaimBatch = 64;
constexpr std::chrono::milliseconds kIdleClaimInterval{250};
constexpr std::chrono::seconds kMaintenanceInterval{1};
constexpr int kExpireEveryTicks = 5;
constexpr int kPurgeEveryTicks = 60;

// A counting semaphore: a channel's buffer slots are the permits.
using Slots = asio::experimental::concurrent_channel<void(boost::system::error_code)>;

std::string worker_owner() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  // The random part keeps owners unique across restarts of the same pid.
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + new_job_id(0).substr(16, 12);
}

std::vector<double> job_seconds_buckets() {
  return {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600};
}

struct Held {
  budget::ReservationId id;
  Money estimate;
  Money cap;
  std::string team;
};

struct Running {
  bool cancelled = false;
  std::shared_ptr<asio::steady_timer> lease_timer;  // wakes keep_lease when a cancel arrives
  std::optional<JobProgress> progress;              // a rag_ingest job's, once it has reported
};

// A run's audit row on its way to the job store, which commits it with the
// job's outcome. Whoever drops it unrecorded (the run lost the race to a
// cancel or a lost lease, or was torn down) hands it to the audit sink, so no
// path loses the record of a provider call.
class PendingRow {
 public:
  PendingRow() = default;
  explicit PendingRow(audit::AuditSink& sink) : sink_(&sink) {}
  PendingRow(PendingRow&& other) noexcept : sink_(other.sink_), row_(std::exchange(other.row_, std::nullopt)) {}
  PendingRow& operator=(PendingRow&& other) noexcept {
    if (this != &other) {
      flush();
      sink_ = other.sink_;
      row_ = std::exchange(other.row_, std::nullopt);
    }
    return *this;
  }
  ~PendingRow() { flush(); }

  // Where the gateway delivers the row (CallContext::audit_row_out).
  std::optional<audit::AuditRecord>* slot() { return &row_; }
  // The caller now owns the row.
  std::optional<audit::AuditRecord> take() { return std::exchange(row_, std::nullopt); }

 private:
  void flush() {
    if (row_ && sink_) sink_->record(std::move(*row_));
    row_.reset();
  }
  audit::AuditSink* sink_ = nullptr;
  std::optional<audit::AuditRecord> row_;
};

// What one execution of a job produced (default-constructible: awaitable operators need it).
struct Execution {
  std::optional<Error> error;
  gateway::Route route;
  aegis::Completion completion;
  Money cost;
  PendingRow audit;  // empty when the run never reached the gateway
};

enum class LeaseEnd { cancelled, lost };

// Wakes whoever waits on a timer shared across threads: the cancel runs on the
// timer's own executor (its strand), never concurrently with the wait.
// Expiring the timer, not cancelling it: a long-poll woken while it still
// reads the job (before its wait starts) must not then sleep its whole wait;
// cancel() would reach no pending wait and be lost, an expired timer's wait
// completes at once.
void wake(std::shared_ptr<asio::steady_timer> timer) {
  auto executor = timer->get_executor();
  asio::post(executor, [timer = std::move(timer)] { timer->expires_at(asio::steady_timer::time_point::min()); });
}

// What the gateway is told about a job, at submit and when it runs: the same facts both times.
gateway::CallContext job_context(const identity::Principal& principal, const JobRequest& request,
                                 std::string request_id) {
  gateway::CallContext context;
  context.principal = &principal;
  context.surface = "jobs";
  context.request_id = std::move(request_id);
  context.task = request.task_type;
  context.marked_public = request.marked_public();
  context.minimum_level = request.minimum_level();
  return context;
}

}  // namespace

struct JobService::State : std::enable_shared_from_this<JobService::State> {
  State(JobServiceDeps d, asio::io_context& context)
      : deps(d),
        io(context),
        batcher(d.store),
        owner(worker_owner()),
        dispatcher_strand(asio::make_strand(context)),
        dispatcher_timer(dispatcher_strand),
        maintenance_strand(asio::make_strand(context)),
        maintenance_timer(maintenance_strand),
        jobs_gauge(d.metrics.gauge("aegis_jobs", "Jobs in the store by status", {"status"})),
        queue_wait(d.metrics.histogram("aegis_job_queue_wait_seconds", "Time from submit to a worker claiming the job",
                                       {}, job_seconds_buckets())),
        run_time(d.metrics.histogram("aegis_job_run_seconds", "Time a worker spent running a job, per attempt", {},
                                     job_seconds_buckets())),
        retries(d.metrics.counter("aegis_job_retries_total",
                                  "Jobs claimed again after a worker was lost (attempt 2 and later)")),
        waiting(d.metrics.gauge("aegis_job_waiters", "Requests waiting for their job to finish (GET ?wait=)", {})
                    .with({})) {
    retries.with({}).inc(0);
    for (std::size_t i = 0; i < kJobStatusCount; ++i) {
      jobs_gauge.with({to_string(static_cast<JobStatus>(i))}).set(0);
    }
    for (const auto* provider : deps.gateway.providers().ordered()) {
      const auto& name = provider->info().name;
      auto it = deps.config.provider_concurrency_overrides.find(name);
      const int limit =
          it != deps.config.provider_concurrency_overrides.end() ? it->second : deps.config.provider_concurrency;
      slots.emplace(name, std::make_shared<Slots>(io.get_executor(), static_cast<std::size_t>(limit)));
    }
  }

  JobServiceDeps deps;
  asio::io_context& io;
  store::DbExecutor db{1};  // job store calls; the store serialises them anyway
  SubmitBatcher batcher;
  const std::string owner;
  asio::strand<asio::io_context::executor_type> dispatcher_strand;
  asio::steady_timer dispatcher_timer;
  asio::strand<asio::io_context::executor_type> maintenance_strand;
  asio::steady_timer maintenance_timer;
  std::atomic<bool> stopping{false};
  std::atomic<bool> wake_pending{false};
  std::map<std::string, std::shared_ptr<Slots>> slots;  // per provider; fixed after construction

  std::mutex mu;
  int in_flight = 0;
  std::map<std::string, Running> running;
  std::multimap<std::string, std::shared_ptr<asio::steady_timer>> waiters;
  std::map<std::string, Held> held;

  telemetry::GaugeFamily& jobs_gauge;
  telemetry::HistogramFamily& queue_wait;
  telemetry::HistogramFamily& run_time;
  telemetry::CounterFamily& retries;
  telemetry::Gauge& waiting;

  std::int64_t now_ms() const { return deps.clock.wall_ms(); }
  std::int64_t lease_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deps.config.lease).count();
  }

  void wake_dispatcher() {
    wake_pending = true;
    auto self = shared_from_this();
    asio::post(dispatcher_strand, [self] { self->dispatcher_timer.cancel(); });
  }

  // Long-polls waiting on this job (every job when `id` is null) re-read it now.
  void notify(const std::string* id) {
    std::vector<std::shared_ptr<asio::steady_timer>> timers;
    {
      std::lock_guard lock(mu);
      auto [first, last] = id ? waiters.equal_range(*id) : std::make_pair(waiters.begin(), waiters.end());
      for (auto it = first; it != last; ++it) timers.push_back(it->second);
    }
    for (auto& timer : timers) wake(std::move(timer));
  }
  void notify(const std::string& id) { notify(&id); }

  // The reservation taken at submit, if this process still holds it.
  std::optional<Held> take_held(const std::string& id) {
    std::lock_guard lock(mu);
    auto it = held.find(id);
    if (it == held.end()) return std::nullopt;
    Held h = std::move(it->second);
    held.erase(it);
    return h;
  }

  void release_held(const std::string& id) {
    if (auto h = take_held(id)) deps.budgets.release(h->id, h->team, h->cap);
  }

  // Stages 2-5 for a chat or rag job (a rag job's on the answer's prompt
  // before retrieval; the caller checked that the RagService exists); the
  // reservation lasts while it may wait and run.
  asio::awaitable<Result<gateway::JobAdmission>> admit(const identity::Principal& principal, const JobRequest& request,
                                                       std::string request_id) {
    const auto hold = std::chrono::duration_cast<std::chrono::nanoseconds>(deps.config.queue_ttl + kRunAllowance);
    if (request.kind == JobKind::chat) {
      co_return co_await deps.gateway.admit_job(job_context(principal, request, std::move(request_id)), request.chat,
                                                hold);
    }
    const ChatRequest chat = deps.rag->admission_request(request.answer);
    auto admitted = co_await deps.gateway.admit_job(job_context(principal, request, std::move(request_id)), chat, hold);
    // Nothing from it is sent: the run masks the prompt it assembles after retrieval.
    if (admitted.ok()) admitted->vault_json.clear();
    co_return admitted;
  }

  // The provider the job will most likely be sent to, whose concurrency slot it takes.
  std::shared_ptr<Slots> slot_for(const identity::Principal& principal, const JobRequest& request, Level level) {
    const auto context = job_context(principal, request, std::string());
    const std::string model = request.kind == JobKind::chat ? request.chat.model : std::string("auto");
    auto it = slots.find(deps.gateway.likely_provider(context, model, level));
    return it == slots.end() ? nullptr : it->second;
  }

  // A rag_ingest job's progress, for GET while it runs.
  void set_progress(const std::string& id, const rag::IngestProgress& p) {
    std::lock_guard lock(mu);
    auto it = running.find(id);
    if (it == running.end()) return;
    it->second.progress =
        JobProgress{static_cast<std::int64_t>(p.chunks), static_cast<std::int64_t>(p.embeddings_total),
                    static_cast<std::int64_t>(p.embeddings_done)};
  }

  // The progress this process holds for a job it is running.
  void add_progress(Job& job) {
    if (job.status != JobStatus::running || job.task_type != "rag_ingest") return;
    std::lock_guard lock(mu);
    auto it = running.find(job.id);
    if (it != running.end()) job.progress = it->second.progress;
  }
  Result<Job> with_progress(Result<Job> job) {
    if (job.ok()) add_progress(*job);
    return job;
  }

  asio::awaitable<Execution> execute(Job job);
  asio::awaitable<Execution> execute_rag(const Job& job, JobRequest& request, const identity::Principal& principal);
  asio::awaitable<LeaseEnd> keep_lease(std::string id);
  asio::awaitable<void> run_job(Job job);
  asio::awaitable<void> dispatch_loop();
  asio::awaitable<void> maintenance_loop();
  void settle_expired(const std::vector<Job>& jobs);

  // Start-up: budget reservations live in memory, so the holds of jobs still
  // queued are taken again, as at submit. A job whose team can no longer
  // afford it keeps its place and meets the ordinary preflight when it runs.
  // Not with a ledger shared by replicas: every replica would hold every
  // queued job again; there the replica that runs a job reserves for it then.
  void restore_holds() {
    if (deps.budgets.ledger().shared()) return;
    // Admission is a coroutine; a local context runs it (nothing else runs yet).
    asio::io_context local;
    std::exception_ptr failed;
    asio::co_spawn(local, restore_holds_now(), [&failed](std::exception_ptr e) { failed = std::move(e); });
    local.run();
    if (failed) std::rethrow_exception(failed);
  }

  asio::awaitable<void> restore_holds_now() {
    auto teams = deps.teams.list_teams();
    if (!teams.ok()) throw std::runtime_error("cannot list teams: " + teams.error().message);
    std::size_t restored = 0;
    std::size_t unaffordable = 0;
    for (const auto& team : *teams) {
      ListQuery query;
      query.status = JobStatus::queued;
      query.limit = 1000;
      for (;;) {
        auto page = deps.store.list(team.name, query);
        if (!page.ok()) throw std::runtime_error("cannot list queued jobs: " + page.error().message);
        for (const auto& job : page->jobs) {
          auto request = parse_stored_job_request(job.request_json);
          if (!request.ok()) continue;  // the run fails it with a clear error
          // An ingest holds nothing; a rag job without a RagService fails when it runs.
          if (request->kind == JobKind::rag_ingest || (request->kind == JobKind::rag && deps.rag == nullptr)) continue;
          identity::Principal principal{team.name, job.key_id, team.clearance, team.monthly_budget};
          principal.response_cache_ttl_s = team.response_cache_ttl_s;
          auto admission = co_await admit(principal, *request, job.id);
          if (!admission.ok() || !admission->reservation) {
            ++unaffordable;
            continue;
          }
          held[job.id] = Held{*admission->reservation, admission->estimate, team.monthly_budget, team.name};
          ++restored;
        }
        if (!page->next_cursor) break;
        query.cursor = *page->next_cursor;
      }
    }
    if (restored + unaffordable > 0) {
      telemetry::log(telemetry::LogLevel::info, "job_holds_restored",
                     {{"restored", restored}, {"not_affordable", unaffordable}});
    }
  }
};

namespace {

// Gives back a provider slot and a still-unadopted reservation however the
// execution ends (including cancellation, which unwinds by exception).
class ExecutionGuard {
 public:
  ExecutionGuard(JobService::State& state, gateway::CallContext& context, Money cap, std::string team)
      : state_(state), context_(context), cap_(cap), team_(std::move(team)) {}
  ExecutionGuard(const ExecutionGuard&) = delete;
  ExecutionGuard& operator=(const ExecutionGuard&) = delete;
  ~ExecutionGuard() {
    if (slot_) slot_->try_receive([](boost::system::error_code) {});
    if (context_.held_reservation) state_.deps.budgets.release(*context_.held_reservation, team_, cap_);
  }
  void hold_slot(std::shared_ptr<Slots> slot) { slot_ = std::move(slot); }

 private:
  JobService::State& state_;
  gateway::CallContext& context_;
  Money cap_;
  std::string team_;
  std::shared_ptr<Slots> slot_;
};

Error stored_request_unreadable() {
  return make_error(ErrorCode::internal, "the stored job request could not be read");
}

}  // namespace

asio::awaitable<Execution> JobService::State::execute(Job job) {
  Execution out;
  if (job.content_error) {  // a wrong or missing key: the store has logged which
    out.error = make_error(ErrorCode::internal, *job.content_error);
    co_return out;
  }
  auto request = parse_stored_job_request(job.request_json);
  if (!request.ok()) {
    out.error = stored_request_unreadable();
    co_return out;
  }
  const std::string team_name = job.team;
  auto lookup = [this, &team_name] { return deps.teams.get_team(team_name); };
  auto team = co_await deps.team_db.run(lookup);
  if (!team.ok()) {
    out.error = team.error().code == ErrorCode::not_found
                    ? make_error(ErrorCode::forbidden, "the job's team no longer exists")
                    : team.error();
    co_return out;
  }
  identity::Principal principal;
  principal.team = job.team;
  principal.key_id = job.key_id;
  principal.clearance = team->clearance;
  principal.monthly_budget = team->monthly_budget;
  if (request->kind != JobKind::chat) co_return co_await execute_rag(job, *request, principal);
  // The key's model allow-list and sub-budget as they are now (issue 19), as
  // the authenticator would give them: the run routes within the list, and a
  // run without its submit-time hold reserves against the key's budget too.
  if (deps.keys != nullptr) {
    const std::string key_id = job.key_id;
    auto read_key = [this, &key_id] { return deps.keys->get_key(key_id); };
    auto key = co_await deps.team_db.run(read_key);
    if (key.ok() && key->team == job.team) {
      if (key->models) principal.models = std::make_shared<const std::vector<std::string>>(std::move(*key->models));
      principal.key_monthly_budget = key->monthly_budget;
    }
  }

  privacy::Vault vault;
  if (!job.vault_json.empty()) {
    auto restored = privacy::Vault::from_json(job.vault_json);
    if (!restored.ok()) {
      out.error = stored_request_unreadable();
      co_return out;
    }
    vault = std::move(restored).value();
  }

  // Declared before the context so it outlives the gateway call even when this frame is torn down.
  PendingRow audit(deps.audit);
  gateway::CallContext context = job_context(principal, *request, job.id);
  context.rate_limit = false;  // counted against the rate limits when it was submitted
  context.vault = &vault;
  context.audit_row_out = audit.slot();
  Money cap = principal.monthly_budget;
  if (auto h = take_held(job.id)) {
    context.held_reservation = h->id;
    context.held_estimate = h->estimate;
    cap = h->cap;  // the cap the reservation was made against
  }
  ExecutionGuard guard(*this, context, cap, job.team);

  if (auto slot = slot_for(principal, *request, job.classification)) {
    co_await slot->async_send(boost::system::error_code{}, asio::use_awaitable);
    guard.hold_slot(std::move(slot));
  }
  auto outcome = co_await deps.gateway.complete(context, std::move(request->chat));
  // The provider last tried, or, when none was (breakers open, no local provider
  // up), the route the router decided, so a failed job shows where it was meant to go.
  out.route = context.route.provider.empty() ? context.decided : context.route;
  out.cost = context.cost;
  out.audit = std::move(audit);
  if (outcome.ok()) {
    out.completion = std::move(outcome->completion);
  } else {
    out.error = std::move(outcome).error();
  }
  co_return out;
}

// A retrieval job: the same RagService calls as the routes, with the job's
// id as their request id. The answer's call adopts the reservation held since
// submit and hands its audit row to the job, like a chat job's call; the
// retrieval and embedding calls before it are audited as they happen.
asio::awaitable<Execution> JobService::State::execute_rag(const Job& job, JobRequest& request,
                                                          const identity::Principal& principal) {
  Execution out;
  if (deps.rag == nullptr) {
    out.error = rag::retrieval_unavailable();
    co_return out;
  }
  // The key's own clearance narrows the team's, as the authenticator does for
  // a route, read now: a key revoked or narrowed since submit retrieves under
  // what it is now allowed, or not at all.
  identity::Principal caller_principal = principal;
  if (deps.keys != nullptr) {
    const std::string key_id = job.key_id;
    auto lookup = [this, &key_id] { return deps.keys->get_key(key_id); };
    auto key = co_await deps.team_db.run(lookup);
    if (!key.ok() || key->team != job.team || key->revoked_at_ms) {
      out.error = key.ok() || key.error().code == ErrorCode::not_found
                      ? make_error(ErrorCode::forbidden, "the job's API key no longer exists or was revoked")
                      : key.error();
      co_return out;
    }
    caller_principal.clearance = std::min(principal.clearance, key->clearance.value_or(principal.clearance));
  }
  rag::RagCaller caller;
  caller.principal = &caller_principal;
  caller.request_id = job.id;
  if (request.kind == JobKind::rag_ingest) {
    rag::IngestProgress last;
    rag::IngestProgressFn report = [this, &last, id = job.id](const rag::IngestProgress& progress) {
      last = progress;
      set_progress(id, progress);
    };
    auto ingested = co_await deps.rag->ingest(std::move(caller), std::move(request.ingest), std::move(report));
    out.cost = last.cost;
    if (!ingested.ok()) {
      out.error = std::move(ingested).error();
      co_return out;
    }
    out.completion.text = rag_ingest_result_text(*ingested);
    out.completion.usage.input_tokens = last.input_tokens;
    co_return out;
  }

  // Declared before the context so it outlives the gateway call even when this frame is torn down.
  PendingRow audit(deps.audit);
  gateway::CallContext context = job_context(principal, request, job.id);
  context.rate_limit = false;  // counted against the rate limits when it was submitted
  context.audit_row_out = audit.slot();
  Money cap = principal.monthly_budget;
  if (auto h = take_held(job.id)) {
    context.held_reservation = h->id;
    context.held_estimate = h->estimate;
    cap = h->cap;
  }
  ExecutionGuard guard(*this, context, cap, job.team);
  if (auto slot = slot_for(principal, request, job.classification)) {
    co_await slot->async_send(boost::system::error_code{}, asio::use_awaitable);
    guard.hold_slot(std::move(slot));
  }
  auto answered = co_await deps.rag->answer(std::move(caller), std::move(request.answer), context);
  out.route = context.route.provider.empty() ? context.decided : context.route;
  out.cost = context.cost;
  out.audit = std::move(audit);
  if (!answered.ok()) {
    out.error = std::move(answered).error();
    co_return out;
  }
  std::string text = rag_answer_result_text(*answered);
  out.completion = std::move(answered->completion);
  out.completion.text = std::move(text);
  co_return out;
}

asio::awaitable<LeaseEnd> JobService::State::keep_lease(std::string id) {
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
  {
    std::lock_guard lock(mu);
    auto& entry = running[id];
    if (entry.cancelled) co_return LeaseEnd::cancelled;
    entry.lease_timer = timer;
  }
  const auto period = deps.lease_renewal.count() > 0
                          ? deps.lease_renewal
                          : std::max<std::chrono::milliseconds>(std::chrono::milliseconds(lease_ms() / 3),
                                                                std::chrono::milliseconds(500));
  for (;;) {
    timer->expires_after(period);
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    // The execution finished first: the awaitable operator cancels this branch.
    if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) {
      co_return LeaseEnd::lost;
    }
    {
      std::lock_guard lock(mu);
      if (running[id].cancelled) co_return LeaseEnd::cancelled;
    }
    const std::int64_t now = now_ms();
    auto renew = [this, &id, now] { return deps.store.renew(id, owner, now, lease_ms()); };
    auto renewed = co_await db.run(renew);
    if (!renewed.ok() &&
        (renewed.error().code == ErrorCode::conflict || renewed.error().code == ErrorCode::not_found)) {
      co_return LeaseEnd::lost;  // cancelled by another replica, or requeued: someone else owns it now
    }
  }
}

asio::awaitable<void> JobService::State::run_job(Job job) {
  auto self = shared_from_this();  // the frame may outlive JobService during shutdown
  struct Slot {
    JobService::State& state;
    std::string id;
    ~Slot() {
      std::lock_guard lock(state.mu);
      --state.in_flight;
      state.running.erase(id);
    }
  } slot{*this, job.id};

  const std::int64_t claimed_at = now_ms();
  queue_wait.with({}).observe(static_cast<double>(std::max<std::int64_t>(0, claimed_at - job.created_at_ms)) / 1000.0);
  if (job.attempts > 1) retries.with({}).inc();
  const auto started = deps.clock.steady_now();

  auto raced = co_await (execute(job) || keep_lease(job.id));
  run_time.with({}).observe(std::chrono::duration<double>(deps.clock.steady_now() - started).count());

  if (raced.index() == 0) {
    Execution& done = std::get<0>(raced);
    JobRoute route{done.route.tier ? std::string(to_string(*done.route.tier)) : "", done.route.provider,
                   done.route.model, done.route.reason};
    const std::int64_t finished = now_ms();
    Result<Job> recorded = make_error(ErrorCode::internal, "not recorded");
    if (!done.error) {
      jobs::Completion completion;
      completion.route = std::move(route);
      completion.result.text = std::move(done.completion.text);
      completion.result.input_tokens = done.completion.usage.input_tokens;
      completion.result.output_tokens = done.completion.usage.output_tokens;
      completion.result.cache_read_tokens = done.completion.usage.cache_read_tokens;
      completion.result.cache_write_tokens = done.completion.usage.cache_write_tokens;
      completion.result.cost = done.cost;
      completion.finished_at_ms = finished;
      completion.audit = done.audit.take();
      auto record = [this, &job, &completion] { return deps.store.complete(job.id, owner, completion); };
      recorded = co_await db.run(record);
      // Refused (cancelled meanwhile, lease lost) or failed: the provider call still happened.
      if (!recorded.ok() && completion.audit) deps.audit.record(std::move(*completion.audit));
    } else {
      Failure failure;
      failure.route = std::move(route);
      failure.error = JobError{std::string(error_type(done.error->code)), done.error->message};
      failure.finished_at_ms = finished;
      failure.audit = done.audit.take();
      auto record = [this, &job, &failure] { return deps.store.fail(job.id, owner, failure); };
      recorded = co_await db.run(record);
      if (!recorded.ok() && failure.audit) deps.audit.record(std::move(*failure.audit));
    }
    if (!recorded.ok() && recorded.error().code != ErrorCode::conflict) {
      // The lease stays; the job is requeued by the next start (or lease expiry) and runs again.
      telemetry::log(telemetry::LogLevel::error, "job_record_failed",
                     {{"job", job.id}, {"error", recorded.error().message}});
    }
  }
  notify(job.id);
  if (!stopping) wake_dispatcher();
}

asio::awaitable<void> JobService::State::dispatch_loop() {
  auto self = shared_from_this();
  while (!stopping) {
    int free = 0;
    {
      std::lock_guard lock(mu);
      free = deps.config.workers - in_flight;
    }
    bool claimed_all_it_could = false;
    if (free > 0) {
      const int limit = std::min(free, kMaxClaimBatch);
      const std::int64_t now = now_ms();
      auto claim = [this, now, limit] { return deps.store.claim(owner, now, lease_ms(), limit); };
      auto claimed = co_await db.run(claim);
      if (!claimed.ok()) {
        telemetry::log(telemetry::LogLevel::warn, "job_claim_failed", {{"error", claimed.error().message}});
      } else {
        for (auto& job : *claimed) {
          {
            std::lock_guard lock(mu);
            ++in_flight;
            running.emplace(job.id, Running{});
          }
          asio::co_spawn(asio::make_strand(io), self->run_job(std::move(job)), asio::detached);
        }
        claimed_all_it_could = static_cast<int>(claimed->size()) == limit;
      }
    }
    if (stopping) break;
    if (claimed_all_it_could && free > kMaxClaimBatch) continue;  // more may be waiting
    if (wake_pending.exchange(false)) continue;
    dispatcher_timer.expires_after(kIdleClaimInterval);
    co_await dispatcher_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    wake_pending = false;
  }
}

void JobService::State::settle_expired(const std::vector<Job>& jobs) {
  for (const auto& job : jobs) {
    release_held(job.id);
    notify(job.id);
  }
}

asio::awaitable<void> JobService::State::maintenance_loop() {
  auto self = shared_from_this();
  for (int tick = 0; !stopping; ++tick) {
    auto counts = co_await db.run([this] { return deps.store.counts(); });
    if (counts.ok()) {
      for (std::size_t i = 0; i < kJobStatusCount; ++i) {
        jobs_gauge.with({to_string(static_cast<JobStatus>(i))}).set(static_cast<double>((*counts)[i]));
      }
    }
    if (tick % kExpireEveryTicks == 0) {
      const std::int64_t now = now_ms();
      const std::int64_t cutoff =
          now - std::chrono::duration_cast<std::chrono::milliseconds>(deps.config.queue_ttl).count();
      auto expire = [this, now, cutoff] { return deps.store.expire_queued(cutoff, now); };
      if (auto expired = co_await db.run(expire); expired.ok()) settle_expired(*expired);
      // Another replica's lost leases (the embedded store's own are requeued at start).
      auto requeue = [this, now] { return deps.store.requeue_expired(now); };
      if (auto moved = co_await db.run(requeue); moved.ok()) {
        for (const auto& job : moved->failed) notify(job.id);
        if (!moved->requeued.empty()) wake_dispatcher();
      }
    }
    if (tick % kPurgeEveryTicks == 0) {
      const std::int64_t cutoff =
          now_ms() - std::chrono::duration_cast<std::chrono::milliseconds>(deps.config.retention).count();
      auto purge = [this, cutoff] { return deps.store.purge(cutoff); };
      co_await db.run(purge);
    }
    maintenance_timer.expires_after(kMaintenanceInterval);
    co_await maintenance_timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

JobService::JobService(JobServiceDeps deps, asio::io_context& io) : state_(std::make_shared<State>(deps, io)) {}

JobService::~JobService() {
  stop();
  state_->batcher.stop();
  state_->db.stop();
}

void JobService::start() {
  auto& s = *state_;
  auto requeued = s.deps.store.requeue_all_running(s.now_ms());
  if (!requeued.ok()) throw std::runtime_error("cannot requeue jobs left running: " + requeued.error().message);
  if (!requeued->requeued.empty() || !requeued->failed.empty()) {
    telemetry::log(telemetry::LogLevel::warn, "jobs_recovered",
                   {{"requeued", requeued->requeued.size()}, {"failed_max_attempts", requeued->failed.size()}});
  }
  s.restore_holds();
  // A job another replica finished: wake the long-polls on it here, and drop
  // the reservation this replica took when the job was submitted to it.
  s.deps.store.watch_finished([weak = std::weak_ptr<State>(state_)](const std::string& id) {
    if (auto self = weak.lock()) {
      self->notify(id);
      self->release_held(id);
    }
  });
  asio::co_spawn(s.dispatcher_strand, s.dispatch_loop(), asio::detached);
  asio::co_spawn(s.maintenance_strand, s.maintenance_loop(), asio::detached);
}

void JobService::stop() {
  auto& s = *state_;
  s.deps.store.stop_watching();  // its callback uses the budgets, which may go before the store does
  if (s.stopping.exchange(true)) return;
  auto self = state_;
  asio::post(s.dispatcher_strand, [self] { self->dispatcher_timer.cancel(); });
  asio::post(s.maintenance_strand, [self] { self->maintenance_timer.cancel(); });
  // Long-polls answer now with the job's current state, so the drain is not held up by them.
  s.notify(nullptr);
}

void JobService::finish_database_work() { state_->db.finish(); }

void JobService::hand_back_running() {
  auto& s = *state_;
  s.stopping = true;
  s.batcher.stop();
  auto released = s.deps.store.release_owned(s.owner);
  if (!released.ok()) {
    telemetry::log(telemetry::LogLevel::warn, "jobs_hand_back_failed", {{"error", released.error().message}});
  } else if (!released->empty()) {
    telemetry::log(telemetry::LogLevel::info, "jobs_handed_back", {{"jobs", released->size()}});
  }
}

asio::awaitable<Result<Submission>> JobService::submit(const identity::Principal& principal, JobRequest request,
                                                       std::optional<std::string> idempotency_key,
                                                       std::string request_id) {
  auto& s = *state_;
  if (s.stopping) co_return make_error(ErrorCode::unavailable, "the gateway is shutting down");
  if (request.kind != JobKind::chat && s.deps.rag == nullptr) co_return rag::retrieval_unavailable();
  if (idempotency_key) {
    const std::string& team = principal.team;
    auto find = [&s, &team, &idempotency_key] { return s.deps.store.find_by_idempotency_key(team, *idempotency_key); };
    auto found = co_await s.db.run(find);
    if (!found.ok()) co_return found.error();
    if (*found) co_return Submission{std::move(**found), true};
  }

  gateway::JobAdmission admission;
  if (request.kind == JobKind::rag_ingest) {
    // Checked (400, 413) and classified as the ingest will be; nothing is reserved.
    auto level = s.deps.rag->check_ingest(request.ingest);
    if (!level.ok()) co_return level.error();
    admission.level = *level;
  } else {
    if (request.kind == JobKind::rag) {
      if (auto checked = s.deps.rag->check_answer(request.answer); !checked.ok()) co_return checked.error();
    }
    auto admitted = co_await s.admit(principal, request, std::move(request_id));
    if (!admitted.ok()) co_return admitted.error();
    admission = std::move(admitted).value();
  }

  Job job;
  job.created_at_ms = s.now_ms();
  try {
    job.id = new_job_id(job.created_at_ms);
  } catch (const std::exception&) {
    if (admission.reservation) {
      s.deps.budgets.release(*admission.reservation, principal.team, principal.monthly_budget);
    }
    co_return make_error(ErrorCode::internal, "could not create a job id");
  }
  job.team = principal.team;
  job.key_id = principal.key_id;
  job.task_type = request.task_type;
  job.request_json = to_stored_json(request);
  job.metadata_json = metadata_json(request);
  job.vault_json = std::move(admission.vault_json);
  job.classification = admission.level;
  job.idempotency_key = std::move(idempotency_key);
  job.max_attempts = s.deps.config.max_attempts;
  if (admission.reservation) {
    job.reservation_id = admission.reservation->value;
    // Registered before the job is visible to workers, so a worker that claims it at once adopts it.
    std::lock_guard lock(s.mu);
    s.held[job.id] = Held{*admission.reservation, admission.estimate, principal.monthly_budget, principal.team};
  }

  auto stored = co_await s.batcher.submit(job);
  if (!stored->ok()) {
    s.release_held(job.id);
    co_return stored->error();
  }
  if ((*stored)->existing) {  // a concurrent submit with the same key won
    s.release_held(job.id);
    co_return Submission{std::move((*stored)->job), true, admission.rate};
  }
  s.wake_dispatcher();
  co_return Submission{std::move((*stored)->job), false, admission.rate};
}

asio::awaitable<Result<Job>> JobService::get(std::string team, std::string id, std::chrono::milliseconds wait) {
  auto& s = *state_;
  auto read = [&s, &team, &id] { return s.deps.store.get(team, id); };
  auto job = co_await s.db.run(read);
  if (!job.ok() || is_finished(job->status) || wait.count() <= 0 || s.stopping)
    co_return s.with_progress(std::move(job));

  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
  timer->expires_after(wait);
  std::multimap<std::string, std::shared_ptr<asio::steady_timer>>::iterator registration;
  {
    std::lock_guard lock(s.mu);
    registration = s.waiters.emplace(id, timer);
  }
  s.waiting.add(1);
  struct Unregister {
    State& state;
    std::multimap<std::string, std::shared_ptr<asio::steady_timer>>::iterator it;
    ~Unregister() {
      state.waiting.add(-1);
      std::lock_guard lock(state.mu);
      state.waiters.erase(it);
    }
  } unregister{s, registration};
  // Read again now that a finish cannot be missed: it may have happened between the two.
  job = co_await s.db.run(read);
  if (!job.ok() || is_finished(job->status)) co_return s.with_progress(std::move(job));
  co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  job = co_await s.db.run(read);
  co_return s.with_progress(std::move(job));
}

asio::awaitable<Result<JobPage>> JobService::list(std::string team, ListQuery query) {
  auto& s = *state_;
  auto read = [&s, &team, &query] { return s.deps.store.list(team, query); };
  auto page = co_await s.db.run(read);
  if (page.ok()) {
    for (auto& job : page->jobs) s.add_progress(job);
  }
  co_return page;
}

asio::awaitable<Result<Job>> JobService::cancel(std::string team, std::string id) {
  auto& s = *state_;
  const std::int64_t now = s.now_ms();
  auto write = [&s, &team, &id, now] { return s.deps.store.cancel(team, id, now); };
  auto cancelled = co_await s.db.run(write);
  if (!cancelled.ok()) co_return cancelled.error();
  if (cancelled->previous == JobStatus::running) {
    std::shared_ptr<asio::steady_timer> timer;
    {
      std::lock_guard lock(s.mu);
      if (auto it = s.running.find(id); it != s.running.end()) {
        it->second.cancelled = true;
        timer = it->second.lease_timer;
      }
    }
    if (timer) wake(std::move(timer));
  }
  // A queued job's reservation is still here; a running one's is settled by its call.
  s.release_held(id);
  s.notify(id);
  co_return std::move(cancelled->job);
}

}  // namespace aegis::jobs
