#pragma once
// `aegis rag ingest FILE…|list|get|query|answer|rm`: a client of a running
// gateway's retrieval API (/v1/rag/*, docs/ARCHITECTURE.md "Retrieval"),
// with the same --url, $AEGIS_URL and $AEGIS_API_KEY as `aegis jobs`.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace aegis::cli {

class RagCommand {
 public:
  explicit RagCommand(CLI::App& app);
  bool parsed() const;
  // 0 ok; 1 the gateway answered with an error (every FILE is still tried)
  // or could not be reached; 2 bad usage.
  int run();

 private:
  CLI::App* rag_ = nullptr;
  CLI::App* ingest_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* get_ = nullptr;
  CLI::App* query_ = nullptr;
  CLI::App* answer_ = nullptr;
  CLI::App* rm_ = nullptr;

  std::string url_;
  bool json_ = false;
  std::string collection_;
  std::vector<std::string> files_;
  std::string classification_;
  std::string source_;
  std::vector<std::string> metadata_;
  std::vector<std::string> ids_;
  std::vector<std::string> words_;  // the query or question, joined by spaces
  std::int64_t top_k_ = 5;
  std::int64_t max_tokens_ = 512;
};

}  // namespace aegis::cli
