#include "gateway/gateway.hpp"

#include "privacy/block.hpp"
#include "privacy/invented.hpp"
#include "privacy/person.hpp"
#include "privacy/vault.hpp"

namespace aegis::gateway {

namespace {
// Everything the model will read: system prompt, messages, tool calls and results.
std::string assembled_prompt(const ChatRequest& request) {
  std::string text = request.system;
  for (const auto& message : request.messages) {
    text += '\n';
    text += message.text;
    for (const auto& call : message.tool_calls) {
      text += '\n';
      text += call.arguments_json;
    }
  }
  return text;
}

std::string tier_for_task(const config::Config& config, const std::string& task) {
  if (auto it = config.routing.task_tiers.find(task); it != config.routing.task_tiers.end()) return it->second;
  return "sonnet";
}
}  // namespace

std::string Route::header_value() const {
  return "tier=" + (tier.empty() ? std::string("none") : tier) + "; provider=" + provider + "; model=" + model +
         "; reason=" + reason;
}

Gateway::Gateway(const config::Config& config, providers::ProviderSet& providers,
                 const classify::Classifier& classifier, telemetry::Registry& metrics)
    : config_(config),
      providers_(providers),
      classifier_(classifier),
      invented_pii_(metrics.counter("aegis_pii_hallucinations_total",
                                    "PII in answers that was not in the request, by entity type", {"entity"})),
      classifications_(metrics.counter("aegis_classification_total", "Requests by data classification", {"level"})) {}

Result<void> Gateway::inspect(CallContext& context, const ChatRequest& request) const {
  const std::string prompt = assembled_prompt(request);
  auto classification = classifier_.classify(prompt, classify::Marking{context.marked_public});
  const auto persons = privacy::detect_persons(prompt, classification.findings);
  context.level = classification.level;
  classifications_.with({to_string(classification.level)}).inc();
  const std::string team = context.principal ? context.principal->team : std::string();
  return privacy::check_blocked(classification, persons, team, config_.pii);
}

std::string Gateway::scan_answer(const std::string& answer, const ChatRequest& request) const {
  const privacy::Vault empty;  // masking (stage 3) is not wired yet: the request text is the reference
  auto report = privacy::find_invented_pii(answer, classifier_, empty, config_.pii.invented_pii, assembled_prompt(request));
  for (const auto& type : report.types_counted()) invented_pii_.with({type}).inc();
  return report.redacted ? std::move(report.text) : answer;
}

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
  if (auto inspected = inspect(context, request); !inspected.ok()) co_return std::move(inspected).error();
  auto choice = choose(context, request);
  if (!choice.ok()) co_return std::move(choice).error();
  request.model = choice->model;
  auto completion = co_await choice->provider->complete(request);
  if (!completion.ok()) co_return std::move(completion).error();
  completion->provider = choice->provider->info().name;
  completion->text = scan_answer(completion->text, request);
  co_return ChatOutcome{std::move(completion).value(), context.route};
}

namespace {
// Keeps the streamed text so the finished answer can be scanned for invented PII.
class AnswerRecorder final : public providers::DeltaSink {
 public:
  explicit AnswerRecorder(providers::DeltaSink& inner) : inner_(inner) {}
  boost::asio::awaitable<bool> on_event(const StreamEvent& event) override {
    if (event.kind == StreamEvent::Kind::text) text_ += event.text;
    co_return co_await inner_.on_event(event);
  }
  const std::string& text() const { return text_; }

 private:
  providers::DeltaSink& inner_;
  std::string text_;
};
}  // namespace

boost::asio::awaitable<Result<void>> Gateway::stream(CallContext& context, ChatRequest request,
                                                     providers::DeltaSink& sink) {
  if (auto inspected = inspect(context, request); !inspected.ok()) co_return std::move(inspected).error();
  auto choice = choose(context, request);
  if (!choice.ok()) co_return std::move(choice).error();
  const std::string model = choice->model;
  request.model = model;
  AnswerRecorder recorder(sink);
  auto outcome = co_await choice->provider->stream(request, recorder);
  // Streamed text has already left: invented PII is counted (alert), never redacted here.
  if (outcome.ok()) scan_answer(recorder.text(), request);
  co_return outcome;
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
