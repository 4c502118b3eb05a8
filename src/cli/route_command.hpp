#pragma once
// `aegis route --explain --task T [--team NAME] [--level L] [--model M] [--vision]
//  [--config FILE] [--json]`:
// the routing decision the gateway would make (tier, provider chain, rule,
// reason) from the same config and the team's budget in the store. Nothing
// is started and no provider is contacted.
#include <CLI/CLI.hpp>

#include <string>

namespace aegis::cli {

class RouteCommand {
 public:
  explicit RouteCommand(CLI::App& app);
  bool parsed() const;
  // Returns the process exit code: 0 decided, 1 the store failed, 2 bad usage,
  // config, level, model or unknown team, 3 no provider can take the request
  // (e.g. RESTRICTED data and no local provider, or none that takes the
  // request's images or PDFs).
  int run();

 private:
  CLI::App* route_ = nullptr;
  bool explain_ = false;
  bool json_ = false;
  bool vision_ = false;  // the request holds an image (RouteInput::needs_vision)
  std::string task_;
  std::string team_;
  std::string level_ = "INTERNAL";
  std::string model_ = "auto";
  std::string config_path_;
};

}  // namespace aegis::cli
