// type: sim — a provider simulator started in-process on a free loopback
// port, reached through the ordinary openai_compat adapter and wire
// protocol. For tests, benchmarks and trying a config without any upstream.
#include <stdexcept>

#include "app/provider_types.hpp"
#include "sim/simulator.hpp"

namespace aegis::app {

namespace {

using providers::DeltaSink;
using providers::LLMProvider;
using providers::ProviderDeps;
using providers::ProviderInfo;

class SimProvider final : public LLMProvider {
 public:
  SimProvider(const config::ProviderConfig& config, ProviderDeps deps) {
    if (deps.io == nullptr) throw std::runtime_error("provider '" + config.name + "': type sim needs an io_context");
    sim::SimOptions options;
    options.name = config.name;
    simulator_ = std::make_unique<sim::Simulator>(*deps.io, options);
    const auto port = simulator_->start();
    config::ProviderConfig inner = config;
    inner.type = "openai_compat";
    inner.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
    if (inner.api_key.empty()) inner.api_key = "sim";
    inner_ = providers::make_openai_compat_provider(inner, deps);
    info_ = inner_->info();
    info_.type = "sim";
  }
  ~SimProvider() override { simulator_->stop(); }

  boost::asio::awaitable<Result<Completion>> complete(const ChatRequest& request) override {
    return inner_->complete(request);
  }
  boost::asio::awaitable<Result<void>> stream(const ChatRequest& request, DeltaSink& sink) override {
    return inner_->stream(request, sink);
  }
  boost::asio::awaitable<Result<Embeddings>> embed(const EmbedRequest& request) override {
    return inner_->embed(request);
  }
  boost::asio::awaitable<bool> health_check() override { return inner_->health_check(); }
  const ProviderInfo& info() const override { return info_; }

 private:
  std::unique_ptr<sim::Simulator> simulator_;
  std::unique_ptr<LLMProvider> inner_;
  ProviderInfo info_;
};

}  // namespace

const providers::ProviderFactory& provider_factory() {
  static const providers::ProviderFactory factory = [] {
    providers::ProviderFactory f = providers::ProviderFactory::builtin();
    f.register_type("sim", [](const config::ProviderConfig& config, ProviderDeps deps) -> std::unique_ptr<LLMProvider> {
      return std::make_unique<SimProvider>(config, deps);
    });
    return f;
  }();
  return factory;
}

}  // namespace aegis::app
