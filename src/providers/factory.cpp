#include "providers/factory.hpp"

#include "providers/error_text.hpp"

namespace aegis::providers {

namespace {

// Every provider's errors leave through here, whatever the adapter: they name
// the provider and never carry an address, URL or path (attribute_error).
class AttributedProvider final : public LLMProvider {
 public:
  explicit AttributedProvider(std::unique_ptr<LLMProvider> inner) : inner_(std::move(inner)) {}

  boost::asio::awaitable<Result<Completion>> complete(const ChatRequest& request) override {
    AEGIS_CO_TRY(result, co_await inner_->complete(request), attributed);
    co_return result;
  }
  boost::asio::awaitable<Result<void>> stream(const ChatRequest& request, DeltaSink& sink) override {
    AEGIS_CO_TRY_VOID(co_await inner_->stream(request, sink), attributed);
    co_return Result<void>{};
  }
  boost::asio::awaitable<Result<Embeddings>> embed(const EmbedRequest& request) override {
    AEGIS_CO_TRY(result, co_await inner_->embed(request), attributed);
    co_return result;
  }
  boost::asio::awaitable<bool> health_check() override { return inner_->health_check(); }
  const ProviderInfo& info() const override { return inner_->info(); }

 private:
  Error attributed(Error error) const { return attribute_error(std::move(error), inner_->info().name); }

  std::unique_ptr<LLMProvider> inner_;
};

}  // namespace

const ProviderFactory& ProviderFactory::builtin() {
  static const ProviderFactory factory = [] {
    ProviderFactory f;
    f.register_type("anthropic", make_anthropic_provider);
    f.register_type("azure_openai", make_azure_openai_provider);
    f.register_type("openai_compat", make_openai_compat_provider);
    f.register_type("ollama", make_ollama_provider);
    return f;
  }();
  return factory;
}

void ProviderFactory::register_type(std::string type, ProviderMaker maker) {
  makers_[std::move(type)] = std::move(maker);
}

Result<std::unique_ptr<LLMProvider>> ProviderFactory::create(const config::ProviderConfig& config,
                                                             ProviderDeps deps) const {
  auto it = makers_.find(config.type);
  if (it == makers_.end()) {
    std::string known;
    for (const auto& [name, maker] : makers_) known += (known.empty() ? "" : ", ") + name;
    return make_error(ErrorCode::invalid_request,
                      "provider '" + config.name + "': unknown type '" + config.type + "' (known: " + known + ")");
  }
  auto provider = it->second(config, deps);
  if (!provider) return provider;
  return std::unique_ptr<LLMProvider>(std::make_unique<AttributedProvider>(std::move(provider)));
}

std::vector<std::string> ProviderFactory::types() const {
  std::vector<std::string> out;
  for (const auto& [name, maker] : makers_) out.push_back(name);
  return out;
}

}  // namespace aegis::providers
