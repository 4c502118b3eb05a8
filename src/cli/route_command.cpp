#include "cli/route_command.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>

#include "app/provider_types.hpp"
#include "budget/period.hpp"
#include "config/loader.hpp"
#include "core/json.hpp"
#include "core/system_clock.hpp"
#include "providers/factory.hpp"
#include "providers/provider_set.hpp"
#include "routing/router.hpp"
#include "store/factory.hpp"

namespace aegis::cli {

namespace json = boost::json;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNoRoute = 3;

constexpr std::string_view kUsage = "aegis route --explain --task T [--team NAME] [--level L] [--model M] [--vision]";

// Routing needs only what a provider declares (name, locality, models), which
// the real adapters copy from config. Building them instead would start the
// in-process simulators of type sim and HTTP machinery for nothing.
class DeclaredProvider final : public providers::LLMProvider {
 public:
  explicit DeclaredProvider(const config::ProviderConfig& c) : info_{c.name, c.type, c.locality, c.models} {}

  boost::asio::awaitable<Result<Completion>> complete(const ChatRequest&) override { co_return not_callable(); }
  boost::asio::awaitable<Result<void>> stream(const ChatRequest&, providers::DeltaSink&) override {
    co_return not_callable();
  }
  boost::asio::awaitable<Result<Embeddings>> embed(const EmbedRequest&) override { co_return not_callable(); }
  boost::asio::awaitable<bool> health_check() override { co_return false; }
  const providers::ProviderInfo& info() const override { return info_; }

 private:
  static Error not_callable() { return make_error(ErrorCode::internal, "route --explain never calls a provider"); }
  providers::ProviderInfo info_;
};

std::string_view locality_name(config::Locality l) { return l == config::Locality::local ? "local" : "cloud"; }

// "$0.40" rather than "$0.4" for people reading a budget.
std::string usd(Money m) {
  std::string s = m.to_usd_string();
  if (const auto dot = s.find('.'); dot != std::string::npos && s.size() - dot == 2) s += '0';
  return "$" + s;
}

struct TeamBudget {
  Money cap;
  Money spent;
  Money remaining;
  std::string period;
};

}  // namespace

RouteCommand::RouteCommand(CLI::App& app) {
  route_ = app.add_subcommand(
      "route", "Explain the routing decision for a task, team and data level; nothing is started or contacted");
  route_->add_flag("--explain", explain_, "Print the decision: tier, provider chain, rule and reason (required)");
  route_->add_option("--task", task_, "task type, e.g. code_review or security_audit (routing.task_tiers)");
  route_->add_option("--team", team_, "team name: its budget this month and routing.team_models apply");
  route_->add_option("--level", level_, "data level: PUBLIC | INTERNAL | CONFIDENTIAL | RESTRICTED (any case)")
      ->capture_default_str();
  route_->add_option("--model", model_, "requested model: auto, haiku|sonnet|opus, a model id or provider/id")
      ->capture_default_str();
  route_->add_flag("--vision", vision_, "The request holds an image: only providers declaring vision qualify");
  route_->add_option("--config", config_path_, "YAML config file (default: built-in)");
  route_->add_flag("--json", json_, "Print one JSON object instead of text");
  route_->footer(
      "Typical use: aegis route --explain --task T --team NAME [--level L]\n"
      "Without --team no budget applies. The budget left is the team's monthly budget minus this month's\n"
      "committed spend in the store.\n"
      "Exit codes: 0 decided; 1 the store failed; 2 bad usage, config, level, model or unknown team;\n"
      "3 no provider can take the request (e.g. RESTRICTED data and no local provider, or none declares\n"
      "the capability --vision needs). A PDF needs no capability: a provider without documents is sent its text.");
}

bool RouteCommand::parsed() const { return route_->parsed(); }

int RouteCommand::run() {
  if (!explain_) {
    std::cerr << "aegis route: --explain is required\nusage: " << kUsage << "\n";
    return kExitUsage;
  }
  if (task_.empty()) {
    std::cerr << "aegis route: --task is required\nusage: " << kUsage << "\n";
    return kExitUsage;
  }
  const auto level = parse_level(level_);
  if (!level) {
    std::cerr << "aegis route: --level expects PUBLIC, INTERNAL, CONFIDENTIAL or RESTRICTED, got '" << level_ << "'\n";
    return kExitUsage;
  }

  config::Config cfg;
  try {
    cfg = config_path_.empty() ? config::default_config() : config::load_config_file(config_path_);
  } catch (const config::ConfigError& e) {
    for (const auto& issue : e.issues()) std::cerr << issue.to_string() << "\n";
    return kExitUsage;
  }

  const auto known_types = app::provider_factory().types();
  std::vector<std::unique_ptr<providers::LLMProvider>> declared;
  for (const auto& p : cfg.providers) {
    if (std::ranges::find(known_types, p.type) == known_types.end()) {
      std::cerr << "aegis route: provider '" << p.name << "' has unknown type '" << p.type << "'\n";
      return kExitUsage;
    }
    declared.push_back(std::make_unique<DeclaredProvider>(p));
  }
  const providers::ProviderSet set(std::move(declared), cfg.routing.fallback_chain);

  std::optional<TeamBudget> budget;
  if (!team_.empty()) {
    std::unique_ptr<store::Database> store;
    try {
      store = store::open_store(cfg.storage);
    } catch (const std::exception& e) {
      std::cerr << "aegis route: cannot open the store: " << e.what() << "\n";
      return kExitFailed;
    }
    auto team = store->get_team(team_);
    if (!team.ok()) {
      if (team.error().code == ErrorCode::not_found) {
        std::cerr << "aegis route: unknown team '" << team_ << "'\n";
        return kExitUsage;
      }
      std::cerr << "aegis route: cannot read team '" << team_ << "': " << team.error().message << "\n";
      return kExitFailed;
    }
    const auto zone = budget::BudgetZone::parse(cfg.budgets.timezone).value_or(budget::BudgetZone::utc());
    TeamBudget b{team->monthly_budget, Money{}, Money{}, budget::period_key(SystemClock::instance().wall_now(), zone)};
    auto spend = store->load_spend(b.period);
    if (spend.ok()) {
      for (const auto& s : *spend) {
        if (s.team == team_) b.spent = s.spent;
      }
    } else {
      std::cerr << "aegis route: warning: cannot read the spend for " << b.period << " (" << spend.error().message
                << "); assuming nothing was spent\n";
    }
    // Floored like the gateway's remaining budget, so both see the same number.
    b.remaining = std::max(Money{}, b.cap - b.spent);
    budget = b;
  }

  const routing::Router router(cfg, set);
  routing::RouteInput input;
  input.task = task_;
  input.level = *level;
  input.requested_model = model_;
  input.team = team_;
  if (budget) input.remaining_budget = budget->remaining;
  input.needs_vision = vision_;
  auto decision = router.decide(input);
  if (!decision.ok()) {
    std::cerr << "aegis route: " << decision.error().message << "\n";
    const auto code = decision.error().code;
    if (code == ErrorCode::no_local_provider || code == ErrorCode::unavailable) return kExitNoRoute;
    // The gateway's 400 for media no provider takes is no usage error: the same request without it routes.
    if (code == ErrorCode::invalid_request && vision_) {
      routing::RouteInput text_only = input;
      text_only.needs_vision = false;
      if (router.decide(text_only).ok()) return kExitNoRoute;
    }
    return code == ErrorCode::invalid_request ? kExitUsage : kExitFailed;
  }

  // The tier's name, "" when the decision has none (the JSON and text forms have always shown it so).
  const std::string tier(decision->tier ? to_string(*decision->tier) : "");
  if (json_) {
    json::array chain;
    for (const auto& t : decision->chain) {
      chain.push_back(json::object{
          {"provider", t.provider->info().name}, {"model", t.model}, {"locality", locality_name(t.locality)}});
    }
    json::object out{{"tier", tier},
                     {"chain", std::move(chain)},
                     {"rule", routing::to_string(decision->rule)},
                     {"reason", decision->reason},
                     {"local_only", decision->local_only},
                     // The gateway masks every finding before a cloud target sees it.
                     {"mask_for_cloud", !decision->local_only},
                     {"level", to_string(*level)}};
    if (budget) {
      out["budget"] = json::object{{"period", budget->period},
                                   {"monthly_usd", usd_json(budget->cap)},
                                   {"spent_usd", usd_json(budget->spent)},
                                   {"remaining_usd", usd_json(budget->remaining)}};
    } else {
      out["budget"] = nullptr;
    }
    std::cout << to_json(out) << "\n";
    return kExitOk;
  }

  std::string chain;
  for (const auto& t : decision->chain) {
    if (!chain.empty()) chain += " → ";
    chain += t.provider->info().name + "/" + t.model + " (" + std::string(locality_name(t.locality)) + ")";
  }
  std::cout << "tier:      " << (tier.empty() ? std::string("-") : tier) << "\n"
            << "chain:     " << chain << "\n"
            << "rule:      " << routing::to_string(decision->rule) << "\n"
            << "reason:    " << decision->reason << "\n"
            << "level:     " << to_string(*level)
            << (decision->local_only    ? " (local providers only)"
                : !decision->local_only ? " (PII masked before a cloud provider sees it)"
                                        : "")
            << "\n";
  if (budget) {
    std::cout << "budget:    " << usd(budget->remaining) << " left of " << usd(budget->cap) << " in " << budget->period
              << " (spent " << usd(budget->spent) << ")\n";
  }
  return kExitOk;
}

}  // namespace aegis::cli
