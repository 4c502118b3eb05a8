#include "gateway/gateway.hpp"

namespace aegis::gateway {

namespace {
std::string tier_for_task(const config::Config& config, const std::string& task) {
  if (auto it = config.routing.task_tiers.find(task); it != config.routing.task_tiers.end()) return it->second;
  return "sonnet";
}
}  // namespace

std::string Route::header_value() const {
  return "tier=" + (tier.empty() ? std::string("none") : tier) + "; provider=" + provider + "; model=" + model +
         "; reason=" + reason;
}

Gateway::Gateway(const config::Config& config, providers::ProviderSet& providers)
    : config_(config), providers_(providers) {}

Result<providers::ModelChoice> Gateway::choose(CallContext& context, const ChatRequest& request) const {
  const std::string default_tier = tier_for_task(config_, context.task);
  auto choice = providers_.resolve(request.model, default_tier);
  if (!choice.ok()) return choice;
  const bool automatic = request.model.empty() || request.model == "auto";
  context.route = Route{choice->tier, choice->provider->info().name, choice->model,
                        automatic ? "task=" + context.task + "→" + default_tier : "explicit_model=" + request.model,
                        choice->provider->info().locality};
  return choice;
}

boost::asio::awaitable<Result<ChatOutcome>> Gateway::complete(CallContext& context, ChatRequest request) {
  auto choice = choose(context, request);
  if (!choice.ok()) co_return std::move(choice).error();
  request.model = choice->model;
  auto completion = co_await choice->provider->complete(request);
  if (!completion.ok()) co_return std::move(completion).error();
  completion->provider = choice->provider->info().name;
  co_return ChatOutcome{std::move(completion).value(), context.route};
}

boost::asio::awaitable<Result<void>> Gateway::stream(CallContext& context, ChatRequest request,
                                                     providers::DeltaSink& sink) {
  auto choice = choose(context, request);
  if (!choice.ok()) co_return std::move(choice).error();
  request.model = choice->model;
  co_return co_await choice->provider->stream(request, sink);
}

boost::asio::awaitable<Result<EmbedOutcome>> Gateway::embed(CallContext& context, EmbedRequest request) {
  auto choice = providers_.resolve_embedding(request.model, config_.providers);
  if (!choice.ok()) co_return std::move(choice).error();
  context.route = Route{"", choice->provider->info().name, choice->model,
                        request.model.empty() || request.model == "auto" ? "embedding_default" : "explicit_model",
                        choice->provider->info().locality};
  request.model = choice->model;
  auto embeddings = co_await choice->provider->embed(request);
  if (!embeddings.ok()) co_return std::move(embeddings).error();
  embeddings->provider = choice->provider->info().name;
  co_return EmbedOutcome{std::move(embeddings).value(), context.route};
}

}  // namespace aegis::gateway
