#pragma once
// `aegis sim`: runs the provider simulator (src/sim) on its own until
// SIGTERM/SIGINT, for tests, benchmarks and trying the gateway without keys.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace aegis::cli {

class SimCommand {
 public:
  explicit SimCommand(CLI::App& app);
  bool parsed() const;
  // Returns the process exit code: 0 after a clean stop, 2 bad arguments, 3 cannot listen.
  int run();

 private:
  CLI::App* sim_ = nullptr;
  std::string listen_ = "127.0.0.1:0";
  std::int64_t ttft_ms_ = 0;
  std::int64_t per_token_ms_ = 0;
  unsigned threads_ = 0;
  std::size_t log_size_ = 200;
  std::string name_ = "sim";
  std::string log_level_ = "info";
};

}  // namespace aegis::cli
