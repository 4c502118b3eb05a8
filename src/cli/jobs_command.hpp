#pragma once
// `aegis jobs submit|get|wait|cancel|list`: a client of a running gateway's
// async job API (docs/JOBS.md). The gateway is at --url (default $AEGIS_URL,
// else http://127.0.0.1:8080); the team's virtual key comes only from
// $AEGIS_API_KEY, so it never shows up in `ps` or shell history.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace aegis::cli {

class JobsCommand {
 public:
  explicit JobsCommand(CLI::App& app);
  // True as soon as `jobs` was named on the command line, even if parsing
  // its arguments then failed (main maps those failures to exit 2).
  bool parsed() const;
  // Returns the process exit code: 0 ok; 1 the job did not succeed (wait,
  // submit --wait) or the gateway answered with an error or could not be
  // reached; 2 bad usage or configuration; 124 wait timed out.
  int run();

 private:
  struct Common {
    std::string url;
    bool json = false;
  };

  CLI::App* jobs_ = nullptr;
  CLI::App* submit_ = nullptr;
  CLI::App* get_ = nullptr;
  CLI::App* wait_ = nullptr;
  CLI::App* cancel_ = nullptr;
  CLI::App* list_ = nullptr;
  Common common_;

  // submit
  std::string task_;
  std::string prompt_;
  std::string prompt_file_;
  std::string messages_file_;
  std::int64_t max_tokens_ = 0;
  std::string model_;
  std::string classification_;
  std::vector<std::string> metadata_;
  std::string idempotency_key_;
  bool submit_wait_ = false;

  // get, wait, cancel
  std::string id_;
  double timeout_seconds_ = 300;

  // list
  std::string status_;
  std::int64_t limit_ = 0;  // 0: the server's default
  std::string cursor_;
  bool all_ = false;
};

}  // namespace aegis::cli
