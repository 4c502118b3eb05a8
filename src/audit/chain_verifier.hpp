#pragma once
// `aegis audit verify`, the compliance report's chain section and the breach
// register's chain check: walks every chain of the audit trail and checks
// each row's hash, each link, the seq order and every checkpoint's signature
// and head (docs/ARCHITECTURE.md, "The audit chain").
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_store.hpp"
#include "audit/breach_store.hpp"
#include "core/result.hpp"

namespace aegis::audit {

enum class FindingKind {
  edited,              // a row's content no longer matches its hash
  broken_link,         // a row's prev_hash is not its predecessor's hash
  missing_row,         // a seq is absent
  reordered,           // a row holds the content of another seq
  truncated,           // a checkpoint sealed rows the chain no longer has
  head_mismatch,       // a checkpoint's head hash differs from the row it seals
  bad_signature,       // a checkpoint's signature does not verify
  unknown_key,         // a checkpoint signed by a key the verifier was not given
  unsigned_tail,       // rows after the chain's last checkpoint (not tampering by itself)
  missing_checkpoint,  // a checkpoint in the outside copy that the store no longer has, or has altered
};

std::string_view to_string(FindingKind kind) noexcept;

struct Finding {
  FindingKind kind = FindingKind::edited;
  std::string chain_id;
  std::int64_t seq = 0;  // the first row (or the checkpoint's seq) concerned
  std::int64_t checkpoint_id = 0;
  std::string message;  // one line for people; never row content
};

struct VerifyOptions {
  // Chains whose rows' time range meets [since_ms, until_ms) are walked,
  // each whole (a link needs its predecessor).
  std::optional<std::int64_t> since_ms;
  std::optional<std::int64_t> until_ms;
  // key_fingerprint -> raw 32-byte Ed25519 public key.
  std::map<std::string, std::string> public_keys;
  // Months before this one were dropped by retention (storage.
  // audit_retention_months): their checkpoints' chains are expected to be gone.
  std::optional<std::int64_t> retained_from_ms;
  // The outside copy of the checkpoints (audit/checkpoint_file.hpp): each must
  // be in the store unchanged, and the rows it sealed must still be there.
  std::vector<Checkpoint> outside_checkpoints;
};

struct VerifyReport {
  std::int64_t chains = 0;
  std::int64_t rows = 0;
  std::int64_t retired_chains = 0;           // sealed chains of months retention dropped
  std::vector<std::int64_t> checkpoint_ids;  // the verified chains' checkpoints
  std::vector<Finding> findings;             // first finding per chain and kind, in chain order
  double seconds = 0;

  // No finding but unsigned tails.
  bool intact() const noexcept;
  // For scripts: 0 intact and every row sealed, 3 intact with an unsigned
  // tail, 1 tampering found. (2, the verifier could not run, is the CLI's.)
  int exit_code() const noexcept;
};

Result<VerifyReport> verify_audit_chains(AuditStore& store, const VerifyOptions& options);

// VerifyOptions::retained_from_ms for storage.audit_retention_months at
// `now_ms`: the first day (UTC) of the oldest month retention keeps; none
// when retention is off (0 months).
std::optional<std::int64_t> retained_from_ms(int retention_months, std::int64_t now_ms);

// Records each finding that shows tampering as a breach register entry
// (kind chain_failure, one per chain, kind of finding and seq however often
// it is found); unsigned tails are not breaches. A verifier that was not
// given every signing key in use (the gateway checks with its own) passes
// include_unknown_keys = false. Returns the entries that are new.
Result<std::int64_t> record_chain_failures(BreachStore& breaches, const VerifyReport& report, std::int64_t now_ms,
                                           bool include_unknown_keys);

}  // namespace aegis::audit
