#include "app/application.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "api/access.hpp"
#include "api/admin.hpp"
#include "api/admin_console.hpp"
#include "api/anthropic.hpp"
#include "api/demo.hpp"
#include "api/health.hpp"
#include "api/jobs.hpp"
#include "api/openai.hpp"
#include "api/rag.hpp"
#include "api/reports.hpp"
#include "api/responses.hpp"
#include "api/whoami.hpp"
#include "app/demo_banner.hpp"
#include "app/http_document_fetcher.hpp"
#include "app/http_media_fetcher.hpp"
#include "app/provider_types.hpp"
#include "audit/audit_writer.hpp"
#include "audit/chain_sealer.hpp"
#include "audit/export/exporter.hpp"
#include "audit/signing_key.hpp"
#include "budget/budget_service.hpp"
#include "budget/leased_ledger.hpp"
#include "budget/ledger_restore.hpp"
#include "budget/memory_ledger.hpp"
#include "budget/period.hpp"
#include "classify/classifier.hpp"
#include "compliance/classifier_egress_guard.hpp"
#include "compliance/egress_detector.hpp"
#include "console/console_routes.hpp"
#include "console/oidc_code_flow.hpp"
#include "core/process_env.hpp"
#include "core/system_clock.hpp"
#include "core/version.hpp"
#include "gateway/gateway.hpp"
#include "gateway/lru_response_cache.hpp"
#include "http/client.hpp"
#include "http/json_response.hpp"
#include "http/server.hpp"
#include "identity/authenticator.hpp"
#include "identity/console_session.hpp"
#include "identity/oidc_identity.hpp"
#include "identity/oidc_verifier.hpp"
#include "identity/session_revocations.hpp"
#include "jobs/content_keys.hpp"
#include "jobs/factory.hpp"
#include "jobs/job_service.hpp"
#include "media/media_inspector.hpp"
#include "media/tesseract_extractor.hpp"
#include "providers/factory.hpp"
#include "providers/provider_set.hpp"
#include "rag/factory.hpp"
#include "rag/rag_service.hpp"
#include "ratelimit/auth_throttle.hpp"
#include "ratelimit/rate_limiter.hpp"
#include "resilience/provider_health.hpp"
#include "routing/router.hpp"
#include "sim/simulator.hpp"
#include "store/factory.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"

namespace aegis::app {

namespace asio = boost::asio;

namespace {

// The reader of images and PDFs (stage 2), from the config's media section.
std::unique_ptr<media::MediaInspector> make_media_inspector(const config::MediaConfig& config,
                                                            telemetry::Registry& metrics,
                                                            std::shared_ptr<media::Fetcher> fetcher) {
  media::Limits limits;
  limits.max_attachment_bytes = static_cast<std::size_t>(config.max_attachment_bytes);
  limits.max_pixels = config.max_pixels;
  limits.max_pdf_pages = static_cast<int>(config.max_pdf_pages);
  limits.languages = config.languages;
  media::InspectorSettings settings;
  settings.timeout = config.ocr_timeout;
  settings.threads = config.ocr_threads > 0 ? static_cast<std::size_t>(config.ocr_threads)
                                            : std::max(1U, std::thread::hardware_concurrency() / 2);
  settings.queue = static_cast<std::size_t>(config.ocr_queue);
  settings.cache_entries = static_cast<std::size_t>(config.cache_entries);
  settings.languages = config.languages;
  return std::make_unique<media::MediaInspector>(settings, std::make_shared<media::TesseractExtractor>(limits), metrics,
                                                 std::move(fetcher));
}

// Each stream holds two descriptors (the client's and the upstream's), so
// the usual soft limit of 1024 would cap a gateway near 500 streams and turn
// the rest into refused accepts. The hard limit is what the operator allows.
void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return;  // e.g. an unlimited hard limit above fs.nr_open
  telemetry::log(telemetry::LogLevel::info, "open_file_limit",
                 {{"from", static_cast<std::int64_t>(before)}, {"to", static_cast<std::int64_t>(limit.rlim_cur)}});
}

unsigned io_thread_count(const config::ServerConfig& server) {
  if (server.threads > 0) return server.threads;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? cores : 1;
}

// Request metrics the HTTP layer owns; handles are resolved once per exchange.
struct HttpMetrics {
  explicit HttpMetrics(telemetry::Registry& registry)
      : requests(registry.counter("aegis_http_requests_total", "HTTP requests by route pattern and status code",
                                  {"route", "code"})),
        duration(registry.histogram("aegis_http_request_duration_seconds",
                                    "Time from request received to response written", {"route"},
                                    telemetry::Registry::default_latency_buckets())),
        connections(
            registry.gauge("aegis_http_connections", "Client connections open on the API listener", {}).with({})),
        in_flight(registry
                      .gauge("aegis_http_requests_in_flight",
                             "Requests on the API listener being handled now (streams until their last byte): the "
                             "autoscaling signal",
                             {})
                      .with({})) {}
  telemetry::CounterFamily& requests;
  telemetry::HistogramFamily& duration;
  telemetry::Gauge& connections;
  telemetry::Gauge& in_flight;
};

// Counts a request in flight for as long as its handler runs, however it ends.
class InFlight {
 public:
  explicit InFlight(telemetry::Gauge& gauge) : gauge_(gauge) { gauge_.add(1); }
  ~InFlight() { gauge_.add(-1); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  telemetry::Gauge& gauge_;
};

// Demo mode: three simulated upstreams on loopback, configured exactly as
// real providers would be (same adapters, same wire protocols).
config::ProviderConfig demo_provider(std::string name, std::string type, config::Locality locality, std::uint16_t port,
                                     std::map<Tier, std::string> models, std::string embedding_model) {
  config::ProviderConfig p;
  p.name = std::move(name);
  p.type = std::move(type);
  p.locality = locality;
  p.base_url = "http://127.0.0.1:" + std::to_string(port);
  p.api_key = "demo-key-not-a-secret";
  if (p.type == "azure_openai") p.api_version = "2024-06-01";
  p.models = std::move(models);
  p.embedding_model = std::move(embedding_model);
  // The simulator takes image parts in every protocol, so an image with a SIN
  // visibly stays on the local one. PDFs only where the wire protocol has a
  // document part: the loader refuses `documents` on type ollama too.
  p.vision = true;
  p.documents = p.type != "ollama";
  for (const auto& [tier, model] : p.models) {
    const std::int64_t in = tier == Tier::haiku ? 1 : tier == Tier::sonnet ? 3 : 15;
    config::ModelPrice price;
    price.input_per_mtok = Money::from_dollars(in);
    price.output_per_mtok = Money::from_dollars(in * 5);
    p.prices[model] = config::with_cache_defaults(price, p.type);
  }
  return p;
}

std::string admin_key_from_env() {
  const char* key = core::env_value("AEGIS_ADMIN_KEY");
  return key ? std::string(key) : std::string();
}

// An io_context whose pending work can be destroyed before the objects that
// work refers to: after a drain deadline, requests still in flight are
// suspended coroutines whose frames (and their audit/budget finalisers) must
// run while the gateway, ledger and audit writer are alive.
class IoContext final : public asio::io_context {
 public:
  using asio::execution_context::shutdown;
  using asio::io_context::io_context;
};

}  // namespace

struct Application::Impl {
  Impl(std::shared_ptr<const config::Config> cfg, ServeOptions opts)
      : config(std::move(cfg)), options(opts), io(1), http_metrics(metrics) {
    metrics.gauge("aegis_build_info", "Build information", {"version"}).with({kVersion}).set(1);
    // Thread per core: one io_context per I/O thread. `io` (the first) also
    // accepts and runs the background work (jobs, health probes, signals);
    // every connection lives on one of them from accept to close, and its
    // provider calls run there too (http/client.cpp).
    const unsigned threads = io_thread_count(config->server);
    for (unsigned i = 1; i < threads; ++i) {
      workers.push_back(std::make_unique<IoContext>(1));
      worker_guards.emplace_back(workers.back()->get_executor());
    }
  }

  std::shared_ptr<const config::Config> config;
  ServeOptions options;
  IoContext io;
  std::vector<std::unique_ptr<IoContext>> workers;  // the other I/O threads' contexts
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> worker_guards;
  telemetry::Registry metrics;
  HttpMetrics http_metrics;
  store::DbExecutor db{1};
  // Compliance reports scan a month of audit rows: on a thread of their own,
  // so a report never holds up the requests' database work.
  store::DbExecutor reports_db{1};
  std::unique_ptr<store::Database> store;
  std::unique_ptr<identity::Authenticator> authenticator;
  std::unique_ptr<identity::ConsoleSessions> console_sessions;        // null: console.enabled is false
  std::unique_ptr<identity::SessionRevocations> session_revocations;  // with console_sessions
  std::unique_ptr<console::OidcSignIn> console_oidc;                  // null: no oidc issuer
  // OIDC access tokens (config oidc.issuers); null when none is configured.
  std::unique_ptr<identity::DocumentFetcher> oidc_fetcher;
  std::unique_ptr<identity::OidcVerifier> oidc_verifier;
  std::unique_ptr<identity::OidcIdentityService> oidc;
  // Writes the keys' last uses (identity::Authenticator::flush_uses) every
  // kUsesFlushEvery, on a thread of its own, and once more at shutdown.
  static constexpr std::chrono::seconds kUsesFlushEvery{60};
  std::thread uses_flusher;
  std::mutex uses_mu;
  std::condition_variable uses_cv;
  bool uses_stopping = false;
  // The keys' monthly sub-budgets (issue 19): accounts named by key id.
  std::unique_ptr<budget::Ledger> key_ledger;

  void start_uses_flusher() {
    uses_flusher = std::thread([this] {
      std::unique_lock lock(uses_mu);
      while (!uses_cv.wait_for(lock, kUsesFlushEvery, [this] { return uses_stopping; })) {
        lock.unlock();
        if (auto written = authenticator->flush_uses(); !written.ok()) {
          telemetry::log(telemetry::LogLevel::warn, "key_last_used_flush_failed", {{"error", written.error().message}});
        }
        lock.lock();
      }
    });
  }
  // Stops the thread and writes what is left; before the store closes.
  void stop_uses_flusher() {
    {
      std::lock_guard lock(uses_mu);
      uses_stopping = true;
    }
    uses_cv.notify_all();
    if (uses_flusher.joinable()) uses_flusher.join();
    if (authenticator) (void)authenticator->flush_uses();
  }
  std::vector<std::unique_ptr<sim::Simulator>> simulators;
  std::vector<api::DemoUpstream> demo_upstreams;
  std::unique_ptr<audit::AuditWriter> audit;
  // Streams the audit trail to a SIEM on its own thread (audit.export); null when none is set.
  std::unique_ptr<audit::siem::AuditExporter> exporter;
  std::unique_ptr<classify::Classifier> classifier;
  std::unique_ptr<compliance::EgressDetector> egress_detector;
  std::unique_ptr<compliance::ClassifierEgressGuard> egress_guard;
  std::unique_ptr<http::HttpClient> client;
  std::unique_ptr<providers::ProviderSet> providers;
  std::unique_ptr<routing::Router> router_rules;
  std::unique_ptr<budget::Ledger> ledger;
  std::unique_ptr<budget::BudgetService> budgets;
  // Rate and concurrency limits per key and team, and the per-address throttle of failed authentication.
  std::unique_ptr<ratelimit::RateLimiter> limiter;
  std::unique_ptr<ratelimit::AuthThrottle> auth_throttle;
  std::unique_ptr<resilience::ProviderHealth> health;
  std::unique_ptr<gateway::LruResponseCache> response_cache;
  // Reads images and PDFs before classification, on workers of its own (media/media_inspector.hpp).
  std::unique_ptr<media::MediaInspector> media;
  std::unique_ptr<gateway::Gateway> gateway;
  // Before the job service, which runs retrieval jobs on them (and so is destroyed first).
  std::unique_ptr<rag::RagStore> rag_store;  // null on a backend without one yet
  std::unique_ptr<rag::RagService> rag_service;
  std::unique_ptr<jobs::JobStore> job_store;
  std::unique_ptr<jobs::JobService> job_service;
  // Seals the audit chains of the store and of the job store (audit/chain_sealer.hpp).
  std::optional<audit::SigningKey> audit_key;
  std::unique_ptr<audit::ChainSealer> sealer;

  void start_demo_upstreams() {
    auto cfg = std::make_shared<config::Config>(*config);
    struct Spec {
      const char* name;
      const char* type;
      config::Locality locality;
      std::map<Tier, std::string> models;
      const char* embedding_model;
    };
    const Spec specs[] = {
        {"anthropic",
         "anthropic",
         config::Locality::cloud,
         {{Tier::haiku, "claude-haiku-4-5"}, {Tier::sonnet, "claude-sonnet-4-5"}, {Tier::opus, "claude-opus-4-1"}},
         ""},
        {"azure",
         "azure_openai",
         config::Locality::cloud,
         {{Tier::haiku, "gpt-4o-mini"}, {Tier::sonnet, "gpt-4o"}, {Tier::opus, "o1"}},
         "text-embedding-3-small"},
        {"ollama",
         "ollama",
         config::Locality::local,
         {{Tier::haiku, "llama3.2:3b"}, {Tier::sonnet, "qwen2.5:14b"}, {Tier::opus, "llama3.3:70b"}},
         "nomic-embed-text"},
    };
    for (const auto& spec : specs) {
      sim::SimOptions options;
      options.name = spec.name;
      auto simulator = std::make_unique<sim::Simulator>(io, options);
      const auto port = simulator->start();
      cfg->providers.push_back(
          demo_provider(spec.name, spec.type, spec.locality, port, spec.models, spec.embedding_model));
      demo_upstreams.push_back({spec.name, spec.locality, simulator.get()});
      telemetry::log(telemetry::LogLevel::warn, "demo_upstream",
                     {{"provider", spec.name},
                      {"type", spec.type},
                      {"port", port},
                      {"note", "SIMULATED provider on loopback: answers are echoes, not a real model"}});
      simulators.push_back(std::move(simulator));
    }
    cfg->routing.fallback_chain = {"anthropic", "azure", "ollama"};
    config = std::move(cfg);
  }

  // The pipeline's parts, in the order of a request's life (docs/ARCHITECTURE.md).
  // Needs the store (budget restore) and the audit writer.
  void build_pipeline() {
    const Clock& clock = SystemClock::instance();
    classifier = classify::make_classifier(config->classification);
    egress_detector = compliance::make_egress_detector("digits_first");
    egress_guard = std::make_unique<compliance::ClassifierEgressGuard>(config->egress, *classifier,
                                                                       egress_detector.get(), metrics);
    client = http::make_http_client(io.get_executor(), http::ClientOptions::from_environment());
    std::vector<std::unique_ptr<providers::LLMProvider>> built;
    for (const auto& provider_config : config->providers) {
      providers::ProviderDeps deps{*client, &io};
      deps.egress = egress_guard.get();
      egress_guard->watch(provider_config.name);
      auto provider = app::provider_factory().create(provider_config, deps);
      if (!provider.ok()) throw std::runtime_error(provider.error().message);
      built.push_back(std::move(provider).value());
    }
    providers = std::make_unique<providers::ProviderSet>(std::move(built), config->routing.fallback_chain);
    router_rules = std::make_unique<routing::Router>(*config, *providers);

    auto zone = budget::BudgetZone::parse(config->budgets.timezone);
    if (!zone) throw std::runtime_error("budgets.timezone: unknown time zone " + config->budgets.timezone);
    // Intents of requests this process's predecessor died in become rows
    // (and spend) before the spend is loaded: docs/ARCHITECTURE.md, stage 8.
    auto recovered = store->recover_pending();
    if (!recovered.ok()) {
      throw std::runtime_error("cannot recover the audit rows of interrupted requests: " + recovered.error().message);
    }
    if (*recovered > 0) {
      telemetry::log(telemetry::LogLevel::warn, "audit_intents_recovered",
                     {{"rows", *recovered}, {"outcome", "unknown; reservations booked"}});
    }
    // Stored Responses API conversations past responses.retention_s go now,
    // not only at the next write (store/response_store.hpp).
    const auto now_ms = clock.wall_ms();
    if (auto purged = store->purge_responses(now_ms); !purged.ok()) {
      throw std::runtime_error("cannot delete expired stored responses: " + purged.error().message);
    }
    if (auto* shared = store->budget_pool()) {
      // Replicas on one database lease their budgets from it (budget/leased_ledger.hpp).
      ledger = std::make_unique<budget::LeasedLedger>(clock, *zone, *shared);
    } else {
      auto own = std::make_unique<budget::MemoryLedger>(clock, *zone);
      if (auto restored = budget::restore_spend(*store, *own); !restored.ok()) {
        throw std::runtime_error("cannot restore budget spend from the store: " + restored.error().message);
      }
      ledger = std::move(own);
    }
    // The keys' sub-budgets, the same way: leased from the store by replicas, else in memory.
    if (auto* shared = store->key_budget_pool()) {
      key_ledger = std::make_unique<budget::LeasedLedger>(clock, *zone, *shared);
    } else {
      auto own = std::make_unique<budget::MemoryLedger>(clock, *zone);
      if (auto restored = budget::restore_key_spend(*store, *own); !restored.ok()) {
        throw std::runtime_error("cannot restore key spend from the store: " + restored.error().message);
      }
      key_ledger = std::move(own);
    }
    budgets = std::make_unique<budget::BudgetService>(*ledger, metrics, config->budgets.reservation_ttl, &db,
                                                      key_ledger.get());
    health = std::make_unique<resilience::ProviderHealth>(config->resilience, clock, metrics, providers->ordered());
    // Replicas on one database share their rate-limit buckets through it (ratelimit/rate_limiter.hpp).
    store::RatePool* rate_pool = store->rate_pool();
    limiter = std::make_unique<ratelimit::RateLimiter>(clock, metrics, rate_pool, rate_pool ? &db : nullptr);
    auth_throttle =
        std::make_unique<ratelimit::AuthThrottle>(clock, metrics, config->rate_limits.auth_failures_per_minute);
    response_cache = std::make_unique<gateway::LruResponseCache>(
        gateway::LruResponseCache::limits_of(config->response_cache), metrics);
    gateway::GatewayDeps deps{*config, *providers, *classifier, *router_rules, *budgets,
                              *health, *audit,     metrics,     clock};
    deps.limiter = limiter.get();
    deps.response_cache = response_cache.get();
    std::shared_ptr<media::Fetcher> fetcher;
    if (config->media.fetch_urls) {
      fetcher = std::make_shared<HttpMediaFetcher>(
          *client, *egress_guard, static_cast<std::size_t>(config->media.fetch_max_bytes), config->media.fetch_local);
    }
    media = make_media_inspector(config->media, metrics, std::move(fetcher));
    deps.media = media.get();
    deps.media_egress = egress_detector.get();
    gateway = std::make_unique<gateway::Gateway>(deps);
  }
  std::vector<asio::io_context*> session_contexts() {
    std::vector<asio::io_context*> contexts{&io};
    for (auto& worker : workers) contexts.push_back(worker.get());
    return contexts;
  }
  void stop_io() {
    for (auto& guard : worker_guards) guard.reset();
    for (auto& worker : workers) worker->stop();
    io.stop();
  }
  // Destroys what is still queued on every context (see IoContext).
  void shutdown_io() {
    for (auto& worker : workers) worker->shutdown();
    io.shutdown();
  }

  http::Router router;
  http::Router metrics_router;
  std::unique_ptr<http::Server> server;
  std::unique_ptr<http::Server> metrics_server;
  std::optional<asio::signal_set> signals;
  std::atomic<bool> drained_cleanly{true};

  asio::awaitable<http::HttpResponse> handle(http::HttpRequest& request) {
    const InFlight counted(http_metrics.in_flight);
    co_return co_await router.dispatch(request);
  }

  // /metrics (and the probes) on a listener of its own (server.metrics_listen).
  asio::awaitable<http::HttpResponse> handle_metrics(http::HttpRequest& request) {
    co_return co_await metrics_router.dispatch(request);
  }

  // The API listener's client connections (the metrics listener's own are not counted).
  void refresh_connection_gauge() {
    http_metrics.connections.set(server ? static_cast<double>(server->active_connections()) : 0.0);
  }

  void observe(const http::Exchange& exchange) {
    const auto seconds = std::chrono::duration<double>(exchange.duration).count();
    char code[8];
    std::snprintf(code, sizeof code, "%d", exchange.status);
    http_metrics.requests.with({exchange.request.route, code}).inc();
    http_metrics.duration.with({exchange.request.route}).observe(seconds);
    if (config->logging.access_log) {
      boost::json::object fields;
      fields["request_id"] = exchange.request.request_id;
      fields["method"] = exchange.request.method;
      fields["route"] = exchange.request.route;
      fields["status"] = exchange.status;
      fields["duration_us"] = std::chrono::duration_cast<std::chrono::microseconds>(exchange.duration).count();
      fields["response_bytes"] = exchange.response_bytes;
      // What the layers above added (the caller's team and key id); never one of the fields above.
      for (const auto& [name, value] : exchange.request.log_fields) fields.emplace(name, value);
      telemetry::log(telemetry::LogLevel::info, "access", std::move(fields));
    }
  }
};

Application::Application(std::shared_ptr<const config::Config> config, ServeOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), options)) {}

Application::~Application() {
  if (!impl_) return;
  if (impl_->store) impl_->store->stop_watching();  // its callbacks use the authenticator
  impl_->stop_uses_flusher();
  impl_->shutdown_io();  // see run(): finalise suspended requests while their dependencies live
  impl_->db.stop();
}

std::uint16_t Application::start() {
  auto& s = *impl_;
  if (s.options.demo) {
    if (s.config->providers.empty()) {
      s.start_demo_upstreams();
    } else {
      telemetry::log(telemetry::LogLevel::info, "demo_skipped", {{"reason", "providers are configured"}});
    }
  }
  s.store = store::open_store(s.config->storage);
  s.audit_key.emplace(audit::load_signing_key(s.config->audit, store::audit_key_path(s.config->storage)));
  s.audit = std::make_unique<audit::AuditWriter>(*s.store, s.metrics);
  s.build_pipeline();
  // Served (the lag at 0) even when nothing is exported: the alert rules read them.
  [[maybe_unused]] const audit::siem::ExportMetrics export_metrics(s.metrics);
  s.exporter = audit::siem::make_audit_exporter(*s.config, *s.store, s.metrics, SystemClock::instance());
  if (s.exporter) {
    s.exporter->start();
    telemetry::log(telemetry::LogLevel::info, "audit_export_started", {{"type", s.config->audit.export_to.type}});
  }
  s.health->start(s.io);
  s.authenticator = std::make_unique<identity::Authenticator>(
      *s.store, *s.store, s.db, SystemClock::instance(), std::chrono::seconds(5),
      identity::Authenticator::kDefaultMaxCacheEntries, s.store.get());
  // Another replica's revocation or team change reaches this one's key cache at once.
  s.store->watch_changes([auth = s.authenticator.get()](const std::string& key_id) { auth->invalidate(key_id); },
                         [auth = s.authenticator.get()] { auth->invalidate_all(); });
  s.start_uses_flusher();

  // Every route declares its credential; the router checks it on the route that matched.
  const std::string admin_key = admin_key_from_env();
  const auto& server_config = s.config->server;
  if (s.config->console.enabled) {
    s.console_sessions = std::make_unique<identity::ConsoleSessions>(
        s.config->console.session_secret, s.config->console.session_ttl, SystemClock::instance());
    s.session_revocations = std::make_unique<identity::SessionRevocations>(*s.store, s.db, SystemClock::instance());
  }
  if (!s.config->oidc.issuers.empty()) {
    s.oidc_fetcher = make_http_document_fetcher(*s.client);
    s.oidc_verifier =
        std::make_unique<identity::OidcVerifier>(s.config->oidc.issuers, *s.oidc_fetcher, SystemClock::instance());
    s.oidc = std::make_unique<identity::OidcIdentityService>(*s.oidc_verifier, *s.authenticator);
    telemetry::log(telemetry::LogLevel::info, "oidc_enabled",
                   {{"issuers", static_cast<std::int64_t>(s.config->oidc.issuers.size())}});
  }
  auto authorizer =
      api::make_authorizer({s.authenticator.get(), admin_key, server_config.metrics_token, s.auth_throttle.get(),
                            s.console_sessions.get(), s.session_revocations.get(), s.oidc.get(), &s.metrics});
  s.router.set_authorizer(authorizer);
  s.router.guard_prefix("v1", http::Credential::api_key);
  s.router.guard_prefix("admin", http::Credential::admin_key);
  api::register_health_routes(s.router, *s.store, s.db);
  if (server_config.metrics_listen) {
    s.metrics_router.set_authorizer(authorizer);
    api::register_health_routes(s.metrics_router, *s.store, s.db);
    api::register_metrics_route(s.metrics_router, s.metrics, [&s] { s.refresh_connection_gauge(); });
  } else {
    api::register_metrics_route(s.router, s.metrics, [&s] { s.refresh_connection_gauge(); });
  }
  api::register_whoami_route(s.router);
  api::register_openai_routes(s.router, *s.gateway, s.config->limits);
  api::register_anthropic_routes(s.router, *s.gateway, s.config->limits);
  // Stored conversations are sealed with the job store's content keys (the
  // same rule: configured keys on PostgreSQL, else the generated key file).
  const bool shared_store = !s.config->storage.postgres_dsn.empty();
  auto content_cipher =
      jobs::load_content_cipher(s.config->jobs, shared_store ? std::string(":memory:") : s.config->storage.sqlite_path);
  api::register_responses_routes(s.router,
                                 api::ResponsesRoutes{*s.gateway, *s.store, s.db, s.config->responses, s.config->limits,
                                                      SystemClock::instance(), std::move(content_cipher)});
  s.rag_store = rag::open_rag_store(s.config->storage, s.config->rag);
  if (s.rag_store) {
    s.rag_service = std::make_unique<rag::RagService>(rag::RagServiceDeps{
        s.config->rag, *s.gateway, *s.classifier, *s.rag_store, s.db, *s.audit, s.metrics, SystemClock::instance()});
  }
  api::register_rag_routes(s.router, s.rag_service.get());
  s.job_store = jobs::open_job_store(s.config->storage, s.config->jobs,
                                     s.store->budget_pool() ? s.store->budget_pool()->owner() : std::string());
  jobs::JobServiceDeps job_deps{s.config->jobs, *s.job_store, *s.gateway,
                                *s.budgets,     *s.store,     s.db,
                                *s.audit,       s.metrics,    SystemClock::instance()};
  job_deps.rag = s.rag_service.get();  // null: retrieval jobs are refused at submit, as the routes are
  job_deps.keys = s.store.get();
  s.job_service = std::make_unique<jobs::JobService>(job_deps, s.io);
  s.job_service->start();
  std::vector<audit::ChainWriter*> chain_writers{s.store->chain_writer()};
  if (auto* jobs_chain = s.job_store->chain_writer()) chain_writers.push_back(jobs_chain);
  s.sealer = std::make_unique<audit::ChainSealer>(*s.store, *s.audit_key, std::move(chain_writers),
                                                  SystemClock::instance(), s.config->audit.checkpoint_file);
  if (s.config->audit.verify_interval.count() > 0) {
    auto& findings = s.metrics
                         .gauge("aegis_audit_chain_findings",
                                "Findings that show tampering in the gateway's last verification of the audit chains "
                                "(0 when intact; see aegis audit verify and the breach register)",
                                {})
                         .with({});
    s.sealer->verify_every(
        s.config->audit.verify_interval, s.config->storage.audit_retention_months, *s.store,
        [&findings](const audit::VerifyReport& report) {
          const auto tampering = std::count_if(report.findings.begin(), report.findings.end(), [](const auto& f) {
            return f.kind != audit::FindingKind::unsigned_tail && f.kind != audit::FindingKind::unknown_key;
          });
          findings.set(static_cast<double>(tampering));
        });
  }
  s.sealer->start(s.config->audit.checkpoint_interval);
  api::register_job_routes(s.router, *s.job_service, s.config->limits);
  if (!s.demo_upstreams.empty()) api::register_demo_routes(s.router, s.demo_upstreams);
  api::AdminContext admin_context{*s.store, s.db, *s.authenticator, SystemClock::instance()};
  admin_context.ledger = s.ledger.get();
  admin_context.audit_writer = s.audit.get();
  admin_context.audit_key = &*s.audit_key;
  admin_context.response_cache_teams = &s.config->response_cache.teams;
  api::register_admin_routes(s.router, admin_context);
  api::register_breach_routes(s.router, admin_context);
  api::ReportContext report_context{.store = *s.store,
                                    .db = s.reports_db,
                                    .clock = SystemClock::instance(),
                                    .providers = s.config->providers,
                                    .audit_writer = s.audit.get(),
                                    .public_keys = {{s.audit_key->key_id(), s.audit_key->public_key_raw()}},
                                    .checkpoint_file = s.config->audit.checkpoint_file};
  api::register_report_routes(s.router, report_context);
  api::ConsoleContext console_context{.store = *s.store,
                                      .db = s.db,
                                      .scan_db = s.reports_db,
                                      .clock = SystemClock::instance(),
                                      .config = *s.config,
                                      .gateway = *s.gateway,
                                      .health = *s.health,
                                      .authenticator = *s.authenticator,
                                      .audit_writer = s.audit.get(),
                                      .job_store = s.job_store.get(),
                                      .rag_store = s.rag_store.get(),
                                      .rag = s.rag_service.get(),
                                      .public_keys = report_context.public_keys};
  api::register_admin_console_routes(s.router, console_context);
  api::register_inspect_route(s.router, console_context);
  if (s.console_sessions) {
    if (s.oidc) s.console_oidc = console::make_oidc_code_flow(s.config->oidc.issuers, *s.client, *s.oidc);
    console::register_console_routes(
        s.router, console::ConsoleRoutes{s.config->console, *s.console_sessions, admin_key, s.auth_throttle.get(),
                                         s.console_oidc.get(), s.session_revocations.get()});
  }

  s.server = std::make_unique<http::Server>(
      s.io, s.config->server, [&s](http::HttpRequest& request) { return s.handle(request); },
      [&s](const http::Exchange& exchange) { s.observe(exchange); }, s.session_contexts());
  if (s.options.install_signal_handlers) raise_open_file_limit();  // the process is ours, as its signals are
  const auto port = s.server->start();
  std::uint16_t metrics_port = 0;
  if (server_config.metrics_listen) {
    auto metrics_config = server_config;
    metrics_config.host = server_config.metrics_listen->host;
    metrics_config.port = server_config.metrics_listen->port;
    s.metrics_server = std::make_unique<http::Server>(
        s.io, metrics_config, [&s](http::HttpRequest& request) { return s.handle_metrics(request); },
        [&s](const http::Exchange& exchange) { s.observe(exchange); });
    metrics_port = s.metrics_server->start();
  }
  if (!http::is_loopback_name(server_config.host) && server_config.metrics_token.empty() &&
      !server_config.metrics_listen) {
    telemetry::log(telemetry::LogLevel::warn, "metrics_exposed",
                   {{"host", server_config.host},
                    {"note",
                     "GET /metrics shows every team's spend to anyone who can reach this address: set "
                     "server.metrics_token or server.metrics_listen"}});
  }

  if (s.options.install_signal_handlers) {
    s.signals.emplace(s.io, SIGINT, SIGTERM);
    s.signals->async_wait([this](const boost::system::error_code& ec, int signal_number) {
      if (ec) return;
      telemetry::log(telemetry::LogLevel::info, "shutdown", {{"signal", signal_number}});
      shutdown();
    });
  }
  telemetry::log(telemetry::LogLevel::info, "listening",
                 {{"host", s.config->server.host},
                  {"port", port},
                  {"threads", io_thread_count(s.config->server)},
                  {"metrics_port", metrics_port},
                  {"config", s.config->source},
                  {"version", kVersion}});
  if (!s.demo_upstreams.empty()) {
    // Printed, not logged: the key is a secret and logs never hold one.
    auto banner = demo_banner(*s.store, SystemClock::instance(), s.config->server.host, port);
    if (banner.ok()) {
      std::fputs(banner->c_str(), stdout);
      std::fflush(stdout);
    } else {
      telemetry::log(telemetry::LogLevel::warn, "demo_key_failed", {{"error", banner.error().message}});
    }
  }
  return port;
}

void Application::shutdown() {
  auto& s = *impl_;
  if (!s.server) return;
  // Before the drain: no new claims, and long-polls answer at once instead of holding it up.
  if (s.job_service) s.job_service->stop();
  if (s.metrics_server) s.metrics_server->drain([](bool) {});
  s.server->drain([&s](bool clean) {
    s.drained_cleanly = clean;
    telemetry::log(clean ? telemetry::LogLevel::info : telemetry::LogLevel::warn, "drained", {{"clean", clean}});
    if (s.signals) {
      boost::system::error_code ignored;
      s.signals->cancel(ignored);
    }
    if (s.health) s.health->stop();
    for (auto& simulator : s.simulators) simulator->stop();
    s.stop_io();
  });
}

int Application::run() {
  auto& s = *impl_;
  std::vector<std::thread> pool;
  pool.reserve(s.workers.size());
  for (auto& worker : s.workers) pool.emplace_back([&context = *worker] { context.run(); });
  s.io.run();
  for (auto& t : pool) t.join();
  // Database threads still finishing a call post their coroutine back to the
  // io_context: let them finish before it is shut down.
  if (s.job_service) s.job_service->finish_database_work();
  s.reports_db.finish();
  s.db.finish();
  if (s.media) s.media->finish();
  // Requests waiting for their audit row's commit get their completion posted
  // before the shutdown below destroys what is queued.
  if (s.audit) s.audit->flush(std::chrono::seconds(5));
  // Requests cut off by the drain deadline are finalised here (audit row,
  // reservation released) while everything they use still exists.
  s.shutdown_io();
  if (s.job_service) s.job_service->hand_back_running();
  // The keys' last uses noted since the last flush.
  s.stop_uses_flusher();
  // Every finished request's row is queued by now: write them before the store goes.
  if (s.audit) s.audit->stop();
  // Then seal what they added, before the store closes.
  if (s.sealer) s.sealer->stop();
  // After the writer drained and the sealer's last checkpoints: they go out in the exporter's last pass.
  if (s.exporter) s.exporter->stop();
  s.reports_db.stop();
  s.db.stop();
  telemetry::flush_logs();
  return 0;
}

}  // namespace aegis::app
