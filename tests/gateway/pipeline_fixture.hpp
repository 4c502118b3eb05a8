#pragma once
// The in-process pipeline fixture shared by the gateway tests: real provider
// adapters over the real outbound client to three in-process simulators (two
// cloud, one local), the real classifier, router, ledger, breakers and egress
// guard, with a ManualClock so breakers and budgets move without sleeping.
// What a cloud provider saw is read from the simulators' own request logs.
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "budget/budget_service.hpp"
#include "budget/memory_ledger.hpp"
#include "budget/pricing.hpp"
#include "classify/classifier.hpp"
#include "compliance/classifier_egress_guard.hpp"
#include "compliance/egress_detector.hpp"
#include "core/system_clock.hpp"
#include "gateway/gateway.hpp"
#include "http/client.hpp"
#include "providers/factory.hpp"
#include "resilience/provider_health.hpp"
#include "routing/router.hpp"
#include "sim/simulator.hpp"
#include "support/keyword_egress_detector.hpp"

namespace aegis::gateway::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::string_view kSin = "046 454 286";
constexpr std::string_view kSinDigits = "046454286";
constexpr std::string_view kCard = "4111 1111 1111 1111";

// Final rows and intents (audit::AuditRecord::intent) apart. A durable record
// is answered at once, or, with hold_durable, when the test calls release().
class CapturingAudit final : public audit::AuditSink {
 public:
  void record(audit::AuditRecord row) override {
    std::lock_guard lock(mutex_);
    (row.intent ? intents_ : rows_).push_back(std::move(row));
  }
  void record_durable(audit::AuditRecord row, DurableHandler done) override {
    record(std::move(row));
    std::lock_guard lock(mutex_);
    ++durable_;
    if (hold_durable) {
      held_.push_back(std::move(done));
      return;
    }
    std::move(done)(true);
  }
  // Answers every held durable record with `written`.
  void release(bool written) {
    std::vector<DurableHandler> held;
    {
      std::lock_guard lock(mutex_);
      held.swap(held_);
    }
    for (auto& done : held) std::move(done)(written);
  }
  std::size_t held() const {
    std::lock_guard lock(mutex_);
    return held_.size();
  }
  int durable() const {
    std::lock_guard lock(mutex_);
    return durable_;
  }
  std::atomic<bool> hold_durable = false;
  // What accepting() answers: false stands for a failing audit store.
  std::atomic<bool> accepting_now = true;
  bool accepting() const noexcept override { return accepting_now; }
  std::vector<audit::AuditRecord> rows() const {
    std::lock_guard lock(mutex_);
    return rows_;
  }
  std::vector<audit::AuditRecord> intents() const {
    std::lock_guard lock(mutex_);
    return intents_;
  }
  audit::AuditRecord last() const {
    std::lock_guard lock(mutex_);
    return rows_.empty() ? audit::AuditRecord{} : rows_.back();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<audit::AuditRecord> rows_;
  std::vector<audit::AuditRecord> intents_;
  std::vector<DurableHandler> held_;
  int durable_ = 0;
};

// Collects what a client would receive from a stream.
class CollectingSink final : public providers::DeltaSink {
 public:
  asio::awaitable<bool> on_event(const StreamEvent& event) override {
    events.push_back(event);
    if (event.kind == StreamEvent::Kind::text) text += event.text;
    co_return true;
  }
  std::vector<StreamEvent> events;
  std::string text;
};

// A client that reads `texts` text events and then hangs up; counts the text
// it was offered (the event it refused included).
class LeavingSink final : public providers::DeltaSink {
 public:
  explicit LeavingSink(std::size_t texts) : texts_(texts) {}
  asio::awaitable<bool> on_event(const StreamEvent& event) override {
    if (event.kind != StreamEvent::Kind::text) co_return true;
    offered_bytes += event.text.size();
    co_return ++seen_ <= texts_;
  }
  std::size_t offered_bytes = 0;

 private:
  std::size_t texts_;
  std::size_t seen_ = 0;
};

// A client that stays, but after `texts` text events asks (through `cut`) for
// the call to be cancelled, as the server does at its drain deadline.
class CuttingSink final : public providers::DeltaSink {
 public:
  CuttingSink(asio::io_context& io, asio::cancellation_signal& cut, std::size_t texts)
      : io_(io), cut_(cut), texts_(texts) {}
  asio::awaitable<bool> on_event(const StreamEvent& event) override {
    if (event.kind != StreamEvent::Kind::text) co_return true;
    offered_bytes += event.text.size();
    if (++seen_ == texts_) asio::post(io_, [this] { cut_.emit(asio::cancellation_type::terminal); });
    co_return true;
  }
  std::size_t offered_bytes = 0;

 private:
  asio::io_context& io_;
  asio::cancellation_signal& cut_;
  std::size_t texts_;
  std::size_t seen_ = 0;
};

inline std::string many_words(int n) {
  std::string text;
  for (int i = 0; i < n; ++i) text += (i ? " word" : "word") + std::to_string(i);
  return text;
}

inline Message user_message(std::string text, Role role = Role::user) {
  Message m;
  m.role = role;
  m.text = std::move(text);
  return m;
}

inline config::ProviderConfig provider_config(std::string name, std::string type, config::Locality locality,
                                              std::uint16_t port, std::map<Tier, std::string> models) {
  config::ProviderConfig p;
  p.name = std::move(name);
  p.type = std::move(type);
  p.locality = locality;
  p.base_url = "http://127.0.0.1:" + std::to_string(port);
  p.api_key = "test-key";
  if (p.type == "azure_openai") p.api_version = "2024-06-01";
  p.models = std::move(models);
  for (const auto& [tier, model] : p.models) {
    const std::int64_t in = locality == config::Locality::local ? 0
                                                                : (tier == Tier::haiku    ? 1
                                                                   : tier == Tier::sonnet ? 3
                                                                                          : 15);
    p.prices[model] = config::with_cache_defaults(
        config::ModelPrice{Money::from_dollars(in), Money::from_dollars(in * 5), {}, {}, {}}, p.type);
  }
  if (p.type == "ollama") p.embedding_model = "nomic-embed-text";
  if (p.type == "azure_openai") p.embedding_model = "text-embedding-3-small";
  return p;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"anthropic", "azure", "ollama"}) {
      sim::SimOptions options;
      options.name = name;
      sims_.push_back(std::make_unique<sim::Simulator>(io_, options));
    }
    std::vector<std::uint16_t> ports;
    for (auto& s : sims_) ports.push_back(s->start());
    thread_ = std::thread([this] { io_.run(); });

    config_.providers.push_back(provider_config(
        "anthropic", "anthropic", config::Locality::cloud, ports[0],
        {{Tier::haiku, "claude-haiku-4-5"}, {Tier::sonnet, "claude-sonnet-4-5"}, {Tier::opus, "claude-opus-4-1"}}));
    config_.providers.push_back(
        provider_config("azure", "azure_openai", config::Locality::cloud, ports[1],
                        {{Tier::haiku, "gpt-4o-mini"}, {Tier::sonnet, "gpt-4o"}, {Tier::opus, "o1"}}));
    config_.providers.push_back(
        provider_config("ollama", "ollama", config::Locality::local, ports[2],
                        {{Tier::haiku, "llama3.2:3b"}, {Tier::sonnet, "qwen2.5:14b"}, {Tier::opus, "llama3.3:70b"}}));
    config_.routing.task_tiers = {
        {"chat", Tier::sonnet}, {"security_audit", Tier::opus}, {"commit_summary", Tier::haiku}};
    config_.routing.fallback_chain = {"anthropic", "azure", "ollama"};
    config_.resilience.health_check_interval = 0s;

    classifier_ = classify::make_classifier(config_.classification);
    detector_ = compliance::make_egress_detector();
    client_ = http::make_http_client(io_.get_executor(), http::ClientOptions{});
    ledger_ = std::make_unique<budget::MemoryLedger>(clock_);
    budgets_ = std::make_unique<budget::BudgetService>(*ledger_, metrics_, 900s);
    build(Layers{});
    principal_ = identity::Principal{"payments", "key1", Level::CONFIDENTIAL, Money::from_dollars(100)};
  }

  // The compliance layers in front of the cloud (docs/ARCHITECTURE.md), each
  // replaceable so that a test can remove one and show what the others do.
  struct Layers {
    const classify::Classifier* classifier = nullptr;        // null: the real classifier
    const classify::Classifier* guard_classifier = nullptr;  // null: the same as the gateway's
    const compliance::EgressDetector* detector = nullptr;    // null: the real digits-first detector
    bool no_detector = false;                                // the guard without its independent detector
    bool egress_guard = true;                                // false: providers send without any guard
    bool leaky_router = false;                               // a router that routes RESTRICTED like INTERNAL
    bool recheck_locality = true;
  };

  // A router with the data rule taken out: it decides as if the data were INTERNAL.
  class LeakyRouter final : public routing::Router {
   public:
    using Router::Router;
    Result<routing::RouteDecision> decide(const routing::RouteInput& input) const override {
      routing::RouteInput leaked = input;
      leaked.level = std::min(input.level, Level::INTERNAL);
      return Router::decide(leaked);
    }
    Result<routing::RouteDecision> decide_embedding(const routing::RouteInput& input) const override {
      routing::RouteInput leaked = input;
      leaked.level = std::min(input.level, Level::INTERNAL);
      return Router::decide_embedding(leaked);
    }
  };

  void build(const Layers& layers) {
    if (health_) health_->stop();
    gateway_.reset();
    health_.reset();
    router_.reset();
    providers_.reset();
    guard_.reset();
    const classify::Classifier& classifier = layers.classifier ? *layers.classifier : *classifier_;
    const compliance::EgressDetector* detector =
        layers.no_detector ? nullptr : (layers.detector ? layers.detector : detector_.get());
    guard_ = std::make_unique<compliance::ClassifierEgressGuard>(
        config_.egress, layers.guard_classifier ? *layers.guard_classifier : classifier, detector, metrics_);
    std::vector<std::unique_ptr<providers::LLMProvider>> built;
    for (const auto& p : config_.providers) {
      providers::ProviderDeps deps{*client_, &io_};
      if (layers.egress_guard) deps.egress = guard_.get();
      built.push_back(providers::ProviderFactory::builtin().create(p, deps).value());
    }
    providers_ = std::make_unique<providers::ProviderSet>(std::move(built), config_.routing.fallback_chain);
    router_ = layers.leaky_router ? std::make_unique<LeakyRouter>(config_, *providers_)
                                  : std::make_unique<routing::Router>(config_, *providers_);
    health_ = std::make_unique<resilience::ProviderHealth>(config_.resilience, clock_, metrics_, providers_->ordered());
    GatewayDeps deps{config_, *providers_, classifier, *router_, *budgets_, *health_, audit_, metrics_, clock_};
    deps.recheck_locality = layers.recheck_locality;
    deps.response_cache = response_cache_;
    deps.media = media_;
    deps.media_egress = detector;
    gateway_ = std::make_unique<Gateway>(deps);
  }

  void TearDown() override {
    health_->stop();
    for (auto& s : sims_) s->stop();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  // Result<T> has no default state, which use_future needs: park it in an optional.
  template <class T>
  T run(asio::awaitable<T> work) {
    auto slot = std::make_shared<std::optional<T>>();
    auto task = [slot](asio::awaitable<T> w) -> asio::awaitable<void> { slot->emplace(co_await std::move(w)); };
    asio::co_spawn(io_, task(std::move(work)), asio::use_future).get();
    return std::move(**slot);
  }

  static ChatRequest auto_request(std::string text, std::int64_t max_tokens) {
    ChatRequest request;
    request.model = "auto";
    request.max_tokens = max_tokens;
    request.messages.push_back(user_message(std::move(text)));
    return request;
  }

  Result<ChatOutcome> chat(std::string text, std::string task = "chat", std::string model = "auto",
                           std::optional<std::int64_t> max_tokens = 64) {
    CallContext context;
    context.principal = &principal_;
    context.task = std::move(task);
    ChatRequest request;
    request.model = std::move(model);
    request.max_tokens = max_tokens;
    request.messages.push_back(user_message(std::move(text)));
    auto outcome = run(gateway_->complete(context, std::move(request)));
    last_context_ = context;
    return outcome;
  }

  Result<EmbedOutcome> embed(std::vector<std::string> inputs, std::string model = "auto") {
    CallContext context;
    context.principal = &principal_;
    EmbedRequest request;
    request.model = std::move(model);
    request.inputs = std::move(inputs);
    auto outcome = run(gateway_->embed(context, std::move(request)));
    last_context_ = context;
    return outcome;
  }

  Result<void> stream(std::string text, CollectingSink& sink) {
    CallContext context;
    context.principal = &principal_;
    ChatRequest request;
    request.model = "auto";
    request.max_tokens = 64;
    request.stream = true;
    request.messages.push_back(user_message(std::move(text)));
    auto outcome = run(gateway_->stream(context, std::move(request), sink));
    last_context_ = context;
    return outcome;
  }

  sim::Simulator& sim(std::string_view name) {
    for (auto& s : sims_) {
      if (s->options().name == name) return *s;
    }
    throw std::logic_error("no such sim");
  }

  // Every body a cloud simulator has received, concatenated.
  std::string cloud_traffic() {
    std::string all;
    for (const char* name : {"anthropic", "azure"}) {
      for (const auto& r : sim(name).requests()) all += r.body + "\n";
    }
    return all;
  }

  static bool contains_digits(const std::string& haystack, std::string_view digits) {
    std::string only;
    for (char c : haystack) {
      if (c >= '0' && c <= '9') only += c;
    }
    return only.find(digits) != std::string::npos;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
  std::vector<std::unique_ptr<sim::Simulator>> sims_;
  config::Config config_;
  ManualClock clock_{std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 365 * 57)};
  telemetry::Registry metrics_;
  std::unique_ptr<classify::Classifier> classifier_;
  std::unique_ptr<compliance::EgressDetector> detector_;
  std::unique_ptr<compliance::ClassifierEgressGuard> guard_;
  std::unique_ptr<http::HttpClient> client_;
  std::unique_ptr<providers::ProviderSet> providers_;
  std::unique_ptr<routing::Router> router_;
  std::unique_ptr<budget::MemoryLedger> ledger_;
  std::unique_ptr<budget::BudgetService> budgets_;
  std::unique_ptr<resilience::ProviderHealth> health_;
  CapturingAudit audit_;
  ResponseCache* response_cache_ = nullptr;  // set before build(): the gateway's exact response cache
  media::MediaInspector* media_ = nullptr;   // set before build(): the reader of images and PDFs
  std::unique_ptr<Gateway> gateway_;
  identity::Principal principal_;
  CallContext last_context_;
};

// Words the real classifier finds nothing in, that a keyword detector vetoes.
constexpr std::string_view kVetoWord = "ZQVETO42";

// The value of one exposed series ("name{labels}"), -1 when absent.
inline double scraped(const telemetry::Registry& registry, const std::string& series) {
  const std::string text = registry.expose();
  const auto at = text.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
}

}  // namespace aegis::gateway::test
