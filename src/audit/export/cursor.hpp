#pragma once
// Where the export stands: per chain, the seq of the last row and of the last
// checkpoint the sink acknowledged. Per chain because each chain is appended
// in seq order by one writer, while replicas commit their chains' rows in no
// common order: a global row id could pass a row another replica commits later.
#include <cstdint>
#include <map>
#include <string>

#include "core/result.hpp"

namespace aegis::audit::siem {

struct ChainPosition {
  std::int64_t row_seq = 0;         // rows 1..row_seq are exported
  std::int64_t checkpoint_seq = 0;  // checkpoints sealing up to this seq are exported
};

class ExportCursor {
 public:
  // A missing file is a fresh start; an unreadable or malformed one is an
  // error (starting over would send the whole trail again).
  static Result<ExportCursor> load(const std::string& path);

  // Replaces the file atomically and durably: a temporary file beside it,
  // synced, renamed over it, and the directory synced.
  Result<void> save(const std::string& path) const;

  ChainPosition position(const std::string& chain_id) const;
  void set(const std::string& chain_id, ChainPosition position) { chains_[chain_id] = position; }
  const std::map<std::string, ChainPosition>& chains() const noexcept { return chains_; }

 private:
  std::map<std::string, ChainPosition> chains_;
};

}  // namespace aegis::audit::siem
