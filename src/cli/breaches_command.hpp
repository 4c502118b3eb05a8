#pragma once
// `aegis breaches list|show|update`: the breach register (audit/breach_store.hpp)
// straight against the store of a local install, like `aegis admin`.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace aegis::cli {

class BreachesCommand {
 public:
  explicit BreachesCommand(CLI::App& app);
  bool parsed() const;
  // 0 ok, 1 the operation failed (e.g. no such entry), 2 bad usage or config.
  int run();

 private:
  CLI::App* breaches_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* show_ = nullptr;
  CLI::App* update_ = nullptr;
  std::string config_path_;
  bool json_ = false;
  std::string status_;
  std::string team_;
  std::string kind_;
  int limit_ = 100;
  std::int64_t id_ = 0;
  std::string note_;
};

}  // namespace aegis::cli
