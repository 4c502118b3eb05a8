#pragma once
// The outside copy of the audit checkpoints (audit.checkpoint_file): one JSON
// object per line, appended by the sealer after the store holds the
// checkpoint. A database administrator who deletes the newest rows together
// with the checkpoints that sealed them leaves a chain that verifies against
// the store alone; the copy kept where they cannot write still names them.
#include <string>
#include <vector>

#include "audit/chain.hpp"
#include "core/result.hpp"

namespace aegis::audit {

// One line of the file, with its newline.
std::string checkpoint_line(const Checkpoint& checkpoint);

// Every checkpoint in the file. A line that is not a checkpoint is an error
// naming its number, except a last line cut short without its newline (a
// write the process did not finish), which is skipped.
Result<std::vector<Checkpoint>> read_checkpoint_file(const std::string& path);

// The configured copy (audit.checkpoint_file) as the verifiers read it: none
// when it is not configured or not written yet (a gateway that never sealed).
Result<std::vector<Checkpoint>> read_configured_checkpoint_file(const std::string& path);

}  // namespace aegis::audit
