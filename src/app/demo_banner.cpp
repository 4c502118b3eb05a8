#include "app/demo_banner.hpp"

#include "identity/admin_service.hpp"
#include "store/database.hpp"

namespace aegis::app {

Result<std::string> demo_banner(store::Database& store, const Clock& clock, const std::string& host,
                                std::uint16_t port) {
  identity::TeamInput team;
  team.name = "demo";
  team.monthly_budget = Money::from_dollars(10);
  team.clearance = Level::CONFIDENTIAL;
  if (auto created = identity::create_team(store, clock, team);
      !created.ok() && created.error().code != ErrorCode::conflict) {
    return created.error();
  }
  AEGIS_TRY(key, identity::create_key(store, clock, team.name));
  const std::string base = "http://" + (host == "0.0.0.0" || host == "::" ? std::string("127.0.0.1") : host) + ":" +
                           std::to_string(port) + "/v1/chat/completions";
  const std::string call =
      "curl -si " + base + " -H 'Authorization: Bearer " + key.key.key + "' -H 'content-type: application/json' -d ";
  std::string text;
  text +=
      "\nAegis demo: simulated providers (anthropic and azure stand for cloud models, ollama for the local "
      "one); nothing leaves this machine.\n";
  text += "A key for team \"demo\" ($10 a month), shown once: " + key.key.key + "\n\n";
  text +=
      "1. Masking: the name and the email reach the cloud model as placeholders (x-aegis-masked) and come back "
      "restored:\n";
  text += "   " + call +
          "'{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"Draft a reply to Jane Doe at "
          "jane.doe@example.com about her invoice\"}]}'\n\n";
  text +=
      "2. RESTRICTED stays local: a SIN is only ever sent to the local model (x-aegis-classification: "
      "RESTRICTED, x-aegis-route: provider=ollama):\n";
  text += "   " + call +
          "'{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"Update the payroll file for SIN 193 "
          "456 787\"}]}'\n\n";
  return text;
}

}  // namespace aegis::app
