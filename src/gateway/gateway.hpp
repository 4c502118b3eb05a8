#pragma once
// The one path from every surface (the OpenAI- and Anthropic-compatible chat
// endpoints, streams, embeddings, async jobs) to a provider: the nine stages of
// docs/ARCHITECTURE.md, in order, as three steps every surface shares:
// plan (stages 2, 4, 5), dispatch (stage 6) and the Call's settlement (8, 9).
//
//   1 authenticate  (done before the gateway: the router's authorizer,
//                   api/access.cpp; the handler passes the caller's Principal
//                   as CallContext::principal)
//   2 classify      the assembled prompt; block mode -> 422
//   3 mask          a masked copy for cloud targets, per-request vault
//   4 route         routing::Router -> tier, chain, rule, reason
//   5 preflight     budget::BudgetService reserve, or 402 before any provider call
//   6 dispatch      breaker per provider, fallback before the first byte,
//                   locality re-checked per target, egress guard on every send
//   7 unmask + scan restore placeholders (streams too), flag invented PII
//   8 record        audit row + metrics; a success is committed to the store
//                   before the client sees it end (complete, embed: before the
//                   call returns; stream: before the finish event). Otherwise
//                   from a destructor: runs even when the client disconnects
//                   and the coroutine is torn down
//   9 reconcile     commit the actual cost (or release the reservation)
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "audit/record.hpp"
#include "budget/budget_service.hpp"
#include "budget/pricing.hpp"
#include "classify/classifier.hpp"
#include "compliance/egress_detector.hpp"
#include "config/config.hpp"
#include "core/chat.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "core/tier.hpp"
#include "gateway/prompt.hpp"
#include "identity/principal.hpp"
#include "media/media_inspector.hpp"
#include "privacy/vault.hpp"
#include "providers/provider_set.hpp"
#include "ratelimit/rate_limiter.hpp"
#include "resilience/provider_health.hpp"
#include "routing/router.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::gateway {

class ResponseCache;

struct Route {
  std::optional<Tier> tier;  // empty for embeddings; named only where it leaves (header, audit, job row)
  std::string provider;
  std::string model;
  std::string reason;
  config::Locality locality = config::Locality::cloud;

  // "tier=sonnet; provider=anthropic; model=claude-sonnet-4-5; reason=..."
  std::string header_value() const;
};

struct ChatOutcome {
  Completion completion;
  Route route;
};

struct EmbedOutcome {
  Embeddings embeddings;
  Route route;
};

// Facts about a call that the surface needs before the first byte (headers).
struct CallContext {
  const identity::Principal* principal = nullptr;
  std::string surface = "openai.chat";  // audit: which endpoint
  std::string request_id;
  std::string task = "chat";
  bool marked_public = false;     // the caller marked the content public (header / field)
  bool local_only = false;        // embeddings: local providers only, whatever the level (routing/router.hpp)
  Level level = Level::INTERNAL;  // filled by the gateway: the assembled prompt's classification
  Route route;                    // filled by the gateway once a provider is chosen
  // Filled at stage 4 with the router's decision (its chain's first target),
  // also when no provider is then tried (breakers open, local provider down):
  // what a failed job shows as its route.
  Route decided;
  Money cost;  // filled after the call: the actual cost booked
  // Filled at stage 3: values replaced by placeholders before a cloud
  // provider saw the request (0 when nothing was masked or it stayed local).
  std::int64_t masked = 0;

  // Async jobs (jobs/job_service.hpp) carry what submit decided into the run:
  // the classification floor the client declared, the budget reservation taken
  // at submit (adopted instead of a fresh preflight; the call then settles it
  // and clears this field, so whoever still finds it set must release it), and
  // the vault built at submit, so every attempt sends the same placeholders.
  Level minimum_level = Level::PUBLIC;
  std::optional<budget::ReservationId> held_reservation;
  Money held_estimate;
  privacy::Vault* vault = nullptr;

  // Set by a caller that commits the audit row itself (a job writes it in the
  // transaction that records the job's outcome): the finished call's row is
  // moved here instead of going to the audit sink. Whoever set it owns the
  // row from then on and must record it, through the sink when its own write
  // does not happen.
  std::optional<audit::AuditRecord>* audit_row_out = nullptr;

  // Rate limits, checked at stage 5 beside the budget (ratelimit/rate_limiter.hpp).
  // False for a call made for a request that was already counted: a job's
  // run (counted at submit), retrieval's embedding calls.
  bool rate_limit = true;
  // Filled by the gateway for the response headers: the caller's buckets
  // after admission (before it, when the call failed earlier), corrected
  // with the usage once the call settled.
  ratelimit::Snapshot rate{};
  // The exact response cache (gateway/response_cache.hpp), for the chat
  // surfaces that answer from it (/v1/chat/completions, /v1/messages; not
  // jobs or retrieval). cache_opt_in: the client sent `x-aegis-cache: allow`,
  // so a request without temperature 0 is cacheable too.
  bool use_response_cache = false;
  bool cache_opt_in = false;
  // Filled by the gateway for a team whose cache is on: hit, miss (looked up,
  // not found: the answer will be stored) or bypass (not cacheable: a
  // temperature other than 0 without the opt-in, or CONFIDENTIAL/RESTRICTED
  // data). The `x-aegis-cache` response header; none: no header.
  enum class CacheResult { none, hit, miss, bypass };
  CacheResult cache = CacheResult::none;
};

std::string_view to_string(CallContext::CacheResult result);

// What POST /v1/jobs learns before it answers 202: stages 2 to 5 without a
// provider call. The reservation is held for the job (see CallContext).
struct JobAdmission {
  Level level = Level::INTERNAL;
  std::optional<budget::ReservationId> reservation;
  Money estimate;
  std::string vault_json;      // empty when nothing would be masked
  ratelimit::Snapshot rate{};  // the caller's rate-limit buckets after the submit was counted
};

// What a chat request would meet without being sent (the admin console's
// POST /admin/v1/inspect, Gateway::explain): stages 2 to 4 as complete() runs them.
struct Inspected {
  Level level = Level::INTERNAL;
  AssembledPrompt prompt;                   // everything the model would read; findings index it
  std::vector<classify::Finding> findings;  // the classifier's and PERSON's, by start (bytes into prompt.text)
  // What a cloud provider would be sent: every finding a placeholder, and
  // (below RESTRICTED) each attachment holding findings redacted as stage 3
  // redacts it. None when nothing is masked.
  std::optional<ChatRequest> masked;
  // (message, attachment) of each attachment of `masked` that was redacted.
  // One that could not be is not listed: a real request would then veto
  // every cloud send and run locally.
  std::vector<std::pair<std::size_t, std::size_t>> redacted;
  std::optional<media::MediaInspection> media;  // the reading of the request's images and PDFs
  Route route;                                  // the router's decision: its chain's first target
};

struct GatewayDeps {
  const config::Config& config;
  providers::ProviderSet& providers;
  const classify::Classifier& classifier;
  const routing::Router& router;
  budget::BudgetService& budgets;
  resilience::ProviderHealth& health;
  audit::AuditSink& audit;
  telemetry::Registry& metrics;
  const Clock& clock;
  // The per-target locality re-check in stage 6 (docs/ARCHITECTURE.md). Only
  // the tests that prove each compliance layer independent turn it off; the
  // application never does.
  bool recheck_locality = true;
  // Rate and concurrency limits per key and team; null: none are enforced.
  ratelimit::RateLimiter* limiter = nullptr;
  // The exact response cache; null: none (every request goes to a provider).
  ResponseCache* response_cache = nullptr;
  // Reads images and PDFs before classification; null: a request with an
  // attachment is treated as RESTRICTED (nothing can read it).
  media::MediaInspector* media = nullptr;
  // The independent detector (compliance/egress_detector.hpp), run at stage 6
  // over the text of every attachment bound for a cloud provider (the egress
  // guard sees only the body's bytes, where an image is base64); null: none.
  const compliance::EgressDetector* media_egress = nullptr;
};

class Gateway {
 public:
  explicit Gateway(GatewayDeps deps);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  boost::asio::awaitable<Result<ChatOutcome>> complete(CallContext& context, ChatRequest request);
  // Streams into `sink`; context.route is set before the first event.
  boost::asio::awaitable<Result<void>> stream(CallContext& context, ChatRequest request, providers::DeltaSink& sink);
  boost::asio::awaitable<Result<EmbedOutcome>> embed(CallContext& context, EmbedRequest request);

  // Classify (with context.minimum_level and marked_public), apply the PII
  // block policy, route and reserve the worst-case cost for `hold` (the
  // reservation outlives the request). Errors are the synchronous path's:
  // 422 pii_blocked, 400 for a model the team may not use, 402 budget_exceeded
  // (503 when a budget shared with other replicas cannot be reached). CPU-only
  // unless a shared ledger has to lease money (on a database thread).
  boost::asio::awaitable<Result<JobAdmission>> admit_job(CallContext submitted, const ChatRequest& request,
                                                         std::chrono::nanoseconds hold);

  // Stages 2 to 4 of a chat request exactly as complete() runs them (media
  // read, classification, PERSON detection, the PII block policy, routing
  // with the team's remaining budget), then the masking a cloud target would
  // get, without reserving, calling a provider, counting metrics or writing
  // an audit row. Errors are complete()'s (422, 400, 503 no_local_provider).
  boost::asio::awaitable<Result<Inspected>> explain(CallContext& context, ChatRequest request);

  // The provider a job with this context and model would most likely be
  // sent to first at `level` (for its concurrency slot); "" when none.
  std::string likely_provider(const CallContext& context, const std::string& model, Level level) const;

  const providers::ProviderSet& providers() const { return deps_.providers; }

  struct Metrics;
  class Call;
  struct Plan;
  struct PlanRequest;
  // What differs between surfaces in stage 6: how one target is sent to.
  class Sender;

 private:
  // Stages 2 and 4, for every surface: classify (with the context's floor
  // and marking), the PII block policy, route, and price the worst case.
  Result<Plan> plan(Call& call, PlanRequest request);
  // Stage 5: reserve the plan's worst case, for the call or, when the plan
  // says so, held for a job.
  boost::asio::awaitable<Result<void>> reserve(Call& call, Plan& plan);
  // Stage 4 (again after an egress veto, at RESTRICTED).
  Result<routing::RouteDecision> route(Call& call, const Plan& plan, Level level);
  routing::RouteInput route_input(const CallContext& context, Level level, const std::string& model) const;
  // Stage 6 over the plan's chain: the per-target locality re-check, the
  // breaker, the attempt record, cancellation, the egress verdict and the
  // fallback decision, and the final error. Returns the target that answered;
  // the answer itself is the sender's.
  boost::asio::awaitable<Result<routing::RouteTarget>> dispatch(Call& call, Plan& plan, Sender& sender);
  // A failed attempt at `provider` (not a veto, not a cancellation): the
  // breaker, the attempt metric and the fallback path; an egress block leaves
  // the row's locality as it was, since nothing was sent.
  void record_failed_attempt(Call& call, const std::string& provider, const Error& error,
                             CircuitBreaker::Permit& permit, const std::string& locality_before);
  // An attempt at `provider` that the egress detector vetoed (nothing was
  // sent): records it and makes the request RESTRICTED; an error when it
  // already was (the caller stops with it). The caller settles the breaker
  // permit as neutral: a veto is not the provider's fault.
  Result<void> take_egress_veto(Call& call, const std::string& provider, const Error& veto,
                                const std::string& locality_before);
  boost::asio::awaitable<Result<void>> run_chat(Call& call, ChatRequest& request, providers::DeltaSink* sink,
                                                Completion* completion);
  boost::asio::awaitable<Result<JobAdmission>> admit(Call& call, const ChatRequest& request,
                                                     std::chrono::nanoseconds hold);
  // Stage 2's reading of the request's images and PDFs; nullopt for a
  // text-only request (which skips it entirely). An attachment given by URL
  // is fetched into the request first, when the URL itself holds no finding.
  boost::asio::awaitable<Result<std::optional<media::MediaInspection>>> inspect_media(ChatRequest& request);
  config::ModelPrice price_of(std::string_view provider, const std::string& model) const;
  // The exact response cache (gateway/response_cache.hpp). The team's TTL when
  // its cache is on and the surface answers from it: the admin API's setting,
  // else the config's response_cache.teams.
  std::optional<std::chrono::seconds> cache_ttl(const CallContext& context) const;
  // After plan(): looks a cacheable request up and answers a hit (whole, or
  // replayed into `sink` as a stream); true when it did. A miss leaves the
  // key in the call for remember().
  boost::asio::awaitable<bool> answer_from_cache(Call& call, const ChatRequest& request, providers::DeltaSink* sink,
                                                 Completion* completion);
  // Once a missed call's answer is on record: stores it under its key.
  void remember(Call& call);
  config::ModelPrice worst_price(const routing::RouteDecision& decision, budget::CacheWrite cache_write) const;

  GatewayDeps deps_;
  std::map<std::string, const config::ProviderConfig*, std::less<>> provider_configs_;
  std::unique_ptr<Metrics> metrics_;
  // Numbers the audit intents (audit::AuditRecord::intent_seq); starts at a
  // random point so no two processes' intents collide in one store.
  std::atomic<std::int64_t> next_intent_seq_;
};

}  // namespace aegis::gateway
