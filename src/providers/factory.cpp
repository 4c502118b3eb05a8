#include "providers/factory.hpp"

namespace aegis::providers {

const ProviderFactory& ProviderFactory::builtin() {
  static const ProviderFactory factory = [] {
    ProviderFactory f;
    f.register_type("anthropic", make_anthropic_provider);
    f.register_type("azure_openai", make_azure_openai_provider);
    f.register_type("openai_compat", make_openai_compat_provider);
    f.register_type("ollama", make_ollama_provider);
    f.register_type("sim", make_sim_provider);
    return f;
  }();
  return factory;
}

void ProviderFactory::register_type(std::string type, ProviderMaker maker) { makers_[std::move(type)] = std::move(maker); }

Result<std::unique_ptr<LLMProvider>> ProviderFactory::create(const config::ProviderConfig& config,
                                                             ProviderDeps deps) const {
  auto it = makers_.find(config.type);
  if (it == makers_.end()) {
    std::string known;
    for (const auto& [name, maker] : makers_) known += (known.empty() ? "" : ", ") + name;
    return make_error(ErrorCode::invalid_request,
                      "provider '" + config.name + "': unknown type '" + config.type + "' (known: " + known + ")");
  }
  return it->second(config, deps);
}

std::vector<std::string> ProviderFactory::types() const {
  std::vector<std::string> out;
  for (const auto& [name, maker] : makers_) out.push_back(name);
  return out;
}

}  // namespace aegis::providers
