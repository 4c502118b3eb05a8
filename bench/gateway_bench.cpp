// The governance pipeline's own cost per request, without a network: every
// stage (classify, mask, route, budget reserve/commit, breaker, restore,
// invented-PII scan, audit row, metrics) runs for real against providers
// that answer immediately in process, so what is measured is Aegis alone.
#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "budget/budget_service.hpp"
#include "budget/memory_ledger.hpp"
#include "classify/classifier.hpp"
#include "core/system_clock.hpp"
#include "gateway/gateway.hpp"
#include "resilience/provider_health.hpp"
#include "routing/router.hpp"

namespace {

namespace asio = boost::asio;
using namespace aegis;

// Answers at once, echoing the last user message like the simulator does.
class EchoProvider final : public providers::LLMProvider {
 public:
  EchoProvider(std::string name, config::Locality locality, std::map<Tier, std::string> models)
      : info_{std::move(name), "bench", locality, std::move(models)} {}
  asio::awaitable<Result<Completion>> complete(const ChatRequest& request) override {
    Completion c;
    c.id = "bench";
    c.model = request.model;
    c.text = "Echo: " + request.messages.back().text;
    c.usage = Usage{static_cast<std::int64_t>(request.messages.back().text.size() / 4), 20};
    co_return c;
  }
  asio::awaitable<Result<void>> stream(const ChatRequest&, providers::DeltaSink&) override {
    co_return make_error(ErrorCode::internal, "not used");
  }
  asio::awaitable<Result<Embeddings>> embed(const EmbedRequest&) override {
    co_return make_error(ErrorCode::internal, "not used");
  }
  asio::awaitable<bool> health_check() override { co_return true; }
  const providers::ProviderInfo& info() const override { return info_; }

 private:
  providers::ProviderInfo info_;
};

class CountingAudit final : public audit::AuditSink {
 public:
  void record(audit::AuditRecord) override { rows.fetch_add(1, std::memory_order_relaxed); }
  std::atomic<std::int64_t> rows{0};
};

struct Pipeline {
  Pipeline() {
    const std::map<Tier, std::string> cloud_models = {
        {Tier::haiku, "claude-haiku-4-5"}, {Tier::sonnet, "claude-sonnet-4-5"}, {Tier::opus, "claude-opus-4-1"}};
    const std::map<Tier, std::string> local_models = {
        {Tier::haiku, "llama3.2:3b"}, {Tier::sonnet, "qwen2.5:14b"}, {Tier::opus, "llama3.3:70b"}};
    config::ProviderConfig cloud;
    cloud.name = "anthropic";
    cloud.type = "bench";
    cloud.models = cloud_models;
    for (const auto& [tier, model] : cloud_models) {
      cloud.prices[model] = config::ModelPrice{Money::from_dollars(3), Money::from_dollars(15), {}, {}, {}};
    }
    config::ProviderConfig local = cloud;
    local.name = "ollama";
    local.locality = config::Locality::local;
    local.models = local_models;
    local.prices.clear();
    config.providers = {cloud, local};
    config.routing.task_tiers = {{"chat", Tier::sonnet}};
    config.routing.fallback_chain = {"anthropic", "ollama"};
    config.resilience.health_check_interval = std::chrono::seconds(0);

    std::vector<std::unique_ptr<providers::LLMProvider>> built;
    built.push_back(std::make_unique<EchoProvider>("anthropic", config::Locality::cloud, cloud_models));
    built.push_back(std::make_unique<EchoProvider>("ollama", config::Locality::local, local_models));
    providers = std::make_unique<providers::ProviderSet>(std::move(built), config.routing.fallback_chain);
    classifier = classify::make_classifier(config.classification);
    router = std::make_unique<routing::Router>(config, *providers);
    ledger = std::make_unique<budget::MemoryLedger>(SystemClock::instance());
    budgets = std::make_unique<budget::BudgetService>(*ledger, metrics, std::chrono::seconds(900));
    health = std::make_unique<resilience::ProviderHealth>(config.resilience, SystemClock::instance(), metrics,
                                                          providers->ordered());
    gateway = std::make_unique<gateway::Gateway>(gateway::GatewayDeps{
        config, *providers, *classifier, *router, *budgets, *health, audit, metrics, SystemClock::instance()});
    principal = identity::Principal{"bench", "key", Level::CONFIDENTIAL, Money::from_dollars(1'000'000'000)};
  }

  config::Config config;
  telemetry::Registry metrics;
  std::unique_ptr<providers::ProviderSet> providers;
  std::unique_ptr<classify::Classifier> classifier;
  std::unique_ptr<routing::Router> router;
  std::unique_ptr<budget::MemoryLedger> ledger;
  std::unique_ptr<budget::BudgetService> budgets;
  std::unique_ptr<resilience::ProviderHealth> health;
  CountingAudit audit;
  std::unique_ptr<gateway::Gateway> gateway;
  identity::Principal principal;
};

void run_requests(benchmark::State& state, const std::string& text) {
  Pipeline p;
  asio::io_context io;
  bool ok = true;
  for ([[maybe_unused]] auto _ : state) {
    auto one = [&]() -> asio::awaitable<void> {
      gateway::CallContext context;
      context.principal = &p.principal;
      ChatRequest request;
      request.model = "auto";
      request.max_tokens = 256;
      Message m;
      m.text = text;
      request.messages.push_back(std::move(m));
      auto outcome = co_await p.gateway->complete(context, std::move(request));
      ok = ok && outcome.ok();
    };
    asio::co_spawn(io, one(), asio::detached);
    io.run();
    io.restart();
  }
  if (!ok) state.SkipWithError("a request failed");
  state.counters["audit_rows"] = static_cast<double>(p.audit.rows.load());
}

void BM_PipelinePlainChat(benchmark::State& state) {
  run_requests(state, "Please summarise the attached design review notes in three bullet points for the team.");
}
BENCHMARK(BM_PipelinePlainChat);

// Person + email: masked for the cloud provider, restored in the answer.
void BM_PipelineMaskedChat(benchmark::State& state) {
  run_requests(state, "Write a short reply to Jennifer Walsh (jennifer.walsh@acme-mail.com) about the offer.");
}
BENCHMARK(BM_PipelineMaskedChat);

// RESTRICTED: routed to the local provider.
void BM_PipelineRestrictedChat(benchmark::State& state) {
  run_requests(state, "The onboarding form has her SIN 046 454 286; check it against the payroll record.");
}
BENCHMARK(BM_PipelineRestrictedChat);

// A 4 KB prompt with a few entities.
void BM_PipelineMasked4KB(benchmark::State& state) {
  std::string text;
  while (text.size() < 4096) {
    text +=
        "Customer Jane Smith (jane.smith@example.com) asked about the delayed shipment; the warehouse "
        "team confirmed the package left on Tuesday and the carrier expects Friday delivery. ";
  }
  text.resize(4096);
  run_requests(state, text);
}
BENCHMARK(BM_PipelineMasked4KB);

}  // namespace
