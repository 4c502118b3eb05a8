#include "gateway/gateway.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <random>

#include "budget/pricing.hpp"
#include "gateway/cache_key.hpp"
#include "gateway/prompt.hpp"
#include "gateway/response_cache.hpp"
#include "media/ocr_shapes.hpp"
#include "privacy/block.hpp"
#include "privacy/invented.hpp"
#include "privacy/person.hpp"
#include "privacy/restore.hpp"
#include "privacy/vault.hpp"

namespace aegis::gateway {

namespace {

// When a client sets no max_tokens, the preflight still needs an output ceiling.
constexpr std::int64_t kDefaultOutputTokensEstimate = 4096;
// Not a real HTTP status: the client went away before an answer (nginx's convention).
constexpr int kClientClosedRequest = 499;
// The audit row's entity type for an image or PDF that could not be read in
// full (the request was then treated as RESTRICTED).
constexpr std::string_view kUnreadAttachment = "UNREAD_ATTACHMENT";

// A key's monthly sub-budget as stage 5 reserves it (issue 19).
std::optional<budget::KeyBudget> key_budget_of(const identity::Principal* principal) {
  if (principal == nullptr || !principal->key_monthly_budget) return std::nullopt;
  return budget::KeyBudget{principal->key_id, *principal->key_monthly_budget};
}

std::string_view locality_name(config::Locality locality) {
  return locality == config::Locality::local ? "local" : "cloud";
}

std::vector<double> overhead_buckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5};
}

double usd(Money m) { return static_cast<double>(m.micros) / 1e6; }

// One audit fallback_path entry: "provider:outcome".
std::string attempt_entry(std::string_view provider, std::string_view outcome) {
  std::string entry;
  entry.reserve(provider.size() + 1 + outcome.size());
  entry.append(provider).append(1, ':').append(outcome);
  return entry;
}

// Whether `request` asks for a prompt-cache write: a cache_control anywhere
// (Anthropic's breakpoints, or its top-level automatic caching, a
// pass-through field), with the 1-hour TTL when any of them says "1h".
budget::CacheWrite cache_write_of(const ChatRequest& request) {
  budget::CacheWrite found = budget::CacheWrite::none;
  auto see = [&](const boost::json::value& cc) {
    if (!cc.is_object()) return;
    const auto* ttl = cc.get_object().if_contains("ttl");
    const bool hour = ttl != nullptr && ttl->is_string() && ttl->get_string() == "1h";
    if (hour) {
      found = budget::CacheWrite::one_hour;
    } else if (found == budget::CacheWrite::none) {
      found = budget::CacheWrite::five_minutes;
    }
  };
  for (const auto& b : request.system_blocks) see(b.cache_control);
  for (const auto& m : request.messages) {
    for (const auto& b : m.blocks) see(b.cache_control);
    for (const auto& c : m.tool_calls) see(c.cache_control);
    see(m.cache_control);
  }
  for (const auto& t : request.tools) see(t.cache_control);
  if (const auto* top = request.passthrough.if_contains("cache_control")) see(*top);
  return found;
}

// What the current attempt has streamed, kept by the Call rather than the
// stream sink: a coroutine torn down at the drain deadline destroys the sink's
// frame before the Call's, and the Call still has to bill it.
struct StreamedSoFar {
  std::size_t output_bytes = 0;  // text, tool-call names and arguments as the provider sent them
  Usage reported;                // input counts from a start event that carried usage (Anthropic's message_start)
  bool client_saw_bytes = false;

  bool any() const { return output_bytes > 0 || client_saw_bytes; }
};

}  // namespace

std::string_view to_string(CallContext::CacheResult result) {
  switch (result) {
    case CallContext::CacheResult::hit: return "hit";
    case CallContext::CacheResult::miss: return "miss";
    case CallContext::CacheResult::bypass: return "bypass";
    case CallContext::CacheResult::none: break;
  }
  return "none";
}

std::string Route::header_value() const {
  return "tier=" + std::string(tier ? to_string(*tier) : "none") + "; provider=" + provider + "; model=" + model +
         "; reason=" + reason;
}

struct Gateway::Metrics {
  explicit Metrics(telemetry::Registry& r)
      : invented_pii(r.counter("aegis_pii_hallucinations_total",
                               "PII in answers that was not in the request, by entity type", {"entity"})),
        classifications(r.counter("aegis_classification_total", "Requests by data classification", {"level"})),
        requests(r.counter("aegis_requests_total", "Governed requests by team, answering provider, model and status",
                           {"team", "provider", "model", "status"})),
        cost(r.counter("aegis_cost_usd_total", "Actual cost booked to team budgets, in USD",
                       {"team", "provider", "model"})),
        masked(r.counter("aegis_pii_masked_total", "Values masked before a cloud provider saw them, by entity type",
                         {"entity"})),
        route_decisions(r.counter("aegis_route_decisions_total", "Routing decisions by tier and the rule that decided",
                                  {"tier", "rule"})),
        attempts(r.counter("aegis_provider_attempts_total", "Provider attempts by outcome (ok or the error type)",
                           {"provider", "outcome"})),
        pipeda_violations(r.counter("aegis_pipeda_violations_total",
                                    "RESTRICTED requests sent to a provider that is not local (must stay 0)")),
        overhead(r.histogram("aegis_request_overhead_seconds",
                             "Time spent in Aegis per governed request, excluding waiting for providers", {},
                             overhead_buckets())),
        cache_requests(r.counter("aegis_cache_requests_total",
                                 "Chat requests of teams whose response cache is on: hit (answered from the cache), "
                                 "miss (looked up, not found) or bypass (not cacheable: temperature not 0 without "
                                 "x-aegis-cache: allow, or CONFIDENTIAL/RESTRICTED data)",
                                 {"result"})),
        egress_vetoes(r.counter("aegis_egress_vetoes_total", std::string(compliance::kEgressVetoesHelp), {"rule"})) {
    pipeda_violations.with({}).inc(0);  // exposed as 0 from the start, so an alert can watch it
    for (const auto* result : {"hit", "miss", "bypass"}) cache_requests.with({result}).inc(0);
  }
  telemetry::CounterFamily& invented_pii;
  telemetry::CounterFamily& classifications;
  telemetry::CounterFamily& requests;
  telemetry::CounterFamily& cost;
  telemetry::CounterFamily& masked;
  telemetry::CounterFamily& route_decisions;
  telemetry::CounterFamily& attempts;
  telemetry::CounterFamily& pipeda_violations;
  telemetry::HistogramFamily& overhead;
  telemetry::CounterFamily& cache_requests;
  telemetry::CounterFamily& egress_vetoes;
};

// One governed request. A success is settled by commit(), which returns once
// a row for it is in the store (its intent, written while the provider
// answered, or else the final row itself); otherwise the destructor is
// stages 8 and 9's safety net: it settles the budget and queues the audit row
// whatever happened, including a coroutine torn down because the client
// disconnected or the server stopped.
class Gateway::Call {
 public:
  Call(Gateway& gateway, CallContext& context)
      : gateway_(gateway), context_(context), started_(gateway.deps_.clock.steady_now()) {
    row.time_ms = gateway.deps_.clock.wall_ms();
    row.request_id = context.request_id;
    row.surface = context.surface;
    row.task = context.task;
    if (context.principal) {
      row.team = context.principal->team;
      row.key_id = context.principal->key_id;
      // What the headers say should the call fail before stage 5 admits it.
      if (gateway.deps_.limiter != nullptr && context.rate_limit) {
        context.rate = gateway.deps_.limiter->peek(*context.principal);
      }
    }
  }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  ~Call() {
    try {
      if (!settled_) {
        if (auto unrecorded = settle()) gateway_.deps_.audit.record(std::move(*unrecorded));
      }
    } catch (...) {
      // A destructor must not throw; losing a metric beats terminating the process.
    }
  }

  // Stage 8's first half, at the first provider attempt (the row now names
  // the target): queues the intent (audit::AuditRecord::intent), which the
  // writer commits while the provider answers. Only for a call that records
  // its own row: a job's row commits with the job's outcome.
  void write_intent(const boost::asio::any_io_executor& executor) {
    if (intent_ || !record_ || context_.audit_row_out) return;
    audit::AuditRecord intent = row;
    intent.intent = true;
    intent.intent_seq = gateway_.next_intent_seq_.fetch_add(1, std::memory_order_relaxed);
    intent.level = context_.level;
    if (reservation_) {
      intent.cost = reserved_;
      intent.budget_period = reserved_period_;
    }
    row.intent_seq = intent.intent_seq;
    intent_ = std::make_shared<IntentWait>(executor);
    // The completion is posted to this call's executor (one thread per
    // context), so `done` and the timer are only touched there.
    gateway_.deps_.audit.async_record(std::move(intent),
                                      boost::asio::bind_executor(executor, [wait = intent_](bool written) {
                                        wait->done = true;
                                        wait->written = written;
                                        wait->wake.cancel();
                                      }));
  }

  // Stages 8 and 9 now rather than at destruction, for a call that succeeded:
  // returns once the call is on record in the store, so a client told
  // "success" after this finds it recorded even if the process is killed.
  // That is the intent when it committed (the final row, queued here,
  // replaces it; were the process to die first, start-up books the intent),
  // else the final row itself. Waits without blocking the thread.
  //
  // False when the call could not be put on record (the store failed while
  // the provider answered): the caller answers 503 instead of the answer, so
  // nothing is served unaudited. The row, saying 503, stays queued and is
  // written when the store is back; the provider's cost is booked with it.
  boost::asio::awaitable<bool> commit() {
    if (settled_) co_return true;
    bool on_record = false;
    if (intent_) {
      if (!intent_->done) {
        intent_->wake.expires_at(std::chrono::steady_clock::time_point::max());
        co_await intent_->wake.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      }
      on_record = intent_->done && intent_->written;
      if (!on_record && !gateway_.deps_.audit.accepting()) {
        // The store is failing: the final row would not be written in time
        // either. Refuse the answer; the row says so.
        fail(not_recorded());
        if (auto row_to_write = settle()) gateway_.deps_.audit.record(std::move(*row_to_write));
        co_return false;
      }
    }
    auto row_to_write = settle();
    if (!row_to_write) co_return true;
    if (on_record) {
      gateway_.deps_.audit.record(std::move(*row_to_write));
      co_return true;
    }
    // An intent dropped while the store works (a full queue): the final row,
    // durably, stands in for it.
    co_return co_await gateway_.deps_.audit.async_record(std::move(*row_to_write), boost::asio::use_awaitable);
  }

  static Error not_recorded() {
    Error e = make_error(ErrorCode::unavailable, "the request could not be recorded in the audit trail; retry later");
    e.retry_after_seconds = 1;
    return e;
  }

  CallContext& context() { return context_; }
  const std::string& team() const { return row.team; }
  Money cap() const { return context_.principal ? context_.principal->monthly_budget : Money{}; }
  bool has_budget() const { return context_.principal != nullptr; }
  // The calling key's monthly sub-budget, if it has one.
  std::optional<budget::KeyBudget> key_budget() const { return key_budget_of(context_.principal); }

  void fail(const Error& error) {
    row.status = http_status(error.code);
    row.error_type = std::string(error_type(error.code));
  }

  // Stage 5's rate limits (ratelimit/rate_limiter.hpp): the request and its
  // estimated tokens against the key's and the team's buckets, and a
  // concurrency slot held until this call is destroyed, however it ends.
  boost::asio::awaitable<Result<void>> limit(std::int64_t estimated_tokens) {
    ratelimit::RateLimiter* limiter = gateway_.deps_.limiter;
    if (limiter == nullptr || context_.principal == nullptr || !context_.rate_limit) co_return Result<void>{};
    auto admitted = co_await limiter->admit(*context_.principal, estimated_tokens);
    if (!admitted.ok()) {
      context_.rate = limiter->peek(*context_.principal);
      co_return std::move(admitted).error();
    }
    rate_ = std::move(admitted).value();
    context_.rate = rate_.snapshot();
    co_return Result<void>{};
  }

  // Stage 5.
  boost::asio::awaitable<Result<void>> preflight(Money estimate) {
    if (context_.held_reservation) {  // taken at job submit: adopt it, this call settles it now
      reservation_ = *context_.held_reservation;
      context_.held_reservation.reset();
      co_return Result<void>{};
    }
    if (!has_budget()) co_return Result<void>{};
    auto& budgets = gateway_.deps_.budgets;
    reserved_period_ = budgets.ledger().current_period();
    const std::optional<std::chrono::nanoseconds> no_hold;
    std::optional<budget::KeyBudget> key = key_budget();
    auto reservation = co_await budgets.reserve(row.team, cap(), estimate, no_hold, std::move(key));
    if (!reservation.ok()) co_return std::move(reservation).error();
    reservation_ = *reservation;
    reserved_ = estimate;
    co_return Result<void>{};
  }

  // Stage 9 with the provider's usage.
  void reconcile(const Usage& usage, const config::ModelPrice& price) {
    row.input_tokens = usage.input_tokens;
    row.output_tokens = usage.output_tokens;
    row.cache_read_tokens = usage.cache_read_tokens;
    row.cache_write_tokens = usage.cache_write_tokens;
    if (rate_.active()) {  // the tokens estimated at admission, corrected with the usage (cached input included)
      rate_.settle(usage.total_tokens());
      context_.rate = rate_.snapshot();
    }
    const Money actual = budget::actual_cost(usage, price);
    row.cost = actual;
    context_.cost = actual;
    if (reservation_) {
      row.budget_period = gateway_.deps_.budgets.commit(*reservation_, row.team, cap(), actual);
      reservation_.reset();
    }
  }

  // For streamed_usage(): the preflight's input estimate and the request's output ceiling.
  void expect_tokens(std::int64_t estimated_input_tokens, std::optional<std::int64_t> max_output_tokens) {
    estimated_input_tokens_ = estimated_input_tokens;
    max_output_tokens_ = max_output_tokens;
  }

  // Stage 6: an attempt at `provider` starts. Until end_attempt(), a Call
  // destroyed with its coroutine (the drain deadline) records the attempt as
  // `provider:interrupted` and bills what it streamed.
  void begin_attempt(const std::string& provider, const config::ModelPrice& price) {
    attempt_provider_ = provider;
    attempt_price_ = price;
    attempt_in_flight_ = true;
    streamed_ = {};
  }
  // run_chat has the attempt's outcome and records it itself.
  void end_attempt() { attempt_in_flight_ = false; }
  StreamedSoFar& streamed() { return streamed_; }
  bool streamed_any() const { return streamed_.any(); }

  // Stage 9 for a stream cut short before the provider reported usage (the
  // client left, the provider failed after the client saw bytes, the drain
  // deadline): the provider bills what it generated, so what it streamed is
  // counted (budget::streamed_usage) and booked at the attempt's own price.
  // That can exceed the reservation when the provider reported more input
  // tokens than the byte estimate; it is booked all the same (commit books
  // an actual above the reservation): under-booking what a provider bills
  // would let a team spend past its cap unseen.
  void bill_streamed() {
    reconcile(
        budget::streamed_usage(streamed_.output_bytes, streamed_.reported, estimated_input_tokens_, max_output_tokens_),
        attempt_price_);
  }

  void time_provider(std::chrono::steady_clock::duration d) { provider_time_ += d; }
  // An admitted job writes its row when it runs, not when it is submitted.
  void skip_record() { record_ = false; }
  const Clock& clock() const { return gateway_.deps_.clock; }

  audit::AuditRecord row;
  // The exact response cache: the request's key when it was looked up (a
  // miss), and the answer to store under it once the call is on record.
  std::optional<CacheKey> cache_key;
  std::shared_ptr<const CachedAnswer> to_cache;

 private:
  // Settles the budget, counts the metrics and finishes the row. Returns the
  // row for the caller to record, or nothing when it is not to be recorded
  // here (an admitted job's submit) or was handed to the context's owner.
  std::optional<audit::AuditRecord> settle() {
    settled_ = true;
    auto& deps = gateway_.deps_;
    if (attempt_in_flight_) {
      // The coroutine was destroyed while the provider was answering (the
      // drain deadline passed): the route fields say who it was.
      attempt_in_flight_ = false;
      row.fallback_path.push_back(attempt_entry(attempt_provider_, "interrupted"));
      gateway_.metrics_->attempts.with({attempt_provider_, "interrupted"}).inc();
      if (streamed_.any()) bill_streamed();
    }
    if (reservation_) {
      deps.budgets.release(*reservation_, row.team, cap());
      reservation_.reset();
    }
    // No usage came back (no provider answered): the estimated tokens go back.
    // The request itself stays counted; its concurrency slot goes with the Call.
    // An admitted job keeps its estimate charged: its run is not counted again.
    if (record_) rate_.settle(0);
    if (!record_) return std::nullopt;
    if (row.status == 0) row.status = kClientClosedRequest;
    row.level = context_.level;
    const auto elapsed = deps.clock.steady_now() - started_;
    row.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
    const auto overhead = std::max(elapsed - provider_time_, std::chrono::steady_clock::duration::zero());
    row.overhead_us = std::chrono::duration_cast<std::chrono::microseconds>(overhead).count();

    auto& m = *gateway_.metrics_;
    // A cache hit names the original route in its row, but no provider answered it.
    const std::string provider = row.cache_hit ? "cache" : (row.provider.empty() ? "none" : row.provider);
    const std::string model = row.model.empty() ? "none" : row.model;
    m.requests.with({row.team, provider, model, std::to_string(row.status)}).inc();
    if (row.cost.micros > 0) m.cost.with({row.team, provider, model}).inc(usd(row.cost));
    m.overhead.with({}).observe(std::chrono::duration<double>(overhead).count());
    if (row.level == Level::RESTRICTED && row.locality == "cloud") m.pipeda_violations.with({}).inc();
    if (context_.audit_row_out) {
      *context_.audit_row_out = std::move(row);
      return std::nullopt;
    }
    return std::move(row);
  }

  // The intent's commit, as commit() awaits it.
  struct IntentWait {
    explicit IntentWait(const boost::asio::any_io_executor& executor) : wake(executor) {}
    boost::asio::steady_timer wake;
    bool done = false;
    bool written = false;
  };

  Gateway& gateway_;
  CallContext& context_;
  std::chrono::steady_clock::time_point started_;
  Money reserved_;
  std::string reserved_period_;  // the budget month the reservation was taken in  // this call's own reservation, for
                                 // its intent
  std::shared_ptr<IntentWait> intent_;
  std::chrono::steady_clock::duration provider_time_{};
  std::optional<budget::ReservationId> reservation_;
  ratelimit::Admission rate_;  // its concurrency slot is released with the Call, however the request ended
  std::int64_t estimated_input_tokens_ = 0;
  std::optional<std::int64_t> max_output_tokens_;
  std::string attempt_provider_;
  config::ModelPrice attempt_price_;
  bool attempt_in_flight_ = false;
  StreamedSoFar streamed_;
  bool record_ = true;
  bool settled_ = false;
};

namespace {

std::int64_t random_intent_seq_start() {
  std::random_device entropy;
  const std::uint64_t high = entropy();
  // Below 2^61: billions of requests before the signed 64-bit key could wrap.
  return static_cast<std::int64_t>(((high << 32U) | entropy()) >> 3U) + 1;
}

}  // namespace

Gateway::Gateway(GatewayDeps deps)
    : deps_(deps), metrics_(std::make_unique<Metrics>(deps.metrics)), next_intent_seq_(random_intent_seq_start()) {
  for (const auto& p : deps_.config.providers) provider_configs_.emplace(p.name, &p);
}

Gateway::~Gateway() = default;

namespace {

// What stages 2 and 3 learn about a request's text.
struct Inspection {
  AssembledPrompt prompt;
  classify::Classification classification;
  std::vector<classify::Finding> persons;

  bool has_entities() const { return !classification.findings.empty() || !persons.empty(); }
};

Inspection inspect(const classify::Classifier& classifier, AssembledPrompt prompt, bool marked_public) {
  Inspection in;
  in.prompt = std::move(prompt);
  in.classification = classifier.classify(in.prompt.text, classify::Marking{marked_public});
  in.persons = privacy::detect_persons(in.prompt.text, in.classification.findings);
  return in;
}

void count_entities(const Inspection& in, audit::AuditRecord& row) {
  for (const auto& f : in.classification.findings) ++row.entities[f.entity_type];
  for (const auto& f : in.persons) ++row.entities[f.entity_type];
}

// The stream as the client sees it: placeholders restored, the start event
// held back until there is content (so a provider that fails right after
// "start" can still be replaced), usage captured, the answer kept for the
// invented-PII scan.
class GovernedSink final : public providers::DeltaSink {
 public:
  GovernedSink(providers::DeltaSink& client, StreamedSoFar& streamed) : client_(client), streamed_(streamed) {}

  // Keep the answer as the client receives it (for the response cache).
  void capture() { capture_ = true; }

  // For the next attempt; `vault` is null when the target saw the original text.
  void begin_attempt(const privacy::Vault* vault) {
    vault_ = vault;
    captured_ = {};
    captured_tools_.clear();
    pending_start_.reset();
    text_restorer_.reset();
    tool_restorers_.clear();
    if (vault_ && !vault_->empty()) text_restorer_.emplace(*vault_);
  }

  boost::asio::awaitable<bool> on_event(const StreamEvent& event) override {
    switch (event.kind) {
      case StreamEvent::Kind::start:
        pending_start_ = event;
        streamed_.reported = event.usage;
        co_return true;
      case StreamEvent::Kind::text: {
        streamed_.output_bytes += event.text.size();  // as generated: before placeholders are restored
        StreamEvent out = event;
        if (text_restorer_) out.text = text_restorer_->feed(event.text);
        answer_ += out.text;
        if (out.text.empty() && text_restorer_) co_return true;  // held back: maybe a placeholder prefix
        co_return co_await forward(out);
      }
      case StreamEvent::Kind::tool_call_start:
        streamed_.output_bytes += event.tool_call.name.size();
        co_return co_await forward(event);
      case StreamEvent::Kind::tool_call_delta: {
        streamed_.output_bytes += event.text.size();
        StreamEvent out = event;
        if (vault_ && !vault_->empty()) {
          auto [it, inserted] = tool_restorers_.try_emplace(event.index, *vault_);
          out.text = it->second.feed(event.text);
          if (out.text.empty()) co_return true;
        }
        co_return co_await forward(out);
      }
      case StreamEvent::Kind::finish: {
        if (text_restorer_) {
          StreamEvent tail;
          tail.kind = StreamEvent::Kind::text;
          tail.text = text_restorer_->finish();
          answer_ += tail.text;
          if (!tail.text.empty() && !co_await forward(tail)) co_return false;
        }
        for (auto& [index, restorer] : tool_restorers_) {
          StreamEvent tail;
          tail.kind = StreamEvent::Kind::tool_call_delta;
          tail.index = index;
          tail.text = restorer.finish();
          if (!tail.text.empty() && !co_await forward(tail)) co_return false;
        }
        usage_ = event.usage;
        finished_ = true;
        co_return co_await forward(event);
      }
    }
    co_return true;
  }

  bool emitted() const { return emitted_; }
  bool finished() const { return finished_; }
  bool client_gone() const { return client_gone_; }
  const Usage& usage() const { return usage_; }
  const std::string& answer() const { return answer_; }

  // The answer as the client received it (placeholders restored), once finished and capture() was asked for.
  Completion captured() const {
    Completion out = captured_;
    for (const auto& [index, call] : captured_tools_) out.tool_calls.push_back(call);
    return out;
  }

 private:
  void keep(const StreamEvent& event) {
    if (!capture_) return;
    switch (event.kind) {
      case StreamEvent::Kind::start:
        captured_.id = event.id;
        captured_.model = event.model;
        break;
      case StreamEvent::Kind::text: captured_.text += event.text; break;
      case StreamEvent::Kind::tool_call_start: {
        auto& call = captured_tools_[event.index];
        call.id = event.tool_call.id;
        call.name = event.tool_call.name;
        call.arguments_json += event.tool_call.arguments_json;
        break;
      }
      case StreamEvent::Kind::tool_call_delta: captured_tools_[event.index].arguments_json += event.text; break;
      case StreamEvent::Kind::finish:
        captured_.stop_reason = event.stop_reason;
        captured_.stop_sequence = event.stop_sequence;
        captured_.usage = event.usage;
        break;
    }
  }

  boost::asio::awaitable<bool> forward(const StreamEvent& event) {
    if (pending_start_) {
      StreamEvent start = std::move(*pending_start_);
      pending_start_.reset();
      emitted_ = true;
      streamed_.client_saw_bytes = true;
      keep(start);
      if (!co_await client_.on_event(start)) {
        client_gone_ = true;
        co_return false;
      }
    }
    emitted_ = true;
    streamed_.client_saw_bytes = true;
    keep(event);
    const bool more = co_await client_.on_event(event);
    if (!more) client_gone_ = true;
    co_return more;
  }

  providers::DeltaSink& client_;
  StreamedSoFar& streamed_;
  const privacy::Vault* vault_ = nullptr;
  std::optional<StreamEvent> pending_start_;
  std::optional<privacy::StreamingRestorer> text_restorer_;
  std::map<std::size_t, privacy::StreamingRestorer> tool_restorers_;
  std::string answer_;
  bool capture_ = false;
  Completion captured_;
  std::map<std::size_t, ToolCall> captured_tools_;
  Usage usage_;
  bool emitted_ = false;
  bool finished_ = false;
  bool client_gone_ = false;
};

// Between the governed stream and the client: holds the finish event (which
// the client's protocol writes as its end of stream: the last chunk and
// [DONE], message_stop) until the call's audit row and spend are committed,
// so no client sees a stream end that a crash could leave unrecorded.
class FinishGate final : public providers::DeltaSink {
 public:
  explicit FinishGate(providers::DeltaSink& client) : client_(client) {}

  boost::asio::awaitable<bool> on_event(const StreamEvent& event) override {
    if (event.kind == StreamEvent::Kind::finish) {
      held_ = event;
      co_return true;
    }
    co_return co_await client_.on_event(event);
  }

  // After the commit: the stream's end goes out.
  boost::asio::awaitable<void> release() {
    if (!held_) co_return;
    StreamEvent finish = std::move(*held_);
    held_.reset();
    co_await client_.on_event(finish);
  }

 private:
  providers::DeltaSink& client_;
  std::optional<StreamEvent> held_;
};

// A cached answer as a stream: the events a provider would have sent, in one piece each.
boost::asio::awaitable<bool> replay(providers::DeltaSink& sink, const Completion& answer) {
  StreamEvent start;
  start.kind = StreamEvent::Kind::start;
  start.id = answer.id;
  start.model = answer.model;
  start.usage.input_tokens = answer.usage.input_tokens;
  if (!co_await sink.on_event(start)) co_return false;
  if (!answer.text.empty()) {
    StreamEvent text;
    text.kind = StreamEvent::Kind::text;
    text.text = answer.text;
    if (!co_await sink.on_event(text)) co_return false;
  }
  for (std::size_t i = 0; i < answer.tool_calls.size(); ++i) {
    StreamEvent call;
    call.kind = StreamEvent::Kind::tool_call_start;
    call.index = i;
    call.tool_call.id = answer.tool_calls[i].id;
    call.tool_call.name = answer.tool_calls[i].name;
    if (!co_await sink.on_event(call)) co_return false;
    StreamEvent arguments;
    arguments.kind = StreamEvent::Kind::tool_call_delta;
    arguments.index = i;
    arguments.text = answer.tool_calls[i].arguments_json;
    if (!co_await sink.on_event(arguments)) co_return false;
  }
  StreamEvent finish;
  finish.kind = StreamEvent::Kind::finish;
  finish.stop_reason = answer.stop_reason;
  finish.stop_sequence = answer.stop_sequence;
  finish.usage = answer.usage;
  co_return co_await sink.on_event(finish);
}

// Cached only below CONFIDENTIAL, and only what is meant to repeat: temperature
// 0, or the client's explicit opt-in (x-aegis-cache: allow).
bool cacheable(const CallContext& context, const ChatRequest& request) {
  if (context.level > Level::INTERNAL) return false;
  return context.cache_opt_in || (request.temperature && *request.temperature == 0.0);
}

Error no_local_provider(std::string_view what) {
  return make_error(ErrorCode::no_local_provider,
                    "no healthy local provider for " + std::string(what) +
                        "; RESTRICTED or local-only data is never sent to a cloud provider");
}

}  // namespace

// What a surface hands to plan().
struct Gateway::PlanRequest {
  enum class Kind { chat, embeddings };
  Kind kind = Kind::chat;
  AssembledPrompt prompt;
  std::string model;                   // as the client asked for it
  std::int64_t max_output_tokens = 0;  // the output ceiling the reservation covers (0 for embeddings)
  // Whether the request asks the provider to write its prompt cache: input
  // is then reserved at the cache-write rate when that is higher.
  budget::CacheWrite cache_write = budget::CacheWrite::none;
  // Set for a job's admission: the reservation is held this long for the job
  // (returned in Plan::held) instead of being taken for this call, and the
  // classification and routing metrics wait for the run.
  std::optional<std::chrono::nanoseconds> hold;
  // The reading of the request's images and PDFs; null for text only.
  const media::MediaInspection* media = nullptr;
  // Gateway::explain: nothing will be sent or recorded, so the audit trail's
  // state does not matter and no metric counts it.
  bool dry_run = false;
};

namespace {

// What plan() is asked about a chat request on every path that plans one
// (complete, a job's admission, explain): the prompt the model would read,
// its attachments' text included, and the worst case to reserve for.
Gateway::PlanRequest chat_plan_request(const ChatRequest& request, const media::MediaInspection* inspection) {
  return Gateway::PlanRequest{.kind = Gateway::PlanRequest::Kind::chat,
                              .prompt = assemble_prompt(request, inspection),
                              .model = request.model,
                              .max_output_tokens = request.max_tokens.value_or(kDefaultOutputTokensEstimate),
                              .cache_write = cache_write_of(request),
                              .hold = std::nullopt,
                              .media = inspection};
}

}  // namespace

// What stages 2, 4 and 5 decided; dispatch() replaces `decision` after an egress veto.
struct Gateway::Plan {
  PlanRequest::Kind kind = PlanRequest::Kind::chat;
  std::string model;
  bool counted = true;  // classification and routing metrics are counted (not a job's admission)
  Inspection in;
  routing::RouteDecision decision;
  budget::CostEstimate estimate;
  std::optional<std::chrono::nanoseconds> hold;  // a job's admission: reserve for the job (held), not this call
  std::optional<budget::ReservationId> held;
  // Routing keeps only providers that accept images (the `vision` capability).
  bool needs_vision = false;
  // Why an attachment could not be read in full (the request is then
  // RESTRICTED); empty when every one was.
  std::string media_unread;
};

class Gateway::Sender {
 public:
  virtual ~Sender() = default;
  // Stage 3, once, before the first cloud target: builds the masked copy
  // (redacting attachments on the media workers) and says what it masked.
  virtual boost::asio::awaitable<MaskCounts> mask() = 0;
  // One attempt: the masked copy when `masked`, else the original.
  virtual boost::asio::awaitable<Result<void>> send(const routing::RouteTarget& target, bool masked) = 0;
  // A stream whose client has seen bytes of this attempt: no fallback from here.
  virtual bool client_saw_bytes() const { return false; }
  // The attempt's outcome on success: "ok", or "client_gone" for a stream the client left.
  virtual std::string_view success_outcome() const { return "ok"; }
  // A call its caller cancelled: "cancelled", or "interrupted" for a stream.
  virtual std::string_view cut_outcome() const { return "cancelled"; }
};

namespace {

void count_masked(const MaskCounts& counts, Gateway::Metrics& metrics, audit::AuditRecord& row) {
  for (const auto& [entity, count] : counts) {
    metrics.masked.with({entity}).inc(count);
    row.placeholders += count;
  }
}

// A chat request, answered whole or streamed through the governed sink.
class ChatSender final : public Gateway::Sender {
 public:
  struct Media {
    const media::MediaInspection* inspection = nullptr;  // null: text only
    media::MediaInspector* inspector = nullptr;
    const classify::Classifier* classifier = nullptr;
    const compliance::EgressDetector* detector = nullptr;
    telemetry::CounterFamily* vetoes = nullptr;
    // Whether a provider takes PDFs as documents (its `documents` capability);
    // one that does not is sent each PDF's text instead.
    std::function<bool(std::string_view provider)> takes_documents;
  };

  ChatSender(const ChatRequest& request, const Inspection& in, privacy::Vault& vault, GovernedSink* governed,
             Media media)
      : request_(request), in_(in), vault_(vault), governed_(governed), media_(std::move(media)) {}

  boost::asio::awaitable<MaskCounts> mask() override {
    MaskCounts counts;
    std::vector<AttachmentRedaction> redactions;
    masked_.emplace(
        mask_request(request_, in_.prompt, in_.classification.findings, in_.persons, vault_, counts, &redactions));
    // Attachments holding findings are redacted before any cloud send; one
    // that cannot be makes every cloud send a veto (the request then runs
    // as RESTRICTED), never a send of the original.
    for (const auto& redaction : redactions) {
      const auto* item = inspected(redaction.message, redaction.attachment);
      auto& attachment = masked_->messages[redaction.message].attachments[redaction.attachment];
      Result<Attachment> redacted = make_error(ErrorCode::internal, "no reader for attachments");
      if (item && media_.inspector) {
        redacted = co_await media_.inspector->redact(attachment, item->extraction, redaction.ranges);
      }
      if (!redacted.ok()) {
        masked_verdict_ = veto("media.redaction", "an attachment could not be redacted");
        break;
      }
      attachment = std::move(redacted).value();
      redacted_.emplace_back(redaction.message, redaction.attachment);
      masked_texts_[{redaction.message, redaction.attachment}] = redaction.masked_text;
    }
    co_return counts;
  }

  boost::asio::awaitable<Result<void>> send(const routing::RouteTarget& target, bool masked) override {
    sent_masked_ = masked;
    ChatRequest outbound = masked ? *masked_ : request_;
    outbound.model = target.model;
    if (media_.inspection && target.locality == config::Locality::cloud) {
      if (auto checked = co_await check_attachments(outbound, masked); !checked.ok()) co_return checked;
    }
    if (media_.inspection && media_.inspection->documents &&
        !(media_.takes_documents && media_.takes_documents(target.provider->info().name))) {
      documents_as_text(outbound, masked);
    }
    if (governed_) {
      governed_->begin_attempt(masked ? &vault_ : nullptr);
      co_return co_await target.provider->stream(outbound, *governed_);
    }
    auto result = co_await target.provider->complete(outbound);
    if (!result.ok()) co_return std::move(result).error();
    answer_ = std::move(result).value();
    co_return Result<void>{};
  }

  bool client_saw_bytes() const override { return governed_ && governed_->emitted(); }
  std::string_view success_outcome() const override {
    // A stream that returns without its finish event ended because the client left.
    return governed_ && !governed_->finished() ? "client_gone" : "ok";
  }
  std::string_view cut_outcome() const override { return governed_ ? "interrupted" : "cancelled"; }

  bool sent_masked() const { return sent_masked_; }
  Completion& answer() { return answer_; }

 private:
  const media::InspectedAttachment* inspected(std::size_t message, std::size_t attachment) const {
    return media_.inspection->find(message, attachment);
  }

  // Each PDF of `outbound` replaced by its text (masked, in a masked copy),
  // ahead of its message's text, for a provider without the `documents`
  // capability.
  void documents_as_text(ChatRequest& outbound, bool masked) const {
    for (const auto& item : media_.inspection->items) {
      auto& message = outbound.messages[item.message];
      const Attachment& attachment = message.attachments[item.attachment];
      if (attachment.kind != Attachment::Kind::document) continue;
      std::string text;
      if (auto it = masked_texts_.find({item.message, item.attachment}); masked && it != masked_texts_.end()) {
        text = it->second;
      } else if (item.extraction) {
        text = item.extraction->text;
      }
      std::string block = "[document " + std::to_string(item.attachment + 1);
      if (!attachment.filename.empty()) block += ": " + attachment.filename;
      block += "]\n" + text;
      if (!message.blocks.empty()) {
        message.blocks.insert(message.blocks.begin(), TextBlock{block, boost::json::value()});
        message.text = join_blocks(message.blocks, text_separator(message.role));
      } else {
        message.text = message.text.empty() ? block : block + "\n" + message.text;
      }
    }
    // Erased after every item was read: the items' indices are the request's.
    for (auto& message : outbound.messages) {
      std::erase_if(message.attachments, [](const Attachment& a) { return a.kind == Attachment::Kind::document; });
    }
  }

  Error veto(std::string_view rule, std::string_view why) const {
    if (media_.vetoes) media_.vetoes->with({std::string(rule)}).inc();
    Error e = make_error(ErrorCode::egress_vetoed, "egress check of the request's attachments: " + std::string(why) +
                                                       "; the request runs as RESTRICTED");
    e.rule = std::string(rule);
    return e;
  }

  // Stage 6's second look at what a cloud provider would receive of the
  // attachments, beside the egress guard (which sees an image only as
  // base64): the independent detector over each attachment's text, and a
  // redacted attachment read again from its new bytes, where the classifier
  // must find nothing. Decided once per copy (original or masked).
  boost::asio::awaitable<Result<void>> check_attachments(const ChatRequest& outbound, bool masked) {
    auto& verdict = masked ? masked_verdict_ : plain_verdict_;
    if (verdict) co_return *verdict;
    verdict = Result<void>{};
    for (const auto& item : media_.inspection->items) {
      const bool redacted = masked && std::find(redacted_.begin(), redacted_.end(),
                                                std::pair{item.message, item.attachment}) != redacted_.end();
      std::string text;
      if (redacted && media_.inspector) {
        const Attachment& sent = outbound.messages[item.message].attachments[item.attachment];
        media::Extraction again = co_await media_.inspector->reread(sent);
        if (!again.complete) {
          verdict = veto("media.redaction", "a redacted attachment could not be read back");
          break;
        }
        if (media_.classifier) {
          const auto found = media_.classifier->classify(again.text, classify::Marking{false});
          if (!found.findings.empty() || !privacy::detect_persons(again.text, found.findings).empty()) {
            verdict = veto("media.redaction", "a redacted attachment still shows a value that must be hidden");
            break;
          }
        }
        text = std::move(again.text);
      } else if (item.extraction) {
        text = item.extraction->text;
      }
      if (media_.detector) {
        if (auto hit = media_.detector->scan(text)) {
          verdict = veto(hit->rule,
                         "an attachment holds a value shaped like RESTRICTED data (" + std::string(hit->rule) + ")");
          break;
        }
      }
    }
    co_return *verdict;
  }

  const ChatRequest& request_;
  const Inspection& in_;
  privacy::Vault& vault_;
  GovernedSink* governed_;
  Media media_;
  std::optional<ChatRequest> masked_;
  std::vector<std::pair<std::size_t, std::size_t>> redacted_;  // (message, attachment) redacted in masked_
  std::map<std::pair<std::size_t, std::size_t>, std::string> masked_texts_;  // their text with placeholders
  std::optional<Result<void>> plain_verdict_;
  std::optional<Result<void>> masked_verdict_;
  bool sent_masked_ = false;
  Completion answer_;
};

class EmbedSender final : public Gateway::Sender {
 public:
  EmbedSender(const EmbedRequest& request, const Inspection& in, privacy::Vault& vault)
      : request_(request), in_(in), vault_(vault) {}

  boost::asio::awaitable<MaskCounts> mask() override {
    MaskCounts counts;
    masked_ = mask_inputs(request_.inputs, in_.prompt, in_.classification.findings, in_.persons, vault_, counts);
    co_return counts;
  }

  boost::asio::awaitable<Result<void>> send(const routing::RouteTarget& target, bool masked) override {
    EmbedRequest outbound = request_;
    if (masked) outbound.inputs = masked_;
    outbound.model = target.model;
    auto result = co_await target.provider->embed(outbound);
    if (!result.ok()) co_return std::move(result).error();
    answer_ = std::move(result).value();
    co_return Result<void>{};
  }

  Embeddings& answer() { return answer_; }

 private:
  const EmbedRequest& request_;
  const Inspection& in_;
  privacy::Vault& vault_;
  std::vector<std::string> masked_;
  Embeddings answer_;
};

// What happened to one attempt, for the fallback decision.
enum class AttemptVerdict { answered, try_next, stop };

AttemptVerdict judge(const Error& error, bool client_saw_bytes) {
  if (client_saw_bytes) return AttemptVerdict::stop;  // fallback only before the first byte
  if (error.code == ErrorCode::egress_blocked)
    return AttemptVerdict::stop;  // a compliance stop, never retried elsewhere
  return CircuitBreaker::counts_as_failure(error) ? AttemptVerdict::try_next : AttemptVerdict::stop;
}

std::string_view tier_label(const std::optional<Tier>& tier) { return tier ? to_string(*tier) : "none"; }

}  // namespace

routing::RouteInput Gateway::route_input(const CallContext& context, Level level, const std::string& model) const {
  routing::RouteInput input;
  input.task = context.task;
  input.level = level;
  input.requested_model = model;
  input.local_only = context.local_only;
  if (context.principal) {
    input.team = context.principal->team;
    input.remaining_budget = deps_.budgets.remaining(context.principal->team, context.principal->monthly_budget,
                                                     key_budget_of(context.principal));
    input.key_models = context.principal->models.get();
  }
  return input;
}

Result<routing::RouteDecision> Gateway::route(Call& call, const Plan& plan, Level level) {
  auto& ctx = call.context();
  auto input = route_input(ctx, level, plan.model);
  input.needs_vision = plan.needs_vision;
  auto decision =
      plan.kind == PlanRequest::Kind::embeddings ? deps_.router.decide_embedding(input) : deps_.router.decide(input);
  if (!decision.ok()) return decision;
  if (!plan.media_unread.empty()) {
    decision->reason += "; an attachment could not be read in full (" + plan.media_unread + "): treated as RESTRICTED";
  }
  if (plan.counted) {
    metrics_->route_decisions.with({std::string(tier_label(decision->tier)), std::string(to_string(decision->rule))})
        .inc();
  }
  call.row.tier = decision->tier ? std::string(to_string(*decision->tier)) : "";
  call.row.reason = decision->reason;
  const auto& first = decision->chain.front();  // never empty on success
  ctx.decided = Route{decision->tier, first.provider->info().name, first.model, decision->reason, first.locality};
  return decision;
}

Result<Gateway::Plan> Gateway::plan(Call& call, PlanRequest request) {
  auto& ctx = call.context();
  Plan plan;
  plan.kind = request.kind;
  plan.model = std::move(request.model);
  plan.counted = !request.hold && !request.dry_run;

  // Fail closed: a request the audit trail cannot take now is refused
  // before it costs anything, rather than served unaudited.
  if (!request.dry_run && !deps_.audit.accepting()) {
    Error e = make_error(ErrorCode::unavailable, "the audit trail cannot be written right now; retry later");
    e.retry_after_seconds = 1;
    return e;
  }

  // Stage 2: classify the assembled prompt (history, tool arguments and context included).
  plan.in = inspect(deps_.classifier, std::move(request.prompt), ctx.marked_public);
  ctx.level = std::max(plan.in.classification.level, ctx.minimum_level);
  if (request.media) {
    // PDFs need no capability: a provider without `documents` is sent their text.
    plan.needs_vision = request.media->images;
    // OCR misreads a digit now and then, which fails a checksum: in an
    // attachment's text the shape of a SIN or card number is enough.
    for (const auto& field : plan.in.prompt.fields) {
      if (field.kind != PromptField::Kind::attachment_text) continue;
      const std::string_view text(plan.in.prompt.text.data() + field.start, field.end - field.start);
      for (const auto& hit : media::restricted_shapes(text)) {
        const auto& found = plan.in.classification.findings;
        const bool known = std::any_of(found.begin(), found.end(), [&](const classify::Finding& f) {
          return f.level == Level::RESTRICTED && f.start < field.start + hit.end && field.start + hit.start < f.end;
        });
        if (known) continue;
        ctx.level = Level::RESTRICTED;
        ++call.row.entities[hit.entity_type];
      }
    }
    // Fail closed: what could not be read may hold anything.
    if (!request.media->complete) {
      plan.media_unread = request.media->incomplete_reason;
      ctx.level = Level::RESTRICTED;
      ++call.row.entities[std::string(kUnreadAttachment)];
    }
  }
  if (plan.counted) metrics_->classifications.with({to_string(ctx.level)}).inc();
  count_entities(plan.in, call.row);
  if (auto blocked = privacy::check_blocked(plan.in.classification, plan.in.persons, call.team(), deps_.config.pii);
      !blocked.ok()) {
    return std::move(blocked).error();
  }

  // Stage 4: route.
  auto decision = route(call, plan, ctx.level);
  if (!decision.ok()) return std::move(decision).error();
  plan.decision = std::move(decision).value();

  // Stage 5's worst case; reserve() takes it before any provider is called.
  plan.estimate = budget::estimate_cost(plan.in.prompt.text.size(), request.max_output_tokens,
                                        worst_price(plan.decision, request.cache_write));
  plan.hold = request.hold;
  return plan;
}

// Stage 5: a coroutine of its own because a ledger shared with other
// replicas may have to lease money from the database first.
boost::asio::awaitable<Result<void>> Gateway::reserve(Call& call, Plan& plan) {
  // Rate limits first, beside the budget: a request over them holds no money.
  const std::int64_t estimated_tokens = plan.estimate.input_tokens + plan.estimate.output_tokens;
  if (auto limited = co_await call.limit(estimated_tokens); !limited.ok()) co_return std::move(limited).error();
  if (!plan.hold) co_return co_await call.preflight(plan.estimate.cost);
  if (!call.has_budget()) co_return Result<void>{};
  std::optional<budget::KeyBudget> key = call.key_budget();
  auto held = co_await deps_.budgets.reserve(call.team(), call.cap(), plan.estimate.cost, plan.hold, std::move(key));
  if (!held.ok()) co_return std::move(held).error();
  plan.held = *held;
  co_return Result<void>{};
}

std::string Gateway::likely_provider(const CallContext& context, const std::string& model, Level level) const {
  auto decision = deps_.router.decide(route_input(context, level, model));
  return decision.ok() ? decision->chain.front().provider->info().name : std::string();
}

std::optional<std::chrono::seconds> Gateway::cache_ttl(const CallContext& context) const {
  if (deps_.response_cache == nullptr || !context.use_response_cache || context.principal == nullptr) {
    return std::nullopt;
  }
  std::int64_t seconds = 0;
  if (context.principal->response_cache_ttl_s) {
    seconds = *context.principal->response_cache_ttl_s;
  } else if (auto it = deps_.config.response_cache.teams.find(context.principal->team);
             it != deps_.config.response_cache.teams.end()) {
    seconds = it->second.count();
  }
  if (seconds <= 0) return std::nullopt;
  return std::chrono::seconds(seconds);
}

boost::asio::awaitable<bool> Gateway::answer_from_cache(Call& call, const ChatRequest& request,
                                                        providers::DeltaSink* sink, Completion* completion) {
  auto& ctx = call.context();
  const auto ttl = cache_ttl(ctx);
  if (!ttl) co_return false;
  if (!cacheable(ctx, request)) {
    ctx.cache = CallContext::CacheResult::bypass;
    metrics_->cache_requests.with({"bypass"}).inc();
    co_return false;
  }
  call.cache_key = response_cache_key(call.team(), ctx.task, ctx.level, request);
  auto hit = deps_.response_cache->lookup(*call.cache_key, call.team(), deps_.clock.steady_now(), *ttl);
  if (!hit) {
    ctx.cache = CallContext::CacheResult::miss;
    metrics_->cache_requests.with({"miss"}).inc();
    co_return false;
  }
  ctx.cache = CallContext::CacheResult::hit;
  metrics_->cache_requests.with({"hit"}).inc();
  call.cache_key.reset();  // nothing to store
  // The row names the original route; nothing was sent, nothing is booked.
  auto& row = call.row;
  ctx.route = hit->route;
  row.tier = hit->route.tier ? std::string(to_string(*hit->route.tier)) : "";
  row.provider = hit->route.provider;
  row.model = hit->route.model;
  row.reason = hit->route.reason;
  row.locality.clear();
  row.cache_hit = true;
  row.status = 200;
  if (completion) {
    *completion = hit->completion;
    co_return true;
  }
  if (!co_await replay(*sink, hit->completion)) row.status = kClientClosedRequest;
  co_return true;
}

void Gateway::remember(Call& call) {
  if (!call.cache_key || !call.to_cache) return;
  // The principal's team: the row (call.team()) has gone to the audit writer by now.
  const std::string& team = call.context().principal->team;
  deps_.response_cache->store(*call.cache_key, team, std::move(call.to_cache), deps_.clock.steady_now());
  call.cache_key.reset();
}

config::ModelPrice Gateway::price_of(std::string_view provider, const std::string& model) const {
  auto it = provider_configs_.find(provider);
  if (it == provider_configs_.end()) return {};
  auto price = it->second->prices.find(model);
  return price == it->second->prices.end() ? config::ModelPrice{} : price->second;
}

// The most expensive target in the chain prices the reservation: any of them may end up answering.
// Input at the highest rate it can be billed at (a cache write may cost more than plain input).
config::ModelPrice Gateway::worst_price(const routing::RouteDecision& decision, budget::CacheWrite cache_write) const {
  config::ModelPrice worst;
  for (const auto& target : decision.chain) {
    const auto p = price_of(target.provider->info().name, target.model);
    worst.input_per_mtok = std::max(worst.input_per_mtok, budget::worst_input_rate(p, cache_write));
    worst.output_per_mtok = std::max(worst.output_per_mtok, p.output_per_mtok);
  }
  return worst;
}

void Gateway::record_failed_attempt(Call& call, const std::string& provider, const Error& error,
                                    CircuitBreaker::Permit& permit, const std::string& locality_before) {
  auto& row = call.row;
  permit.record_failure(error);
  deps_.health.publish(provider);
  const std::string type(error_type(error.code));
  row.fallback_path.push_back(attempt_entry(provider, type));
  metrics_->attempts.with({provider, type}).inc();
  if (error.code == ErrorCode::egress_blocked) {
    row.egress_blocked = true;
    row.locality = locality_before;  // the guard stopped it before a byte left
  }
}

Result<void> Gateway::take_egress_veto(Call& call, const std::string& provider, const Error& veto,
                                       const std::string& locality_before) {
  auto& row = call.row;
  deps_.health.publish(provider);
  row.fallback_path.push_back(attempt_entry(provider, "egress_veto"));
  metrics_->attempts.with({provider, "egress_veto"}).inc();
  row.locality = locality_before;
  row.egress_veto = true;
  if (row.egress_rule.empty()) row.egress_rule = veto.rule;
  // Already RESTRICTED: this target is declared local but is not (its address
  // is outside the local networks). A compliance stop, as when the classifier
  // blocks it; never a second re-route.
  if (call.context().level == Level::RESTRICTED) {
    row.egress_blocked = true;
    return make_error(ErrorCode::egress_blocked, veto.message);
  }
  call.context().level = Level::RESTRICTED;
  return {};
}

boost::asio::awaitable<Result<routing::RouteTarget>> Gateway::dispatch(Call& call, Plan& plan, Sender& sender) {
  auto& ctx = call.context();
  auto& row = call.row;
  std::optional<Error> last_error;
  bool masked = false;
  bool skipped_for_locality = false;  // a cloud target refused because the data is RESTRICTED

  // An index, not an iterator: an egress veto replaces the decision mid-loop.
  for (std::size_t next = 0; next < plan.decision.chain.size();) {
    const routing::RouteTarget target = plan.decision.chain[next++];
    const auto& name = target.provider->info().name;
    // Defence in depth: the router already filtered the chain; check the data rule again here.
    if (deps_.recheck_locality && ctx.level == Level::RESTRICTED && target.locality != config::Locality::local) {
      row.fallback_path.push_back(attempt_entry(name, "skipped_not_local"));
      metrics_->attempts.with({name, "skipped_not_local"}).inc();
      skipped_for_locality = true;
      continue;
    }
    CircuitBreaker* breaker = deps_.health.breaker(name);
    CircuitBreaker::Permit permit;
    if (breaker) {
      permit = breaker->try_acquire();  // breaker() already published its state; acquiring does not change it
      if (!permit) {
        row.fallback_path.push_back(attempt_entry(name, "circuit_open"));
        metrics_->attempts.with({name, "circuit_open"}).inc();
        Error open = make_error(ErrorCode::unavailable, "provider '" + name + "' is unavailable (circuit open)");
        open.retry_after_seconds = static_cast<int>(std::max<std::int64_t>(
            1, std::chrono::duration_cast<std::chrono::seconds>(breaker->time_until_probe()).count()));
        last_error = std::move(open);
        continue;
      }
    }

    // Stage 3, lazily: a cloud target never sees a finding.
    const bool mask_this = target.locality == config::Locality::cloud && plan.in.has_entities();
    if (mask_this && !masked) {
      count_masked(co_await sender.mask(), *metrics_, row);
      ctx.masked = row.placeholders;
      masked = true;
    }
    ctx.route = Route{plan.decision.tier, name, target.model, plan.decision.reason, target.locality};
    row.provider = name;
    row.model = target.model;
    // Where data went: cloud as soon as any cloud target was sent to.
    const std::string locality_before = row.locality;
    if (row.locality != "cloud") row.locality = std::string(locality_name(target.locality));

    call.write_intent(co_await boost::asio::this_coro::executor);
    call.begin_attempt(name, price_of(name, target.model));
    const auto sent_at = deps_.clock.steady_now();
    auto outcome = co_await sender.send(target, mask_this);
    const auto took = deps_.clock.steady_now() - sent_at;
    call.time_provider(took);
    call.end_attempt();

    // Cancelled by our caller: a job's DELETE, or, for a stream, the server's
    // drain deadline (both abort the socket operation). The provider did
    // nothing wrong, so no breaker failure, no fallback, and the row names
    // only it; whatever a stream already carried is billed.
    if ((co_await boost::asio::this_coro::cancellation_state).cancelled() != boost::asio::cancellation_type::none) {
      permit.record_neutral();
      deps_.health.publish(name);
      const std::string cut(sender.cut_outcome());
      row.fallback_path.push_back(attempt_entry(name, cut));
      metrics_->attempts.with({name, cut}).inc();
      if (call.streamed_any()) call.bill_streamed();
      co_return make_error(ErrorCode::cancelled, "the call was cancelled");
    }

    // The provider's own figures (the console's providers page): a veto sent
    // it nothing (and a cancelled attempt returned above).
    if (outcome.ok() || outcome.error().code != ErrorCode::egress_vetoed) {
      deps_.health.record_attempt(name, outcome.ok(), took);
    }
    if (outcome.ok()) {
      permit.record_success();
      deps_.health.publish(name);
      const std::string result(sender.success_outcome());
      row.fallback_path.push_back(attempt_entry(name, result));
      metrics_->attempts.with({name, result}).inc();
      co_return target;
    }

    const Error& error = outcome.error();
    if (error.code == ErrorCode::egress_vetoed) {
      // The independent detector saw a RESTRICTED-shaped value the classifier
      // did not: nothing was sent. From here on the request is RESTRICTED and
      // goes where RESTRICTED data goes (a local provider, or 503
      // no_local_provider). The provider did nothing wrong: no breaker failure.
      permit.record_neutral();
      if (auto taken = take_egress_veto(call, name, error, locality_before); !taken.ok()) {
        co_return std::move(taken).error();
      }
      auto rerouted = route(call, plan, Level::RESTRICTED);
      if (!rerouted.ok()) co_return std::move(rerouted).error();
      // The reservation stays: commit books the local provider's actual cost.
      plan.decision = std::move(rerouted).value();
      next = 0;
      last_error.reset();
      continue;
    }
    record_failed_attempt(call, name, error, permit, locality_before);
    const bool client_saw_bytes = sender.client_saw_bytes();
    if (client_saw_bytes) call.bill_streamed();  // the answer is cut short: bill what it carried
    if (judge(error, client_saw_bytes) == AttemptVerdict::stop) co_return error;
    if (next < plan.decision.chain.size()) deps_.health.record_fallback(name);
    last_error = error;
  }

  // Data that must stay local gets the compliance answer (also when only the
  // re-check above kept it local); a chain that is local only because of the
  // configuration gets the provider's own error.
  if (routing::data_forced_local(plan.decision.rule) || (skipped_for_locality && !last_error) ||
      (plan.decision.local_only && !last_error)) {
    co_return no_local_provider(plan.kind == PlanRequest::Kind::embeddings ? "these embedding inputs" : "this request");
  }
  if (last_error) co_return *last_error;
  co_return make_error(ErrorCode::unavailable, "no provider could take the request");
}

boost::asio::awaitable<Result<void>> Gateway::run_chat(Call& call, ChatRequest& request, providers::DeltaSink* sink,
                                                       Completion* completion) {
  auto& ctx = call.context();
  auto& row = call.row;
  auto media = co_await inspect_media(request);
  if (!media.ok()) co_return std::move(media).error();
  const media::MediaInspection* inspection = media->has_value() ? &**media : nullptr;
  auto planned = plan(call, chat_plan_request(request, inspection));
  if (!planned.ok()) co_return std::move(planned).error();
  Plan& plan = *planned;
  // The exact response cache: after classification and routing (a hit is
  // held to the level, the PII block policy and the team's models like any
  // call), before the budget (a hit costs nothing).
  if (co_await answer_from_cache(call, request, sink, completion)) co_return Result<void>{};
  if (auto reserved = co_await reserve(call, plan); !reserved.ok()) co_return std::move(reserved).error();
  call.expect_tokens(plan.estimate.input_tokens, request.max_tokens);

  privacy::Vault own_vault;
  privacy::Vault& vault = ctx.vault ? *ctx.vault : own_vault;
  std::optional<GovernedSink> governed;
  if (sink) governed.emplace(*sink, call.streamed());
  if (governed && call.cache_key) governed->capture();
  ChatSender sender(request, plan.in, vault, governed ? &*governed : nullptr,
                    ChatSender::Media{inspection, deps_.media, &deps_.classifier, deps_.media_egress,
                                      &metrics_->egress_vetoes, [this](std::string_view provider) {
                                        auto it = provider_configs_.find(provider);
                                        return it != provider_configs_.end() && it->second->documents;
                                      }});
  auto answered = co_await dispatch(call, plan, sender);
  if (!answered.ok()) co_return std::move(answered).error();

  // Stage 9 with the provider's usage (stage 8 is the caller's commit).
  const auto price = price_of(answered->provider->info().name, answered->model);
  if (!governed) {
    sender.answer().provider = answered->provider->info().name;
    call.reconcile(sender.answer().usage, price);
    *completion = std::move(sender.answer());
  } else if (governed->finished()) {
    call.reconcile(governed->usage(), price);
  } else {
    call.bill_streamed();
  }

  // Stage 7: restore placeholders and scan the answer for PII the request did not hold.
  const auto policy = deps_.config.pii.invented_pii;
  if (completion) {
    if (sender.sent_masked() && !vault.empty()) {
      completion->text = privacy::restore(completion->text, vault);
      for (auto& tool_call : completion->tool_calls) {
        tool_call.arguments_json = privacy::restore(tool_call.arguments_json, vault);
      }
    }
    auto report = privacy::find_invented_pii(completion->text, deps_.classifier, vault, policy, plan.in.prompt.text);
    for (const auto& type : report.types_counted()) metrics_->invented_pii.with({type}).inc();
    row.invented_pii = !report.empty();
    if (report.redacted) completion->text = std::move(report.text);
  } else if (governed->finished()) {
    // Streamed text has already left: invented PII is counted (alert), never redacted here.
    auto report = privacy::find_invented_pii(governed->answer(), deps_.classifier, vault,
                                             config::InventedPiiPolicy::alert, plan.in.prompt.text);
    for (const auto& type : report.types_counted()) metrics_->invented_pii.with({type}).inc();
    row.invented_pii = !report.empty();
  }
  row.status = (governed && governed->client_gone()) ? kClientClosedRequest : 200;

  // A miss's answer, as the client received it, for remember() once the call
  // is on record. Not when the answer was cut short, had PII the request did
  // not hold, or the request became RESTRICTED on the way (an egress veto).
  if (call.cache_key && row.status == 200 && !row.invented_pii && ctx.level <= Level::INTERNAL &&
      (completion || governed->finished())) {
    auto answer = std::make_shared<CachedAnswer>();
    answer->completion = completion ? *completion : governed->captured();
    answer->completion.provider = answered->provider->info().name;
    if (answer->completion.model.empty()) answer->completion.model = answered->model;
    answer->route = ctx.route;
    call.to_cache = std::move(answer);
  }
  co_return Result<void>{};
}

boost::asio::awaitable<Result<JobAdmission>> Gateway::admit_job(CallContext submitted, const ChatRequest& request,
                                                                std::chrono::nanoseconds hold) {
  // A refused submit is audited like a refused synchronous call; an admitted
  // one is not (its run writes the row).
  CallContext& context = submitted;
  Call call(*this, context);
  auto admitted = co_await admit(call, request, hold);
  if (admitted.ok()) {
    call.skip_record();
  } else {
    call.fail(admitted.error());
  }
  co_return admitted;
}

boost::asio::awaitable<Result<JobAdmission>> Gateway::admit(Call& call, const ChatRequest& request,
                                                            std::chrono::nanoseconds hold) {
  // Read as the run will read it (URLs fetched into a copy: the stored job
  // keeps what the client sent, and its run fetches again).
  ChatRequest read = request;
  auto media = co_await inspect_media(read);
  if (!media.ok()) co_return std::move(media).error();
  const media::MediaInspection* inspection = media->has_value() ? &**media : nullptr;
  auto plan_request = chat_plan_request(read, inspection);
  plan_request.hold = hold;
  auto planned = plan(call, std::move(plan_request));
  if (!planned.ok()) co_return std::move(planned).error();
  if (auto reserved = co_await reserve(call, *planned); !reserved.ok()) co_return std::move(reserved).error();
  JobAdmission admission;
  admission.level = call.context().level;
  admission.reservation = planned->held;
  admission.estimate = planned->estimate.cost;
  admission.rate = call.context().rate;
  // Stage 3 at submit: every attempt of the job sends the same placeholders.
  if (planned->in.has_entities()) {
    privacy::Vault vault;
    MaskCounts counts;
    (void)mask_request(read, planned->in.prompt, planned->in.classification.findings, planned->in.persons, vault,
                       counts);
    admission.vault_json = vault.to_json();
  }
  co_return admission;
}

boost::asio::awaitable<Result<Inspected>> Gateway::explain(CallContext& context, ChatRequest request) {
  Call call(*this, context);
  call.skip_record();  // not a request: no audit row, no metrics, nothing reserved
  auto media = co_await inspect_media(request);
  if (!media.ok()) co_return std::move(media).error();
  const media::MediaInspection* inspection = media->has_value() ? &**media : nullptr;
  auto plan_request = chat_plan_request(request, inspection);
  plan_request.dry_run = true;
  auto planned = plan(call, std::move(plan_request));
  if (!planned.ok()) co_return std::move(planned).error();
  Inspected out;
  out.level = context.level;
  out.route = context.decided;
  const Inspection& in = planned->in;
  if (in.has_entities()) {
    // Stage 3 as dispatch() runs it for the first cloud target, attachments
    // redacted on the media workers (a RESTRICTED request goes to no cloud).
    privacy::Vault vault;
    MaskCounts counts;
    std::vector<AttachmentRedaction> redactions;
    out.masked = mask_request(request, in.prompt, in.classification.findings, in.persons, vault, counts, &redactions);
    if (context.level != Level::RESTRICTED && inspection != nullptr && deps_.media != nullptr) {
      for (const auto& redaction : redactions) {
        const auto* item = inspection->find(redaction.message, redaction.attachment);
        if (item == nullptr) continue;
        auto& attachment = out.masked->messages[redaction.message].attachments[redaction.attachment];
        auto redacted = co_await deps_.media->redact(attachment, item->extraction, redaction.ranges);
        if (!redacted.ok()) continue;
        attachment = std::move(redacted).value();
        out.redacted.emplace_back(redaction.message, redaction.attachment);
      }
    }
  }
  out.findings = in.classification.findings;
  out.findings.insert(out.findings.end(), in.persons.begin(), in.persons.end());
  std::sort(out.findings.begin(), out.findings.end(),
            [](const classify::Finding& a, const classify::Finding& b) { return a.start < b.start; });
  out.prompt = in.prompt;
  if (media->has_value()) out.media = std::move(**media);
  co_return out;
}

boost::asio::awaitable<Result<std::optional<media::MediaInspection>>> Gateway::inspect_media(ChatRequest& request) {
  std::optional<media::MediaInspection> none;
  if (!media::has_attachments(request)) co_return none;  // text only: nothing here costs a thing
  // Fetching a URL sends it to its host: a URL that carries data (a SIN in
  // a query string, an e-mail in a path: a CONFIDENTIAL or RESTRICTED
  // finding, or the egress detector's) is refused before any connection.
  for (const auto& message : request.messages) {
    for (const auto& attachment : message.attachments) {
      if (attachment.url.empty() || !attachment.data.empty()) continue;
      // Its host (an address is a finding too) is where the fetch goes anyway.
      const auto found = deps_.classifier.classify(attachment.url, classify::Marking{false});
      const bool sensitive = std::any_of(found.findings.begin(), found.findings.end(),
                                         [](const classify::Finding& f) { return f.level >= Level::CONFIDENTIAL; });
      const bool vetoed = deps_.media_egress && deps_.media_egress->scan(attachment.url);
      if (sensitive || vetoed) {
        co_return make_error(ErrorCode::invalid_request,
                             "an attachment's URL holds data that is not sent to other hosts; send the file inline "
                             "as a data URL");
      }
    }
  }
  if (deps_.media) {
    auto inspected = co_await deps_.media->inspect(request);
    if (!inspected.ok()) co_return std::move(inspected).error();
    co_return std::optional<media::MediaInspection>(std::move(inspected).value());
  }
  // Nothing can read attachments here: every one is unexamined.
  media::MediaInspection unread;
  unread.complete = false;
  unread.incomplete_reason = "no reader for images and documents is configured";
  for (std::size_t m = 0; m < request.messages.size(); ++m) {
    const auto& attachments = request.messages[m].attachments;
    for (std::size_t a = 0; a < attachments.size(); ++a) {
      (attachments[a].kind == Attachment::Kind::document ? unread.documents : unread.images) = true;
      unread.items.push_back(media::InspectedAttachment{m, a, nullptr});
    }
  }
  co_return std::optional<media::MediaInspection>(std::move(unread));
}

boost::asio::awaitable<Result<ChatOutcome>> Gateway::complete(CallContext& context, ChatRequest request) {
  Call call(*this, context);
  Completion completion;
  auto outcome = co_await run_chat(call, request, nullptr, &completion);
  if (!outcome.ok()) {
    call.fail(outcome.error());
    co_return std::move(outcome).error();
  }
  if (!co_await call.commit()) co_return Call::not_recorded();  // recorded before the answer leaves
  remember(call);
  co_return ChatOutcome{std::move(completion), context.route};
}

boost::asio::awaitable<Result<void>> Gateway::stream(CallContext& context, ChatRequest request,
                                                     providers::DeltaSink& sink) {
  Call call(*this, context);
  FinishGate gate(sink);
  auto outcome = co_await run_chat(call, request, &gate, nullptr);
  if (!outcome.ok()) {
    call.fail(outcome.error());
    co_return outcome;
  }
  // Recorded before the client sees the stream end; if it cannot be, the
  // stream ends with the error instead of its finish.
  if (!co_await call.commit()) co_return Call::not_recorded();
  remember(call);
  co_await gate.release();
  co_return outcome;
}

boost::asio::awaitable<Result<EmbedOutcome>> Gateway::embed(CallContext& context, EmbedRequest request) {
  Call call(*this, context);
  auto planned = plan(call, PlanRequest{.kind = PlanRequest::Kind::embeddings,
                                        .prompt = assemble_inputs(request.inputs),
                                        .model = request.model,
                                        .max_output_tokens = 0,
                                        .cache_write = budget::CacheWrite::none,
                                        .hold = std::nullopt,
                                        .media = nullptr});
  if (!planned.ok()) {
    call.fail(planned.error());
    co_return std::move(planned).error();
  }
  if (auto reserved = co_await reserve(call, *planned); !reserved.ok()) {
    call.fail(reserved.error());
    co_return std::move(reserved).error();
  }
  privacy::Vault vault;  // placeholders never come back: embeddings have no text to restore
  EmbedSender sender(request, planned->in, vault);
  auto answered = co_await dispatch(call, *planned, sender);
  if (!answered.ok()) {
    call.fail(answered.error());
    co_return std::move(answered).error();
  }
  Embeddings& embeddings = sender.answer();
  embeddings.provider = answered->provider->info().name;
  call.reconcile(embeddings.usage, price_of(embeddings.provider, answered->model));
  call.row.status = 200;
  if (!co_await call.commit()) co_return Call::not_recorded();  // recorded before the answer leaves
  co_return EmbedOutcome{std::move(embeddings), context.route};
}

}  // namespace aegis::gateway
